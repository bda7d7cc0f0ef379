"""Variables in eager mode (initialized at creation, assign*, trainable, snapshot reads) and the
library's optimizers applied eagerly, under df.function and in a TF1 Session, step for step."""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf1


def test_a_variable_is_initialized_at_creation():
    v = df.Variable([1.0, 2.0])
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])
    assert v.dtype == df.float32 and v.shape.as_list() == [2] and v.trainable
    assert repr(df.Variable(1.0)) == \
        "<tf.Variable 'Variable:0' shape=() dtype=float32, numpy=1.0>"
    assert repr(df.Variable([1, 2], name="w")) == \
        "<tf.Variable 'w:0' shape=(2,) dtype=int32, numpy=array([1, 2], dtype=int32)>"


def test_initial_values_dtypes_and_callables():
    assert df.Variable(3).dtype == df.int32
    assert df.Variable(3, dtype=df.float64).dtype == df.float64
    assert df.Variable(np.zeros(2)).dtype == df.float64       # NumPy keeps its dtype
    v = df.Variable(lambda: df.ones([2, 2]) * 3.0)
    np.testing.assert_array_equal(v.numpy(), np.full((2, 2), 3.0))
    with pytest.raises(ValueError, match="initial_value must be specified"):
        df.Variable(None)


def test_assign_assign_add_assign_sub():
    v = df.Variable([1.0, 2.0])
    v.assign([5.0, 6.0])
    np.testing.assert_array_equal(v.numpy(), [5.0, 6.0])
    v.assign_add(df.constant([1.0, 1.0]))
    np.testing.assert_array_equal(v.numpy(), [6.0, 7.0])
    v.assign_sub(np.array([0.5, 0.5], np.float32))
    np.testing.assert_array_equal(v.numpy(), [5.5, 6.5])
    with pytest.raises(ValueError, match="shape"):
        v.assign([1.0, 2.0, 3.0])
    i = df.Variable(1)
    i.assign_add(2)            # a Python int takes the variable's dtype
    assert int(i.numpy()) == 3 and i.dtype == df.int32


def test_reads_are_snapshots():
    v = df.Variable([1.0, 2.0])
    r = v.read_value()
    doubled = v * 2.0
    v.assign([10.0, 20.0])
    v.assign_add([1.0, 1.0])
    np.testing.assert_array_equal(r.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(doubled.numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(v.value().numpy(), [11.0, 21.0])


def test_variables_work_in_ops_and_operators():
    w = df.Variable([[1.0, 2.0], [3.0, 4.0]])
    x = df.constant([[1.0], [1.0]])
    np.testing.assert_array_equal(df.matmul(w, x).numpy(), [[3.0], [7.0]])
    np.testing.assert_array_equal((w @ x).numpy(), [[3.0], [7.0]])
    np.testing.assert_array_equal((1.0 - w).numpy(), [[0.0, -1.0], [-2.0, -3.0]])
    assert float(df.reduce_sum(w)) == 10.0
    np.testing.assert_array_equal(np.asarray(w), [[1.0, 2.0], [3.0, 4.0]])


def test_trainable_decides_what_a_tape_watches():
    a = df.Variable(2.0)
    b = df.Variable(3.0, trainable=False)
    assert a.trainable and not b.trainable
    with df.GradientTape() as tape:
        y = a * b
    assert tape.watched_variables() == [a]
    ga, gb = tape.gradient(y, [a, b])
    assert float(ga) == 3.0 and gb is None


def test_minimize_with_a_callable_loss_eagerly():
    w = df.Variable(4.0)
    opt = df.train.GradientDescentOptimizer(0.25)
    opt.minimize(lambda: w * w)                 # w -= 0.25 * 2w
    assert float(w.numpy()) == pytest.approx(2.0)


# -- every optimizer, applied eagerly ----------------------------------------------------------
OPTIMIZERS = {
    "sgd": lambda: df.train.GradientDescentOptimizer(0.1),
    "momentum": lambda: df.train.MomentumOptimizer(0.1, 0.9),
    "nesterov": lambda: df.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
    "adam": lambda: df.train.AdamOptimizer(0.1),
    "adagrad": lambda: df.train.AdagradOptimizer(0.1),
    "rmsprop": lambda: df.train.RMSPropOptimizer(0.1),
}
W0 = np.array([[0.5], [-1.0], [2.0]])
X = np.array([[1.0, 2.0, 0.5], [0.3, -1.0, 1.0], [2.0, 0.0, -0.5], [1.0, 1.0, 1.0]])
Y = np.array([[1.0], [0.0], [2.0], [-1.0]])
STEPS = 4


def _loss(w):
    return df.reduce_mean(df.square(df.matmul(df.constant(X), w) - Y))


def _session_trajectory(make):
    """The same steps in a TF1 graph run by a Session: the reference the eager runs must match."""
    g = tf1.Graph()
    with g.as_default():
        w = tf1.Variable(W0)
        train = make().minimize(_loss(w), var_list=[w])
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            out = []
            for _ in range(STEPS):
                sess.run(train)
                out.append(sess.run(w))
    return out


def _training_step(w, opt):
    """One training step of w with opt: the tape's gradient of _loss, then apply_gradients."""
    def step():
        with df.GradientTape() as tape:
            loss = _loss(w)
        grads = tape.gradient(loss, [w])
        opt.apply_gradients(zip(grads, [w]))
        return loss
    return step


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("mode", ["eager", "function"])
def test_optimizers_apply_gradients_eagerly(name, mode):
    reference = _session_trajectory(OPTIMIZERS[name])
    w = df.Variable(W0)
    opt = OPTIMIZERS[name]()
    step = _training_step(w, opt)
    run = step if mode == "eager" else df.function(step)
    for k in range(STEPS):
        run()
        np.testing.assert_allclose(w.numpy(), reference[k], rtol=1e-10, err_msg="step %d" % k)
    assert not np.allclose(w.numpy(), W0)        # the steps did move the variable


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_keras_style_optimizers_give_the_same_steps_with_and_without_df_function(name):
    make = getattr(df.optimizers, name)
    trajectories = []
    for use_function in (False, True):
        w = df.Variable(W0)
        opt = make(0.1)
        step = _training_step(w, opt)
        run = df.function(step) if use_function else step
        trajectories.append([np.array(run()) for _ in range(STEPS)] + [w.numpy()])
    eager, graph = trajectories
    for e, g in zip(eager, graph):
        np.testing.assert_allclose(g, e, rtol=1e-10)
    assert not np.allclose(eager[-1], W0)


def test_scalar_variable_numpy_is_a_numpy_scalar_and_reprs_break_lines_like_tf():
    assert type(df.Variable(1.0).numpy()) is np.float32
    assert repr(df.Variable([[1, 2], [3, 4]])) == (
        "<tf.Variable 'Variable:0' shape=(2, 2) dtype=int32, numpy=\n"
        "array([[1, 2],\n       [3, 4]], dtype=int32)>")
