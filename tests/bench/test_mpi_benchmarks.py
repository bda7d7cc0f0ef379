"""The multi-rank benchmark programs (W3, W4) and `distflow bench` under mpirun -n 2."""
import json
import os
import sys

import pytest

from distributed.mpi_launch import assert_ok, launches_mpi, run_mpi
from test_benchmark_programs import BENCH, PINNED, records_of

pytestmark = launches_mpi


def bench_mpi(args, env=None):
    proc = run_mpi(2, [os.path.join(BENCH, args[0])] + list(args[1:]), timeout=240,
                   env=dict(PINNED, **(env or {})))
    assert_ok(proc)
    return records_of(proc.stdout)


def test_w3_raw_mpi4py_reports_nccl_tests_bandwidths():
    records = bench_mpi(["allreduce_mpi4py.py", "--quick"], {"MPI4PY_RC_THREAD_LEVEL": "single"})
    assert [r["size"] for r in records] == [5121, 1313793]  # rank 0 speaks, once per size
    for r in records:
        assert r["ranks"] == 2 and r["thread_level"] == "single"
        assert r["algbw_gbs"] == pytest.approx(r["size"] * 4 / (r["wall_us"] * 1e-6) / 1e9)
        assert r["busbw_gbs"] == pytest.approx(r["algbw_gbs"])  # 2(n-1)/n = 1 on 2 ranks


def test_w3_distflow_against_raw_mpi4py_in_the_same_processes():
    records = bench_mpi(["allreduce_distflow.py", "--quick", "--sizes", "5121"])
    assert [(r["impl"], r["variant"]) for r in records] == [
        ("mpi4py", "in-process, size 5121"), ("distflow", "communicator, size 5121"),
        ("distflow", "fused op, size 5121"), ("distflow", "fused op in place, size 5121")]
    assert records[2]["tensors"] == 6  # W1's six gradients, fused into one collective
    assert len({r["thread_level"] for r in records}) == 1
    assert all(r["wall_us"] > 0 for r in records)


def test_w4_distflow_matches_numpy_plus_allreduce():
    (base,) = bench_mpi(["dp_step_numpy_mpi.py", "--quick"])
    records = bench_mpi(["dp_step_distflow.py", "--quick"])
    assert [r["variant"] for r in records] == ["graph", "callable", "horovod"]
    for r in records:
        # the same steps on the same data from the same weights: the same parameters (Horovod's
        # average of the ranks' mean losses is the global mean here: the parts are equal)
        assert r["param_sum"] == pytest.approx(base["param_sum"], rel=1e-4)
    # timed in alternation: each variant's blocks against the callable's of the same round
    assert "vs_callable" not in records[1]
    for r in (records[0], records[2]):
        assert r["vs_callable"] > 0 and r["vs_callable_cpu"] > 0
    # run.py's table judges issue 14's target on that paired ratio, not on two medians
    sys.path.insert(0, BENCH)
    try:
        import run
    finally:
        sys.path.remove(BENCH)
    rows = {row["what"]: row for row in run.rows_for(run.combine([[base] + records]))}
    row = rows["distflow horovod / distflow callable (same blocks)"]
    assert row["target"] == 1.05 and row["ratio"] == pytest.approx(records[2]["vs_callable"])


@pytest.mark.parametrize("program, impl", [("dp_step_distflow.py", "distflow"),
                                           ("dp_step_numpy_mpi.py", "numpy+mpi4py")])
def test_w2_weak_scaling_gives_each_rank_256_rows_and_times_one_rank_in_the_same_job(program,
                                                                                      impl):
    (record,) = bench_mpi([program, "--workload", "W2", "--quick"])
    assert (record["workload"], record["impl"], record["variant"]) == (
        "scaling", impl, "W2 weak, interleaved")
    assert record["ranks"] == 2 and record["per_rank_batch"] == 256
    assert record["wall_us"] > 0 and record["solo_us"] > 0
    assert record["efficiency"] == pytest.approx(record["solo_us"] / record["wall_us"])


def test_w6_weak_scaling_gives_each_rank_64_images_and_times_one_rank_in_the_same_job():
    (record,) = bench_mpi(["dp_step_distflow.py", "--workload", "W6", "--quick"])
    assert (record["workload"], record["impl"], record["variant"]) == (
        "scaling", "distflow", "W6 weak, interleaved")
    assert record["ranks"] == 2 and record["per_rank_batch"] == 64
    assert record["wall_us"] > 0 and record["solo_us"] > 0
    assert record["efficiency"] == pytest.approx(record["solo_us"] / record["wall_us"])


def test_w6_distributed_step_is_the_one_process_step_on_the_global_batch():
    """The benchmark times real training: 2 ranks' step on 2 x 64 images moves the weights as
    one process's step on all 128 does."""
    proc = run_mpi(2, ["-c", W6_SAME_STEP], timeout=240, env=PINNED)
    assert_ok(proc)
    assert "W6 same step ok" in proc.stdout


W6_SAME_STEP = """
import sys, numpy as np
sys.path.insert(0, %r)
import distflow.compat.v1 as tf, distflow.distribute as dd
import dp_step_distflow as b
ctx = dd.init()
mine = b.cnn_rank_batches(ctx.rank, steps=2)
step, ws, sess = b.build_cnn_step(tf, dd, 64 * ctx.size)
for x, y in mine:
    step(x, y)
got = [sess.run(w) for w in ws]
everyone = [b.cnn_rank_batches(r, steps=2) for r in range(ctx.size)]
solo, ws1, sess1 = b.build_cnn_step(tf, dd, 64 * ctx.size, dd.SingleCommunicator())
for i in range(2):
    solo(np.concatenate([e[i][0] for e in everyone]), np.concatenate([e[i][1] for e in everyone]))
for a, w in zip(got, ws1):
    np.testing.assert_allclose(a, sess1.run(w), rtol=1e-4, atol=1e-6)
if ctx.rank == 0:
    print("W6 same step ok")
""" % BENCH


def run_cli_bench(n, args):
    proc = run_mpi(n, ["-m", "distflow.cli", "bench"] + list(args), timeout=240, env=PINNED)
    return proc


def test_distflow_bench_under_mpirun():
    proc = run_cli_bench(2, ["--steps", "2", "--blocks", "2", "--warmup", "1",
                             "--max-bytes", "64", "--json"])
    assert_ok(proc)
    records = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
    step, sizes = records[0], records[1:]
    assert step["what"] == "step" and step["ranks"] == 2 and step["parameters"] == 5121
    assert [r["bytes"] for r in sizes] == [8, 16, 32, 64]  # printed once, by rank 0
    for r in sizes:
        assert r["communicator"] == "mpi" and r["via"] == "mpi"
        assert r["busbw_gbs"] == pytest.approx(r["algbw_gbs"])


@pytest.mark.parametrize("ranks", [2, 3])
def test_distflow_bench_measures_big_buffers_as_training_reduces_them(ranks):
    proc = run_cli_bench(ranks, ["--what", "allreduce", "--min-bytes", "16K", "--max-bytes", "64K",
                                 "--iters", "4", "--blocks", "2", "--json"])
    assert_ok(proc)
    rows = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
    # under 32 KiB MPI_Allreduce; from there on one host, shared memory (shared_memory.py)
    assert [(r["bytes"], r["via"]) for r in rows] == [
        (16384, "mpi"), (32768, "shared memory"), (65536, "shared memory")]
