"""The fused all-reduce op and DistributedOptimizer, in graph mode (Session plans) and eagerly.

In-process tests use a stand-in communicator of size 2 that behaves as if an identical second
rank existed (a sum doubles), so the packing, buckets and views are exercised without MPI; the
mpi-marked tests at the end run on real ranks (launched under mpirun -n 2 and -n 3).
"""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf
import distflow.distribute as dd
from distflow.distribute.runtime import launched_by_mpi
from mpi_launch import assert_ok, launches_mpi, run_pytest_under_mpi

UNDER_MPI = launched_by_mpi()


class TwinCommunicator(dd.Communicator):
    """Size 2, the other rank holding exactly this rank's values; counts the collectives."""

    name = "twin"

    def __init__(self):
        super().__init__(rank=0, size=2)
        self.calls = []

    def _allreduce(self, buf, op, name):
        self.calls.append(("allreduce", buf.size, name))
        if op == "sum":
            buf *= 2

    def _allgather(self, buf, name):
        self.calls.append(("allgather", buf.size, name))
        return np.stack([buf, buf])

    def _allgather_object(self, obj):
        return [obj, obj]

    def _broadcast(self, buf, root, name):
        self.calls.append(("broadcast", buf.size, name))

    def _barrier(self, name):
        self.calls.append(("barrier", 0, name))

    def _broadcast_object(self, obj, root):
        return obj


@pytest.fixture
def comm():
    if UNDER_MPI:
        return dd.init().communicator
    return dd.SingleCommunicator()


# -- bucket layout --------------------------------------------------------------------------------
def test_buckets_fill_in_backward_order_up_to_the_cap():
    f32 = np.dtype(np.float32)
    # tensors 0..3 of 8, 12, 16, 40 bytes; backward order is 3, 2, 1, 0
    assert dd.bucket_layout([8, 12, 16, 40], [f32] * 4, None) == [[3, 2, 1, 0]]
    assert dd.bucket_layout([8, 12, 16, 40], [f32] * 4, 40) == [[3], [2, 1, 0]]
    assert dd.bucket_layout([8, 12, 16, 40], [f32] * 4, 30) == [[3], [2, 1], [0]]
    assert dd.bucket_layout([8, 12, 16, 40], [f32] * 4, 1) == [[3], [2], [1], [0]]


def test_a_bucket_holds_one_dtype():
    f32, f64 = np.dtype(np.float32), np.dtype(np.float64)
    assert dd.bucket_layout([4, 8, 4, 8], [f32, f64, f32, f64], None) == [[3, 1], [2, 0]]


# -- graph mode -----------------------------------------------------------------------------------
def test_graph_allreduce_packs_reduces_and_unpacks():
    twin = TwinCommunicator()
    a = tf.placeholder(tf.float32, [3, 2])
    b = tf.placeholder(tf.float32, [2])
    c = tf.placeholder(tf.float64, [])
    ra, rb, rc = dd.allreduce([a, b, c], communicator=twin)
    assert (ra.shape.as_list(), rb.dtype, rc.dtype) == ([3, 2], tf.float32, tf.float64)
    sess = tf.Session()
    va, vb = np.arange(6, dtype=np.float32).reshape(3, 2), np.array([1.5, -2], np.float32)
    for step in range(3):
        out = sess.run([ra, rb, rc], {a: va + step, b: vb, c: 0.25})
        np.testing.assert_array_equal(out[0], 2 * (va + step))
        np.testing.assert_array_equal(out[1], 2 * vb)
        assert out[2] == 0.5 and out[2].dtype == np.float64
    reduces = [call for call in twin.calls if call[0] == "allreduce"]
    # one collective per dtype per step: float32 (8 values) and float64 (1 value)
    assert sorted(size for _, size, _ in reduces) == [1] * 3 + [8] * 3
    # the cross-rank layout check ran once, not every step
    assert sum(call[0] == "allgather" for call in twin.calls) == 1


