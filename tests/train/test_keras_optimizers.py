"""df.optimizers follow Keras 3's update rules (keras/src/optimizers/*.py), which differ from TF1's
tf.compat.v1.train optimizers of the same names; and TF1's Adadelta, Ftrl, ProximalGradientDescent.

Each rule is written out in NumPy below and run for 10 steps on test_optimizers.py's coupled
problem, eagerly (GradientTape + apply_gradients) and in a graph (minimize + Session), in float64.
A few float32 trajectories are also compared with numbers from TensorFlow 2.21.0 / Keras 3.
"""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf
from test_optimizers import Ref, check_eager, check_graph

STEPS = 10


def keras_sgd(lr, mu, nesterov=False):
    def update(p, g, s, t):
        rate = lr(t) if callable(lr) else lr
        s["momentum"] = mu * s["momentum"] - rate * g
        return p + (mu * s["momentum"] - rate * g if nesterov else s["momentum"])
    return Ref(lambda p: {"momentum": np.zeros_like(p)}, update)


def keras_rmsprop(lr, rho, mu, eps, centered=False):
    def slots(p):
        s = {"rms": np.zeros_like(p), "momentum": np.zeros_like(p)}  # zeros, not TF1's ones
        if centered:
            s["mg"] = np.zeros_like(p)
        return s

    def update(p, g, s, t):
        s["rms"] = rho * s["rms"] + (1 - rho) * g * g
        denom = s["rms"] + eps
        if centered:
            s["mg"] = rho * s["mg"] + (1 - rho) * g
            denom = s["rms"] - s["mg"] ** 2 + eps
        s["momentum"] = mu * s["momentum"] + lr * g / np.sqrt(denom)
        return p - s["momentum"]
    return Ref(slots, update)


def keras_adagrad(lr, init, eps):
    def update(p, g, s, t):
        s["accumulator"] = s["accumulator"] + g * g
        return p - lr * g / np.sqrt(s["accumulator"] + eps)  # epsilon inside the root
    return Ref(lambda p: {"accumulator": np.full_like(p, init)}, update)


def keras_adam(lr, b1, b2, eps, amsgrad=False):
    def slots(p):
        s = {"m": np.zeros_like(p), "v": np.zeros_like(p)}
        if amsgrad:
            s["vhat"] = np.zeros_like(p)
        return s

    def update(p, g, s, t):
        s["m"] = s["m"] + (g - s["m"]) * (1 - b1)
        s["v"] = s["v"] + (g * g - s["v"]) * (1 - b2)
        v = s["v"]
        if amsgrad:
            v = s["vhat"] = np.maximum(s["vhat"], s["v"])
        return p - s["m"] * lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) / (np.sqrt(v) + eps)
    return Ref(slots, update)


def keras_nadam(lr, b1, b2, eps):
    def u(t):
        return b1 * (1 - 0.5 * 0.96 ** t)

    def update(p, g, s, t):
        u_product = np.prod([u(k) for k in range(1, t + 1)])
        s["m"] = s["m"] + (g - s["m"]) * (1 - b1)
        s["v"] = s["v"] + (g * g - s["v"]) * (1 - b2)
        m_hat = u(t + 1) * s["m"] / (1 - u_product * u(t + 1)) + (1 - u(t)) * g / (1 - u_product)
        v_hat = s["v"] / (1 - b2 ** t)
        return p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return Ref(lambda p: {"m": np.zeros_like(p), "v": np.zeros_like(p)}, update)


def adadelta(lr, rho, eps):  # Keras 3's and TF1's rule alike
    def update(p, g, s, t):
        s["accum"] = rho * s["accum"] + (1 - rho) * g * g
        delta = np.sqrt(s["accum_update"] + eps) / np.sqrt(s["accum"] + eps) * g
        s["accum_update"] = rho * s["accum_update"] + (1 - rho) * delta * delta
        return p - lr * delta
    return Ref(lambda p: {"accum": np.zeros_like(p), "accum_update": np.zeros_like(p)}, update)


