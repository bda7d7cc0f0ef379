"""Training with distflow.horovod on one rank in-process and on `mpirun -n 2` / `-n 3`: Horovod's
own TF2 example patterns (DistributedGradientTape with the first-batch broadcast; Keras fit with
DistributedOptimizer and the callbacks, the learning rate scaled by size) with a small Dense model
and data made here, each rank its own data and its own initial weights. Every test checks that
the replicas end identical and, where the arithmetic is small, equal to Horovod's rule computed
with NumPy: w -= lr * (mean over ranks of each rank's gradient)."""
import numpy as np
import pytest

import distflow as tf
import distflow.compat.v1 as tf1
import distflow.horovod as hvd
import distflow.horovod.keras as hvd_keras
from mpi_launch import assert_ok, launches_mpi, run_pytest_under_mpi

N, D, LR = 8, 3, 0.1


@pytest.fixture(autouse=True)
def _init():
    hvd.init()
    yield


def data(r):
    """Rank r's own rows (a linear target plus noise)."""
    rng = np.random.default_rng(100 + r)
    x = rng.normal(size=(N, D)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3 + 0.1 * rng.normal(size=(N, 1)))
    return x, y.astype(np.float32)


def linear_model(seed):
    tf.keras.utils.set_random_seed(seed)  # a different start on every rank
    return tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(D,))])


def mse_grads(w, b, x, y):
    e = x @ w + b - y
    return 2.0 / len(x) * x.T @ e, 2.0 / len(x) * e.sum(0)


def horovod_sgd(w, b, steps, lr=LR):
    """Horovod's rule on every rank's whole data as one batch per step."""
    w, b = w.astype(np.float64), b.astype(np.float64)
    for _ in range(steps):
        grads = [mse_grads(w, b, *data(r)) for r in range(hvd.size())]
        w = w - lr * np.mean([g[0] for g in grads], 0)
        b = b - lr * np.mean([g[1] for g in grads], 0)
    return w, b


def assert_identical_replicas(arrays):
    every = hvd.allgather_object([np.asarray(a) for a in arrays])
    for other in every[1:]:
        for a, b in zip(every[0], other):
            np.testing.assert_array_equal(a, b)


# -- Keras fit ----------------------------------------------------------------------------------
@pytest.mark.parametrize("run_eagerly", [False, True])
def test_keras_fit_averages_gradients_and_metrics(run_eagerly):
    model = linear_model(seed=hvd.rank())
    model.build((None, D))
    start = hvd.allgather_object(model.get_weights())[0]  # rank 0's, after the broadcast
    model.compile(optimizer=hvd_keras.DistributedOptimizer(tf.keras.optimizers.SGD(LR)),
                  loss="mse", run_eagerly=run_eagerly)
    x, y = data(hvd.rank())
    history = model.fit(x, y, batch_size=N, epochs=3, shuffle=False, verbose=0, callbacks=[
        hvd_keras.callbacks.BroadcastGlobalVariablesCallback(0),
        hvd_keras.callbacks.MetricAverageCallback()])
    w, b = horovod_sgd(*start, steps=3)
    got = model.get_weights()
    np.testing.assert_allclose(got[0], w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], b, rtol=1e-5, atol=1e-6)
    assert_identical_replicas(got)
    # the epoch's loss averaged over the ranks: the first is every rank's loss at the start
    first = np.mean([np.mean((data(r)[0] @ start[0] + start[1] - data(r)[1]) ** 2)
                     for r in range(hvd.size())])
    assert history.history["loss"][0] == pytest.approx(first, rel=1e-5)
    assert len(set(map(tuple, hvd.allgather_object(history.history["loss"])))) == 1