def test_the_plans_of_one_op_share_its_buffer():
    """A plan per feed shape (a short last batch) reuses the first plan's fused buffer."""
    class Counting(TwinCommunicator):
        made = 0

        def _new_buffer(self, nelems, dtype, xp):
            self.made += 1
            return super()._new_buffer(nelems, dtype, xp)
    twin = Counting()
    x = tf.placeholder(tf.float32, [None, 3])
    w = tf.Variable(np.ones((3, 2), np.float32))
    loss = tf.reduce_sum(tf.matmul(x, w))
    opt = dd.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.1), communicator=twin)
    train = opt.minimize(loss)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    for rows in (4, 2, 4):
        sess.run(train, {x: np.ones((rows, 3), np.float32)})
    assert twin.made == 1
    # d(sum(x @ w))/dw = rows everywhere, doubled by the twin rank, over 4 + 2 + 4 rows
    np.testing.assert_allclose(sess.run(w), np.full((3, 2), 1 - 0.1 * 2 * 10, np.float32))


def test_fetched_results_do_not_change_when_the_next_step_reuses_the_buffer():
    twin = TwinCommunicator()
    a = tf.placeholder(tf.float32, [2])
    r = dd.allreduce(a, communicator=twin)
    sess = tf.Session()
    first = sess.run(r, {a: [1, 2]})
    sess.run(r, {a: [5, 5]})
    np.testing.assert_array_equal(first, [2, 4])


def test_buckets_make_one_collective_each():
    twin = TwinCommunicator()
    xs = [tf.placeholder(tf.float32, [n]) for n in (2, 3, 4)]
    outs = dd.allreduce(xs, communicator=twin, bucket_bytes=16)
    sess = tf.Session()
    vals = sess.run(outs, {x: np.arange(n) + 1.0 for x, n in zip(xs, (2, 3, 4))})
    for v, n in zip(vals, (2, 3, 4)):
        np.testing.assert_array_equal(v, 2 * (np.arange(n) + 1.0))
    sizes = [size for kind, size, _ in twin.calls if kind == "allreduce"]
    assert sizes == [4, 3, 2]  # backward order: the last tensor's bucket first


def test_distributed_optimizer_inserts_one_fused_op_and_trains_in_one_plan():
    twin = TwinCommunicator()
    x = tf.placeholder(tf.float32, [None, 2])
    w = tf.Variable(np.array([[1.0], [-1.0]], np.float32), name="w")
    b = tf.Variable(np.zeros(1, np.float32), name="b")
    loss = tf.reduce_sum(tf.matmul(x, w) + b)
    opt = dd.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.5), communicator=twin)
    train = opt.minimize(loss)
    fused = [op for op in tf.get_default_graph().get_operations() if op.type == "FusedAllReduce"]
    assert len(fused) == 1 and len(fused[0].inputs) == 2
    assert fused[0].get_attr("names") == ("gradient of w:0", "gradient of b:0")
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    sess.run(train, {x: [[1.0, 2.0], [3.0, 4.0]]})
    # d loss / dw = column sums of x = [4, 6]; summed over the two (identical) ranks: [8, 12]
    np.testing.assert_allclose(sess.run(w), [[1 - 0.5 * 8], [-1 - 0.5 * 12]])
    np.testing.assert_allclose(sess.run(b), [-0.5 * 2 * 2])
    assert sum(kind == "allreduce" for kind, _, _ in twin.calls) == 1


# -- zero copy: gradients computed straight into the fused buffer ------------------------------
def _two_layer_step(fetch_local_gradients):
    """A TwinCommunicator data-parallel step of a 3-4-1 MLP (MatMul, Add and BiasAdd layers);
    fetching the local gradients too forces the plain, copying path."""
    twin = TwinCommunicator()
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        y = tf.placeholder(tf.float32, [None, 1])
        params = [tf.Variable(v) for v in _initial_params()]
        h = tf.nn.relu(tf.matmul(x, params[0]) + params[1])       # Add: its gradient is a SumTo
        out = tf.nn.bias_add(tf.matmul(h, params[2]), params[3])  # BiasAdd: a BiasAddGrad
        loss = dd.compute_average_loss(tf.square(out - y), 16)
        opt = dd.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.1), communicator=twin)
        train = opt.minimize(loss)
        local = list(next(op for op in graph.get_operations() if op.type == "FusedAllReduce").inputs)
        init = tf.global_variables_initializer()
    sess = tf.Session(graph=graph)
    sess.run(init)
    step = sess.make_callable([train] + (local if fetch_local_gradients else []), [x, y])
    return sess, params, step


