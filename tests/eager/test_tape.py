"""GradientTape's rules, each checked eagerly and inside df.function (where the tape builds graph
gradients with the same walker), against derivatives worked out by hand."""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf1

MODES = ["eager", "function"]


def run(mode, fn, *args):
    """Runs `fn` eagerly, or traced by df.function; the results must not depend on which."""
    return fn(*args) if mode == "eager" else df.function(fn)(*args)


def value(t):
    return None if t is None else np.asarray(t.numpy())


@pytest.mark.parametrize("mode", MODES)
def test_the_issue_example(mode):
    x = df.Variable(3.0)

    def f():
        with df.GradientTape() as tape:
            y = x * x - 4.0 * x
        return tape.gradient(y, x)
    g = run(mode, f)
    assert str(g) == "tf.Tensor(2.0, shape=(), dtype=float32)"


@pytest.mark.parametrize("mode", MODES)
def test_watched_tensors_are_differentiated_and_unwatched_give_none(mode):
    def f(x, c):
        with df.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = x * x * c
            z = c * c
        return tape.gradient(y, x), tape.gradient(z, c)
    gx, gc = run(mode, f, df.constant(3.0), df.constant(2.0))
    assert value(gx) == pytest.approx(12.0)   # d(x^2 c)/dx = 2xc
    assert gc is None                          # c was never watched


@pytest.mark.parametrize("mode", MODES)
def test_a_source_that_another_source_feeds_keeps_its_own_gradient(mode):
    w = df.Variable(np.ones((2, 2), np.float32))

    def f(x):
        with df.GradientTape() as tape:
            h = df.matmul(x, w)
            loss = df.reduce_sum(h * h)
        return tape.gradient(loss, [w, h])
    gw, gh = run(mode, f, df.constant(np.array([[1.0, 2.0]], np.float32)))
    # h = [[3, 3]], dloss/dh = 2h; dloss/dw = x^T (2h)
    np.testing.assert_allclose(value(gh), [[6.0, 6.0]])
    np.testing.assert_allclose(value(gw), [[6.0, 6.0], [12.0, 12.0]])


@pytest.mark.parametrize("mode", MODES)
def test_trainable_variables_are_watched_when_read(mode):
    w = df.Variable([1.0, 2.0])
    frozen = df.Variable(3.0, trainable=False)

    def f():
        with df.GradientTape() as tape:
            y = df.reduce_sum(w * w) * frozen
        return tape.gradient(y, [w, frozen])
    gw, gf = run(mode, f)
    np.testing.assert_allclose(value(gw), [6.0, 12.0])
    assert gf is None                          # non-trainable: not watched unless asked


@pytest.mark.parametrize("mode", MODES)
def test_watching_a_non_trainable_variable(mode):
    frozen = df.Variable(3.0, trainable=False)

    def f():
        with df.GradientTape() as tape:
            tape.watch(frozen)
            y = frozen * frozen
        return tape.gradient(y, frozen)
    assert value(run(mode, f)) == pytest.approx(6.0)


@pytest.mark.parametrize("mode", MODES)
def test_watch_accessed_variables_false_watches_only_what_is_asked(mode):
    a, b = df.Variable(2.0), df.Variable(5.0)

    def f():
        with df.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(a)
            y = a * b
        return tape.gradient(y, [a, b])
    ga, gb = run(mode, f)
    assert value(ga) == pytest.approx(5.0) and gb is None


@pytest.mark.parametrize("mode", MODES)
def test_a_variable_read_several_times_sums_its_reads(mode):
    v = df.Variable(1.5)

    def f():
        with df.GradientTape() as tape:
            y = v * v + 3.0 * v
        return tape.gradient(y, v)
    assert value(run(mode, f)) == pytest.approx(2 * 1.5 + 3.0)


@pytest.mark.parametrize("mode", MODES)
def test_second_gradient_call_on_non_persistent_tape_raises(mode):
    def f(x):
        with df.GradientTape() as tape:
            tape.watch(x)
            y = x * x
        tape.gradient(y, x)
        return tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="GradientTape.gradient can only be called once on "
                                           "non-persistent tapes."):
        run(mode, f, df.constant(1.0))


@pytest.mark.parametrize("mode", MODES)
def test_persistent_tape_gives_several_gradients(mode):
    def f(x):
        with df.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = x * x
            z = y * y
        return tape.gradient(y, x), tape.gradient(z, x), tape.gradient(z, y)
    gy, gz, gzy = run(mode, f, df.constant(3.0))
    assert value(gy) == pytest.approx(6.0)
    assert value(gz) == pytest.approx(4 * 27.0)   # d(x^4)/dx
    assert value(gzy) == pytest.approx(2 * 9.0)   # d(y^2)/dy


