"""distflow.horovod (horovod.tensorflow's API): every name, on one rank in-process and on real
ranks under `mpirun -n 2` and `-n 3` (the launcher tests at the end), where each rank's data
differs on purpose. Values are checked against what every rank's inputs make them, eagerly, in
Session graphs and inside df.function."""
import numpy as np
import pytest

import distflow as tf
import distflow.compat.v1 as tf1
import distflow.horovod as hvd
from distflow.distribute import CollectiveMismatchError
from mpi_launch import assert_ok, launches_mpi, run_pytest_under_mpi


@pytest.fixture(autouse=True)
def _init():
    hvd.init()
    yield


def _per_rank(fn):
    """[fn(0), fn(1), ...] for every rank: what each rank holds."""
    return [fn(r) for r in range(hvd.size())]


# -- the process ------------------------------------------------------------------------------
def test_process_functions():
    import distflow.distribute as dd
    assert hvd.is_initialized()
    assert (hvd.rank(), hvd.size()) == (dd.rank(), dd.size())
    assert 0 <= hvd.local_rank() < hvd.local_size() <= hvd.size()
    assert 0 <= hvd.cross_rank() < hvd.cross_size()
    assert hvd.cross_size() == 1 and hvd.is_homogeneous()  # the tests run on one host
    assert hvd.mpi_built() is True and hvd.gloo_built() is False
    assert hvd.mpi_enabled() is (hvd.size() > 1)
    assert isinstance(hvd.nccl_built(), bool) and isinstance(hvd.mpi_threads_supported(), bool)
    assert (hvd.Average, hvd.Sum, hvd.Adasum, hvd.Min, hvd.Max, hvd.Product) == (0, 1, 2, 3, 4, 5)
    assert [int(t.numpy()) for t in (hvd.size_op(), hvd.rank_op(), hvd.local_size_op(),
                                     hvd.local_rank_op())] == \
        [hvd.size(), hvd.rank(), hvd.local_size(), hvd.local_rank()]


def test_run_is_refused_with_the_launcher_to_use():
    with pytest.raises(NotImplementedError, match="mpirun"):
        hvd.run(lambda: None, np=2)


# -- allreduce --------------------------------------------------------------------------------
def _local(r):
    return np.array([1.0, -2.0, 3.0], np.float32) * (r + 1)


def test_allreduce_ops_eagerly():
    x = tf.constant(_local(hvd.rank()))
    every = np.stack(_per_rank(_local))
    np.testing.assert_allclose(hvd.allreduce(x).numpy(), every.mean(0), rtol=1e-6)
    np.testing.assert_allclose(hvd.allreduce(x, op=hvd.Sum).numpy(), every.sum(0), rtol=1e-6)
    np.testing.assert_allclose(hvd.allreduce(x, op=hvd.Min).numpy(), every.min(0))
    np.testing.assert_allclose(hvd.allreduce(x, op=hvd.Max).numpy(), every.max(0))
    np.testing.assert_allclose(hvd.allreduce(x, op=hvd.Product).numpy(), every.prod(0), rtol=1e-6)
    np.testing.assert_allclose(hvd.allreduce(x, average=False).numpy(), every.sum(0), rtol=1e-6)
    scaled = hvd.allreduce(x, op=hvd.Sum, prescale_factor=0.5, postscale_factor=3.0, name="s")
    np.testing.assert_allclose(scaled.numpy(), every.sum(0) * 1.5, rtol=1e-6)
    ints = hvd.allreduce(tf.constant([hvd.rank()]), op=hvd.Sum)
    assert ints.dtype == tf.int32 and ints.numpy()[0] == sum(range(hvd.size()))


def test_allreduce_refuses_adasum_and_integer_average():
    with pytest.raises(NotImplementedError, match="Adasum"):
        hvd.allreduce(tf.constant([1.0]), op=hvd.Adasum)
    with pytest.raises(TypeError, match="hvd.Average needs floating"):
        hvd.allreduce(tf.constant([1]))
    with pytest.raises(ValueError, match="supersedes average"):
        hvd.allreduce(tf.constant([1.0]), average=True, op=hvd.Sum)


def test_allreduce_in_a_session_graph():
    x = tf1.placeholder(tf.float32, [3])
    y = hvd.allreduce(x)
    z = hvd.grouped_allreduce([x, tf1.cast(x, tf.float64) * 2], op=hvd.Sum)
    assert y.op.type == "HorovodAllreduce" and z[0].op.type == "HorovodGroupedAllreduce"
    every = np.stack(_per_rank(_local))
    with tf1.Session() as sess:
        for _ in range(2):  # the plan runs the collective on every run
            got, (a, b) = sess.run([y, z], {x: _local(hvd.rank())})
            np.testing.assert_allclose(got, every.mean(0), rtol=1e-6)
            np.testing.assert_allclose(a, every.sum(0), rtol=1e-6)
            assert b.dtype == np.float64
            np.testing.assert_allclose(b, 2 * every.sum(0), rtol=1e-6)


