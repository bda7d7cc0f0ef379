"""Each optimizer against its update rule written out in NumPy, over several steps, in graph mode
(minimize + Session) and eager mode (GradientTape + apply_gradients).

The problem couples two variables, w (3x1) and u (2x1):
    loss = 0.5 * w'Aw - b'w + |Mw - u|^2 + w'Nu
so each gradient depends on both variables (u's reads w directly through w'Nu); an update of w
that ran before u's gradient was computed would show up as a wrong trajectory.
"""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf
from distflow.framework import errors

A = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, -0.3], [0.0, -0.3, 1.0]])
B = np.array([[1.0], [-2.0], [0.5]])
M = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 1.5]])
W0 = np.array([[0.5], [-1.0], [2.0]])
U0 = np.array([[0.3], [-0.7]])
N = np.array([[0.4, -0.2], [0.1, 0.3], [-0.5, 0.2]])
STEPS = 5


def numpy_grads(w, u):
    r = M @ w - u
    return A @ w - B + 2 * M.T @ r + N @ u, -2 * r + N.T @ w


def graph_loss(w, u):
    r = tf.matmul(M, w) - u
    return 0.5 * tf.reduce_sum(w * tf.matmul(A, w)) - tf.reduce_sum(w * B) + \
        tf.reduce_sum(tf.square(r)) + tf.reduce_sum(w * tf.matmul(N, u))


def eager_loss(w, u):
    r = df.matmul(M, w) - u
    return 0.5 * df.reduce_sum(w * df.matmul(A, w)) - df.reduce_sum(w * B) + \
        df.reduce_sum(df.square(r)) + df.reduce_sum(w * df.matmul(N, u))


# -- the update rules, as the TF1 docs write them (not as the kernels compute them) --------------
class Ref:
    """A NumPy optimizer: `slots(p)` gives the initial slots, `update(p, g, s, t)` one step."""

    def __init__(self, slots, update, decay=0.0, lr=None):
        self.slots, self.update, self.decay, self.lr = slots, update, decay, lr

    def run(self, steps):
        """Yields (w, u, slots of w, slots of u) after each step."""
        params = [W0.copy(), U0.copy()]
        state = [self.slots(p) for p in params]
        for t in range(1, steps + 1):
            grads = numpy_grads(*params)
            for i in range(2):
                if self.decay:
                    params[i] = params[i] - self.lr * self.decay * params[i]
                params[i] = self.update(params[i], grads[i], state[i], t)
            yield params[0], params[1], state[0], state[1]


def sgd(lr):
    return Ref(lambda p: {}, lambda p, g, s, t: p - lr * g)


def momentum(lr, mu, nesterov=False):
    def update(p, g, s, t):
        s["momentum"] = mu * s["momentum"] + g
        return p - lr * (g + mu * s["momentum"]) if nesterov else p - lr * s["momentum"]
    return Ref(lambda p: {"momentum": np.zeros_like(p)}, update)


def _f32_power(beta, t):
    """TF1's beta^t: a float32 variable that starts at beta and is multiplied by it each step
    (TF1 makes the powers from the Python betas, so float32 even for float64 variables)."""
    power = np.float32(beta)
    for _ in range(t - 1):
        power = np.float32(power * np.float32(beta))
    return float(power)


def adam(lr, b1, b2, eps, f32_powers=False):
    def update(p, g, s, t):
        s["m"] = b1 * s["m"] + (1 - b1) * g
        s["v"] = b2 * s["v"] + (1 - b2) * g * g
        p1, p2 = (_f32_power(b1, t), _f32_power(b2, t)) if f32_powers else (b1 ** t, b2 ** t)
        lr_t = lr * np.sqrt(1 - p2) / (1 - p1)
        return p - lr_t * s["m"] / (np.sqrt(s["v"]) + eps)
    return Ref(lambda p: {"m": np.zeros_like(p), "v": np.zeros_like(p)}, update)


