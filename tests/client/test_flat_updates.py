"""An optimizer's per-variable updates, run by a CPU plan as one update over flat buffers.

What a user relies on: the same values as the per-variable updates (bit for bit), variables that
stay usable in every way (assigned, read, restored between steps), and the same errors.
"""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf
from distflow.client import flat_update
from distflow.framework import errors


def mlp_graph(make_opt, dtype=tf.float32):
    rng = np.random.RandomState(0)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(dtype, [None, 3])
        y = tf.placeholder(dtype, [None, 1])
        w0 = tf.Variable(rng.randn(3, 4).astype(dtype.as_numpy_dtype), name="w0")
        b0 = tf.Variable(np.zeros(4, dtype.as_numpy_dtype), name="b0")
        w1 = tf.Variable(rng.randn(4, 1).astype(dtype.as_numpy_dtype), name="w1")
        b1 = tf.Variable(np.zeros(1, dtype.as_numpy_dtype), name="b1")
        h = tf.nn.relu(tf.matmul(x, w0) + b0)
        loss = tf.reduce_mean(tf.square(tf.matmul(h, w1) + b1 - y))
        train = make_opt().minimize(loss)
        init = tf.global_variables_initializer()
    return graph, (x, y), [w0, b0, w1, b1], train, init


def feeds(n=5, dtype=np.float32):
    rng = np.random.RandomState(1)
    return [(rng.randn(8, 3).astype(dtype), rng.randn(8, 1).astype(dtype)) for _ in range(n)]


def train_values(make_opt, steps=5, callable_=True):
    graph, (x, y), variables, train, init = mlp_graph(make_opt)
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        step = sess.make_callable(train, [x, y]) if callable_ else \
            (lambda a, b: sess.run(train, {x: a, y: b}))
        for a, b in feeds(steps):
            step(a, b)
        return sess.run(variables), sess


