"""TF2 eager parity of the sort and n-d indexing ops (distflow/ops/sort_ops.py, indexing_ops.py).

Covers: sort/argsort (directions, axes, ties, ints incl. the dtype's minimum, uint8), math.top_k
and nn.top_k (ties, k = 0, index_type, errors), math.in_top_k (ties, bad targets, non-finite
rows), gather_nd (elements, slices, batch_dims, bad indices), scatter_nd (repeats, errors),
tensor_scatter_nd_update/add, reverse, roll, repeat, linspace, sequence_mask and newaxis --
with gradients for the differentiable ones.
"""
import numpy as np

from harness import check, same
import distflow as df
import tensorflow as tf

rng = np.random.default_rng(3)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def f64(*shape):
    return rng.standard_normal(shape)


def i32(values):
    return np.array(values, np.int32)


X = f32(2, 3, 4)
M = f32(3, 4)
V = f32(6)
TIES = np.array([[1.0, 3.0, 1.0, 3.0, 2.0], [0.5, 0.5, 0.5, -1.0, 0.5]], np.float32)

# -- sort / argsort --------------------------------------------------------------------------
check("sort", lambda m, x: m.sort(x), [M], grad=True)
check("sort descending", lambda m, x: m.sort(x, direction="DESCENDING"), [M], grad=True)
check("sort axis 0", lambda m, x: m.sort(x, axis=0), [M], grad=True)
check("sort axis 1 of 3-D", lambda m, x: m.sort(x, axis=1), [X], grad=True)
check("sort axis -2 descending", lambda m, x: m.sort(x, axis=-2, direction="DESCENDING"), [X],
      grad=True)
check("sort float64", lambda m, x: m.sort(x), [f64(5)], grad=True)
check("sort ties", lambda m, x: m.sort(x), [TIES], grad=True)
check("sort ints with the minimum", lambda m: m.sort([3, -2147483648, 1, 2147483647]), [])
check("sort uint8", lambda m: m.sort(m.constant([3, 0, 255, 7], m.uint8)), [])
check("sort python list", lambda m: m.sort([1, 10, 26.9, 2.8, 166.32, 62.3]), [])
check("sort bad direction", lambda m, x: m.sort(x, direction="UP"), [V])
check("sort axis out of range", lambda m, x: m.sort(x, axis=2), [M])
check("sort tensor axis", lambda m, x: m.sort(x, axis=m.constant(0)), [M])
check("argsort", lambda m, x: m.argsort(x), [M])
check("argsort axis 0", lambda m, x: m.argsort(x, axis=0), [M])
check("argsort ties ascending", lambda m, x: m.argsort(x), [TIES])
check("argsort ties descending", lambda m, x: m.argsort(x, direction="DESCENDING"), [TIES])
check("argsort stable", lambda m, x: m.argsort(x, stable=True), [TIES])
check("argsort ints", lambda m: m.argsort([[30, 20, 10], [20, 10, 30], [10, 30, 20]]), [])

# -- top_k / in_top_k ------------------------------------------------------------------------
check("top_k", lambda m, x: tuple(m.math.top_k(x, 2)), [M], grad=True)
check("top_k default k", lambda m, x: tuple(m.math.top_k(x)), [X], grad=True)
check("top_k ties lower index first", lambda m, x: tuple(m.math.top_k(x, 3)), [TIES], grad=True)
check("top_k int ties", lambda m: tuple(m.math.top_k([1, 1, 0, 1, 0, 1, 0, 0, 1], 3)), [])
check("nn.top_k", lambda m, x: tuple(m.nn.top_k(x, k=4)), [M], grad=True)
check("top_k k = 0", lambda m, x: tuple(m.math.top_k(x, 0)), [M])
check("top_k k = n", lambda m, x: tuple(m.math.top_k(x, 6)), [V], grad=True)
check("top_k int64 indices", lambda m, x: tuple(m.math.top_k(x, 2, index_type=m.int64)), [V])
check("top_k k too large", lambda m, x: tuple(m.math.top_k(x, 5)), [M])
check("top_k negative k", lambda m, x: tuple(m.math.top_k(x, -1)), [M])
check("top_k scalar input", lambda m: tuple(m.math.top_k(m.constant(1.0), 1)), [])
check("top_k tensor k", lambda m, x: tuple(m.math.top_k(x, m.constant(2))), [M], grad=True)
same("top_k result fields", "values/indices", df.math.top_k([1.0, 2.0]).indices.numpy().tolist(),
     tf.math.top_k([1.0, 2.0]).indices.numpy().tolist())
