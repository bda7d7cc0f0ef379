"""tf.TensorArray in every mode (eager, TF1 Session, df.function with AutoGraph and with
while_loop), with gradients through it, and the guide/function patterns that use it."""
import numpy as np
import pytest

import distflow as tf
import distflow.compat.v1 as tf1


def _fill_and_read(x):
    ta = tf.TensorArray(x.dtype, size=3)
    ta = ta.write(0, x[0] * 2.0).write(2, x[1])
    back = ta.unstack(ta.stack() + 1.0)
    scattered = back.scatter([1], tf.reshape(x[2], [1, -1]) * 3.0)
    return (ta.stack(), ta.read(2), scattered.gather([1, 0]), scattered.concat(),
            ta.size())


def _expected(x):
    s = np.zeros((3,) + x.shape[1:])
    s[0], s[2] = x[0] * 2.0, x[1]
    b = s + 1.0
    b[1] = x[2] * 3.0
    return s, s[2], b[[1, 0]], b.reshape(-1), 3


@pytest.mark.parametrize("mode", ["eager", "session", "function"])
def test_methods_in_every_mode(mode):
    x = np.arange(6.0).reshape(3, 2)
    if mode == "eager":
        out = _fill_and_read(tf.constant(x))
    elif mode == "function":
        out = tf.function(_fill_and_read)(tf.constant(x))
    else:
        g = tf1.Graph()
        with g.as_default():
            p = tf1.placeholder(tf1.float64, [3, 2])
            built = _fill_and_read(p)
            with tf1.Session() as s:
                out = s.run(list(built), {p: x})
    for got, want in zip(out, _expected(x)):
        np.testing.assert_allclose(np.asarray(got), want)


def test_dynamic_size_grows_and_gradients_flow_through_reads_and_writes():
    x = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        src = tf.TensorArray(tf.float32, size=3).unstack(x)
        out = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
        for i in range(3):
            out = out.write(i, src.read(i) ** 2)
        total = tf.reduce_sum(out.stack())
    assert out.size().numpy() == 3
    np.testing.assert_allclose(tape.gradient(total, x), [2.0, 4.0, 6.0])


def test_the_guides_tensor_array_in_a_python_for_over_len():
    @tf.function
    def f(x):
        ta = tf.TensorArray(dtype=tf.int32, size=0, dynamic_size=True)
        for i in range(len(x)):
            ta = ta.write(i, x[i] + 1)
        return ta.stack()
    np.testing.assert_array_equal(f(tf.constant([1, 2, 3])), [2, 3, 4])


def test_the_guides_dynamic_rnn_and_its_gradient():
    def rnn_step(inp, state):
        return inp + state

    @tf.function
    def dynamic_rnn(rnn_step, input_data, initial_state):
        input_data = tf.transpose(input_data, [1, 0, 2])
        max_seq_len = input_data.shape[0]
        states = tf.TensorArray(tf.float32, size=max_seq_len)
        state = initial_state
        for i in tf.range(max_seq_len):
            state = rnn_step(input_data[i], state)
            states = states.write(i, state)
        return tf.transpose(states.stack(), [1, 0, 2])

    data = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    out = dynamic_rnn(rnn_step, tf.constant(data), tf.zeros([2, 4]))
    np.testing.assert_allclose(out, np.cumsum(data, axis=1))

    w = tf.Variable(0.5)

    @tf.function
    def loss():
        with tf.GradientTape() as tape:
            ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=[])
            s = tf.constant(1.0)
            for i in tf.range(3):
                s = s * w
                ta = ta.write(i, s)
            y = tf.reduce_sum(ta.stack())          # w + w^2 + w^3
        return tape.gradient(y, w)
    assert float(loss()) == pytest.approx(1 + 2 * 0.5 + 3 * 0.25)


def test_a_tensor_array_as_a_while_loop_variable_in_a_session():
    g = tf1.Graph()
    with g.as_default():
        n = tf1.placeholder(tf1.int32, [])
        ta = tf1.TensorArray(tf1.float32, size=0, dynamic_size=True, element_shape=[])
        _, ta = tf1.while_loop(lambda i, t: i < n,
                               lambda i, t: (i + 1, t.write(i, tf1.cast(i, tf1.float32) * 2.0)),
                               [tf1.constant(0), ta])
        with tf1.Session() as s:
            np.testing.assert_array_equal(s.run(ta.stack(), {n: 4}), [0.0, 2.0, 4.0, 6.0])


def test_errors_as_tf():
    ta = tf.TensorArray(tf.float32, size=2)
    with pytest.raises(ValueError, match="Could not read from TensorArray"):
        ta.read(0)
    with pytest.raises(TypeError, match="TensorArray dtype is float32 but Op is trying to "
                                        "write dtype int32"):
        ta.write(0, tf.constant(1))
    fixed = tf.TensorArray(tf.float32, size=2, element_shape=[2])
    with pytest.raises(ValueError, match="Incompatible shape for value"):
        fixed.write(0, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="Size must be provided"):
        tf.TensorArray(tf.float32)