def test_keras_mnist_example_pattern_with_warmup():
    """tensorflow2_keras_mnist.py's program with a Dense softmax model and small data: lr scaled
    by size, DistributedOptimizer, the three callbacks, a dataset of batches."""
    rng = np.random.default_rng(hvd.rank())
    images = rng.normal(size=(24, 6)).astype(np.float32)
    labels = rng.integers(0, 3, 24).astype(np.int64)
    dataset = tf.data.Dataset.from_tensor_slices(
        (tf.cast(images / 2.0, tf.float32), tf.cast(labels, tf.int64))).batch(8)
    tf.keras.utils.set_random_seed(hvd.rank())
    model = tf.keras.Sequential([tf.keras.layers.Dense(16, activation="relu"),
                                 tf.keras.layers.Dense(3, activation="softmax")])
    scaled_lr = 0.01 * hvd.size()
    opt = hvd_keras.DistributedOptimizer(tf.optimizers.Adam(scaled_lr),
                                         backward_passes_per_step=1,
                                         average_aggregated_gradients=True)
    model.compile(loss=tf.losses.SparseCategoricalCrossentropy(), optimizer=opt,
                  metrics=["accuracy"], experimental_run_tf_function=False)
    callbacks = [hvd_keras.callbacks.BroadcastGlobalVariablesCallback(0),
                 hvd_keras.callbacks.MetricAverageCallback(),
                 hvd_keras.callbacks.LearningRateWarmupCallback(initial_lr=scaled_lr,
                                                               warmup_epochs=2, verbose=1)]
    history = model.fit(dataset, callbacks=callbacks, epochs=3,
                        verbose=1 if hvd.rank() == 0 else 0)
    # Horovod's warmup: lr / size * (epoch * (size - 1) / warmup + 1), epoch counted in batches
    # from 1 / steps; the last batch of epoch e (3 batches) sets it for epoch + 2/3 + 1/3
    n = hvd.size()
    expected = [scaled_lr / n * ((e + 1.0) * (n - 1) / 2 + 1) for e in range(2)]
    np.testing.assert_allclose(history.history["lr"][:2], expected, rtol=1e-6)
    assert history.history["lr"][2] == pytest.approx(history.history["lr"][1])  # warmup over
    assert_identical_replicas(model.get_weights() + [v.numpy() for v in opt.variables])
    assert len(set(map(tuple, hvd.allgather_object(history.history["accuracy"])))) == 1


def test_schedule_callback_staircase_multiplies_per_epoch():
    model = linear_model(seed=0)
    opt = hvd_keras.DistributedOptimizer(tf.keras.optimizers.SGD(LR, momentum=0.5))
    model.compile(optimizer=opt, loss="mse")
    x, y = data(hvd.rank())
    history = model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[
        hvd_keras.callbacks.LearningRateScheduleCallback(initial_lr=LR, multiplier=0.5,
                                                         start_epoch=1)])
    # epoch 0 is before start_epoch: the optimizer's own lr
    np.testing.assert_allclose(history.history["lr"], [LR, LR, LR * 0.5], rtol=1e-6)
    assert float(opt.momentum.numpy() if hasattr(opt, "momentum") and hasattr(
        opt.momentum, "numpy") else opt._hyper["momentum"].numpy()) == pytest.approx(0.5)


# -- the TF2 custom loop ------------------------------------------------------------------------
def test_tensorflow2_mnist_example_pattern():
    """tensorflow2_mnist.py's training_step: DistributedGradientTape, then the broadcast of the
    model's and the optimizer's variables after the first step, inside a df.function."""
    model = linear_model(seed=hvd.rank())
    loss = tf.losses.MeanSquaredError()
    opt = tf.optimizers.SGD(LR)

    @tf.function
    def training_step(images, labels, first_batch):
        with tf.GradientTape() as tape:
            probs = model(images, training=True)
            loss_value = loss(labels, probs)
        tape = hvd.DistributedGradientTape(tape)
        grads = tape.gradient(loss_value, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        if first_batch:
            hvd.broadcast_variables(model.variables, root_rank=0)
            hvd.broadcast_variables(opt.variables, root_rank=0)
        return loss_value

    x, y = data(hvd.rank())
    model.build((None, D))
    start = hvd.allgather_object(model.get_weights())
    for batch in range(3):
        training_step(x, y, batch == 0)
    # Horovod's order: the first step averages gradients taken at each rank's own start and
    # applies them to rank 0's weights, which the broadcast then gives every rank
    grads = [mse_grads(start[r][0], start[r][1], *data(r)) for r in range(hvd.size())]
    w = start[0][0] - LR * np.mean([g[0] for g in grads], 0)
    b = start[0][1] - LR * np.mean([g[1] for g in grads], 0)
    w, b = horovod_sgd(w, b, steps=2)
    np.testing.assert_allclose(model.get_weights()[0], w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.get_weights()[1], b, rtol=1e-5, atol=1e-6)
    assert_identical_replicas(model.get_weights() + [v.numpy() for v in opt.variables])


def test_uneven_batches_with_join_then_broadcast():
    """Horovod's recipe for uneven data: rank r has r + 1 batches; a rank that ran out joins
    (its zeros count in the average), then every rank takes the weights of the last to join."""
    model = linear_model(seed=0)
    opt = tf.optimizers.SGD(LR)
    x, y = data(hvd.rank())

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss_value = tf.reduce_mean(tf.square(model(xb) - yb))
        tape = hvd.DistributedGradientTape(tape)
        grads = tape.gradient(loss_value, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))

    model.build((None, D))
    hvd.broadcast_variables(model.variables, root_rank=0)
    w, b = (a.astype(np.float64) for a in model.get_weights())
    for k in range(hvd.rank() + 1):
        step(x, y)
    last = int(hvd.join())
    assert last == hvd.size() - 1
    hvd.broadcast_variables(model.variables, root_rank=last)
    for k in range(hvd.size()):  # Horovod's average: the joined ranks' zeros count
        grads = [mse_grads(w, b, *data(r)) for r in range(k, hvd.size())]
        w = w - LR * sum(g[0] for g in grads) / hvd.size()
        b = b - LR * sum(g[1] for g in grads) / hvd.size()
    np.testing.assert_allclose(model.get_weights()[0], w, rtol=1e-5, atol=1e-6)
    assert_identical_replicas(model.get_weights())