def ftrl(lr, init, l1, l2):  # TF1's ApplyFtrl, learning_rate_power -0.5
    def update(p, g, s, t):
        n = s["accum"] + g * g
        s["linear"] = s["linear"] + g - (np.sqrt(n) - np.sqrt(s["accum"])) / lr * p
        s["accum"] = n
        quadratic = np.sqrt(n) / lr + 2 * l2
        return np.where(np.abs(s["linear"]) > l1,
                        (np.sign(s["linear"]) * l1 - s["linear"]) / quadratic, 0.0)
    return Ref(lambda p: {"accum": np.full_like(p, init), "linear": np.zeros_like(p)}, update)


def proximal_gd(lr, l1, l2):
    def update(p, g, s, t):
        prox = p - lr * g
        return np.sign(prox) * np.maximum(np.abs(prox) - lr * l1, 0) / (1 + lr * l2)
    return Ref(lambda p: {}, update)


def _decayed(t):  # ExponentialDecay(0.05, 3, 0.5) at iterations t - 1, in float32 as TF's
    f = np.float32
    return float(f(0.05) * np.power(f(0.5), f(t - 1) / f(3)))


O = df.optimizers
KERAS_CASES = {
    "SGD_momentum": (lambda: O.SGD(0.05, momentum=0.9), keras_sgd(0.05, 0.9)),
    "SGD_nesterov": (lambda: O.SGD(0.05, momentum=0.8, nesterov=True),
                     keras_sgd(0.05, 0.8, nesterov=True)),
    # Keras's -lr * grad momentum differs from TF1's once the rate changes
    "SGD_momentum_schedule": (lambda: O.SGD(O.schedules.ExponentialDecay(0.05, 3, 0.5),
                                            momentum=0.9), keras_sgd(_decayed, 0.9)),
    "RMSprop": (lambda: O.RMSprop(0.01), keras_rmsprop(0.01, 0.9, 0.0, 1e-7)),
    "RMSprop_momentum": (lambda: O.RMSprop(0.01, rho=0.8, momentum=0.2),
                         keras_rmsprop(0.01, 0.8, 0.2, 1e-7)),
    "RMSprop_centered": (lambda: O.RMSprop(0.01, momentum=0.3, centered=True, epsilon=1e-4),
                         keras_rmsprop(0.01, 0.9, 0.3, 1e-4, centered=True)),
    "Adagrad": (lambda: O.Adagrad(0.2, epsilon=0.01), keras_adagrad(0.2, 0.1, 0.01)),
    "Adam": (lambda: O.Adam(0.1, epsilon=1e-3), keras_adam(0.1, 0.9, 0.999, 1e-3)),
    "Adam_amsgrad": (lambda: O.Adam(0.1, amsgrad=True), keras_adam(0.1, 0.9, 0.999, 1e-7, True)),
    "Nadam": (lambda: O.Nadam(0.05), keras_nadam(0.05, 0.9, 0.999, 1e-7)),
    "Adadelta": (lambda: O.Adadelta(1.0), adadelta(1.0, 0.95, 1e-7)),
}
TF1_CASES = {
    "Adadelta": (lambda t: t.AdadeltaOptimizer(1.0, rho=0.9), adadelta(1.0, 0.9, 1e-8)),
    "Ftrl": (lambda t: t.FtrlOptimizer(0.1), ftrl(0.1, 0.1, 0.0, 0.0)),
    "Ftrl_l1_l2": (lambda t: t.FtrlOptimizer(0.5, l1_regularization_strength=0.5,
                                             l2_regularization_strength=0.1),
                   ftrl(0.5, 0.1, 0.5, 0.1)),
    "ProximalGradientDescent": (lambda t: t.ProximalGradientDescentOptimizer(0.05),
                                proximal_gd(0.05, 0.0, 0.0)),
    "ProximalGradientDescent_l1_l2": (
        lambda t: t.ProximalGradientDescentOptimizer(0.05, l1_regularization_strength=0.5,
                                                     l2_regularization_strength=0.2),
        proximal_gd(0.05, 0.5, 0.2)),
}