OPTIMIZERS = {
    "sgd": lambda: tf.train.GradientDescentOptimizer(0.1),
    "momentum": lambda: tf.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
    "adam": lambda: tf.train.AdamOptimizer(0.01),
    "rmsprop": lambda: tf.train.RMSPropOptimizer(0.01, momentum=0.5),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_flat_update_gives_the_per_variable_values_bit_for_bit(name, monkeypatch):
    flat, _ = train_values(OPTIMIZERS[name])
    monkeypatch.setattr(flat_update, "find_groups", lambda *a: [])  # the per-variable plan
    each, _ = train_values(OPTIMIZERS[name])
    for a, b in zip(flat, each):
        np.testing.assert_array_equal(a, b)


def test_the_plan_runs_one_update_and_the_variables_share_one_buffer():
    graph, (x, y), variables, train, init = mlp_graph(OPTIMIZERS["adam"])
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        step = sess.make_callable(train, [x, y])
        step(*feeds(1)[0])
        plan = next(p for p in sess._plans.values() if getattr(p, "feed_tensors", None))
        source = "\n".join(list(getattr(plan.run, "sources", {}).values()) + [plan.source])
        assert "ApplyAdam x 4 (flat)" in source
        cells = [sess.variable_cell(v.op) for v in variables]
        base = cells[0].read_array().base
        assert base is not None and all(c.read_array().base is base for c in cells)


def test_a_variable_assigned_between_steps_trains_from_its_new_value():
    graph, (x, y), variables, train, init = mlp_graph(OPTIMIZERS["sgd"])
    with graph.as_default():
        new_w0 = tf.placeholder(tf.float32, [3, 4])
        load = tf.assign(variables[0], new_w0)
    batches = feeds(3)
    results = []
    for reset in (False, True):
        with tf.Session(graph=graph) as sess:
            sess.run(init)
            step = sess.make_callable(train, [x, y])
            step(*batches[0])
            if reset:  # a new array in the cell (not the buffer's view): homed again
                sess.variable_cell(variables[0].op).assign_array(np.ones((3, 4), np.float32))
            else:
                sess.run(load, {new_w0: np.ones((3, 4), np.float32)})
            step(*batches[1])
            step(*batches[2])
            results.append(sess.run(variables))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_an_uninitialized_variable_is_reported_as_before():
    graph, (x, y), variables, train, init = mlp_graph(OPTIMIZERS["adam"])
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        step = sess.make_callable(train, [x, y])
        step(*feeds(1)[0])
        sess.variable_cell(variables[2].op).assign_array(None)
        with pytest.raises(errors.FailedPreconditionError, match="uninitialized value w1"):
            step(*feeds(1)[0])


def keras_step(make_opt):
    rng = np.random.RandomState(0)
    variables = [df.Variable(rng.randn(3, 4).astype(np.float32)),
                 df.Variable(np.zeros(4, np.float32))]
    opt = make_opt()

    @df.function
    def step(x):
        with df.GradientTape() as tape:
            loss = df.reduce_sum(df.square(df.matmul(x, variables[0]) + variables[1]))
        grads = tape.gradient(loss, variables)
        opt.apply_gradients(zip(grads, variables))
        return loss
    return variables, step


def test_df_function_steps_match_eager_steps_and_held_reads_keep_their_values():
    xs = [np.random.RandomState(i).randn(5, 3).astype(np.float32) for i in range(4)]
    make = lambda: df.optimizers.Adam(0.01)  # noqa: E731
    fv, fstep = keras_step(make)
    ev, _ = keras_step(make)
    eopt = make()
    held = None
    for i, x in enumerate(xs):
        fstep(x)
        with df.GradientTape() as tape:
            loss = df.reduce_sum(df.square(df.matmul(x, ev[0]) + ev[1]))
        eopt.apply_gradients(zip(tape.gradient(loss, ev), ev))
        if i == 1:
            held = fv[0].read_value()  # shares the variable's array: copy on write
            kept = held.numpy().copy()
        if i == 2:
            fv[1].assign(np.full(4, 0.5, np.float32))  # a new array: homed again
            ev[1].assign(np.full(4, 0.5, np.float32))
    np.testing.assert_array_equal(held.numpy(), kept)
    for a, b in zip(fv, ev):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def fed_gradient_plan():
    graph = tf.Graph()
    with graph.as_default():
        vs = [tf.Variable(np.full(s, 1.0, np.float32)) for s in ((2, 3), (3,), (3, 1))]
        gs = [tf.placeholder(tf.float32, v.shape) for v in vs]
        train = tf.train.AdamOptimizer(0.1).apply_gradients(list(zip(gs, vs)))
        init = tf.global_variables_initializer()
    return graph, vs, gs, train, init


@pytest.mark.parametrize("layout", ["one buffer", "separate arrays", "separate, too big to group"])
def test_gradients_from_elsewhere_one_buffer_or_not(layout, monkeypatch):
    """Gradients not written by the plan (fed here; a fused all-reduce's outputs in a
    data-parallel step) are read where they lie when they are consecutive views of one
    buffer, and copied in otherwise: the values are the per-variable ones either way."""
    rng = np.random.RandomState(3)
    buf = rng.randn(3, 2 + 6 + 3 + 3).astype(np.float32)
    if layout.endswith("too big to group"):
        monkeypatch.setattr(flat_update, "FLAT_LIMIT", 4)
    results = []
    for flat in (True, False):
        if not flat:
            monkeypatch.setattr(flat_update, "find_groups", lambda *a: [])
        graph, vs, gs, train, init = fed_gradient_plan()
        with tf.Session(graph=graph) as sess:
            sess.run(init)
            step = sess.make_callable(train, gs)
            for row in buf:
                row = row.copy()  # one flat buffer, as a fused all-reduce's
                views = [row[2:8].reshape(2, 3), row[8:11], row[11:14].reshape(3, 1)]
                if layout.startswith("separate"):
                    views = [v.copy() for v in views]
                step(*views)
            results.append(sess.run(vs))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(buf[:, 2:8], rng.__class__(3).randn(3, 14).astype(
        np.float32)[:, 2:8])  # the gradients themselves were not written


@pytest.mark.parametrize("make", [lambda: df.optimizers.SGD(0.1), lambda: df.optimizers.Adam(0.1)],
                         ids=["SGD", "Adam"])
def test_a_read_held_by_a_variable_read_before_keeps_its_value(make):
    # a variable read (and its read forgotten) before the steps, so that the variable keeps a
    # list of its reads; then a read held across a step: the flat update must not overwrite it
    variables, step = keras_step(make)
    x = np.random.RandomState(5).randn(5, 3).astype(np.float32)
    for v in variables:
        float(df.reduce_sum(v))
    step(x)
    step(x)
    held = [v.read_value() for v in variables]
    kept = [h.numpy().copy() for h in held]
    step(x)
    for h, k, v in zip(held, kept, variables):
        np.testing.assert_array_equal(h.numpy(), k)
        assert not np.array_equal(v.numpy(), k)  # the variable itself did change