def test_gradient_tape_options():
    x = tf.constant(np.arange(3, dtype=np.float32) * (hvd.rank() + 1))

    def grad(**kwargs):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(x * x)
        return hvd.DistributedGradientTape(tape, **kwargs).gradient(y, [x])[0].numpy()
    mean = np.mean([2 * np.arange(3) * (r + 1) for r in range(hvd.size())], 0)
    np.testing.assert_allclose(grad(), mean, rtol=1e-6)
    np.testing.assert_allclose(grad(op=hvd.Sum), mean * hvd.size(), rtol=1e-6)
    np.testing.assert_allclose(grad(gradient_predivide_factor=2.0), mean, rtol=1e-6)
    np.testing.assert_allclose(grad(compression=hvd.Compression.fp16), mean, rtol=1e-3)
    np.testing.assert_allclose(grad(sparse_as_dense=True), mean, rtol=1e-6)
    with pytest.raises(ValueError, match="gradient_predivide_factor not supported"):
        grad(op=hvd.Sum, gradient_predivide_factor=2.0)


# -- TF1 graphs ---------------------------------------------------------------------------------
def _graph_linear(r):
    x, y = data(r)
    w = tf1.Variable(np.random.default_rng(r).normal(size=(D, 1)).astype(np.float32), name="w")
    b = tf1.Variable(np.zeros(1, np.float32), name="b")
    loss = tf1.reduce_mean(tf1.square(tf1.matmul(tf1.constant(x), w) + b - tf1.constant(y)))
    return w, b, loss


@pytest.mark.parametrize("path", ["minimize", "apply_local", "compute_clip_apply"])
def test_tf1_distributed_optimizer_in_a_session(path):
    w, b, loss = _graph_linear(hvd.rank())
    opt = hvd.DistributedOptimizer(tf1.train.GradientDescentOptimizer(LR))
    if path == "minimize":
        train = opt.minimize(loss)
    elif path == "apply_local":  # gradients not from the optimizer: reduced by apply_gradients
        grads = tf1.gradients(loss, [w, b])
        train = opt.apply_gradients(zip(grads, [w, b]))
    else:  # reduced by compute_gradients, then transformed: not reduced a second time
        pairs = opt.compute_gradients(loss, var_list=[w, b])
        train = opt.apply_gradients([(g * 1.0, v) for g, v in pairs])
    hook = hvd.BroadcastGlobalVariablesHook(0)
    hook.begin()
    with tf1.Session() as sess:
        sess.run(tf1.global_variables_initializer())
        hook.after_create_session(sess, None)
        start = sess.run([w, b])
        for _ in range(2):
            sess.run(train)
        got = sess.run([w, b])
    assert opt.get_name() == "GradientDescent" and opt.variables() == []
    expected = horovod_sgd(start[0], start[1], steps=2)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    assert_identical_replicas(got)


@pytest.mark.parametrize("seed", ["ones", "fed grad_loss"])
@pytest.mark.parametrize("path", ["compute_gradients", "DistributedGradientTape"])
def test_tf1_gradients_average_a_loss_of_any_shape_and_seed(seed, path):
    """A per-row loss whose shape is known only when fed, with the default seed or the user's
    (grad_loss, output_gradients; different on each rank): the gradients are the means over
    ranks of each rank's. On several ranks the average rides on the loss's gradient seed
    (optimizer.py): the fused buffer is summed by one collective, no pass of its own divides it."""
    r, n = hvd.rank(), hvd.size()
    xs, ys = tf1.placeholder(tf.float32, [None, D]), tf1.placeholder(tf.float32, [None, 1])
    w = tf1.Variable(np.full((D, 1), 0.5, np.float32))
    b = tf1.Variable(np.full(1, 0.25, np.float32))
    fed = tf1.placeholder(tf.float32, [None, 1]) if seed != "ones" else None
    if path == "compute_gradients":
        per_row = tf1.square(tf1.matmul(xs, w) + b - ys)
        opt = hvd.DistributedOptimizer(tf1.train.GradientDescentOptimizer(LR))
        pairs = opt.compute_gradients(per_row, var_list=[w, b], grad_loss=fed)
    else:
        with tf.GradientTape() as tape:
            per_row = tf1.square(tf1.matmul(xs, w) + b - ys)
        tape = hvd.DistributedGradientTape(tape)
        pairs = list(zip(tape.gradient(per_row, [w, b], output_gradients=fed), [w, b]))

    def seed_of(q):
        return np.arange(1, N + 1, dtype=np.float32).reshape(N, 1) * (q + 1)
    feed = {xs: data(r)[0], ys: data(r)[1]}
    if fed is not None:
        feed[fed] = seed_of(r)
    with tf1.Session() as sess:
        sess.run(tf1.global_variables_initializer())
        got = sess.run([g for g, _ in pairs], feed)
    grads = []
    for q in range(n):
        x, y = data(q)
        d = 2.0 * (x @ np.full((D, 1), 0.5) + 0.25 - y) * (seed_of(q) if fed is not None else 1)
        grads.append((x.T @ d, d.sum(0)))
    for g, e in zip(got, [np.mean([gq[i] for gq in grads], 0) for i in range(2)]):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    reduce_ops = [op.attrs["reduce_op"] for op in tf1.get_default_graph().get_operations()
                  if op.type == "HorovodGroupedAllreduce"]
    assert reduce_ops == [hvd.Sum if n > 1 else hvd.Average]