def test_allreduce_gradient_is_the_allreduce_of_the_gradient():
    x = tf.constant(_local(hvd.rank()))
    w = tf.constant(np.arange(3, dtype=np.float32) + hvd.rank())
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(hvd.allreduce(x) * w)
    expected = np.mean(_per_rank(lambda r: np.arange(3) + r), axis=0)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), expected, rtol=1e-6)


def test_grouped_allreduce_eagerly():
    a, b = tf.constant(_local(hvd.rank())), tf.constant([float(hvd.rank())], tf.float64)
    ra, rb = hvd.grouped_allreduce([a, b])
    np.testing.assert_allclose(ra.numpy(), np.mean(_per_rank(_local), 0), rtol=1e-6)
    assert rb.dtype == tf.float64 and rb.numpy()[0] == pytest.approx((hvd.size() - 1) / 2)
    assert hvd.grouped_allreduce([]) == []


# -- allgather, broadcast, alltoall, reducescatter --------------------------------------------
def _rows(r):
    return np.arange((r + 1) * 2, dtype=np.float32).reshape(r + 1, 2) + 10 * r


def test_allgather_with_uneven_first_dimensions():
    got = hvd.allgather(tf.constant(_rows(hvd.rank())))
    np.testing.assert_array_equal(got.numpy(), np.concatenate(_per_rank(_rows)))
    ph = tf1.placeholder(tf.float32, [None, 2])
    out = hvd.allgather(ph)
    assert out.shape.as_list() == [None, 2]
    with tf1.Session() as sess:
        np.testing.assert_array_equal(sess.run(out, {ph: _rows(hvd.rank())}),
                                      np.concatenate(_per_rank(_rows)))


def test_allgather_gradient_is_this_ranks_rows_of_the_average():
    x = tf.constant(_rows(hvd.rank()))
    weights = [np.random.default_rng(r).normal(size=(sum(range(1, hvd.size() + 1)), 2))
               .astype(np.float32) for r in range(hvd.size())]
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(hvd.allgather(x) * weights[hvd.rank()])
    start = sum(range(1, hvd.rank() + 1))
    expected = np.mean(weights, 0)[start:start + hvd.rank() + 1]
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), expected, rtol=1e-5)


def test_broadcast_and_its_gradient():
    root = hvd.size() - 1
    x = tf.constant(_local(hvd.rank()))
    np.testing.assert_array_equal(hvd.broadcast(x, root).numpy(), _local(root))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(hvd.broadcast(x, root) * float(hvd.rank() + 1))
    expected = np.full(3, np.mean(range(1, hvd.size() + 1))) * (hvd.rank() == root)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="root_rank must be a rank"):
        hvd.broadcast(x, hvd.size())


def test_broadcast_and_allgather_objects():
    assert hvd.broadcast_object({"rank": hvd.rank()}, root_rank=0) == {"rank": 0}
    assert hvd.broadcast_object_fn(root_rank=0)([hvd.rank()]) == [0]
    assert hvd.allgather_object(("r", hvd.rank())) == _per_rank(lambda r: ("r", r))


def test_alltoall_with_and_without_splits():
    n, me = hvd.size(), hvd.rank()
    even = tf.constant(np.arange(2 * n, dtype=np.float32) + 100 * me)
    got = hvd.alltoall(even)
    np.testing.assert_array_equal(got.numpy(), np.concatenate(
        [np.arange(2 * me, 2 * me + 2) + 100 * r for r in range(n)]))
    # rank r sends k + 1 rows to rank k
    splits = np.arange(1, n + 1, dtype=np.int32)
    data = np.repeat(np.arange(n), splits).astype(np.float32) + 100 * me
    out, received = hvd.alltoall(tf.constant(data[:, None]), splits=splits)
    np.testing.assert_array_equal(received.numpy(), np.full(n, me + 1))
    np.testing.assert_array_equal(out.numpy()[:, 0],
                                  np.concatenate([np.full(me + 1, me + 100 * r) for r in range(n)]))
    with pytest.raises(ValueError, match="splits must give one row count per rank"):
        hvd.alltoall(tf.constant(data), splits=[1] * (n + 1))


def test_reducescatter_divides_rows_as_horovod():
    n, me = hvd.size(), hvd.rank()
    rows = 2 * n + 1  # uneven: the first rank gets one row more
    local = np.arange(rows * 2, dtype=np.float32).reshape(rows, 2) * (me + 1)
    total = sum(np.arange(rows * 2, dtype=np.float32).reshape(rows, 2) * (r + 1) for r in range(n))
    base, extra = divmod(rows, n)
    start = me * base + min(me, extra)
    mine = slice(start, start + base + (me < extra))
    np.testing.assert_allclose(hvd.reducescatter(tf.constant(local)).numpy(), total[mine] / n,
                               rtol=1e-6)
    np.testing.assert_allclose(hvd.reducescatter(tf.constant(local), op=hvd.Sum).numpy(),
                               total[mine], rtol=1e-6)
    with pytest.raises(ValueError, match="Sum and hvd.Average"):
        hvd.reducescatter(tf.constant(local), op=hvd.Max)