def _initial_params():
    rng = np.random.RandomState(7)
    return [rng.randn(3, 4).astype(np.float32), np.full(4, 0.1, np.float32),
            rng.randn(4, 1).astype(np.float32), np.full(1, -0.2, np.float32)]


def _numpy_step(params, xv, yv):
    """The same step in float64 NumPy: the local gradient, doubled by the twin rank, then SGD."""
    w1, b1, w2, b2 = params
    z = xv @ w1 + b1
    h = np.maximum(z, 0)
    d = 2 * (h @ w2 + b2 - yv) / 16
    dz = (d @ w2.T) * (z > 0)
    grads = [xv.T @ dz, dz.sum(axis=0), h.T @ d, d.sum(axis=0)]
    return [p - 0.1 * 2 * g for p, g in zip(params, grads)]


def _fused_kernels(sess):
    """{fed shapes: (the specialized plan's source, its FusedAllReduce kernel)}."""
    from distflow.distribute.allreduce_op import FusedKernel
    plan = next(p for p in sess._plans.values() if hasattr(p, "op_index")
                and any(op.type == "FusedAllReduce" for op in p.ops))
    return {key: (plan.run.sources[key],
                  next(k for k in fast.__globals__.values() if isinstance(k, FusedKernel)))
            for key, fast in plan.run.by_shapes.items()}


def test_gradients_are_computed_into_the_buffer_with_the_copying_paths_results():
    rng = np.random.RandomState(3)
    batches = [(rng.randn(n, 3).astype(np.float32), rng.randn(n, 1).astype(np.float32))
               for n in (8, 8, 5, 8)]  # a short batch gets a plan (and a buffer) of its own
    fast_sess, fast_params, fast_step = _two_layer_step(fetch_local_gradients=False)
    plain_sess, plain_params, plain_step = _two_layer_step(fetch_local_gradients=True)
    want = [p.astype(np.float64) for p in _initial_params()]
    for xv, yv in batches:
        fast_step(xv, yv)
        plain_step(xv, yv)
        want = _numpy_step(want, xv.astype(np.float64), yv.astype(np.float64))
        fast, plain = fast_sess.run(fast_params), plain_sess.run(plain_params)
        for f, p, w in zip(fast, plain, want):
            np.testing.assert_array_equal(f, p)  # the same kernels, only the destination moved
            np.testing.assert_allclose(f, w, rtol=1e-5, atol=1e-6)
    fast_plans, plain_plans = _fused_kernels(fast_sess), _fused_kernels(plain_sess)
    assert len(fast_plans) == len(plain_plans) == 2
    for source, kernel in fast_plans.values():
        # the 2 MatMuls, the SumTo and the BiasAddGrad write into the buffer: nothing is copied
        assert source.count("# into the buffer of") == 4
        assert kernel.buffers is kernel.preallocated and kernel.buffers.copies == 0
        # every producer is bound to write into its view: the kernel stopped testing that
        views, _, _ = kernel._in_place
        assert views is None
    for source, kernel in plain_plans.values():
        assert "# into the buffer of" not in source  # fetched gradients: the plain path
        assert kernel.buffers.copies > 0


def test_a_kernel_promised_its_inputs_in_place_checks_the_promise_on_the_first_call():
    twin = TwinCommunicator()
    x = tf.placeholder(tf.float32, [2])
    op = dd.allreduce([x, x * 2.0], communicator=twin)[0].op
    kernel = op.opdef.kernel(op, tf.Session())
    views = kernel.input_buffers([(2,), (2,)], [np.float32] * 2, np, written=[0, 1])
    a, b = np.ones(2, np.float32), np.full(2, 3.0, np.float32)
    out = kernel(a, b)  # not the views: a broken promise, copied in and never trusted
    np.testing.assert_array_equal(out[0], 2 * a)
    np.testing.assert_array_equal(out[1], 2 * b)
    assert kernel._in_place is None and kernel.buffers.copies == 2
    views[0][...], views[1][...] = 5.0, 7.0
    out = kernel(*views)
    np.testing.assert_array_equal(out[1], [14.0, 14.0])