def test_tf1_wrapper_shares_the_wrapped_optimizers_slots_keras_one_starts_fresh():
    w, b, loss = _graph_linear(hvd.rank())
    inner = tf1.train.MomentumOptimizer(LR, 0.9)
    opt = hvd.DistributedOptimizer(inner)
    opt.minimize(loss)
    assert inner.get_slot(w, "momentum") is opt.get_slot(w, "momentum") is not None
    keras = tf.keras.optimizers.Adam(0.01)
    wrapped = hvd.DistributedOptimizer(keras)
    v = tf.Variable([1.0])
    wrapped.apply_gradients([(tf.constant([0.5]), v)])
    assert len(wrapped.variables) == 3 and keras.variables == []  # iterations, m, v


def test_backward_passes_per_step_accumulates_eagerly():
    v = tf.Variable(np.zeros(2, np.float32))
    opt = hvd.DistributedOptimizer(tf.keras.optimizers.SGD(1.0), backward_passes_per_step=2,
                                   average_aggregated_gradients=True)
    g1 = tf.constant([1.0, 2.0]) * (hvd.rank() + 1)
    g2 = tf.constant([3.0, 0.0]) * (hvd.rank() + 1)
    assert opt.apply_gradients([(g1, v)]) is None
    np.testing.assert_array_equal(v.numpy(), [0.0, 0.0])  # not applied yet
    opt.apply_gradients([(g2, v)])
    mean_rank = np.mean(np.arange(1, hvd.size() + 1))
    np.testing.assert_allclose(v.numpy(), -np.array([4.0, 2.0]) / 2 * mean_rank, rtol=1e-6)

    @tf.function
    def step():
        opt.apply_gradients([(tf.ones([2]), v)])
    with pytest.raises(NotImplementedError, match="eagerly only"):
        step()


def test_wrapping_twice_is_refused():
    import distflow.distribute as dd
    opt = hvd.DistributedOptimizer(tf.keras.optimizers.SGD(0.1))
    assert isinstance(opt, tf.keras.optimizers.SGD)
    with pytest.raises(ValueError, match="already a hvd.DistributedOptimizer"):
        hvd.DistributedOptimizer(opt)
    with pytest.raises(ValueError, match="reduce them twice"):
        dd.DistributedOptimizer(opt)
    with pytest.raises(NotImplementedError, match="Adasum"):
        hvd.DistributedOptimizer(tf.keras.optimizers.SGD(0.1), op=hvd.Adasum)
    with pytest.raises(ValueError, match="only supports Average and Sum"):
        hvd_keras.DistributedOptimizer(tf.keras.optimizers.SGD(0.1), op=hvd.Max)


def test_keras_module_collectives():
    got = hvd_keras.allreduce(np.float32(hvd.rank()), op=hvd.Sum)
    assert float(got) == sum(range(hvd.size()))
    assert hvd_keras.allreduce([1.0, 3.0]).numpy().tolist() == [1.0, 3.0]
    assert hvd_keras.allgather([[hvd.rank()]]).numpy()[:, 0].tolist() == list(range(hvd.size()))
    assert hvd_keras.broadcast([hvd.rank()], 0).numpy().tolist() == [0]
    rows = hvd_keras.reducescatter(np.ones((hvd.size(), 2), np.float32), op=hvd.Sum).numpy()
    np.testing.assert_array_equal(rows, np.full((1, 2), hvd.size()))
    assert hvd_keras.size() == hvd.size() and hvd_keras.rank() == hvd.rank()


@launches_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_on_real_ranks(ranks):
    assert_ok(run_pytest_under_mpi(ranks, "test_horovod_training.py", timeout=300))