P = np.array([[1.2, -0.3, 2.8, 5.2], [0.1, 0.0, 0.0, 0.0], [0.0, 0.5, 0.3, 0.3]], np.float32)
check("in_top_k", lambda m, p: m.math.in_top_k([0, 1, 3], p, 2), [P])
check("nn.in_top_k", lambda m, p: m.nn.in_top_k([2, 0, 1], p, 1), [P])
check("in_top_k ties count in", lambda m: m.math.in_top_k([0, 2], [[1., 1., 1.], [2., 1., 1.]], 1),
      [])
check("in_top_k out-of-range targets", lambda m, p: m.math.in_top_k([4, -1, 0], p, 2), [P])
check("in_top_k non-finite row",
      lambda m: m.math.in_top_k([0, 1], [[1., np.nan, 3., 4.], [1., 2., 3., np.inf]], 4), [])
check("in_top_k k = 0", lambda m, p: m.math.in_top_k([0, 1, 3], p, 0), [P])
check("in_top_k int64 targets",
      lambda m, p: m.math.in_top_k(m.constant([0, 1, 3], m.int64), p, 2), [P])
check("in_top_k batch mismatch", lambda m, p: m.math.in_top_k([0, 1], p, 2), [P])

# -- gather_nd / scatter_nd ------------------------------------------------------------------
check("gather_nd elements", lambda m, x: m.gather_nd(x, [[0, 1], [2, 3], [0, 1]]), [M], grad=True)
check("gather_nd rows", lambda m, x: m.gather_nd(x, [[1], [0]]), [M], grad=True)
check("gather_nd 2-D batch of positions", lambda m, x: m.gather_nd(x, [[[0, 1, 2]], [[1, 2, 3]]]),
      [X], grad=True)
check("gather_nd slices of 3-D", lambda m, x: m.gather_nd(x, [[1, 0], [0, 2]]), [X], grad=True)
check("gather_nd int64", lambda m, x: m.gather_nd(x, m.constant([[2, 1]], m.int64)), [M],
      grad=True)
check("gather_nd empty positions", lambda m, x: m.gather_nd(x, np.zeros((2, 0), np.int32)), [M],
      grad=True)
check("gather_nd batch_dims=1", lambda m, x: m.gather_nd(x, [[1], [0]], batch_dims=1), [X],
      grad=True)
check("gather_nd batch_dims=1 elements",
      lambda m, x: m.gather_nd(x, [[[1, 3], [0, 0]], [[2, 2], [1, 0]]], batch_dims=1), [X],
      grad=True)
check("gather_nd out of range", lambda m, x: m.gather_nd(x, [[0, 1], [3, 0]]), [M])
check("gather_nd negative index", lambda m, x: m.gather_nd(x, [[-1, 0]]), [M])
check("gather_nd too long positions", lambda m, x: m.gather_nd(x, [[0, 1, 2]]), [M])
check("gather_nd scalar indices", lambda m, x: m.gather_nd(x, 1), [M])
check("scatter_nd", lambda m, u: m.scatter_nd([[4], [3], [1], [7]], u, [8]), [f32(4)], grad=True)
check("scatter_nd repeats add", lambda m, u: m.scatter_nd([[1], [1], [0]], u, [4]), [f32(3)],
      grad=True)