def test_a_gradient_read_elsewhere_too_is_copied_not_overwritten():
    twin = TwinCommunicator()
    x = tf.placeholder(tf.float32, [2, 2])
    g = tf.matmul(x, x, transpose_a=True)
    reduced = dd.allreduce([g, tf.matmul(x, x)], communicator=twin)
    doubled = g * 2.0  # read after the all-reduce ran: must still be x^T x, not the sum
    sess = tf.Session()
    xv = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    for _ in range(2):
        r0, r1, d = sess.run(reduced + [doubled], {x: xv})
        np.testing.assert_allclose(d, 2 * xv.T @ xv)
        np.testing.assert_allclose(r0, 2 * xv.T @ xv)
        np.testing.assert_allclose(r1, 2 * xv @ xv)


def test_distributed_optimizer_keeps_the_wrapped_optimizers_slots():
    w = tf.Variable(np.ones(3, np.float32), name="w")
    inner = tf.train.AdamOptimizer(0.1)
    opt = dd.DistributedOptimizer(inner, communicator=dd.SingleCommunicator())
    opt.minimize(tf.reduce_sum(tf.square(w)))
    assert opt.get_slot(w, "m") is inner.get_slot(w, "m") is not None
    assert opt.get_slot_names() == ["m", "v"]


def test_one_rank_adds_no_copies_eagerly():
    t = df.constant([1.0, 2.0])
    out = dd.allreduce([t], communicator=dd.SingleCommunicator())[0]
    assert out._value is t._value


# -- eager ----------------------------------------------------------------------------------------
def test_eager_allreduce_gives_independent_results():
    twin = TwinCommunicator()
    first = dd.allreduce([df.constant([1.0, 2.0]), df.constant(3.0)], communicator=twin)
    second = dd.allreduce([df.constant([7.0, 7.0]), df.constant(0.0)], communicator=twin)
    np.testing.assert_array_equal(first[0].numpy(), [2.0, 4.0])
    assert float(first[1]) == 6.0
    np.testing.assert_array_equal(second[0].numpy(), [14.0, 14.0])
    assert sum(kind == "allgather" for kind, _, _ in twin.calls) == 1  # layout checked once


def test_eager_distributed_optimizer_with_a_tape():
    twin = TwinCommunicator()
    w = df.Variable([1.0, -2.0])
    opt = dd.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.25), communicator=twin)
    with df.GradientTape() as tape:
        loss = df.reduce_sum(df.square(w))
    pairs = opt.compute_gradients(loss, var_list=[w], tape=tape)
    np.testing.assert_allclose(pairs[0][0].numpy(), [4.0, -8.0])  # 2 * 2w, summed over 2 ranks
    opt.apply_gradients(pairs)
    np.testing.assert_allclose(w.numpy(), [0.0, 0.0])


def test_inside_df_function_the_op_runs_in_the_traced_plan():
    twin = TwinCommunicator()
    w = df.Variable([1.0, -2.0])
    opt = dd.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.25), communicator=twin)

    @df.function
    def step():
        with df.GradientTape() as tape:
            loss = df.reduce_sum(df.square(w))
        opt.minimize(loss, var_list=[w], tape=tape)

    step()
    np.testing.assert_allclose(w.numpy(), [0.0, 0.0])  # w - 0.25 * 2 * (2 * w)
    w.assign([2.0, 2.0])
    step()
    np.testing.assert_allclose(w.numpy(), [0.0, 0.0])
    assert step.experimental_get_tracing_count() == 1
    assert sum(kind == "allreduce" for kind, _, _ in twin.calls) == 2


