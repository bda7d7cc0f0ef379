"""No path updates a replica with local gradients: distflow.distribute's DistributedOptimizer
handed to Keras compile, apply_gradients with a tape's gradients (eagerly, in df.function, in a
Session), compute_gradients then a transformation, minimize, apply_reduced_gradients, and a
Saver restore (on every rank, or on rank 0 then a broadcast). On one rank in-process and under
`mpirun -n 2` / `-n 3`, each rank with its own data and its own initial weights."""
import os

import numpy as np
import pytest

import distflow as tf
import distflow.compat.v1 as tf1
import distflow.distribute as dd
from mpi_launch import assert_ok, launches_mpi, run_pytest_under_mpi

N, D, LR = 6, 3, 0.1


def data(r):
    rng = np.random.default_rng(200 + r)
    x = rng.normal(size=(N, D)).astype(np.float32)
    return x, (x.sum(1, keepdims=True) + rng.normal(size=(N, 1))).astype(np.float32)


def local_grads(w, b, r):
    x, y = data(r)
    e = x @ w + b - y
    return 2.0 / N * x.T @ e, 2.0 / N * e.sum(0)


def expected(start, steps, reduce="mean"):
    w, b = (a.astype(np.float64) for a in start)
    n = dd.size()
    for _ in range(steps):
        gs = [local_grads(w, b, r) for r in range(n)]
        scale = 1.0 / n if reduce == "mean" else 1.0
        w = w - LR * scale * sum(g[0] for g in gs)
        b = b - LR * scale * sum(g[1] for g in gs)
    return w, b


def identical_everywhere(arrays):
    every = dd.communicator().allgather_object([np.asarray(a) for a in arrays])
    for other in every[1:]:
        for a, b in zip(every[0], other):
            np.testing.assert_array_equal(a, b)


def keras_model():
    tf.keras.utils.set_random_seed(dd.rank())  # every rank starts elsewhere
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(D,))])
    dd.broadcast_variables(model.variables)
    return model


# -- Keras ------------------------------------------------------------------------------------
@pytest.mark.parametrize("run_eagerly", [False, True])
def test_keras_fit_with_a_mean_distributed_optimizer_reduces(run_eagerly):
    model = keras_model()
    start = model.get_weights()
    model.compile(optimizer=dd.DistributedOptimizer(tf.keras.optimizers.SGD(LR), op="mean"),
                  loss="mse", run_eagerly=run_eagerly)
    model.fit(*data(dd.rank()), batch_size=N, epochs=2, shuffle=False, verbose=0)
    w, b = expected(start, 2)
    got = model.get_weights()
    np.testing.assert_allclose(got[0], w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], b, rtol=1e-5, atol=1e-6)
    identical_everywhere(got)


def test_keras_compile_refuses_a_sum_distributed_optimizer():
    model = keras_model()
    with pytest.raises(ValueError, match=r"op='sum'.*%d times too large" % dd.size()):
        model.compile(optimizer=dd.DistributedOptimizer(tf.keras.optimizers.SGD(LR)),
                      loss="mse")


# -- custom loops ------------------------------------------------------------------------------
@pytest.mark.parametrize("traced", [False, True])
def test_apply_gradients_with_a_tapes_local_gradients_reduces(traced):
    model = keras_model()
    start = model.get_weights()
    opt = dd.DistributedOptimizer(tf.keras.optimizers.SGD(LR), op="mean")
    x, y = data(dd.rank())

    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
    step = tf.function(step) if traced else step
    for _ in range(2):
        step()
    w, b = expected(start, 2)
    np.testing.assert_allclose(model.get_weights()[0], w, rtol=1e-5, atol=1e-6)
    identical_everywhere(model.get_weights())


