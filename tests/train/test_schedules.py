"""Learning-rate schedules against their formulas: TF2 schedule objects called with a step, TF1's
functions of a global_step (tensors in graphs, callables eagerly), and optimizers that use them."""
import math

import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf

schedules = df.optimizers.schedules


def exponential(lr, step, decay_steps, rate, staircase=False):
    p = step / decay_steps
    return lr * rate ** (math.floor(p) if staircase else p)


def cosine(lr, step, decay_steps, alpha=0.0):
    step = min(step, decay_steps)
    return lr * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * step / decay_steps)) + alpha)


def piecewise(x, boundaries, values):
    for b, v in zip(boundaries, values):
        if x <= b:
            return v
    return values[-1]


STEPS = [0, 1, 7, 10, 11, 25, 40, 100]


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_decay_eagerly(staircase):
    s = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=staircase)
    for step in STEPS:
        got = s(step)
        assert got.dtype == df.float32
        np.testing.assert_allclose(got.numpy(), exponential(0.1, step, 10, 0.5, staircase),
                                   rtol=1e-6, err_msg="step %d" % step)
    # the staircase holds its value through a whole interval, the smooth one does not
    assert (s(10).numpy() == s(19).numpy()) == staircase


def test_cosine_decay_eagerly_ends_at_alpha_and_stays():
    s = schedules.CosineDecay(2.0, decay_steps=20, alpha=0.1)
    for step in STEPS:
        np.testing.assert_allclose(s(step).numpy(), cosine(2.0, step, 20, 0.1), rtol=1e-6,
                                   err_msg="step %d" % step)
    np.testing.assert_allclose(s(10).numpy(), 2.0 * (0.9 * 0.5 + 0.1), rtol=1e-6)  # half way
    np.testing.assert_allclose(s(1000).numpy(), 0.2, rtol=1e-6)


def test_piecewise_constant_selects_exact_values_with_boundaries_inclusive():
    boundaries, values = [10, 20], [1.0, 0.5, 0.1]
    s = schedules.PiecewiseConstantDecay(boundaries, values)
    for step in STEPS + [20, 21]:
        assert s(step).numpy() == np.float32(piecewise(step, boundaries, values)), step
    with pytest.raises(ValueError, match="1 less than the length of values"):
        schedules.PiecewiseConstantDecay([1, 2], [1.0, 2.0])


def test_schedules_take_a_step_variable():
    step = df.Variable(np.int64(12), trainable=False)
    s = schedules.ExponentialDecay(0.1, 10, 0.5)
    np.testing.assert_allclose(s(step).numpy(), exponential(0.1, 12, 10, 0.5), rtol=1e-6)


def test_tf1_decay_functions_in_a_graph_follow_the_global_step():
    step = tf.train.get_or_create_global_step()
    exp_lr = tf.train.exponential_decay(0.1, step, 10, 0.5, staircase=True)
    cos_lr = tf.train.cosine_decay(0.3, step, 30, alpha=0.2)
    pw_lr = tf.train.piecewise_constant(step, [5, 25], [0.3, 0.2, 0.1])
    assert isinstance(exp_lr, tf.Tensor) and exp_lr.dtype == tf.float32
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for n in STEPS:
            step.load(n, s)
            e, c, p = s.run([exp_lr, cos_lr, pw_lr])
            np.testing.assert_allclose(e, exponential(0.1, n, 10, 0.5, True), rtol=1e-6)
            np.testing.assert_allclose(c, cosine(0.3, n, 30, 0.2), rtol=1e-6)
            assert p == np.float32(piecewise(n, [5, 25], [0.3, 0.2, 0.1]))


def test_tf1_decay_functions_eagerly_return_callables():
    step = df.Variable(np.int64(0), trainable=False)
    lr = df.train.exponential_decay(0.1, step, 2, 0.5)
    assert callable(lr)
    np.testing.assert_allclose(lr().numpy(), 0.1, rtol=1e-6)
    step.assign_add(4)
    np.testing.assert_allclose(lr().numpy(), 0.025, rtol=1e-6)
    with pytest.raises(ValueError, match="global_step is required"):
        df.train.exponential_decay(0.1, None, 2, 0.5)