def test_mean_max_min_and_bad_reductions():
    twin = TwinCommunicator()
    assert float(dd.allreduce(df.constant(3.0), op="mean", communicator=twin)) == 3.0
    with pytest.raises(ValueError, match="Unknown reduction 'prod'"):
        dd.allreduce(tf.placeholder(tf.float32, [2]), op="prod", communicator=twin)
    with pytest.raises(TypeError, match="mean all-reduce needs floating"):
        dd.allreduce(tf.placeholder(tf.int32, [2]), op="mean", communicator=twin)
    with pytest.raises(ValueError, match="op must be 'sum' or 'mean'"):
        dd.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.1), op="max")


def test_no_gradient_flows_through_the_op():
    x = df.Variable([1.0, 2.0])
    with df.GradientTape() as tape:
        y = dd.allreduce(x * 3.0, communicator=TwinCommunicator())
    assert tape.gradient(y, x) is None


# -- on real ranks (mpirun -n 2 and -n 3) -------------------------------------------------------
@pytest.mark.mpi(min_size=2)
def test_graph_sum_over_ranks_with_one_collective_per_step(comm):
    a = tf.placeholder(tf.float32, [2, 2])
    b = tf.placeholder(tf.float64, [3])
    ra, rb = dd.allreduce([a, b], communicator=comm)
    sess = tf.Session()
    n, r = comm.size, comm.rank
    out = sess.run([ra, rb], {a: np.full((2, 2), r + 1.0), b: np.arange(3.0) * r})
    np.testing.assert_array_equal(out[0], np.full((2, 2), n * (n + 1) / 2))
    np.testing.assert_array_equal(out[1], np.arange(3.0) * n * (n - 1) / 2)
    before = comm.seq
    sess.run([ra, rb], {a: np.zeros((2, 2)), b: np.zeros(3)})
    assert comm.seq - before == 2  # one per dtype, no layout check after the first step


@pytest.mark.mpi(min_size=2)
def test_eager_sum_over_ranks(comm):
    outs = dd.allreduce([df.constant([1.0, 2.0]) * (comm.rank + 1), df.constant(comm.rank)],
                        communicator=comm)
    n = comm.size
    np.testing.assert_array_equal(outs[0].numpy(), np.array([1.0, 2.0]) * n * (n + 1) / 2)
    assert int(outs[1]) == n * (n - 1) // 2


@pytest.mark.mpi(min_size=2)
def test_different_models_give_an_error_naming_the_tensor_and_ranks(comm):
    w = tf.Variable(np.ones(3, np.float32), name="w")
    b = tf.Variable(np.ones(4 if comm.rank == 1 else 2, np.float32), name="b")
    loss = tf.reduce_sum(w) + tf.reduce_sum(b)
    train = dd.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.1),
                                    communicator=comm).minimize(loss)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    with pytest.raises(dd.CollectiveMismatchError) as err:
        sess.run(train)
    msg = str(err.value)
    assert "'gradient of b:0'" in msg and "gradient of w:0" not in msg
    assert "shape (4,) float32 (bucket 0) on rank 1" in msg
    others = [r for r in range(comm.size) if r != 1]
    assert "shape (2,) float32 (bucket 0) on rank%s %s" % (
        "s" if len(others) > 1 else "", ", ".join(map(str, others))) in msg
    np.testing.assert_array_equal(sess.run(w), np.ones(3))  # nothing was applied


@pytest.mark.mpi(min_size=2)
def test_a_dtype_that_differs_between_ranks_is_an_error_too(comm):
    dtype = np.float64 if comm.rank == 1 else np.float32
    w = tf.Variable(np.ones(3, dtype), name="w")
    grads = tf.gradients(tf.reduce_sum(tf.square(w)), [w])
    reduced = dd.allreduce(grads, communicator=comm, names=["gradient of w"])
    sess = tf.Session()
    sess.run(w.initializer)
    with pytest.raises(dd.CollectiveMismatchError) as err:
        sess.run(reduced)
    assert "'gradient of w'" in str(err.value)
    assert "shape (3,) float64 (bucket 0) on rank 1" in str(err.value)


@launches_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_on_real_ranks(ranks):
    assert_ok(run_pytest_under_mpi(ranks, "test_fused_allreduce.py"))