def rmsprop(lr, decay, mu, eps, centered=False):
    def slots(p):
        s = {"rms": np.ones_like(p), "momentum": np.zeros_like(p)}
        if centered:
            s["mg"] = np.zeros_like(p)
        return s

    def update(p, g, s, t):
        s["rms"] = decay * s["rms"] + (1 - decay) * g * g
        denom = s["rms"] + eps
        if centered:
            s["mg"] = decay * s["mg"] + (1 - decay) * g
            denom = denom - s["mg"] ** 2
        s["momentum"] = mu * s["momentum"] + lr * g / np.sqrt(denom)
        return p - s["momentum"]
    return Ref(slots, update)


def adagrad(lr, init, eps=None):
    def update(p, g, s, t):
        s["accumulator"] = s["accumulator"] + g * g
        if eps is None:
            return p - lr * g / np.sqrt(s["accumulator"])
        return p - lr * g / (np.sqrt(s["accumulator"]) + eps)
    return Ref(lambda p: {"accumulator": np.full_like(p, init)}, update)


CASES = {
    "sgd": (lambda t: t.GradientDescentOptimizer(0.05), sgd(0.05)),
    "momentum": (lambda t: t.MomentumOptimizer(0.05, 0.9), momentum(0.05, 0.9)),
    "nesterov": (lambda t: t.MomentumOptimizer(0.05, 0.8, use_nesterov=True),
                 momentum(0.05, 0.8, nesterov=True)),
    "adam": (lambda t: t.AdamOptimizer(0.1), adam(0.1, 0.9, 0.999, 1e-8, f32_powers=True)),
    "adam_betas": (lambda t: t.AdamOptimizer(0.05, beta1=0.5, beta2=0.9, epsilon=1e-3),
                   adam(0.05, 0.5, 0.9, 1e-3, f32_powers=True)),
    "rmsprop": (lambda t: t.RMSPropOptimizer(0.01), rmsprop(0.01, 0.9, 0.0, 1e-10)),
    "rmsprop_momentum": (lambda t: t.RMSPropOptimizer(0.01, decay=0.8, momentum=0.5, epsilon=1e-4),
                         rmsprop(0.01, 0.8, 0.5, 1e-4)),
    "rmsprop_centered": (lambda t: t.RMSPropOptimizer(0.01, momentum=0.3, centered=True),
                         rmsprop(0.01, 0.9, 0.3, 1e-10, centered=True)),
    "adagrad": (lambda t: t.AdagradOptimizer(0.2), adagrad(0.2, 0.1)),
    "adagrad_init": (lambda t: t.AdagradOptimizer(0.2, initial_accumulator_value=2.0),
                     adagrad(0.2, 2.0)),
}

# TF2 (Keras 3) optimizers: their own rules, in tests/train/test_keras_optimizers.py; here the ones
# Keras shares with TF1 (plain SGD) or that only differ in float32 rounding (Adam, at float64)
TF2_CASES = {
    "SGD": (lambda: df.optimizers.SGD(0.05), sgd(0.05)),
    "Adam": (lambda: df.optimizers.Adam(0.1), adam(0.1, 0.9, 0.999, 1e-7)),
    "Adam_betas": (lambda: df.optimizers.Adam(learning_rate=0.05, beta_1=0.5, beta_2=0.9),
                   adam(0.05, 0.5, 0.9, 1e-7)),
}


def check_graph(make_opt, ref, steps=STEPS, fetch_at_end=None):
    """Runs `steps` minimize steps in a Session, comparing after each. Returns the optimizer, the
    variables, the train op and the values of `fetch_at_end(opt)` after the last step."""
    w = tf.Variable(W0, name="w")
    u = tf.Variable(U0, name="u")
    step = tf.train.get_or_create_global_step()
    opt = make_opt()
    train = opt.minimize(graph_loss(w, u), global_step=step)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for t, (w_ref, u_ref, ws, us) in enumerate(ref.run(steps), 1):
            assert s.run(train) is None
            w_now, u_now, step_now = s.run([w, u, step])
            np.testing.assert_allclose(w_now, w_ref, rtol=1e-12, atol=1e-13, err_msg="step %d" % t)
            np.testing.assert_allclose(u_now, u_ref, rtol=1e-12, atol=1e-13, err_msg="step %d" % t)
            assert step_now == t
        for name, value in ws.items():
            np.testing.assert_allclose(s.run(opt.get_slot(w, name)), value, rtol=1e-12, atol=1e-13)
        for name, value in us.items():
            np.testing.assert_allclose(s.run(opt.get_slot(u, name)), value, rtol=1e-12, atol=1e-13)
        at_end = s.run(fetch_at_end(opt)) if fetch_at_end else None
    assert opt.get_slot_names() == sorted(ws)
    return opt, w, u, train, at_end