check("scatter_nd slices", lambda m, u: m.scatter_nd([[0], [2]], u, [4, 4, 4]), [f32(2, 4, 4)],
      grad=True)
check("scatter_nd 2-D positions", lambda m, u: m.scatter_nd([[0, 1], [2, 0]], u, [3, 2, 2]),
      [f32(2, 2)], grad=True)
check("scatter_nd int updates", lambda m: m.scatter_nd([[1]], [5], [3]), [])
check("scatter_nd out of range", lambda m, u: m.scatter_nd([[5]], u, [4]), [f32(1)])
check("scatter_nd negative", lambda m, u: m.scatter_nd([[-1]], u, [4]), [f32(1)])
check("scatter_nd outer mismatch", lambda m, u: m.scatter_nd([[1], [2]], u, [4]), [f32(3)])
check("scatter_nd inner mismatch", lambda m, u: m.scatter_nd([[1], [2]], u, [4, 3]), [f32(2, 2)])
check("scatter_nd negative shape", lambda m, u: m.scatter_nd([[1]], u, [-4]), [f32(1)])
check("tensor_scatter_nd_update",
      lambda m, t, u: m.tensor_scatter_nd_update(t, [[0], [2]], u), [M, f32(2, 4)], grad=True)
check("tensor_scatter_nd_update elements",
      lambda m, t, u: m.tensor_scatter_nd_update(t, [[0, 1], [2, 3]], u), [M, f32(2)], grad=True)
check("tensor_scatter_nd_update python updates",
      lambda m, t: m.tensor_scatter_nd_update(t, [[1, 1]], [9]), [M])
check("tensor_scatter_nd_update out of range",
      lambda m, t, u: m.tensor_scatter_nd_update(t, [[5]], u), [M, f32(1, 4)])
check("tensor_scatter_nd_update outer mismatch",
      lambda m, t, u: m.tensor_scatter_nd_update(t, [[1], [2]], u), [V, f32(1)])
check("tensor_scatter_nd_add",
      lambda m, t, u: m.tensor_scatter_nd_add(t, [[0], [2], [0]], u), [M, f32(3, 4)], grad=True)
check("tensor_scatter_nd_add out of range",
      lambda m, t, u: m.tensor_scatter_nd_add(t, [[3, 0]], u), [M, f32(1)])

# -- reverse / roll --------------------------------------------------------------------------
check("reverse", lambda m, x: m.reverse(x, [0, 2]), [X], grad=True)
check("reverse negative axis", lambda m, x: m.reverse(x, axis=[-1]), [M], grad=True)
check("reverse no axes", lambda m, x: m.reverse(x, []), [M], grad=True)
check("reverse int64 axis", lambda m, x: m.reverse(x, m.constant([1], m.int64)), [M])
check("reverse repeated axis", lambda m, x: m.reverse(x, [0, -2]), [M])
check("reverse axis out of range", lambda m, x: m.reverse(x, [2]), [M])
check("reverse scalar axis", lambda m, x: m.reverse(x, 0), [M])
check("roll", lambda m, x: m.roll(x, 2, 0), [V], grad=True)
check("roll negative shift", lambda m, x: m.roll(x, -1, 1), [M], grad=True)
check("roll several axes", lambda m, x: m.roll(x, [1, -2], [0, 2]), [X], grad=True)
check("roll repeated axis adds", lambda m, x: m.roll(x, [1, 2], [1, 1]), [M], grad=True)
check("roll negative axis, big shift", lambda m, x: m.roll(x, 9, -1), [X], grad=True)
check("roll axis out of range", lambda m, x: m.roll(x, 1, 2), [M])
check("roll size mismatch", lambda m, x: m.roll(x, [1, 2], [0]), [M])
check("roll scalar input", lambda m: m.roll(m.constant(1.0), 1, 0), [])