@pytest.mark.parametrize("mode", MODES)
def test_non_scalar_target_gives_the_gradient_of_its_sum(mode):
    def f(x):
        with df.GradientTape() as tape:
            tape.watch(x)
            y = x * df.constant([3.0, 4.0])
        return tape.gradient(y, x)
    assert value(run(mode, f, df.constant(2.0))) == pytest.approx(7.0)


@pytest.mark.parametrize("mode", MODES)
def test_nested_targets_and_sources(mode):
    v = df.Variable([1.0, -1.0])

    def f(x, y):
        with df.GradientTape() as tape:
            tape.watch([x, y])
            targets = {"a": x * y, "b": [df.reduce_sum(v * x), y * y]}
        return tape.gradient(targets, {"x": x, "rest": (v, [y])})
    g = run(mode, f, df.constant(2.0), df.constant(3.0))
    assert sorted(g) == ["rest", "x"] and isinstance(g["rest"], tuple)
    assert isinstance(g["rest"][1], list)
    # sum of targets: x*y + sum(v)*x + y^2
    assert value(g["x"]) == pytest.approx(3.0 + 0.0)
    np.testing.assert_allclose(value(g["rest"][0]), [2.0, 2.0])
    assert value(g["rest"][1][0]) == pytest.approx(2.0 + 6.0)