def check_eager(opt, ref, steps=STEPS, global_step=None):
    w = df.Variable(W0, name="w")
    u = df.Variable(U0, name="u")
    for t, (w_ref, u_ref, ws, us) in enumerate(ref.run(steps), 1):
        with df.GradientTape() as tape:
            loss = eager_loss(w, u)
        grads = tape.gradient(loss, [w, u])
        assert opt.apply_gradients(zip(grads, [w, u]), global_step=global_step) is None
        np.testing.assert_allclose(w.numpy(), w_ref, rtol=1e-12, atol=1e-13, err_msg="step %d" % t)
        np.testing.assert_allclose(u.numpy(), u_ref, rtol=1e-12, atol=1e-13, err_msg="step %d" % t)
    for name, value in ws.items():
        slot = opt.get_slot(w, name)
        assert isinstance(slot, df.Variable)
        np.testing.assert_allclose(slot.numpy(), value, rtol=1e-12, atol=1e-13)
    for name, value in us.items():
        np.testing.assert_allclose(opt.get_slot(u, name).numpy(), value, rtol=1e-12, atol=1e-13)
    assert opt.get_slot_names() == sorted(ws)
    return w, u


def test_the_reference_problem_is_not_trivial():
    # gradients of both variables are large and depend on both variables
    gw, gu = numpy_grads(W0, U0)
    assert np.abs(gw).min() > 0.5 and np.abs(gu).min() > 0.5
    gw2, _ = numpy_grads(W0, U0 + 1.0)
    assert np.abs(gw2 - gw).min() > 0.5


@pytest.mark.parametrize("case", sorted(CASES))
def test_tf1_optimizer_in_a_graph_follows_its_update_rule(case):
    make, ref = CASES[case]
    check_graph(lambda: make(tf.train), ref)


@pytest.mark.parametrize("case", sorted(CASES))
def test_tf1_optimizer_eagerly_follows_its_update_rule(case):
    make, ref = CASES[case]
    step = df.Variable(np.int64(0), trainable=False)
    check_eager(make(df.train), ref, global_step=step)
    assert int(step) == STEPS


@pytest.mark.parametrize("case", sorted(TF2_CASES))
def test_tf2_optimizer_eagerly_follows_its_update_rule(case):
    make, ref = TF2_CASES[case]
    opt = make()
    check_eager(opt, ref)
    assert int(opt.iterations) == STEPS


@pytest.mark.parametrize("case", ["SGD", "Adam"])
def test_tf2_optimizer_in_a_graph_follows_its_update_rule(case):
    make, ref = TF2_CASES[case]
    *_, iterations = check_graph(make, ref, fetch_at_end=lambda opt: opt.iterations)
    assert iterations == STEPS


def test_float32_variables_with_python_hyperparameters():
    opt = df.train.AdamOptimizer(0.1)
    w = df.Variable(np.float32([1.0, -2.0]))
    for _ in range(3):
        opt.apply_gradients([(df.constant([0.5, 0.25]), w)])
    assert w.dtype == df.float32 and opt.get_slot(w, "m").dtype == df.float32
    # constant gradients: m_hat = g, v_hat = g^2 at every step, so each step moves by about lr
    np.testing.assert_allclose(w.numpy(), [1.0 - 0.3, -2.0 - 0.3], rtol=1e-5)


