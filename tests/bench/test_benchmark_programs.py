"""The benchmark programs in benchmarks/ run and say something well-formed and true.

No timing is asserted (timings belong in benchmarks/run.py's table, never in a test). What is
asserted is what a reader of the table relies on: each program prints JSON records with positive
medians; every implementation of a workload trains the same model (same first loss as a NumPy
formula, same parameters after the same steps); a missing optional peer is reported as "not
installed" and the rest still runs.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(REPO, "benchmarks")
PINNED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_program(args, env=None, timeout=300):
    """The JSON records a benchmark program prints (it must exit 0)."""
    cmd = [sys.executable, os.path.join(BENCH, args[0])] + list(args[1:])
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=timeout,
                          env=dict(os.environ, **PINNED, **(env or {})))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return records_of(proc.stdout)


def records_of(stdout):
    records = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert records, "no JSON record in:\n" + stdout[-2000:]
    return records


def check_timing(r):
    assert r["wall_us"] > 0 and r["wall_min_us"] <= r["wall_us"]
    assert r["blocks"] >= 1


@pytest.fixture()
def no_torch(tmp_path):
    """An environment in which `import torch` fails, as on a machine without PyTorch."""
    (tmp_path / "torch.py").write_text("raise ImportError('No module named torch (test shim)')\n")
    return {"PYTHONPATH": str(tmp_path)}


def test_numpy_and_distflow_w1_train_the_same_model():
    (base,) = run_program(["step_numpy.py", "--workload", "W1", "--quick"])
    records = run_program(["step_distflow.py", "--workload", "W1", "--quick"])
    assert [r["variant"] for r in records] == ["graph", "callable", "function", "eager"]
    for r in [base] + records:
        check_timing(r)
        assert r["workload"] == "W1"
    for r in records:
        # the loss of the shared initial weights on the first batch: every way agrees with NumPy
        assert r["first_loss"] == pytest.approx(r["expected_first_loss"], rel=1e-5)
        assert r["first_loss"] == pytest.approx(base["first_loss"], rel=1e-5)
        assert r["cpu_us"] > 0


def test_w2_programs_run():
    (base,) = run_program(["step_numpy.py", "--workload", "W2", "--quick"])
    (graph,) = run_program(["step_distflow.py", "--workload", "W2", "--variant", "graph",
                            "--quick"])
    check_timing(base)
    check_timing(graph)
    assert graph["first_loss"] == pytest.approx(base["first_loss"], rel=1e-4)


def test_a_missing_peer_is_reported_not_installed(no_torch):
    (r,) = run_program(["step_torch.py", "--workload", "W1", "--quick"], env=no_torch)
    assert r == {"workload": "W1", "impl": "torch", "variant": "eager", "skipped": "not installed"}


def test_torch_peer_when_installed():
    pytest.importorskip("torch")
    (r,) = run_program(["step_torch.py", "--workload", "W1", "--quick"])
    check_timing(r)
    (base,) = run_program(["step_numpy.py", "--workload", "W1", "--quick"])
    assert r["first_loss"] == pytest.approx(base["first_loss"], rel=1e-5)


def test_import_probe_reports_time_and_no_mpi():
    (r,) = run_program(["whole_run.py", "--impl", "import", "--repeats", "1"])
    assert 0 < r["import_s"] < r["process_s"]
    assert r["loaded"] == []  # import distflow loads neither mpi4py nor cupy


def test_memory_programs():
    (peak,) = run_program(["memory.py", "--check", "w2-peak", "--impl", "distflow", "--steps", "2"])
    assert peak["peak_rss_mib"] >= peak["rss_before_model_mib"] > 0
    assert peak["param_mib"] == pytest.approx(1313793 * 4 / 2**20)
    (flat,) = run_program(["memory.py", "--check", "w1-flat", "--steps", "50"])
    assert len(flat["rss_mib"]) == 10 and flat["growth_mib"] == pytest.approx(
        flat["rss_mib"][-1] - flat["rss_mib"][0])


def test_runner_prints_table_and_json_lines(no_torch):
    env = dict(os.environ, **no_torch)
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "run.py"), "--only", "W1",
                           "--quick", "-q"], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("distflow benchmarks:") and "threads pinned to 1" in lines[0]
    table = [ln for ln in lines if ln.startswith("|")]
    rows = [json.loads(ln) for ln in lines if ln.startswith("{")]
    assert len(rows) == len(table) - 2  # header and rule
    assert {r["workload"] for r in rows} == {"W1", "W1 Adam"}  # SGD and Adam row groups
    by_what = {r["what"]: r for r in rows if r["workload"] == "W1"}
    assert by_what["PyTorch eager / NumPy"]["median"] == "not installed"
    graph = by_what["distflow Session.run([train, loss], feed) / NumPy"]
    base = by_what["hand-written NumPy (preallocated)"]["raw"]
    # the ratio is the two medians' quotient, and the target is the issue's
    assert graph["ratio"] == pytest.approx(graph["raw"]["wall_us"] / base["wall_us"])
    assert graph["target"] == 1.5 and graph["ok"] == (graph["ratio_cpu"] <= 1.5)
    # the eager step is compared with PyTorch, which is missing: no ratio, no verdict
    eager = by_what["distflow eager GradientTape / PyTorch"]
    assert eager["ratio"] is None and eager["ok"] is None and eager["target"] == 0.5
    jax = by_what["JAX jit / NumPy"]
    if jax["raw"] is not None and "wall_us" in jax["raw"]:  # JAX installed: the issue's targets
        on_jax = by_what["distflow sess.make_callable([train, loss]) / JAX"]
        assert on_jax["target"] == 1.0
        assert on_jax["ratio"] == pytest.approx(on_jax["raw"]["wall_us"] / jax["raw"]["wall_us"])
    fn = by_what["distflow df.function / make_callable"]
    assert fn["target"] == 1.05 and fn["ok"] == (fn["ratio_cpu"] <= 1.05)


def test_train_torch_script_matches_the_config(tmp_path):
    pytest.importorskip("torch")
    subprocess.run([sys.executable, os.path.join(BENCH, "train_torch.py"), "--epochs", "2",
                    "--batch", "16", "--out", str(tmp_path)], check=True, cwd=REPO,
                   capture_output=True, env=dict(os.environ, **PINNED), timeout=300)
    history = [json.loads(ln) for ln in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(np.isfinite(h["test_mse"]) and h["test_rmse"] == pytest.approx(
        np.sqrt(h["test_mse"])) for h in history)


def test_gpu_targets_program_runs_on_the_cpu_and_its_rows_have_the_issues_targets():
    # the GPU program's own code, on the CPU (a GPU session runs it for real: gpu_check.sh)
    records = run_program(["gpu_steps.py", "--device", "cpu", "--quick"])
    got = {(r["workload"], r["impl"]): r for r in records}
    assert ("W1 GPU", "distflow") in got and ("W2 GPU", "distflow") in got
    assert got["W2 GPU", "distflow"]["batch"] == 4096
    for r in records:
        if "skipped" not in r:
            check_timing(r)
    sys.path.insert(0, BENCH)
    try:
        import run
    finally:
        sys.path.remove(BENCH)
    recs = run.combine([records])
    rows = {row["what"]: row for row in run.rows_for(recs)}
    plan = rows["distflow Session plan / PyTorch (time; throughput target >= 0.9x)"]
    assert plan["target"] == 1.11
    if ("W2 GPU", "torch") in got and "skipped" not in got["W2 GPU", "torch"]:
        assert plan["ratio"] == pytest.approx(got["W2 GPU", "distflow"]["wall_us"]
                                              / got["W2 GPU", "torch"]["wall_us"])


def test_gpu_targets_program_says_when_there_is_no_gpu():
    from distflow import backend
    if backend.gpu_available():
        pytest.skip("this machine has a GPU")
    records = run_program(["gpu_steps.py", "--quick"])
    assert {r["workload"] for r in records} == {"W1 GPU", "W2 GPU"}
    assert all(r["skipped"].startswith("no GPU here") for r in records)


def test_adam_programs_train_the_same_model():
    (base,) = run_program(["step_numpy.py", "--workload", "W1", "--optimizer", "adam", "--quick"])
    records = run_program(["step_distflow.py", "--workload", "W1", "--optimizer", "adam",
                           "--variant", "callable", "eager", "--quick"])
    assert base["workload"] == "W1 Adam"
    for r in records:
        check_timing(r)
        assert r["workload"] == "W1 Adam"
        assert r["first_loss"] == pytest.approx(base["first_loss"], rel=1e-5)


def test_a_missing_jax_is_reported_not_installed(tmp_path):
    (tmp_path / "jax.py").write_text("raise ImportError('No module named jax (test shim)')\n")
    (r,) = run_program(["step_jax.py", "--workload", "W1", "--quick"],
                       env={"PYTHONPATH": str(tmp_path)})
    assert r == {"workload": "W1", "impl": "jax", "variant": "jit", "skipped": "not installed"}


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_jax_peer_when_installed(optimizer):
    pytest.importorskip("jax")
    (base,) = run_program(["step_numpy.py", "--workload", "W1", "--optimizer", optimizer,
                           "--quick"])
    (r,) = run_program(["step_jax.py", "--workload", "W1", "--optimizer", optimizer, "--quick"])
    check_timing(r)
    assert r["workload"] == base["workload"]
    assert r["first_loss"] == pytest.approx(base["first_loss"], rel=1e-5)