@pytest.mark.parametrize("case", sorted(KERAS_CASES))
def test_keras_optimizer_eagerly_follows_keras_3(case):
    make, ref = KERAS_CASES[case]
    opt = make()
    check_eager(opt, ref, steps=STEPS)
    assert int(opt.iterations) == STEPS


@pytest.mark.parametrize("case", sorted(KERAS_CASES))
def test_keras_optimizer_in_a_graph_follows_keras_3(case):
    make, ref = KERAS_CASES[case]
    *_, iterations = check_graph(make, ref, steps=STEPS, fetch_at_end=lambda o: o.iterations)
    assert iterations == STEPS


@pytest.mark.parametrize("case", sorted(TF1_CASES))
@pytest.mark.parametrize("mode", ["graph", "eager"])
def test_tf1_optimizer_follows_its_kernel(case, mode):
    make, ref = TF1_CASES[case]
    if mode == "graph":
        check_graph(lambda: make(tf.train), ref, steps=STEPS)
    else:
        check_eager(make(df.train), ref, steps=STEPS)


# float32, 10 steps of loss = sum(c * (w - 1)^2), c = [1, 3, 0.5], from w = [0.5, -1, 2], as
# TensorFlow 2.21.0 with Keras 3 computes them
TF_2_21 = {
    "RMSprop": [0.6619157791137695, -0.8292852640151978, 1.83205246925354],
    "RMSprop_c": [0.7667469382286072, -0.7007556557655334, 1.7105200290679932],
    "SGD_mom_sched": [1.2765134572982788, 2.8705475330352783, 1.0603675842285156],
    "SGD_nesterov": [1.0956441164016724, 0.8825153708457947, 0.9782096147537231],
    "Adagrad": [0.8658439517021179, -0.5241134166717529, 1.570050835609436],
    "Adam": [0.9618717432022095, -0.5049595236778259, 1.5122977495193481],
    "Adam_ams": [0.9618717432022095, -0.5049595236778259, 1.5122977495193481],
    "Nadam": [0.834721565246582, -0.6225528717041016, 1.6352694034576416],
    "Adadelta": [0.5144603848457336, -0.9854381084442139, 1.9854722023010254],
    "SGD_clipnorm": [0.5215030312538147, -0.7518763542175293, 1.9782843589782715],
    "SGD_gclip": [0.5215030312538147, -0.7518763542175293, 1.9782843589782715],
    "SGD_clipvalue": [0.7499997615814209, -0.7500002384185791, 1.750000238418579],
}
F32_CASES = {
    "RMSprop": lambda: O.RMSprop(0.01),
    "RMSprop_c": lambda: O.RMSprop(0.01, momentum=0.3, centered=True),
    "SGD_mom_sched": lambda: O.SGD(O.schedules.ExponentialDecay(0.05, 3, 0.5), momentum=0.9),
    "SGD_nesterov": lambda: O.SGD(0.05, momentum=0.8, nesterov=True),
    "Adagrad": lambda: O.Adagrad(0.1, epsilon=0.1),
    "Adam": lambda: O.Adam(0.05),
    "Adam_ams": lambda: O.Adam(0.05, amsgrad=True),
    "Nadam": lambda: O.Nadam(0.05),
    "Adadelta": lambda: O.Adadelta(1.0),
    "SGD_clipnorm": lambda: O.SGD(0.05, clipnorm=0.5),
    "SGD_gclip": lambda: O.SGD(0.05, global_clipnorm=0.5),
    "SGD_clipvalue": lambda: O.SGD(0.05, clipvalue=0.5),
}