def test_adam_uses_epsilon_hat_not_algorithm_1_epsilon():
    # A large epsilon and small gradients make the placement visible at the first step:
    # epsilon hat gives lr * g / (|g| + eps / sqrt(1 - beta2)), Algorithm 1 lr * g / (|g| + eps).
    lr, eps, g = 0.1, 1e-3, 1e-3
    b1, b2 = float(np.float32(0.9)), float(np.float32(0.999))  # TF1's float32 beta powers
    hat = lr * np.sqrt(1 - b2) / (1 - b1) * (0.1 * g) / (np.sqrt(0.001 * g * g) + eps)
    alg1 = lr * g / (g + eps)
    assert abs(hat - alg1) > 0.5 * alg1  # the two forms are far apart here
    w = df.Variable(np.float64([0.0]))
    df.train.AdamOptimizer(lr, epsilon=eps).apply_gradients([(df.constant([g], df.float64), w)])
    np.testing.assert_allclose(-w.numpy(), [hat], rtol=1e-12)


def test_adam_beta_powers_are_non_slot_variables_advanced_after_the_updates():
    opt, w, u, train, powers = check_graph(
        lambda: tf.train.AdamOptimizer(0.1), adam(0.1, 0.9, 0.999, 1e-8, f32_powers=True), steps=3,
        fetch_at_end=lambda opt: list(opt._get_beta_accumulators()))
    np.testing.assert_allclose(powers, [_f32_power(0.9, 4), _f32_power(0.999, 4)], rtol=1e-12)
    assert [p.dtype for p in opt._get_beta_accumulators()] == [tf.float32, tf.float32]
    names = [v.name for v in opt.variables()]
    assert names == ["beta1_power:0", "beta2_power:0", "u/Adam:0", "u/Adam_1:0", "w/Adam:0",
                     "w/Adam_1:0"]
    assert opt.get_slot(w, "m").name == "w/Adam:0" and opt.get_slot(w, "v").name == "w/Adam_1:0"
    assert opt.get_slot(w, "nope") is None and opt.get_slot(tf.Variable(1.0), "m") is None
    with tf.Session() as s:  # one step from the start: the powers move once, after the update
        s.run(tf.global_variables_initializer())
        p1, p2 = opt._get_beta_accumulators()
        np.testing.assert_allclose(s.run([p1, p2]), [0.9, 0.999], rtol=1e-7)
        s.run(train)
        np.testing.assert_allclose(s.run([p1, p2]), [0.81, 0.998001], rtol=1e-7)


def test_eager_adam_keeps_its_powers_in_step():
    opt = df.train.AdamOptimizer(0.1)
    check_eager(opt, adam(0.1, 0.9, 0.999, 1e-8, f32_powers=True), steps=4)
    p1, p2 = opt._get_beta_accumulators()
    np.testing.assert_allclose([p1.numpy(), p2.numpy()], [_f32_power(0.9, 5), _f32_power(0.999, 5)],
                               rtol=1e-12)


def test_init_before_minimize_leaves_slots_uninitialized():
    # the classic TF1 trap: the initializer only covers variables that existed when it was made
    w = tf.Variable(W0)
    init = tf.global_variables_initializer()
    train = tf.train.AdamOptimizer(0.1).minimize(tf.reduce_sum(w * w))
    with tf.Session() as s:
        s.run(init)
        with pytest.raises(errors.FailedPreconditionError,
                           match="Attempting to use uninitialized value"):
            s.run(train)


def test_learning_rate_as_a_fed_tensor_of_another_dtype():
    # a float32 placeholder drives float64 variables: the optimizer casts per variable
    lr = tf.placeholder(tf.float32, shape=[])
    w = tf.Variable(W0)
    u = tf.Variable(U0)
    train = tf.train.GradientDescentOptimizer(lr).minimize(graph_loss(w, u))
    w_ref, u_ref = W0.copy(), U0.copy()
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for rate in [0.1, 0.0, 0.01]:
            s.run(train, {lr: rate})
            gw, gu = numpy_grads(w_ref, u_ref)
            rate = float(np.float32(rate))
            w_ref, u_ref = w_ref - rate * gw, u_ref - rate * gu
            np.testing.assert_allclose(s.run(w), w_ref, rtol=1e-12)
            np.testing.assert_allclose(s.run(u), u_ref, rtol=1e-12)


