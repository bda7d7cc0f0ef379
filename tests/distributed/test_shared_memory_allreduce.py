"""The shared-memory all-reduce of big fused buffers (distribute/shared_memory.py).

In-process: the files behind the buffers, and the reduction itself with threads standing in for
ranks (each thread one rank, a threading.Barrier for MPI_Barrier), for 2 to 4 ranks and every
reduction. Under mpirun -n 2 and -n 3 (the mpi-marked tests): a plan's fused buffer is reduced
through shared memory with MPI's results, the same bits on every rank, nothing left in /dev/shm,
and MPI_Allreduce on every rank when any rank cannot take part.
"""
import gc
import mmap
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import distflow.compat.v1 as tf
import distflow.distribute as dd
from distflow.distribute import shared_memory
from distflow.distribute.runtime import launched_by_mpi
from mpi_launch import assert_ok, launches_mpi, run_pytest_under_mpi

UNDER_MPI = launched_by_mpi()


# -- the files ------------------------------------------------------------------------------------
def own_files(directory):
    prefix = "distflow-allreduce-%d-" % os.getpid()
    return sorted(f for f in os.listdir(directory) if f.startswith(prefix))


def test_a_buffer_is_a_file_until_the_buffer_is_freed(tmp_path):
    segments = shared_memory.Segments(directory=str(tmp_path), min_bytes=0)
    buf = segments.allocate(1000, np.float32)
    assert buf.shape == (1000,) and buf.dtype == np.float32 and buf.flags.writeable
    [name] = own_files(tmp_path)
    buf[:] = np.arange(1000)
    on_disk = np.fromfile(os.path.join(tmp_path, name), dtype=np.float32)
    np.testing.assert_array_equal(on_disk, np.arange(1000))  # the other ranks see these values
    assert segments.path_of(buf) == os.path.join(tmp_path, name)
    del buf, on_disk
    gc.collect()
    assert own_files(tmp_path) == [] and segments._paths == {}


