"""distflow.horovod's allreduce in a plan (a Session's, a df.function's) negotiates each layout
once: later calls make ONE collective (the fused all-reduce), as distflow's own
DistributedOptimizer does, and join() still works, learning of those calls over the watchdog's
side channel. Without a watchdog (collective timeout 0) every call negotiates, as before. On
`mpirun -n 2` / `-n 3`, with and without the watchdog."""
import os

import numpy as np
import pytest

import distflow as tf
import distflow.compat.v1 as tf1
import distflow.horovod as hvd
from mpi_launch import HERE, assert_ok, launches_mpi, run_mpi


@pytest.fixture(autouse=True)
def _init():
    hvd.init()
    yield


def comm():
    from distflow.distribute import runtime
    return runtime.init().communicator


def plan(traced, op, in_place=False):
    """f(float32 [3] array, float64 [2] array) -> both allreduced, two ops in one plan. With
    in_place, each allreduce's input is computed (x + 0) straight into its fused buffer, and a
    settled layout's call is the bound MPI call alone (mpi_ops._AllreduceKernel.__call__)."""
    def reduce(x):
        return hvd.allreduce(x + tf.zeros_like(x) if in_place else x, op=op)
    if traced:
        return tf.function(lambda a, b: (reduce(a), reduce(b)))
    a = tf1.placeholder(tf.float32, [3])
    b = tf1.placeholder(tf.float64, [2])
    outs = (reduce(a), reduce(b))
    sess = tf1.Session()
    return lambda x, y: sess.run(outs, {a: x, b: y})


@pytest.mark.mpi(min_size=2)
@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.parametrize("in_place", [False, True])
def test_a_negotiated_layout_costs_one_collective_per_call(traced, in_place):
    c, n, me = comm(), hvd.size(), hvd.rank()
    run = plan(traced, hvd.Sum, in_place)
    per_call = 1 if c.watchdog is not None else 2  # the header allgather, without a watchdog
    for step in range(4):
        before = c.seq
        got = run(np.full(3, me + step, np.float32), np.full(2, 2.0 * me, np.float64))
        if step:  # the first call of a layout negotiates (and checks the fused layout)
            assert c.seq - before == 2 * per_call, (step, c.seq - before)
        np.testing.assert_allclose(np.asarray(got[0]), np.full(3, n * step + n * (n - 1) / 2))
        np.testing.assert_allclose(np.asarray(got[1]), np.full(2, n * (n - 1)))


@pytest.mark.mpi(min_size=2)
@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.parametrize("in_place", [False, True])
def test_join_takes_part_in_negotiated_layouts_of_several_sizes_and_dtypes(traced, in_place):
    """Rank r runs r + 3 steps of a plan with a float32 and a float64 allreduce (Average),
    then joins: the joined ranks add zeros to each, and Average divides by every rank."""
    me, n = hvd.rank(), hvd.size()
    run = plan(traced, hvd.Average, in_place)
    for step in range(me + 3):
        got = run(np.full(3, 1.0 + me, np.float32), np.full(2, float(me), np.float64))
        present = [r for r in range(n) if r + 3 > step]
        np.testing.assert_allclose(np.asarray(got[0]),
                                   np.full(3, sum(1.0 + r for r in present) / n), rtol=1e-6)
        np.testing.assert_allclose(np.asarray(got[1]), np.full(2, sum(present) / n))
    assert int(hvd.join()) == n - 1
    # after the join every rank runs the plan again, as usual
    got = run(np.ones(3, np.float32), np.ones(2, np.float64))
    np.testing.assert_allclose(np.asarray(got[0]), np.ones(3))


@pytest.mark.mpi(min_size=2)
def test_a_joined_rank_then_an_eager_collective_then_the_plan():
    """A joined rank serves negotiated (eager) and negotiated-once (plan) calls in turn."""
    me, n = hvd.rank(), hvd.size()
    run = plan(True, hvd.Sum)
    run(np.ones(3, np.float32), np.ones(2, np.float64))  # negotiated: settles the layout
    if me == 0:
        assert int(hvd.join()) == n - 1
        return
    eager = hvd.allreduce(tf.constant([1.0, 1.0]), op=hvd.Sum)
    np.testing.assert_array_equal(eager.numpy(), [n - 1, n - 1])
    got = run(np.ones(3, np.float32), np.ones(2, np.float64))
    np.testing.assert_array_equal(np.asarray(got[0]), np.full(3, n - 1))
    hvd.join()


@launches_mpi
@pytest.mark.parametrize("watchdog", ["watchdog", "no watchdog"])
@pytest.mark.parametrize("ranks", [2, 3])
def test_on_real_ranks(ranks, watchdog):
    env = {"DISTFLOW_COLLECTIVE_TIMEOUT": "30" if watchdog == "watchdog" else "0"}
    proc = run_mpi(ranks, ["-m", "pytest", "-q", "-p", "no:cacheprovider", "--with-mpi",
                           os.path.join(HERE, "test_horovod_negotiation.py")], timeout=240,
                   env=env)
    assert_ok(proc)
    assert "9 passed" in proc.stdout, proc.stdout[-2000:]  # every mpi test ran on every rank


@launches_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_join_stops_with_a_message_when_a_rank_ends_without_joining(ranks):
    proc = run_mpi(ranks, [os.path.join(HERE, "workers", "join_rank_exits.py")], timeout=120,
                   collective_timeout=20)
    assert proc.returncode != 0
    assert "join returned" not in proc.stdout
    assert "cannot finish: rank %d's program ended" % (ranks - 1) in proc.stderr, proc.stderr