def test_learning_rate_as_a_callable_is_called_at_every_apply():
    rates = iter([0.1, 0.2, 0.3])
    w = df.Variable(np.float64([1.0]))
    opt = df.train.MomentumOptimizer(lambda: next(rates), momentum=0.5)
    for _ in range(3):
        opt.apply_gradients([(df.constant([1.0], df.float64), w)])
    # accum: 1, 1.5, 1.75; steps 0.1 * 1 + 0.2 * 1.5 + 0.3 * 1.75
    np.testing.assert_allclose(w.numpy(), [1.0 - 0.925], rtol=1e-12)


def test_gradient_none_for_some_variables_leaves_them_alone():
    w = df.Variable(np.float64([1.0, 2.0]))
    v = df.Variable(np.float64([5.0]))
    opt = df.optimizers.Adam(0.1)
    opt.apply_gradients([(df.constant([1.0, -1.0], df.float64), w), (None, v)])
    np.testing.assert_allclose(w.numpy(), [0.9, 2.1], rtol=1e-6)
    assert v.numpy() == 5.0 and opt.get_slot(v, "m") is None
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        opt.apply_gradients([(None, v)])


def test_minimize_in_a_graph_without_variables_or_gradients():
    with pytest.raises(ValueError, match="No variables to optimize."):
        tf.train.AdamOptimizer().minimize(tf.constant(1.0) * 2.0)
    w = tf.Variable(1.0)
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        tf.train.AdamOptimizer().minimize(tf.constant(1.0) * 2.0, var_list=[w])


# -- decoupled weight decay -----------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["graph", "eager"])
def test_decoupled_weight_decay_shrinks_before_the_update(mode):
    lr, wd = 0.1, 0.05
    ref = adam(lr, 0.9, 0.999, 1e-8, f32_powers=mode == "graph")
    ref.decay, ref.lr = wd, lr
    if mode == "graph":
        check_graph(lambda: tf.train.AdamOptimizer(lr, weight_decay=wd), ref)
    else:
        check_eager(df.optimizers.AdamW(lr, weight_decay=wd, epsilon=1e-8), ref)


def test_weight_decay_with_sgd_is_a_shrink_by_lr_times_decay():
    sgd_ref = sgd(0.05)
    sgd_ref.decay, sgd_ref.lr = 0.1, 0.05
    check_eager(df.optimizers.SGD(0.05, weight_decay=0.1), sgd_ref)
    # and it really differs from no decay at all
    w, _ = check_eager(df.optimizers.SGD(0.05), sgd(0.05))
    w_decayed = list(sgd_ref.run(STEPS))[-1][0]
    assert np.abs(w.numpy() - w_decayed).max() > 1e-3


def test_adamw_defaults_follow_keras():
    opt = df.optimizers.AdamW()
    assert opt._hyper["weight_decay"] == 0.004 and opt._hyper["learning_rate"] == 0.001
    assert opt._hyper["epsilon"] == 1e-7


# -- TF2 aliases --------------------------------------------------------------------------------
def test_tf2_aliases_take_tf2_names_and_defaults():
    sgd_opt = df.optimizers.SGD()
    assert sgd_opt.learning_rate == 0.01 and sgd_opt.get_name() == "SGD"
    assert df.optimizers.RMSprop()._hyper == {"weight_decay": 0.0, "learning_rate": 0.001,
                                              "decay": 0.9, "momentum": 0.0, "epsilon": 1e-7}
    assert df.optimizers.Adagrad()._hyper["epsilon"] == 1e-7
    with pytest.raises(ValueError, match="momentum"):
        df.optimizers.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="initial_accumulator_value must be positive"):
        df.train.AdagradOptimizer(0.1, initial_accumulator_value=0.0)