def test_the_abort_path_unlinks_what_this_process_maps(tmp_path):
    """MPI_Abort kills every rank, so the aborting one unlinks the segments it maps: its own and
    MPICH's (named like MPICH's here); other files stay."""
    segments = shared_memory.Segments(directory=str(tmp_path), min_bytes=0)
    buf = segments.allocate(100, np.float32)
    mpich = tmp_path / "mpich_shm_test_0"
    mpich.write_bytes(b"\0" * 4096)
    other = tmp_path / "someone-elses"
    other.write_bytes(b"\0" * 4096)
    with open(mpich, "r+b") as f, open(other, "r+b") as g:
        mapped = [mmap.mmap(f.fileno(), 4096), mmap.mmap(g.fileno(), 4096)]
    shared_memory.unlink_mapped(directory=str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["someone-elses"]
    buf[:] = 1  # the memory itself stays until unmapped
    for m in mapped:
        m.close()


def test_files_of_processes_that_no_longer_run_are_swept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    left = tmp_path / ("distflow-allreduce-%d-0123" % dead_pid)  # a killed rank's file
    alive = tmp_path / ("distflow-allreduce-%d-4567" % os.getpid())
    unrelated = tmp_path / "distflow-allreduce-notapid-89"
    for f in (left, alive, unrelated):
        f.write_bytes(b"\0")
    shared_memory.Segments(directory=str(tmp_path), min_bytes=0).allocate(10, np.float32)
    assert not left.exists() and alive.exists() and unrelated.exists()


def test_no_directory_means_an_ordinary_buffer(tmp_path):
    segments = shared_memory.Segments(directory=str(tmp_path / "missing"))
    assert segments.allocate(1 << 20, np.float32) is None


def test_only_big_numpy_buffers_are_wanted():
    segments = shared_memory.Segments(min_bytes=4096)
    assert segments.wanted(4096) and not segments.wanted(4095)

    class OtherArrays:  # CuPy, say: a GPU buffer is never put in /dev/shm
        pass
    assert not segments.wanted(1 << 30, OtherArrays)


@pytest.mark.parametrize("value, on", [(None, True), ("1", True), ("0", False), ("off", False),
                                       ("no", False), ("false", False)])
def test_the_switch(value, on):
    env = {} if value is None else {shared_memory.ENV: value}
    assert shared_memory.enabled(env) is on


# -- the reduction, with threads for ranks -------------------------------------------------------
class ThreadRank:
    """What the reducer uses of a communicator: the watchdog's notes and a barrier."""

    def __init__(self, barrier):
        self.seq, self.current, self.last = 0, None, None
        self.mpi_comm = self
        self.Barrier = barrier.wait


def reduce_in_threads(buffers, op, steps, values):
    """Runs `steps` all-reduces of `buffers` (one per thread-rank), refilling them from
    values(step, rank) before each; returns every rank's result of every step."""
    size = len(buffers)
    barrier = threading.Barrier(size, timeout=30)
    results = [[None] * steps for _ in range(size)]
    errors = []

    def rank_main(rank):
        try:
            reduce = shared_memory._reducer(ThreadRank(barrier), buffers, rank, op, "grads")
            for step in range(steps):
                buffers[rank][:] = values(step, rank)
                reduce()
                results[rank][step] = buffers[rank].copy()
        except BaseException as e:  # noqa: B902 - reported by the test thread
            errors.append(e)
            barrier.abort()
    threads = [threading.Thread(target=rank_main, args=(r,)) for r in range(size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


@pytest.mark.parametrize("size", [2, 3, 4])
@pytest.mark.parametrize("op", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("n", [1000, 10, 2])  # 10 and 2: slices of unequal size, some empty
def test_every_rank_gets_the_reduction_of_every_rank_s_buffer(size, op, n):
    rng = np.random.default_rng(size * 100 + n)
    data = rng.standard_normal((3, size, n)).astype(np.float32)
    buffers = [np.empty(n, np.float32) for _ in range(size)]
    results = reduce_in_threads(buffers, op, 3, lambda step, rank: data[step, rank])
    for step in range(3):
        stack = data[step].astype(np.float64)
        want = {"sum": stack.sum(0), "mean": stack.mean(0), "max": stack.max(0),
                "min": stack.min(0)}[op]
        for rank in range(size):
            np.testing.assert_allclose(results[rank][step], want, rtol=1e-6, atol=1e-6)
            # one owner sums each slice: the same bits everywhere
            np.testing.assert_array_equal(results[rank][step], results[0][step])


def test_integers_are_summed_exactly():
    buffers = [np.empty(7, np.int64) for _ in range(3)]
    results = reduce_in_threads(buffers, "sum", 2, lambda step, rank: np.arange(7) * (rank + step))
    np.testing.assert_array_equal(results[1][1], np.arange(7) * 6)


# -- on real ranks --------------------------------------------------------------------------------
SHAPES = [(256, 300), (300,), (300, 5)]  # 78,605 floats, 307 KiB: over the size threshold


def reduce_plan(op):
    graph = tf.Graph()
    with graph.as_default():
        xs = [tf.placeholder(tf.float32, s) for s in SHAPES]
        outs = dd.allreduce(xs, op=op)
    return tf.Session(graph=graph).make_callable(outs, xs)


def rank_values(rank, step):
    rng = np.random.default_rng(1000 * step + rank)
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES]


@pytest.fixture
def comm():
    return dd.init().communicator


@pytest.mark.mpi(min_size=2)
@pytest.mark.parametrize("op", ["sum", "mean", "max"])
def test_a_plan_reduces_its_buffer_in_shared_memory_with_mpi_s_results(comm, op):
    before = comm._segments.connected
    step = reduce_plan(op)
    for i in range(3):
        got = step(*rank_values(comm.rank, i))
        for t, out in enumerate(got):
            expect = rank_values(comm.rank, i)[t].copy()
            comm.allreduce(expect, op)  # MPI_Allreduce of an ordinary buffer
            np.testing.assert_allclose(out, expect, rtol=1e-6, atol=1e-6)
            every = comm.allgather(np.ascontiguousarray(out))
            assert all(np.array_equal(row, every[0]) for row in every)
    assert comm._segments.connected == before + 1


@pytest.mark.mpi(min_size=2)
def test_nothing_is_left_in_dev_shm(comm):
    before = comm._segments.connected
    step = reduce_plan("sum")
    step(*rank_values(comm.rank, 0))  # compiles the plan (a file per rank), then reduces
    assert comm._segments.connected == before + 1
    assert own_files(shared_memory.DIRECTORY) == []  # unlinked once every rank mapped it
    comm.barrier()


@pytest.mark.mpi(min_size=2)
def test_a_rank_that_cannot_take_part_sends_every_rank_to_mpi(comm, monkeypatch):
    if comm.rank == comm.size - 1:
        monkeypatch.setenv(shared_memory.ENV, "0")  # its buffer is an ordinary one
    before = comm._segments.connected
    step = reduce_plan("sum")
    got = step(*rank_values(comm.rank, 0))
    expect = sum(rank_values(r, 0)[0].astype(np.float64) for r in range(comm.size))
    np.testing.assert_allclose(got[0], expect, rtol=1e-5, atol=1e-5)
    assert comm._segments.connected == before  # on every rank, not a hang on some
    assert own_files(shared_memory.DIRECTORY) == []


@launches_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_on_real_ranks(ranks):
    assert_ok(run_pytest_under_mpi(ranks, "test_shared_memory_allreduce.py"))


@pytest.mark.mpi(min_size=2)
def test_a_plan_only_some_ranks_compile_shares_the_buffer_and_makes_no_collective(comm):
    """Uneven shards: a rank whose part of the last batch has another length compiles a second
    plan (a feed shape of its own) that the other ranks never compile. The two plans must share
    the first plan's buffer and its connection, since a collective made by some ranks only
    would hang the job."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 256])
        w = tf.Variable(np.ones((256, 100), np.float32))  # 100 KiB of gradient
        loss = dd.compute_average_loss(tf.reduce_sum(tf.matmul(x, w), axis=1), 16)
        opt = dd.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.1))
        train = opt.minimize(loss)
        init = tf.global_variables_initializer()
    sess = tf.Session(graph=graph)
    sess.run(init)
    before = comm._segments.connected
    rows = [8, 8, 4 if comm.rank == 0 else 8, 8]  # rank 0 alone sees a batch of 4 rows
    for n in rows:
        sess.run(train, {x: np.ones((n, 256), np.float32)})
    assert comm._segments.connected == before + 1
    # every rank applied the same summed gradient: sum over ranks of its rows / 16, per step
    steps = np.array([[8, 8, 4 if r == 0 else 8, 8] for r in range(comm.size)]).sum(axis=0)
    expect = 1 - 0.1 * steps.sum() / 16
    np.testing.assert_allclose(sess.run(w), np.full((256, 100), expect, np.float32), rtol=1e-5)
