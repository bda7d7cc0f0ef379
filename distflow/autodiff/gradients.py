"""`gradients(ys, xs)`: symbolic gradients built into the graph under a `gradients` name scope."""
from distflow.autodiff.backprop import backprop
from distflow.framework import context
from distflow.framework.graph import get_default_graph
from distflow.ops import array_ops, dispatch, math_ops


class _Math:
    """The ops the walker needs, as distflow ops (so they work in graph and eager mode)."""

    add_n = staticmethod(math_ops.add_n)
    zeros_like = staticmethod(array_ops.zeros_like)


MATH = _Math()


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def gradients(ys, xs, grad_ys=None, name="gradients", stop_gradients=None,
              unconnected_gradients="none", **unused):
    """d(sum of ys)/dx for each x in xs; None (or zeros) for an x that ys do not depend on."""
    ys, xs = _as_list(ys), _as_list(xs)
    graph = dispatch.graph_of(ys + xs)
    if graph is None:
        if context.executing_eagerly():
            raise RuntimeError("tf.gradients is not supported when eager execution is enabled. "
                               "Use tf.GradientTape instead.")
        graph = get_default_graph()
    ys = [dispatch.to_graph_tensor(y, graph) for y in ys]
    xs = [dispatch.to_graph_tensor(x, graph) for x in xs]
    stops = [dispatch.to_graph_tensor(s, graph) for s in _as_list(stop_gradients or [])]
    with graph.as_default(), graph.name_scope(name):
        if grad_ys is None:
            grad_ys = [None] * len(ys)
        grad_ys = [array_ops.ones_like(y) if g is None else dispatch.convert_to_tensor(g, y.dtype)
                   for y, g in zip(ys, _as_list(grad_ys))]
        result = backprop(ys, grad_ys, xs, producer=lambda t: t.op, stop=stops,
                          scope=lambda op: graph.name_scope(op.name + "_grad"), math=MATH)
        result = _fill_unconnected(result, xs, unconnected_gradients)
    return result


def _fill_unconnected(result, xs, unconnected_gradients):
    mode = getattr(unconnected_gradients, "value", unconnected_gradients)
    if str(mode).lower() == "zero":
        return [array_ops.zeros_like(x) if g is None else g for g, x in zip(result, xs)]
    if str(mode).lower() != "none":
        raise ValueError("Unknown value for unconnected_gradients: %r" % (unconnected_gradients,))
    return result

