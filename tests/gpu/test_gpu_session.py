"""A Session, eager code, df.function and variables on a GPU compute what they compute on the CPU,
keep their state on the device, and hand NumPy arrays back; random ops draw the same numbers."""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf
from distflow import backend

pytestmark = pytest.mark.gpu

RNG = np.random.default_rng(3)
X = RNG.normal(size=(32, 13)).astype(np.float32)
Y = RNG.normal(size=(32, 1)).astype(np.float32)


def _mlp_training(device, steps=5, optimizer=tf.train.AdamOptimizer):
    """Losses and final weights of a seeded 13-16-1 MLP trained on (X, Y) in a Session."""
    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(1)
        x = tf.placeholder(tf.float32, [None, 13])
        y = tf.placeholder(tf.float32, [None, 1])
        w1 = tf.Variable(tf.random_normal([13, 16], stddev=0.3))
        b1 = tf.Variable(tf.zeros([16]))
        w2 = tf.Variable(tf.truncated_normal([16, 1], stddev=0.3))
        h = tf.nn.relu(tf.matmul(x, w1) + b1)
        loss = tf.reduce_mean(tf.square(tf.matmul(h, w2) - y))
        train = optimizer(0.01).minimize(loss)
        with tf.Session(graph=g, device=device) as s:
            s.run(tf.global_variables_initializer())
            cell = s.variable_cell(w1.op)
            losses = [s.run([train, loss], {x: X, y: Y})[1] for _ in range(steps)]
            return losses, s.run([w1, b1, w2]), cell.read_array()


def test_a_session_on_the_gpu_trains_as_on_the_cpu():
    cpu_losses, cpu_vars, _ = _mlp_training("cpu")
    gpu_losses, gpu_vars, storage = _mlp_training("gpu:0")
    assert backend.is_cupy_array(storage), "the variable's value must live on the GPU"
    for v in gpu_vars + gpu_losses:
        assert isinstance(v, (np.ndarray, np.generic)), "fetches come back as NumPy"
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-5)
    for g, c in zip(gpu_vars, cpu_vars):
        np.testing.assert_allclose(g, c, rtol=1e-5, atol=1e-6)


def test_random_initial_values_are_the_same_numbers_on_both_devices():
    for device in ("cpu", "gpu"):
        g = tf.Graph()
        with g.as_default():
            tf.set_random_seed(7)
            ops = [tf.random_normal([5, 4]), tf.random_uniform([3], 2.0, 5.0),
                   tf.truncated_normal([100]), tf.random_uniform([6], 0, 10, dtype=tf.int32)]
            with tf.Session(graph=g, device=device) as s:
                values = s.run(ops)
        if device == "cpu":
            expected = values
    for v, e in zip(values, expected):
        np.testing.assert_array_equal(v, e)  # drawn on the host, then copied: bit for bit


def test_feeding_a_cupy_array_skips_the_host(cp):
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        y = tf.reduce_sum(x * 2.0, axis=1)
        with tf.Session(graph=g, device="gpu") as s:
            out = s.run(y, {x: cp.arange(6, dtype=cp.float32).reshape(2, 3)})
            with pytest.raises(ValueError, match="Cannot feed value of shape"):
                s.run(y, {x: cp.zeros((2, 4), cp.float32)})
    np.testing.assert_array_equal(out, [6.0, 24.0])


def test_variable_load_on_a_gpu_session_keeps_the_value_on_the_device():
    g = tf.Graph()
    with g.as_default():
        v = tf.Variable(tf.zeros([3]))
        inc = v.assign_add(tf.ones([3]))
        with tf.Session(graph=g, device="gpu") as s:
            s.run(v.initializer)
            v.load([1.0, 2.0, 3.0], s)
            assert backend.is_cupy_array(s.variable_cell(v.op).read_array())
            np.testing.assert_array_equal(s.run(inc), [2.0, 3.0, 4.0])


# -- eager ---------------------------------------------------------------------------------------
def test_eager_values_made_in_a_gpu_scope_live_there_and_int32_shapes_stay_on_the_host():
    with df.device("gpu"):
        f = df.constant([1.0, 2.0])
        i = df.constant([1, 2])
        z = df.zeros([2, 3])
        r = df.random.normal([4], seed=3)
        s = f * 3.0 + 1.0
    assert backend.is_cupy_array(f._value) and backend.is_cupy_array(z._value)
    assert backend.is_cupy_array(r._value) and backend.is_cupy_array(s._value)
    assert not backend.is_cupy_array(i._value)
    assert f.device == "gpu" and i.device == "cpu"
    np.testing.assert_array_equal(s.numpy(), [4.0, 7.0])
    outside = df.constant([1.0])
    assert not backend.is_cupy_array(outside._value)  # the scope ended


def test_eager_random_numbers_are_the_same_on_both_devices():
    df.random.set_seed(5)
    cpu = [df.random.normal([6]).numpy(), df.random.uniform([3], seed=4).numpy()]
    df.random.set_seed(5)
    with df.device("gpu"):
        gpu = [df.random.normal([6]).numpy(), df.random.uniform([3], seed=4).numpy()]
    for g, c in zip(gpu, cpu):
        np.testing.assert_array_equal(g, c)


def _eager_training(steps=4):
    w = df.Variable(np.linspace(-1, 1, 13 * 4).reshape(13, 4).astype(np.float32))
    b = df.Variable(np.zeros(4, np.float32))
    opt = df.optimizers.Adam(0.01)
    losses = []
    for _ in range(steps):
        with df.GradientTape() as tape:
            loss = df.reduce_mean(df.square(df.reduce_sum(df.matmul(X, w) + b, axis=1,
                                                          keepdims=True) - Y))
        grads = tape.gradient(loss, [w, b])
        opt.apply_gradients(zip(grads, [w, b]))
        losses.append(float(loss))
    return losses, w


def test_eager_training_on_the_gpu_matches_the_cpu():
    cpu_losses, cpu_w = _eager_training()
    with df.device("gpu"):
        gpu_losses, gpu_w = _eager_training()
    assert backend.is_cupy_array(gpu_w.read_array())
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-5)
    np.testing.assert_allclose(gpu_w.numpy(), cpu_w.numpy(), rtol=1e-5, atol=1e-6)


def test_a_df_function_called_with_gpu_tensors_runs_on_the_gpu():
    @df.function
    def affine(x, w):
        return df.nn.relu(df.matmul(x, w) + 1.0)

    w0 = np.linspace(-1, 1, 13 * 3).reshape(13, 3).astype(np.float32)
    want = affine(df.constant(X), df.constant(w0)).numpy()
    with df.device("gpu"):
        got = affine(df.constant(X), df.constant(w0))
    assert backend.is_cupy_array(got._value)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)
