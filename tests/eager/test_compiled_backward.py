"""The tape's compiled backward pass (autodiff/compiled_backward.py): when it serves, what it
hands back, and when the walker runs instead. The op tables check its values for every op
(tests/op_check.py: the compiled gradients equal the walker's bit for bit)."""
import numpy as np
import pytest

import distflow as df
from distflow.autodiff import compiled_backward

R = np.random.RandomState(0)


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with no form seen: the cache is per process."""
    compiled_backward._cache.clear()
    compiled_backward._seen.clear()


def served():
    return dict(compiled_backward.served)


def delta(before):
    now = served()
    return {k: now.get(k, 0) - before.get(k, 0) for k in ("compiled", "walker")}


def mlp_step(variables, x, y):
    with df.GradientTape() as tape:
        h = df.nn.relu(df.matmul(x, variables[0]) + variables[1])
        loss = df.reduce_mean(df.square(df.matmul(h, variables[2]) - y))
    return loss, tape.gradient(loss, variables)


def make_variables():
    return [df.Variable(R.randn(4, 8).astype(np.float32)), df.Variable(np.zeros(8, np.float32)),
            df.Variable(R.randn(8, 1).astype(np.float32))]


def test_a_training_loop_runs_compiled_from_its_second_step_with_the_walkers_values():
    variables = make_variables()
    opt = df.optimizers.SGD(0.1)
    x, y = R.randn(16, 4).astype(np.float32), R.randn(16, 1).astype(np.float32)
    compiled_backward.enabled = False
    try:
        reference = make_variables()
        for v, w in zip(reference, variables):
            v.assign(w)
        want = []
        for _ in range(4):
            loss, grads = mlp_step(reference, x, y)
            want.append([g.numpy() for g in grads])
            opt.apply_gradients(zip(grads, reference))
    finally:
        compiled_backward.enabled = True
    before = served()
    for step in range(4):
        loss, grads = mlp_step(variables, x, y)
        for g, w in zip(grads, want[step]):
            np.testing.assert_array_equal(g.numpy(), w)
        df.optimizers.SGD(0.1).apply_gradients(zip(grads, variables))
    assert delta(before) == {"compiled": 3, "walker": 1}


def test_a_new_shape_is_a_new_form_seen_once_before_it_is_compiled():
    variables = make_variables()
    before = served()
    for n in (16, 16, 5, 5, 16):
        mlp_step(variables, np.ones((n, 4), np.float32), np.ones((n, 1), np.float32))
    # 16: walker, compiled; 5: walker, compiled; 16 again: compiled
    assert delta(before) == {"compiled": 3, "walker": 2}


def test_alternating_forms_each_run_their_own_plan():
    # the last form served is checked first (no hash): another form must not take its plan
    variables = make_variables()
    data = {n: (R.randn(n, 4).astype(np.float32), R.randn(n, 1).astype(np.float32))
            for n in (16, 5)}
    compiled_backward.enabled = False
    try:
        want = {n: [g.numpy() for g in mlp_step(variables, *data[n])[1]] for n in data}
    finally:
        compiled_backward.enabled = True
    before = served()
    for n in (16, 16, 5, 5, 16, 5, 16, 5):
        for g, w in zip(mlp_step(variables, *data[n])[1], want[n]):
            np.testing.assert_array_equal(g.numpy(), w)
    assert delta(before) == {"compiled": 6, "walker": 2}


def test_labels_that_change_every_step_are_fed_not_compiled_into_the_graph():
    logits_w = df.Variable(R.randn(3, 5))
    x = R.randn(8, 3)
    rng = np.random.RandomState(1)
    before = served()
    for _ in range(5):
        labels = rng.randint(0, 5, size=8)
        with df.GradientTape() as tape:
            loss = df.reduce_sum(df.nn.sparse_softmax_cross_entropy_with_logits(
                labels=labels, logits=df.matmul(x, logits_w)))
        g = tape.gradient(loss, logits_w).numpy()
        z = x @ logits_w.numpy()
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(8), labels] -= 1
        np.testing.assert_allclose(g, x.T @ p, rtol=1e-10, atol=1e-12)
    assert delta(before) == {"compiled": 4, "walker": 1}


def test_an_integer_the_graph_needs_as_a_constant_puts_its_value_in_the_form():
    params = df.Variable(np.arange(12.0).reshape(3, 4))
    before = served()
    for axis in (1, 1, 0, 0, 1):  # gather's axis, a Python number, is a tensor eagerly
        with df.GradientTape() as tape:
            loss = df.reduce_sum(df.gather(params, [0, 2], axis=axis))
        want = np.zeros((3, 4))
        if axis == 1:
            want[:, [0, 2]] = 1
        else:
            want[[0, 2], :] = 1
        np.testing.assert_array_equal(tape.gradient(loss, params).numpy(), want)
    # axis 1: walker, then compiled with its value; axis 0: a new valued form, seen once first
    assert delta(before) == {"compiled": 3, "walker": 2}


def test_gather_indices_that_change_give_their_own_gradients():
    params = df.Variable(np.arange(12.0).reshape(4, 3))

    def grad(indices):
        with df.GradientTape() as tape:
            loss = df.reduce_sum(df.gather(params, indices) * [[1.0], [2.0]])
        return tape.gradient(loss, params).numpy()

    for _ in range(2):  # twice each: the second call runs compiled
        np.testing.assert_array_equal(grad(np.array([0, 2])),
                                      [[1, 1, 1], [0, 0, 0], [2, 2, 2], [0, 0, 0]])
        np.testing.assert_array_equal(grad(np.array([3, 1])),
                                      [[0, 0, 0], [2, 2, 2], [0, 0, 0], [1, 1, 1]])


def test_output_gradients_are_fed_and_a_gradient_passed_through_is_the_seed_itself():
    x = df.constant(np.ones(3))
    seed = df.constant(np.array([1.0, 2.0, 3.0]))
    before = served()
    for _ in range(2):
        with df.GradientTape() as tape:
            tape.watch(x)
            y = x + 0.0
        g = tape.gradient(y, x, output_gradients=seed)
        # as the walker gives it: the same tensor, which copy-on-write sees alive
        assert g is seed
    assert delta(before) == {"compiled": 1, "walker": 1}


def test_a_variable_updated_in_place_leaves_a_gradient_that_is_its_read_alone():
    v = df.Variable(np.array([1.0, 2.0]))
    opt = df.optimizers.SGD(1.0)
    for _ in range(2):
        with df.GradientTape() as tape:
            tape.watch(v)
            y = df.identity(v)
        g = tape.gradient(y, v, output_gradients=v.value())
        kept = g.numpy()
        opt.apply_gradients([(g, v)])
        np.testing.assert_array_equal(g.numpy(), kept)


def test_unconnected_sources_and_a_variable_read_twice():
    a, b = df.Variable(2.0), df.Variable(5.0)
    for _ in range(2):
        with df.GradientTape() as tape:
            y = a * a  # two reads of a, one term each
        ga, gb = tape.gradient(y, [a, b])
        assert float(ga) == 4.0 and gb is None
        with df.GradientTape() as tape:
            y = a * a
        _, gb = tape.gradient(y, [a, b], unconnected_gradients=df.UnconnectedGradients.ZERO)
        assert float(gb) == 0.0


def test_second_derivatives_run_the_walker_under_the_outer_tape():
    x = df.Variable(3.0)
    before = served()
    for _ in range(3):
        with df.GradientTape() as outer:
            with df.GradientTape() as inner:
                y = x * x * x
            dy = inner.gradient(y, x)
        assert float(dy) == 27.0
        assert float(outer.gradient(dy, x)) == 18.0
    # the inner gradients ran under the recording outer tape: the walker, always
    assert delta(before)["walker"] >= 3


def test_a_persistent_tape_asked_while_still_recording_uses_the_walker():
    x = df.Variable(2.0)
    before = served()
    for _ in range(2):
        with df.GradientTape(persistent=True) as tape:
            y = x * x
            g = tape.gradient(y, x)  # recorded on this very tape
        assert float(g) == 4.0
    assert delta(before) == {"compiled": 0, "walker": 2}


def test_the_switch_turns_it_off(monkeypatch):
    monkeypatch.setattr(compiled_backward, "enabled", False)
    variables = make_variables()
    before = served()
    for _ in range(3):
        mlp_step(variables, np.ones((2, 4), np.float32), np.ones((2, 1), np.float32))
    assert delta(before) == {"compiled": 0, "walker": 3}


def test_past_the_cache_size_new_forms_run_the_walker_and_nothing_is_rebuilt(monkeypatch):
    monkeypatch.setattr(compiled_backward, "CACHE_SIZE", 3)
    x = df.Variable(1.0)
    built = []
    real_build = compiled_backward._build
    monkeypatch.setattr(compiled_backward, "_build", lambda *a: built.append(1) or real_build(*a))

    def grad(k):  # a form of its own for each k: k additions
        with df.GradientTape() as tape:
            y = x * 2.0
            for _ in range(k):
                y = y + x
        return float(tape.gradient(y, x))

    for _ in range(3):  # a cycle of 5 forms, three times
        for k in range(5):
            assert grad(k) == 2.0 + k
    assert len(built) == 3 and len(compiled_backward._cache) == 3


def test_tapes_in_several_threads_share_the_cache_safely():
    import threading
    x, y = R.randn(8, 4).astype(np.float32), R.randn(8, 1).astype(np.float32)
    start = make_variables()
    compiled_backward.enabled = False
    try:
        want = [g.numpy() for g in mlp_step(start, x, y)[1]]
    finally:
        compiled_backward.enabled = True
    results, errors = [], []

    def worker():
        try:
            variables = make_variables()
            for v, w in zip(variables, start):
                v.assign(w)
            for _ in range(20):
                results.append([g.numpy() for g in mlp_step(variables, x, y)[1]])
        except Exception as e:  # reported below: a thread's exception would otherwise vanish
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == 80
    for grads in results:
        for g, w in zip(grads, want):
            np.testing.assert_array_equal(g, w)


def test_a_form_holding_an_array_is_never_the_last_form():
    # an attr holding an array makes a form unhashable (it runs the walker); comparing it with
    # the last form served must say "different", not raise NumPy's ambiguous truth value
    a = (object(), (("value", np.ones(3)),))
    b = (a[0], (("value", np.zeros(3)),))
    assert compiled_backward._same_form(a, b) is False
    assert compiled_backward._same_form((1, (2, 3)), (1, (2, 3))) is True