# -- join and barrier -------------------------------------------------------------------------
def test_join_lets_ranks_with_less_data_take_part_with_zeros():
    """Rank r has r + 1 batches: the ranks that ran out join, the others keep reducing."""
    me, n = hvd.rank(), hvd.size()
    for step in range(me + 1):
        got = hvd.allreduce(tf.constant([1.0, float(me)]), op=hvd.Sum)
        present = [r for r in range(n) if r >= step]  # the ranks with a batch at this step
        np.testing.assert_allclose(got.numpy(), [len(present), sum(present)])
    assert int(hvd.join()) == n - 1  # the rank with the most batches joins last
    hvd.barrier()


@pytest.mark.parametrize("traced", [False, True])
def test_join_with_the_fused_path_of_a_session_or_a_function(traced):
    """In a plan, a Sum or Average takes distflow's fused all-reduce; with a rank in join(),
    every rank takes the plain path for that call."""
    me, n = hvd.rank(), hvd.size()
    if traced:
        run = tf.function(lambda v: hvd.allreduce(v, op=hvd.Sum))
    else:
        x = tf1.placeholder(tf.float32, [2])
        y = hvd.allreduce(x, op=hvd.Sum)
        sess = tf1.Session()
        run = lambda v: sess.run(y, {x: v})  # noqa: E731
    for step in range(me + 2):
        got = run(np.array([1.0, float(me)], np.float32))
        present = [r for r in range(n) if r + 2 > step]
        np.testing.assert_allclose(np.asarray(got), [len(present), sum(present)])
    assert int(hvd.join()) == n - 1


@pytest.mark.mpi(min_size=2)
def test_a_joined_rank_takes_part_in_allgather_and_broadcast():
    if hvd.rank() == 0:
        assert int(hvd.join()) == hvd.size() - 1
        return
    got = hvd.allgather(tf.constant([[float(hvd.rank())]]))  # rank 0 contributes no rows
    np.testing.assert_array_equal(got.numpy()[:, 0], np.arange(1, hvd.size()))
    np.testing.assert_array_equal(hvd.broadcast(tf.constant([hvd.rank()]), 1).numpy(), [1])
    hvd.join()


@pytest.mark.mpi(min_size=2)
def test_different_collectives_on_different_ranks_fail_on_every_rank_instead_of_hanging():
    x = tf.constant([1.0, 2.0])
    with pytest.raises(CollectiveMismatchError, match="rank 0: allreduce.*\n.*rank 1: broadcast"):
        if hvd.rank() == 0:
            hvd.allreduce(x)
        else:
            hvd.broadcast(x, 0)
    with pytest.raises(CollectiveMismatchError, match=r"\(2,\) float32.*\n.*\(3,\) float32"):
        hvd.allreduce(tf.constant(np.ones(2 + min(hvd.rank(), 1), np.float32)))
    x = tf1.placeholder(tf.float32, [None])
    y = hvd.allreduce(x)
    with tf1.Session() as sess:  # the fused path of a plan negotiates too
        with pytest.raises(CollectiveMismatchError, match=r"\(2,\) float32.*\n.*\(3,\)"):
            sess.run(y, {x: np.ones(2 + min(hvd.rank(), 1), np.float32)})
        np.testing.assert_allclose(sess.run(y, {x: np.ones(2, np.float32)}), [1.0, 1.0])
    hvd.barrier()  # the ranks are still in step afterwards


# -- variables --------------------------------------------------------------------------------
def test_broadcast_variables_eagerly_and_in_a_graph():
    v = tf.Variable(_local(hvd.rank()))
    hvd.broadcast_variables([v], root_rank=0)
    np.testing.assert_array_equal(v.numpy(), _local(0))
    w = tf1.Variable(_rows(hvd.rank())[:1], name="w")
    op = hvd.broadcast_global_variables(0)
    with tf1.Session() as sess:
        sess.run(tf1.global_variables_initializer())
        sess.run(op)
        np.testing.assert_array_equal(sess.run(w), _rows(0)[:1])
    tf.reset_default_graph()  # TF2 code: variables in no graph
    with pytest.raises(RuntimeError, match="does not support eager execution"):
        hvd.broadcast_global_variables(0)


def test_broadcast_global_variables_hook():
    w = tf1.Variable(_local(hvd.rank()), name="w")
    hook = hvd.BroadcastGlobalVariablesHook(0)
    hook.begin()
    with tf1.Session() as sess:
        sess.run(tf1.global_variables_initializer())
        hook.after_create_session(sess, None)
        np.testing.assert_array_equal(sess.run(w), _local(0))


@launches_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_on_real_ranks(ranks):
    assert_ok(run_pytest_under_mpi(ranks, "test_horovod.py", timeout=240))