def test_eager_minimize_and_compute_then_apply_reduce_once():
    model = keras_model()
    start = model.get_weights()
    opt = dd.DistributedOptimizer(tf.keras.optimizers.SGD(LR), op="mean")
    x, y = data(dd.rank())

    def loss():
        return tf.reduce_mean(tf.square(model(x) - y))
    opt.minimize(loss, var_list=model.trainable_variables)
    pairs = opt.compute_gradients(loss, var_list=model.trainable_variables)
    opt.apply_gradients([(g * 1.0, v) for g, v in pairs])  # transformed: still reduced once
    w, b = expected(start, 2)
    np.testing.assert_allclose(model.get_weights()[0], w, rtol=1e-5, atol=1e-6)
    identical_everywhere(model.get_weights())


def _graph_model(r):
    x, y = data(r)
    w = tf1.Variable(np.random.default_rng(r).normal(size=(D, 1)).astype(np.float32), name="w")
    b = tf1.Variable(np.zeros(1, np.float32), name="b")
    loss = tf1.reduce_mean(tf1.square(tf1.matmul(tf1.constant(x), w) + b - tf1.constant(y)))
    return w, b, loss


@pytest.mark.parametrize("path", ["minimize", "apply_local", "compute_clip_apply", "reduced"])
def test_session_paths(path):
    w, b, loss = _graph_model(dd.rank())
    opt = dd.DistributedOptimizer(tf1.train.GradientDescentOptimizer(LR), op="mean")
    if path == "minimize":
        train = opt.minimize(loss)
    elif path == "apply_local":
        train = opt.apply_gradients(zip(tf1.gradients(loss, [w, b]), [w, b]))
    elif path == "compute_clip_apply":
        pairs = opt.compute_gradients(loss, var_list=[w, b])
        train = opt.apply_gradients([(tf1.clip_by_value(g, -1e6, 1e6), v) for g, v in pairs])
    else:  # the caller reduced them: applied as they are
        pairs = opt.compute_gradients(loss, var_list=[w, b])
        train = opt.apply_reduced_gradients(pairs)
    fused = [op for op in tf1.get_default_graph().get_operations() if op.type == "FusedAllReduce"]
    assert len(fused) == 1  # one reduction on every path
    with tf1.Session() as sess:
        sess.run(tf1.global_variables_initializer())
        dd.broadcast_variables(sess)
        start = sess.run([w, b])
        for _ in range(2):
            sess.run(train)
        got = sess.run([w, b])
    for g, e in zip(got, expected(start, 2)):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    identical_everywhere(got)


# -- Saver restore -----------------------------------------------------------------------------
def _shared_dir(tmp_path):
    return dd.communicator().broadcast_object(str(tmp_path), root=0)


@pytest.mark.parametrize("restore_on", ["every rank", "rank 0 then broadcast"])
def test_training_after_a_saver_restore_still_reduces(tmp_path, restore_on):
    folder = _shared_dir(tmp_path)
    w, b, loss = _graph_model(dd.rank())
    opt = dd.DistributedOptimizer(tf1.train.MomentumOptimizer(LR, 0.9), op="mean")
    train = opt.minimize(loss)
    saver = tf1.train.Saver()
    with tf1.Session() as sess:
        sess.run(tf1.global_variables_initializer())
        dd.broadcast_variables(sess)
        sess.run(train)
        if dd.rank() == 0:
            saved = saver.save(sess, os.path.join(folder, "model"))
        saved = dd.communicator().broadcast_object(saved if dd.rank() == 0 else None, 0)
        checkpoint = sess.run([w, b])
    with tf1.Session() as sess:  # a new process would start here: different values everywhere
        sess.run(tf1.global_variables_initializer())
        if restore_on == "every rank":
            saver.restore(sess, saved)
        else:
            if dd.rank() == 0:
                saver.restore(sess, saved)
            dd.broadcast_variables(sess)
        np.testing.assert_array_equal(sess.run(w), checkpoint[0])
        sess.run(train)
        got = sess.run([w, b] + opt.variables())
    identical_everywhere(got)


@launches_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_on_real_ranks(ranks):
    assert_ok(run_pytest_under_mpi(ranks, "test_distributed_optimizer_paths.py", timeout=300))
