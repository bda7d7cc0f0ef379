"""Shape specialization of Session plans (client/specialize.py): the fast path must compute
exactly what the plain plan computes, for every fed shape, and fold only what shapes fix."""
import numpy as np
import pytest

import distflow.compat.v1 as tf
from distflow.client import specialize


def mlp_graph():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        y = tf.placeholder(tf.float32, [None, 1])
        w = tf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2) / 10)
        b = tf.Variable(np.array([0.1, -0.2], np.float32))
        v = tf.Variable(np.array([[0.5], [-1.0]], np.float32))
        h = tf.nn.relu(tf.matmul(x, w) + b)
        loss = tf.reduce_mean(tf.square(tf.matmul(h, v) - y))
        grads = tf.gradients(loss, [w, b, v])
        init = tf.global_variables_initializer()
    return g, x, y, loss, grads, init


def numpy_grads(xv, yv):
    w = np.arange(6, dtype=np.float64).reshape(3, 2) / 10
    b, v = np.array([0.1, -0.2]), np.array([[0.5], [-1.0]])
    z = xv @ w + b
    h = np.maximum(z, 0)
    d = 2 * (h @ v - yv) / len(xv)
    dh = (d @ v.T) * (z > 0)
    return [xv.T @ dh, dh.sum(axis=0), h.T @ d]


@pytest.mark.parametrize("rows", [[4, 4, 3, 1, 4], [2, 5]])
def test_specialized_gradients_match_numpy_for_each_batch_size(rows):
    g, x, y, loss, grads, init = mlp_graph()
    sess = tf.Session(graph=g)
    sess.run(init)
    run = sess.make_callable(grads, [x, y])
    rng = np.random.RandomState(0)
    for n in rows:  # a short last batch gets its own specialization; a seen size reuses one
        xv, yv = rng.randn(n, 3).astype(np.float32), rng.randn(n, 1).astype(np.float32)
        for got, want in zip(run(xv, yv), numpy_grads(xv.astype(np.float64), yv)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    plan = next(p for p in sess._plans.values() if hasattr(p, "op_index")
                and [id(e) for e in p.fetch_elements] == [id(t) for t in grads])
    assert isinstance(plan.run, specialize.SpecializingRunner)
    assert len(plan.run.by_shapes) == len(set(rows))


def test_the_mean_gradient_folds_away():
    g, x, y, loss, grads, init = mlp_graph()
    ops = [t.op for t in grads]
    from distflow.client.plan import prune
    plan_ops = prune(grads, [x, y])
    constants, renames, dead = specialize.specialize(plan_ops, grads, [x, y], [(4, 3), (4, 1)],
                                                     np)
    folded = {op.type for op in plan_ops if id(op) in constants}
    assert {"Shape", "Size", "OnesLike", "BroadcastTo"} <= folded
    # the loss itself is not needed for the gradients once its shape is known
    assert id(loss.op) in dead
    assert all(id(op) not in constants for op in ops)


def test_fetched_folded_values_are_copies():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None])
        n = tf.shape(x)
    sess = tf.Session(graph=g)
    first = sess.run(n, {x: np.zeros(3, np.float32)})
    first[0] = 99  # the caller owns what it fetched
    assert sess.run(n, {x: np.zeros(3, np.float32)}).tolist() == [3]


def test_data_dependent_shapes_are_not_folded():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.int32, [4])
        kept, _ = tf.setdiff1d(x, [1])
        size = tf.size(kept)
    sess = tf.Session(graph=g)
    assert sess.run(size, {x: [0, 1, 1, 3]}) == 2
    assert sess.run(size, {x: [1, 1, 1, 3]}) == 1  # same fed shape, different result
