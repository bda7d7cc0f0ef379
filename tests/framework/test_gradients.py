"""Symbolic gradients(): sums over ys, None for unconnected xs, nodes under `gradients/`."""
import numpy as np
import pytest

import distflow.compat.v1 as tf


def test_gradients_sum_over_ys_and_build_nodes_under_gradients_scope():
    x = tf.placeholder(tf.float32, shape=[])
    y1, y2 = x * x, 3.0 * x
    g, = tf.gradients([y1, y2], [x])
    assert g.name.startswith("gradients/")
    with tf.Session() as s:
        assert s.run(g, {x: 2.0}) == pytest.approx(2 * 2.0 + 3.0)


def test_unconnected_gives_none_or_zeros():
    x, z = tf.constant(1.0), tf.constant([1.0, 2.0])
    y = x * 2.0
    assert tf.gradients(y, [x, z])[1] is None
    zero = tf.gradients(y, [z], unconnected_gradients="zero")[0]
    with tf.Session() as s:
        assert s.run(zero).tolist() == [0.0, 0.0]


def test_grad_ys_and_stop_gradients():
    x = tf.constant(3.0)
    a = x * x
    b = a * x   # x^3
    g, = tf.gradients(b, x, grad_ys=2.0)
    partial, = tf.gradients(b, x, stop_gradients=[a])   # treat a = x^2 as a constant: a
    with tf.Session() as s:
        assert s.run(g) == pytest.approx(2 * 27.0)
        assert s.run(partial) == pytest.approx(9.0)


def test_second_derivative_by_differentiating_the_gradient():
    x = tf.placeholder(tf.float64, shape=[3])
    y = tf.reduce_sum(x * x * x)
    g, = tf.gradients(y, x)
    h, = tf.gradients(g, x)
    with tf.Session() as s:
        np.testing.assert_allclose(s.run(h, {x: [1.0, 2.0, -1.0]}), [6.0, 12.0, -6.0])


def test_non_differentiable_path_names_the_op():
    from distflow.framework.graph import get_default_graph
    from distflow.ops import dispatch
    from distflow.ops.registry import NO_GRADIENT, op_def
    from distflow.ops.shapes import same_as_input
    opdef = op_def("TestOpaqueSquare", infer=same_as_input, forward=lambda xp, x: x * x,
                   grad=NO_GRADIENT)
    try:
        x = tf.constant(2.0)
        y = dispatch.apply(opdef, [x], name="opaque")
        with pytest.raises(LookupError, match="No gradient defined for operation 'opaque' "
                                              r"\(op type: TestOpaqueSquare\)"):
            tf.gradients(y * 2.0, x)
        assert get_default_graph() is not None
    finally:
        from distflow.ops.registry import REGISTRY
        del REGISTRY["TestOpaqueSquare"]