@pytest.mark.parametrize("case", sorted(F32_CASES))
def test_float32_trajectory_equals_tensorflow_2_21(case):
    w = df.Variable(np.float32([0.5, -1.0, 2.0]))
    opt = F32_CASES[case]()
    for _ in range(10):
        with df.GradientTape() as tape:
            loss = df.reduce_sum(df.square(w - 1.0) * df.constant([1.0, 3.0, 0.5]))
        opt.apply_gradients([(tape.gradient(loss, w), w)])
    np.testing.assert_allclose(w.numpy(), np.float32(TF_2_21[case]), rtol=2e-6, atol=1e-7)


def test_clipping_arguments():
    with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue` and "
                                         "`global_clipnorm` can be set"):
        O.Adam(clipnorm=1.0, clipvalue=1.0)
    # global_clipnorm rescales all gradients together: |(3, 4)| = 5 -> (0.6, 0.8) for clip 1
    a, b = df.Variable(np.float64([0.0])), df.Variable(np.float64([0.0]))
    O.SGD(1.0, global_clipnorm=1.0).apply_gradients(
        [(df.constant([3.0], df.float64), a), (df.constant([4.0], df.float64), b)])
    np.testing.assert_allclose([a.numpy()[0], b.numpy()[0]], [-0.6, -0.8], rtol=1e-12)
    # clipnorm clips each on its own; in a graph too
    a, b = tf.Variable(np.float64([0.0])), tf.Variable(np.float64([0.0]))
    train = O.SGD(1.0, clipnorm=1.0).apply_gradients(
        [(tf.constant([3.0], tf.float64), a), (tf.constant([0.5], tf.float64), b)])
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        s.run(train)
        np.testing.assert_allclose(s.run([a, b]), [[-1.0], [-0.5]], rtol=1e-12)


def test_eager_slots_get_unique_names_as_in_tf():
    w = df.Variable(np.float32([1.0, 2.0]), name="w")
    opt = df.optimizers.Adam(0.1)
    opt.apply_gradients([(df.constant([1.0, 1.0]), w)])
    assert [opt.get_slot(w, n).name for n in ("m", "v")] == ["w/Adam:0", "w/Adam_1:0"]
    opt = df.train.RMSPropOptimizer(0.1, centered=True)
    opt.apply_gradients([(df.constant([1.0, 1.0]), w)])
    assert [opt.get_slot(w, n).name for n in ("rms", "mg", "momentum")] == \
        ["w/RMSProp:0", "w/RMSProp_1:0", "w/RMSProp_2:0"]


def test_tf1_adam_beta_powers_are_float32_for_float64_variables():
    w = tf.Variable(np.float64([1.0]), name="w")
    opt = tf.train.AdamOptimizer(0.1)
    opt.minimize(tf.reduce_sum(w * w))
    assert sorted((v.name, v.dtype.name) for v in opt.variables()) == [
        ("beta1_power:0", "float32"), ("beta2_power:0", "float32"), ("w/Adam:0", "float64"),
        ("w/Adam_1:0", "float64")]


def test_tf1_rmsprop_keeps_its_ones_and_keras_starts_at_zeros():
    w1, w2 = df.Variable(np.float64([0.0])), df.Variable(np.float64([0.0]))
    g = df.constant([1.0], df.float64)
    df.train.RMSPropOptimizer(0.01, epsilon=0.0).apply_gradients([(g, w1)])
    df.optimizers.RMSprop(0.01, epsilon=0.0).apply_gradients([(g, w2)])
    np.testing.assert_allclose(w1.numpy(), [-0.01], rtol=1e-12)             # rms = 0.9 + 0.1
    np.testing.assert_allclose(w2.numpy(), [-0.01 / np.sqrt(0.1)], rtol=1e-12)  # rms = 0.1


def test_variables_is_keras_3s_property_and_tf_2s_method():
    v = df.Variable([1.0, 2.0])
    opt = df.optimizers.Adam(0.1)
    opt.apply_gradients([(df.constant([0.5, 0.5]), v)])
    assert len(opt.variables) == 3 and opt.variables() == opt.variables  # iter, m, v
    assert opt.iterations in opt.variables