# -- repeat ----------------------------------------------------------------------------------
check("repeat axis 0 counts", lambda m, x: m.repeat(x, [2, 0, 3], axis=0), [M], grad=True)
check("repeat axis 1 scalar", lambda m, x: m.repeat(x, 2, axis=1), [M], grad=True)
check("repeat flattened", lambda m, x: m.repeat(x, 2), [M], grad=True)
check("repeat negative axis", lambda m, x: m.repeat(x, [1, 2, 0, 1], axis=-1), [X], grad=True)
check("repeat scalar input", lambda m: m.repeat(5, 3), [])
check("repeat tensor counts", lambda m, x, r: m.repeat(x, r, axis=0), [M, i32([1, 3, 2])],
      grad=True, wrt=[0])
check("repeat negative count is zero", lambda m: m.repeat([1, 2], [-1, 2]), [])
check("repeat wrong count length", lambda m, x: m.repeat(x, [2, 3], axis=0), [M])
check("repeat axis out of range", lambda m: m.repeat([1, 2], 2, axis=1), [])

# -- linspace --------------------------------------------------------------------------------
check("linspace", lambda m: m.linspace(0.0, 1.0, 5), [])
check("linspace ints give float64", lambda m: m.linspace(0, 10, 5), [])
check("linspace float64", lambda m: m.linspace(m.constant(0.0, m.float64), 1.0, 4), [])
check("linspace num 1", lambda m: m.linspace(2.0, 5.0, 1), [])
check("linspace num 0", lambda m: m.linspace(2.0, 5.0, 0), [])
check("linspace num negative", lambda m: m.linspace(2.0, 5.0, -1), [])
check("linspace float num", lambda m: m.linspace(2.0, 5.0, 3.0), [])
check("linspace grad", lambda m, a, b: m.linspace(a, b, 7), [np.float32(-1.5), np.float32(2.0)],
      grad=True)
check("linspace vectors axis 1", lambda m, a, b: m.linspace(a, b, 3, axis=1),
      [f32(2), f32(2)], grad=True)
check("linspace broadcast axis -1", lambda m, a, b: m.linspace(a, b, 4, axis=-1),
      [f32(2, 1), f32(3)], grad=True)
check("linspace stop dtype mismatch",
      lambda m: m.linspace(m.constant(0.0), m.constant(1.0, m.float64), 3), [])
same("lin_space in compat.v1", "hasattr", hasattr(df.compat.v1, "lin_space") or
     hasattr(df.compat.v1, "linspace"), hasattr(tf.compat.v1, "linspace"))

# -- sequence_mask ---------------------------------------------------------------------------
check("sequence_mask", lambda m: m.sequence_mask([1, 3, 2], 5), [])
check("sequence_mask default maxlen", lambda m: m.sequence_mask([[1, 3], [2, 0]]), [])
check("sequence_mask float dtype", lambda m: m.sequence_mask([1, 3], 4, dtype=m.float32), [])
check("sequence_mask tensor lengths", lambda m, n: m.sequence_mask(n, 4), [i32([0, 4, 2])])
check("sequence_mask float lengths", lambda m: m.sequence_mask([1.5, 3.0], 4), [])
check("sequence_mask vector maxlen", lambda m: m.sequence_mask([1, 3], [4]), [])
check("sequence_mask negative maxlen", lambda m: m.sequence_mask([1, 3], -1), [])

# -- newaxis ---------------------------------------------------------------------------------
same("newaxis", "value", df.newaxis, tf.newaxis)
check("newaxis index", lambda m, x: x[:, m.newaxis, 1:], [M], grad=True)