@pytest.mark.parametrize("mode", MODES)
def test_output_gradients_weight_the_targets(mode):
    def f(x):
        with df.GradientTape() as tape:
            tape.watch(x)
            y = x * df.constant([1.0, 2.0, 3.0])
        return tape.gradient(y, x, output_gradients=df.constant([1.0, 10.0, 100.0]))
    assert value(run(mode, f, df.constant(2.0))) == pytest.approx(321.0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("zero", ["zero", df.UnconnectedGradients.ZERO])
def test_unconnected_sources_give_none_or_zeros(mode, zero):
    v = df.Variable([[1.0, 2.0]])

    def f(x, unrelated):
        with df.GradientTape(persistent=True) as tape:
            tape.watch([x, unrelated])
            y = x * x
        none = tape.gradient(y, [unrelated, v])
        zeros = tape.gradient(y, [unrelated, v], unconnected_gradients=zero)
        return none, zeros
    none, zeros = run(mode, f, df.constant(1.0), df.constant([1.0, 2.0, 3.0]))
    assert none == [None, None]
    np.testing.assert_array_equal(value(zeros[0]), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(value(zeros[1]), [[0.0, 0.0]])


def test_unknown_unconnected_gradients_value_raises():
    x = df.constant(1.0)
    with df.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    with pytest.raises(ValueError, match="unconnected_gradients"):
        tape.gradient(y, x, unconnected_gradients="ones")


@pytest.mark.parametrize("mode", MODES)
def test_nested_tapes_give_second_derivatives(mode):
    v = df.Variable(2.0)

    def f(x):
        with df.GradientTape() as outer:
            outer.watch(x)
            with df.GradientTape() as inner:
                inner.watch(x)
                y = x * x * x + x * v * v
            dx, dv = inner.gradient(y, [x, v])
        return dx, outer.gradient(dx, x), dv

    dx, dxx, dv = run(mode, f, df.constant(3.0))
    assert value(dx) == pytest.approx(3 * 9.0 + 4.0)   # 3x^2 + v^2
    assert value(dxx) == pytest.approx(6 * 3.0)        # 6x
    assert value(dv) == pytest.approx(2 * 3.0 * 2.0)   # 2xv


@pytest.mark.parametrize("mode", MODES)
def test_second_derivative_through_a_persistent_outer_tape(mode):
    def f(x):
        with df.GradientTape(persistent=True) as outer:
            outer.watch(x)
            with df.GradientTape() as inner:
                inner.watch(x)
                y = df.exp(2.0 * x)
            g = inner.gradient(y, x)
        return outer.gradient(g, x), outer.gradient(y, x)
    d2, d1 = run(mode, f, df.constant(0.5))
    assert value(d2) == pytest.approx(4 * np.exp(1.0), rel=1e-6)
    assert value(d1) == pytest.approx(2 * np.exp(1.0), rel=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_stop_recording_leaves_ops_out(mode):
    def f(x):
        with df.GradientTape() as tape:
            tape.watch(x)
            y = x * x
            with tape.stop_recording():
                z = x * x * x            # a constant, as far as this tape knows
            total = y + z
        return tape.gradient(total, x)
    assert value(run(mode, f, df.constant(2.0))) == pytest.approx(4.0)


@pytest.mark.parametrize("mode", MODES)
def test_ops_before_the_tape_starts_are_not_recorded(mode):
    def f(x):
        early = x * x
        with df.GradientTape() as tape:
            tape.watch(x)
            y = early + 5.0 * x
        return tape.gradient(y, x)
    assert value(run(mode, f, df.constant(2.0))) == pytest.approx(5.0)


def test_stop_recording_outside_recording_raises():
    tape = df.GradientTape()
    with pytest.raises(ValueError, match="only be called while the tape is recording"):
        with tape.stop_recording():
            pass


def test_integer_sources_get_no_gradient():
    x = df.constant(3)
    with df.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    assert tape.gradient(y, x) is None


def test_watched_variables_and_reset():
    a, b = df.Variable(1.0), df.Variable(2.0, trainable=False)
    with df.GradientTape(persistent=True) as tape:
        y = a * b
    assert tape.watched_variables() == [a]
    tape.reset()
    assert tape.gradient(y, a) is None


def test_tape_and_graph_gradients_agree():
    """The tape (eager) and TF1 gradients() (graph, Session) run one walker over one rule set."""
    xv = np.array([[0.3, -1.2], [2.0, 0.7]])
    wv = np.array([[1.5], [-0.5]])

    def loss(x, w):
        return df.reduce_mean(df.square(df.nn.tanh(df.matmul(x, w)) - 0.25)) + df.reduce_sum(x * x)

    x, w = df.constant(xv), df.constant(wv)
    with df.GradientTape() as tape:
        tape.watch([x, w])
        y = loss(x, w)
    eager = [g.numpy() for g in tape.gradient(y, [x, w])]
    g = tf1.Graph()
    with g.as_default():
        px, pw = tf1.placeholder(tf1.float64, [2, 2]), tf1.placeholder(tf1.float64, [2, 1])
        grads = tf1.gradients(loss(px, pw), [px, pw])
        with tf1.Session(graph=g) as sess:
            graph = sess.run(grads, {px: xv, pw: wv})
    # and both against the derivative worked out by hand
    t = np.tanh(xv @ wv)
    d = 2 * (t - 0.25) / t.size * (1 - t ** 2)
    want = [d @ wv.T + 2 * xv, xv.T @ d]
    for e, gr, wnt in zip(eager, graph, want):
        np.testing.assert_allclose(e, wnt, rtol=1e-12)
        np.testing.assert_allclose(gr, wnt, rtol=1e-12)


# -- a df.function called under an eager tape ---------------------------------------------------
def test_a_df_function_call_is_differentiable_by_an_outer_tape():
    w = df.Variable([[1.0], [2.0]])

    @df.function
    def model(x):
        return df.reduce_sum(df.matmul(x, w) ** 2)

    xv = np.array([[1.0, -1.0], [0.5, 2.0]], np.float32)
    x = df.constant(xv)
    with df.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = model(x)
    gw, gx = tape.gradient(y, [w, x])
    r = xv @ w.numpy()
    np.testing.assert_allclose(gw.numpy(), 2 * xv.T @ r, rtol=1e-6)
    np.testing.assert_allclose(gx.numpy(), 2 * r @ w.numpy().T, rtol=1e-6)


def test_second_derivative_through_a_df_function_call():
    @df.function
    def cube(x):
        return x * x * x
    x = df.constant(2.0)
    with df.GradientTape() as outer:
        outer.watch(x)
        with df.GradientTape() as inner:
            inner.watch(x)
            y = cube(x)
        g = inner.gradient(y, x)
    assert float(g) == pytest.approx(12.0)
    assert float(outer.gradient(g, x)) == pytest.approx(12.0)   # 6x at x = 2


def test_differentiating_through_a_function_that_updates_variables_says_so():
    v = df.Variable(1.0)

    @df.function
    def step(x):
        v.assign_add(x)
        return v * x
    x = df.constant(2.0)
    with df.GradientTape() as tape:
        tape.watch(x)
        y = step(x)
    with pytest.raises(NotImplementedError, match="updates variables"):
        tape.gradient(y, x)


def test_watched_variables_survive_the_one_gradient_call():
    v = df.Variable(2.0)
    with df.GradientTape() as tape:
        y = v * v
    assert tape.gradient(y, v).numpy() == 4.0
    assert tape.watched_variables() == [v]  # TF still lists them; only the records are freed
