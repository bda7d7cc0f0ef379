"""W6's program (benchmarks/cnn_step.py) runs and every implementation trains the same CNN: the
same first loss as a NumPy formula. Timings are not asserted (they belong in run.py's table)."""
import pytest

from test_benchmark_programs import check_timing, no_torch, run_program  # noqa: F401


def test_cnn_step_implementations_agree():
    records = run_program(["cnn_step.py", "--quick", "--impl", "distflow"])
    assert [r["variant"] for r in records] == ["graph", "function"]
    for r in records:
        check_timing(r)
        assert r["workload"] == "W6" and r["forward_us"] > 0
        assert r["first_loss"] == pytest.approx(r["expected_first_loss"], rel=1e-5)


def test_cnn_step_reports_a_missing_torch(no_torch):
    records = run_program(["cnn_step.py", "--quick", "--impl", "torch", "distflow"], no_torch)
    assert records[0] == {"workload": "W6", "impl": "torch", "variant": "eager",
                          "skipped": "not installed"}
    assert len(records) == 3