def test_graph_optimizer_with_a_decayed_rate_uses_the_step_before_its_increment():
    step = tf.train.get_or_create_global_step()
    lr = tf.train.exponential_decay(0.5, step, 1, 0.5)  # 0.5, 0.25, 0.125, ...
    w = tf.Variable(np.float64([4.0]))
    train = tf.train.GradientDescentOptimizer(lr).minimize(tf.reduce_sum(w * w) / 2.0,
                                                           global_step=step)
    expected = 4.0
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for k in range(4):
            s.run(train)
            expected -= float(np.float32(0.5 * 0.5 ** k)) * expected  # grad of w^2/2 is w
            np.testing.assert_allclose(s.run(w), [expected], rtol=1e-12)
        assert s.run(step) == 4


def test_eager_tf1_optimizer_with_a_decay_callable():
    step = df.Variable(np.int64(0), trainable=False)
    opt = df.train.GradientDescentOptimizer(df.train.piecewise_constant(step, [1], [0.5, 0.25]))
    w = df.Variable(np.float64([8.0]))
    for _ in range(3):  # rates 0.5 (step 0), 0.5 (step 1), 0.25 (step 2)
        opt.apply_gradients([(df.constant([1.0], df.float64), w)], global_step=step)
    np.testing.assert_allclose(w.numpy(), [8.0 - 1.25])


@pytest.mark.parametrize("make", [
    lambda s: df.optimizers.SGD(learning_rate=s),
    lambda s: df.train.GradientDescentOptimizer(s),  # a schedule object gives TF1's an iterations
], ids=["SGD", "GradientDescentOptimizer"])
def test_optimizer_calls_a_schedule_with_its_iterations(make):
    opt = make(schedules.ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5))
    w = df.Variable(np.float64([10.0]))
    for _ in range(4):
        opt.apply_gradients([(df.constant([1.0], df.float64), w)])
    np.testing.assert_allclose(w.numpy(), [10.0 - (1 + 0.5 + 0.25 + 0.125)], rtol=1e-7)
    assert int(opt.iterations) == 4 and opt.iterations in opt.variables()


def test_graph_tf2_optimizer_with_a_schedule():
    w = tf.Variable(np.float64([10.0]))
    opt = df.optimizers.SGD(learning_rate=schedules.PiecewiseConstantDecay([1], [1.0, 0.5]))
    train = opt.apply_gradients([(tf.constant([1.0], tf.float64), w)])
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for _ in range(3):
            s.run(train)
        # rates 1.0 (step 0), 1.0 (step 1: boundaries are inclusive), 0.5 (step 2)
        assert s.run(w) == [10.0 - 2.5] and s.run(opt.iterations) == 3


# -- PolynomialDecay, InverseTimeDecay and the TF1 functions over them ---------------------------
def test_polynomial_and_inverse_time_decay_follow_keras():
    S = df.optimizers.schedules
    poly = S.PolynomialDecay(0.1, 10, 0.01, power=2.0)
    for k in [0, 3, 10, 25]:
        p = min(k, 10) / 10
        np.testing.assert_allclose(float(poly(k)), 0.09 * (1 - p) ** 2 + 0.01, rtol=1e-6)
    # cycle: decay_steps grows to the next multiple; numbers from TensorFlow 2.21.0
    cyc = S.PolynomialDecay(0.1, 10, 0.01, power=2.0, cycle=True)
    np.testing.assert_allclose([float(cyc(k)) for k in [0, 3, 10, 11, 25]],
                               [0.1, 0.0541, 0.01, 0.028225, 0.0125], rtol=1e-6)
    inv = S.InverseTimeDecay(0.1, 5, 0.5, staircase=True)
    np.testing.assert_allclose([float(inv(k)) for k in [0, 4, 5, 12]],
                               [0.1, 0.1, 0.1 / 1.5, 0.05], rtol=1e-6)
    assert cyc.get_config()["cycle"] is True and inv.get_config()["staircase"] is True
    with pytest.raises(ValueError, match="decay_steps"):
        S.PolynomialDecay(0.1, 0)


def test_tf1_decay_functions_in_a_graph():
    import distflow.compat.v1 as v1
    step = v1.placeholder(v1.int64, [])
    rates = [v1.train.polynomial_decay(0.1, step, 10, 0.01, power=2.0),
             v1.train.inverse_time_decay(0.1, step, 5, 0.5),
             v1.train.natural_exp_decay(0.1, step, 5, 0.5)]
    with v1.Session() as s:
        for k in [0, 4, 12]:
            got = s.run(rates, {step: k})
            want = [0.09 * (1 - min(k, 10) / 10) ** 2 + 0.01, 0.1 / (1 + 0.5 * k / 5),
                    0.1 * np.exp(-0.5 * k / 5)]
            np.testing.assert_allclose(got, want, rtol=1e-6)