# -- TF1 graphs: static shapes, dtypes and build-time errors ----------------------------------
def graph_case(case, fn):
    """`fn(v1 module, placeholder maker)` built in a fresh graph on both sides: the static
    shapes and dtypes of what it returns, or the class of the error it raises."""
    from harness import both

    def build(m):
        out = fn(m, lambda shape, dtype="float32": m.placeholder(getattr(m, dtype), shape))
        outs = out if isinstance(out, (list, tuple)) else [out]
        return [(o.shape.as_list() if o.shape.rank is not None else None, o.dtype.name)
                for o in outs]
    a, b = both(build)
    norm = (lambda r: type(r).__name__ if isinstance(r, Exception) else r)
    same(case, "graph shapes and dtypes", norm(a), norm(b))


def v2(m):
    """The TF2 module of either side, for names compat.v1 lacks (distflow.compat.v1 has no
    `math`) or orders differently (v1's in_top_k takes predictions first)."""
    return tf if m is tf.compat.v1 else df


graph_case("g top_k", lambda m, ph: tuple(v2(m).math.top_k(ph([3, 4]), 2)))
graph_case("g top_k unknown k",
           lambda m, ph: tuple(v2(m).math.top_k(ph([3, 4]), ph([], "int32"))))
graph_case("g top_k k too large", lambda m, ph: tuple(v2(m).math.top_k(ph([3, 4]), 5)))
graph_case("g top_k scalar", lambda m, ph: tuple(v2(m).math.top_k(ph([]), 1)))
graph_case("g sort", lambda m, ph: m.sort(ph([3, 4]), axis=0))
graph_case("g argsort", lambda m, ph: m.argsort(ph([None, 4])))
graph_case("g gather_nd", lambda m, ph: m.gather_nd(ph([3, 4, 5]), [[0, 1], [2, 0]]))
graph_case("g gather_nd too long", lambda m, ph: m.gather_nd(ph([3, 4]), [[0, 1, 2]]))
graph_case("g gather_nd unknown depth",
           lambda m, ph: m.gather_nd(ph([3, 4]), ph([2, None], "int32")))
graph_case("g scatter_nd", lambda m, ph: m.scatter_nd([[1]], ph([1, 3]), [4, 3]))
graph_case("g scatter_nd shape fed", lambda m, ph: m.scatter_nd([[1]], ph([1]), ph([1], "int32")))
graph_case("g scatter_nd mismatch", lambda m, ph: m.scatter_nd([[1], [2]], ph([3]), [4]))
graph_case("g tensor_scatter_nd_add", lambda m, ph: m.tensor_scatter_nd_add(ph([4, 2]), [[1]],
                                                                             ph([1, 2])))
graph_case("g tensor_scatter_nd_update mismatch",
           lambda m, ph: m.tensor_scatter_nd_update(ph([4]), [[1], [2]], ph([1])))
graph_case("g reverse", lambda m, ph: m.reverse(ph([None, 4]), [1]))
graph_case("g reverse out of range", lambda m, ph: m.reverse(ph([3, 4]), [2]))
graph_case("g reverse repeated", lambda m, ph: m.reverse(ph([3, 4]), [0, -2]))
graph_case("g roll", lambda m, ph: m.roll(ph([3, None]), 1, 1))
graph_case("g roll rank mismatch", lambda m, ph: m.roll(ph([3, 4]), [1, 2], 0))
graph_case("g repeat scalar count", lambda m, ph: m.repeat(ph([3, 4]), 2, axis=0))
graph_case("g repeat flattened", lambda m, ph: m.repeat(ph([3, 4]), 2))
graph_case("g linspace", lambda m, ph: m.linspace(0.0, 1.0, 5))
graph_case("g linspace fed num", lambda m, ph: m.linspace(0.0, 1.0, ph([], "int32")))
graph_case("g sequence_mask", lambda m, ph: m.sequence_mask(ph([2, 3], "int32"), 5))
graph_case("g sequence_mask fed", lambda m, ph: m.sequence_mask(ph([None], "int32")))
graph_case("g in_top_k", lambda m, ph: v2(m).math.in_top_k([0], ph([1, 3]), 1))