def test_plain_sgd_has_no_slots_and_minimize_takes_a_callable_loss():
    w = df.Variable(np.float64([3.0]))
    opt = df.optimizers.SGD(learning_rate=0.25)
    for _ in range(2):
        opt.minimize(lambda: df.reduce_sum(w * w), var_list=[w])
    np.testing.assert_allclose(w.numpy(), [3.0 * 0.5 * 0.5])  # w -= 0.25 * 2w halves it
    assert opt.get_slot_names() == [] and int(opt.iterations) == 2
    opt.learning_rate = 0.5  # w -= 0.5 * 2w: zero
    opt.minimize(lambda: df.reduce_sum(w * w), var_list=[w])
    assert w.numpy()[0] == 0.0


def test_adam_inside_a_traced_function_keeps_eager_slots_and_its_update_rule():
    w, u = df.Variable(W0, name="w"), df.Variable(U0, name="u")
    opt = df.optimizers.Adam(0.1)

    @df.function
    def step():
        with df.GradientTape() as tape:
            loss = eager_loss(w, u)
        opt.apply_gradients(zip(tape.gradient(loss, [w, u]), [w, u]))

    for t, (w_ref, u_ref, ws, _) in enumerate(adam(0.1, 0.9, 0.999, 1e-7).run(STEPS), 1):
        step()
        np.testing.assert_allclose(w.numpy(), w_ref, rtol=1e-12, err_msg="step %d" % t)
        np.testing.assert_allclose(u.numpy(), u_ref, rtol=1e-12, err_msg="step %d" % t)
    # the slots were made eagerly, outside the trace, and hold the state of the last step
    np.testing.assert_allclose(opt.get_slot(w, "v").numpy(), ws["v"], rtol=1e-12)
    assert int(opt.iterations) == STEPS


def test_a_gradient_of_the_wrong_shape_is_refused_not_broadcast():
    w = df.Variable(np.float64([1.0, 2.0]))
    with pytest.raises(ValueError, match="var and grad do not have the same shape"):
        df.train.MomentumOptimizer(0.1, 0.9).apply_gradients([(df.constant([1.0], df.float64), w)])
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])
    g = tf.Variable(np.float64([1.0, 2.0]))
    with pytest.raises(ValueError, match="do not have the same shape"):
        tf.train.AdamOptimizer().apply_gradients([(tf.constant([1.0], tf.float64), g)])


@pytest.mark.parametrize("make", [lambda: df.optimizers.SGD(learning_rate=0.5),
                                  lambda: df.train.GradientDescentOptimizer(0.5)])
def test_eager_sgd_in_place_keeps_values_read_before_the_step(make):
    # Eager plain SGD updates the variables' own arrays (no op per variable); a tensor read
    # before the step must still hold the old value, and each dtype gets its own learning rate.
    w = df.Variable(np.float32([1.0, 2.0]))
    u = df.Variable(np.float64([[3.0], [-1.0]]))
    opt = make()
    w_before = w.read_value()
    g_w, g_u = np.float32([0.25, -0.5]), np.float64([[1.0], [2.0]])
    opt.apply_gradients([(df.constant(g_w), w), (df.constant(g_u), u)])
    np.testing.assert_array_equal(w_before.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(w.numpy(), np.float32([1.0, 2.0]) - np.float32(0.5) * g_w)
    np.testing.assert_array_equal(u.numpy(), np.float64([[3.0], [-1.0]]) - 0.5 * g_u)
    assert w.dtype == df.float32 and u.dtype == df.float64
    if isinstance(opt, df.optimizers.SGD):
        count_before = opt.iterations.read_value()
        opt.apply_gradients([(df.constant(g_w), w)])
        assert int(count_before) == 1 and int(opt.iterations) == 2
    # with no earlier read alive, the next step lands in the same array
    array = w.read_array()
    opt.apply_gradients([(df.constant(g_w), w)])
    assert w.read_array() is array
