"""TF2 eager parity of array and shape ops.

Covers: reshape, transpose, concat, stack/unstack, split, squeeze/expand_dims, tile, pad
(CONSTANT/REFLECT/SYMMETRIC), gather (axis, batch_dims, bad indices), gather_nd, boolean_mask,
`t[...]` slicing, strided_slice masks, slice, one_hot, range, fill/zeros/ones(_like), shape/size/
rank, unique, dynamic_partition/stitch, unsorted_segment_sum, setdiff1d, invert_permutation,
broadcast_to, reverse, identity, stop_gradient, convert_to_tensor/constant dtype inference — with
gradients for the differentiable ones — and a list of plausible TF names distflow lacks.
"""
import numpy as np

# tuple(...) around namedtuple results (unique, setdiff1d): harness.to_numpy cannot rebuild
# a namedtuple when only one side raises.
from harness import check, same
import distflow as df
import tensorflow as tf

# `import distflow as tf; tf.compat.v1.setdiff1d(...)` in a fresh process: is `compat` reachable?
same("compat reachable without import", "hasattr(m, 'compat')", hasattr(df, "compat"),
     hasattr(tf, "compat"))
import distflow.compat.v1  # noqa: E402,F401  (so the cases below can reach it)


def seg_sum(m):
    """TF keeps unsorted_segment_sum in tf.math only; distflow only at the top level."""
    return getattr(m.math, "unsorted_segment_sum", None) or m.unsorted_segment_sum


def setdiff(m):
    """TF2 has setdiff1d only as tf.compat.v1.setdiff1d; distflow at the top level."""
    return getattr(m, "setdiff1d", None) or m.compat.v1.setdiff1d


def inv_perm(m):
    return getattr(m.math, "invert_permutation", None) or m.invert_permutation

rng = np.random.default_rng(1)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def i32(values):
    return np.array(values, np.int32)


X = f32(2, 3, 4)
M = f32(3, 4)
V = f32(5)
Y = f32(2, 3, 4)

# -- reshape ---------------------------------------------------------------------------------
check("reshape [6,4]", lambda m, x: m.reshape(x, [6, 4]), [X], grad=True)
check("reshape -1", lambda m, x: m.reshape(x, [-1, 4]), [X], grad=True)
check("reshape to scalar-ish [-1]", lambda m, x: m.reshape(x, [-1]), [X], grad=True)
check("reshape size-1 to scalar []", lambda m: m.reshape(m.constant([3.0]), []), [])
check("reshape shape tensor", lambda m, x: m.reshape(x, m.shape(x)[::-1]), [X], grad=True)
check("reshape int64 shape", lambda m, x: m.reshape(x, m.constant([4, 6], m.int64)), [X])
check("reshape wrong size", lambda m, x: m.reshape(x, [5, 5]), [X])
check("reshape -1 not divisible", lambda m, x: m.reshape(x, [-1, 5]), [X])
check("reshape two -1", lambda m, x: m.reshape(x, [-1, -1]), [X])

# -- transpose -------------------------------------------------------------------------------
check("transpose default", lambda m, x: m.transpose(x), [X], grad=True)
check("transpose perm", lambda m, x: m.transpose(x, [1, 0, 2]), [X], grad=True)
check("transpose perm 2,0,1", lambda m, x: m.transpose(x, perm=[2, 0, 1]), [X], grad=True)
check("transpose 1-D", lambda m, x: m.transpose(x), [V])
check("transpose bad perm", lambda m, x: m.transpose(x, [0, 0, 1]), [X])
check("transpose perm wrong length", lambda m, x: m.transpose(x, [1, 0]), [X])

# -- concat ----------------------------------------------------------------------------------
check("concat axis 0", lambda m, a, b: m.concat([a, b], 0), [X, Y], grad=True)
check("concat axis -1", lambda m, a, b: m.concat([a, b], axis=-1), [X, Y], grad=True)
check("concat uneven sizes", lambda m, a, b: m.concat([a, b], 1), [M, f32(3, 2)], grad=True)
check("concat single", lambda m, a: m.concat([a], 0), [M], grad=True)
check("concat mismatched dims", lambda m, a, b: m.concat([a, b], 0), [M, f32(2, 3)])
check("concat rank mismatch", lambda m, a, b: m.concat([a, b], 0), [M, V])
check("concat dtype mismatch", lambda m, a, b: m.concat([a, b], 0), [V, i32([1, 2])])
check("concat axis out of range", lambda m, a, b: m.concat([a, b], 2), [M, M])
check("concat axis tensor", lambda m, a, b: m.concat([a, b], m.constant(1)), [M, M], grad=True)
check("concat python lists", lambda m: m.concat([[1, 2], [3]], 0), [])

# -- stack / unstack -------------------------------------------------------------------------
check("stack axis 0", lambda m, a, b: m.stack([a, b]), [M, M + 1], grad=True)
check("stack axis 1", lambda m, a, b: m.stack([a, b], axis=1), [M, M + 1], grad=True)
check("stack axis -1", lambda m, a, b: m.stack([a, b], axis=-1), [M, M + 1], grad=True)
check("stack scalars python", lambda m: m.stack([1.0, 2.0, 3.0]), [])
check("stack dtype mismatch", lambda m, a, b: m.stack([a, b]), [V[:2], i32([1, 2])])
check("stack tensor and python", lambda m, a: m.stack([a, [1.0, 2.0, 3.0, 4.0]]), [M[0]])
check("stack shape mismatch", lambda m, a, b: m.stack([a, b]), [M, f32(4, 3)])
check("stack axis out of range", lambda m, a, b: m.stack([a, b], axis=3), [M, M])
check("unstack axis 0", lambda m, x: m.unstack(x), [X], grad=True)
check("unstack axis 1", lambda m, x: m.unstack(x, axis=1), [X], grad=True)
check("unstack axis -1 num", lambda m, x: m.unstack(x, num=4, axis=-1), [X], grad=True)
check("unstack wrong num", lambda m, x: m.unstack(x, num=3), [X])
check("unstack 1-D", lambda m, x: m.unstack(x), [V], grad=True)

# -- split -----------------------------------------------------------------------------------
check("split int", lambda m, x: m.split(x, 2, axis=2), [X], grad=True)
check("split sizes", lambda m, x: m.split(x, [1, 3], axis=-1), [X], grad=True)
check("split sizes -1", lambda m, x: m.split(x, [1, -1], axis=1), [X], grad=True)
check("split sizes tensor", lambda m, x: m.split(x, m.constant([2, 2]), axis=2), [X], grad=True)
check("split uneven", lambda m, x: m.split(x, 3, axis=2), [X])
check("split sizes wrong sum", lambda m, x: m.split(x, [1, 2], axis=2), [X])
check("split one piece grad", lambda m, x: m.split(x, [4], axis=2), [X], grad=True)

# -- squeeze / expand_dims -------------------------------------------------------------------
S = f32(1, 3, 1, 2)
check("squeeze all", lambda m, x: m.squeeze(x), [S], grad=True)
check("squeeze axis", lambda m, x: m.squeeze(x, axis=2), [S], grad=True)
check("squeeze neg axis list", lambda m, x: m.squeeze(x, axis=[-2, 0]), [S], grad=True)
check("squeeze axis tuple", lambda m, x: m.squeeze(x, (0, 2)), [S], grad=True)
check("squeeze non-1 axis", lambda m, x: m.squeeze(x, axis=1), [S])
check("squeeze axis out of range", lambda m, x: m.squeeze(x, axis=4), [S])
check("expand_dims 0", lambda m, x: m.expand_dims(x, 0), [M], grad=True)
check("expand_dims -1", lambda m, x: m.expand_dims(x, -1), [M], grad=True)
check("expand_dims -3", lambda m, x: m.expand_dims(x, -3), [M], grad=True)
check("expand_dims out of range", lambda m, x: m.expand_dims(x, 3), [M])
check("expand_dims axis tensor", lambda m, x: m.expand_dims(x, m.constant(1)), [M])

# -- tile / broadcast_to ---------------------------------------------------------------------
check("tile", lambda m, x: m.tile(x, [2, 1, 3]), [X], grad=True)
check("tile tensor multiples", lambda m, x: m.tile(x, m.constant([1, 2])), [M], grad=True)
check("tile int", lambda m: m.tile(m.constant([[1, 2]]), [2, 2]), [])
check("tile wrong length", lambda m, x: m.tile(x, [2]), [M])
check("broadcast_to", lambda m, x: m.broadcast_to(x, [2, 3, 4]), [f32(3, 1)], grad=True)
check("broadcast_to scalar", lambda m: m.broadcast_to(2.0, [2, 2]), [])
check("broadcast_to int64 shape", lambda m: m.broadcast_to(1.0, m.constant([2, 3], m.int64)), [])
check("broadcast_to incompatible", lambda m, x: m.broadcast_to(x, [2, 5]), [M])

# -- pad -------------------------------------------------------------------------------------
P = [[1, 2], [2, 1]]
check("pad constant", lambda m, x: m.pad(x, P), [M], grad=True)
check("pad constant_values", lambda m, x: m.pad(x, P, constant_values=2.5), [M], grad=True)
check("pad int constant_values", lambda m: m.pad(m.constant([[1, 2]]), P, constant_values=7), [])
check("pad REFLECT", lambda m, x: m.pad(x, [[2, 1], [3, 2]], mode="REFLECT"), [M], grad=True)
check("pad SYMMETRIC", lambda m, x: m.pad(x, [[3, 1], [4, 4]], mode="SYMMETRIC"), [M],
      grad=True)
check("pad lowercase mode", lambda m, x: m.pad(x, P, mode="reflect"), [M], grad=True)
check("pad REFLECT too large", lambda m, x: m.pad(x, [[3, 0], [0, 0]], mode="REFLECT"), [M])
check("pad negative", lambda m, x: m.pad(x, [[-1, 0], [0, 0]]), [M])
check("pad wrong rank", lambda m, x: m.pad(x, [[1, 1]]), [M])
check("pad bad mode", lambda m, x: m.pad(x, P, mode="EDGE"), [M])

# -- gather / gather_nd ----------------------------------------------------------------------
check("gather axis 0", lambda m, x: m.gather(x, [2, 0]), [M], grad=True)
check("gather repeated", lambda m, x: m.gather(x, [1, 1, 0, 1]), [M], grad=True)
check("gather axis 1 2-D indices", lambda m, x: m.gather(x, [[0, 3], [3, 3]], axis=1), [X],
      grad=True)
check("gather axis -1", lambda m, x: m.gather(x, [3, 0], axis=-1), [X], grad=True)
check("gather scalar index", lambda m, x: m.gather(x, 1), [M], grad=True)
check("gather int64 indices", lambda m, x: m.gather(x, m.constant([0, 2], m.int64)), [M],
      grad=True)
check("gather python params", lambda m: m.gather([10, 20, 30], [2, 0]), [])
check("gather axis 1 repeated, 3-D", lambda m, x: m.gather(x, [1, 1, 2], axis=1), [X], grad=True)
check("gather negative index", lambda m, x: m.gather(x, [-1]), [M])
check("gather out of range", lambda m, x: m.gather(x, [3]), [M])
check("gather batch_dims=1", lambda m, x: m.gather(x, [[0, 1], [2, 2]], axis=1, batch_dims=1),
      [f32(2, 3)], grad=True)
check("gather_nd", lambda m, x: m.gather_nd(x, [[0, 1], [2, 3]]), [M], grad=True)
check("gather_nd rows", lambda m, x: m.gather_nd(x, [[1], [0]]), [M], grad=True)

# -- boolean_mask ----------------------------------------------------------------------------
check("boolean_mask 1-D", lambda m, x: m.boolean_mask(x, [True, False, True, True, False]), [V],
      grad=True)
check("boolean_mask rows", lambda m, x: m.boolean_mask(x, [True, False, True]), [M], grad=True)
check("boolean_mask 2-D mask", lambda m, x: m.boolean_mask(x, x > 0), [M], grad=True)
check("boolean_mask axis 1", lambda m, x: m.boolean_mask(x, [False, True, True], axis=1), [X],
      grad=True)
check("boolean_mask wrong shape", lambda m, x: m.boolean_mask(x, [True, False]), [M])
check("boolean_mask all false", lambda m, x: m.boolean_mask(x, [False] * 3), [M], grad=True)

# -- __getitem__ -----------------------------------------------------------------------------
check("getitem int", lambda m, x: x[1], [X], grad=True)
check("getitem negative int", lambda m, x: x[-1, -2], [X], grad=True)
check("getitem slice", lambda m, x: x[:, 1:3], [X], grad=True)
check("getitem step", lambda m, x: x[..., ::2], [X], grad=True)
check("getitem negative step", lambda m, x: x[::-1, :, 3:0:-2], [X], grad=True)
check("getitem reverse 1-D", lambda m, x: x[::-1], [V], grad=True)
check("getitem ellipsis middle", lambda m, x: x[0, ..., 1], [X], grad=True)
check("getitem newaxis", lambda m, x: x[:, None, 1], [M], grad=True)
check("getitem tf.newaxis", lambda m, x: x[m.newaxis, ..., m.newaxis], [M], grad=True)
check("getitem tensor index", lambda m, x: x[m.constant(2)], [M], grad=True)
check("getitem tensor slice bounds", lambda m, x: x[m.constant(1):m.constant(3)], [V], grad=True)
check("getitem int64 tensor index", lambda m, x: x[m.constant(1, m.int64), 1:], [M], grad=True)
check("getitem negative start/stop", lambda m, x: x[-3:-1, -1:], [M], grad=True)
check("getitem neg step past start", lambda m, x: x[2:-10:-1], [V], grad=True)
check("getitem out-of-range int", lambda m, x: x[5], [M])
check("getitem out-of-range slice clamps", lambda m, x: x[1:10], [V], grad=True)
check("getitem scalar of 1-D", lambda m, x: x[2], [V], grad=True)
check("getitem too many indices", lambda m, x: x[0, 0, 0], [M])
check("getitem list index", lambda m, x: x[[0, 1]], [M])
check("getitem float index", lambda m, x: x[1.0], [M])
check("getitem step zero", lambda m, x: x[::0], [V])

# -- strided_slice / slice -------------------------------------------------------------------
check("strided_slice plain", lambda m, x: m.strided_slice(x, [0, 1, 0], [2, 3, 4], [1, 1, 2]),
      [X], grad=True)
check("strided_slice begin/end mask",
      lambda m, x: m.strided_slice(x, [1, 1], [0, 0], [1, 1], begin_mask=1, end_mask=2), [M],
      grad=True)
check("strided_slice shrink",
      lambda m, x: m.strided_slice(x, [1, 0], [2, 4], [1, 1], shrink_axis_mask=1), [M], grad=True)
check("strided_slice ellipsis+new_axis",
      lambda m, x: m.strided_slice(x, [0, 0, 1], [0, 0, 3], [1, 1, 1], ellipsis_mask=1,
                                   new_axis_mask=2), [X], grad=True)
check("strided_slice negative stride",
      lambda m, x: m.strided_slice(x, [-1], [0], [-1], end_mask=1), [V], grad=True)
check("slice", lambda m, x: m.slice(x, [1, 0, 1], [1, 2, 3]), [X], grad=True)
check("slice size -1", lambda m, x: m.slice(x, [0, 1, 2], [-1, -1, 2]), [X], grad=True)
check("strided_slice strides None", lambda m, x: m.strided_slice(x, [1], [4]), [V], grad=True)
check("slice out of range", lambda m, x: m.slice(x, [0, 2], [2, 3]), [M])

# -- one_hot ---------------------------------------------------------------------------------
check("one_hot", lambda m: m.one_hot([0, 2, 1], 3), [])
check("one_hot negative/oob index", lambda m: m.one_hot([-1, 3, 1], 3), [])
check("one_hot on/off", lambda m: m.one_hot([0, 2], 4, on_value=5.0, off_value=-1.0), [])
check("one_hot int on/off", lambda m: m.one_hot([0, 2], 3, on_value=5, off_value=0), [])
check("one_hot axis 0", lambda m: m.one_hot([[0, 2], [1, 1]], 3, axis=0), [])
check("one_hot axis 1", lambda m: m.one_hot([[0, 2], [1, 1]], 3, axis=1), [])
check("one_hot dtype int32", lambda m: m.one_hot([1, 0], 2, dtype=m.int32), [])
check("one_hot dtype vs on_value", lambda m: m.one_hot([1, 0], 2, on_value=1, dtype=m.float32),
      [])
check("one_hot int64 indices", lambda m: m.one_hot(m.constant([1, 0], m.int64), 2), [])
check("one_hot depth 0", lambda m: m.one_hot([0, 1], 0), [])
check("one_hot mismatched on/off", lambda m: m.one_hot([1], 2, on_value=1, off_value=0.0), [])

# -- range -----------------------------------------------------------------------------------
check("range(5)", lambda m: m.range(5), [])
check("range(5.0)", lambda m: m.range(5.0), [])
check("range start limit delta", lambda m: m.range(2, 11, 3), [])
check("range negative delta", lambda m: m.range(5, 0, -2), [])
check("range float delta", lambda m: m.range(0, 1, 0.25), [])
check("range dtype", lambda m: m.range(4, dtype=m.float64), [])
check("range int64 dtype", lambda m: m.range(1, 4, dtype=m.int64), [])
check("range empty", lambda m: m.range(3, 3), [])
check("range delta 0", lambda m: m.range(0, 3, 0), [])
check("range wrong direction", lambda m: m.range(5, 0, 1), [])
check("range keywords", lambda m: m.range(1, limit=6, delta=2), [])
check("range negative float delta", lambda m: m.range(1.0, -1.0, -0.5), [])
check("range tensor limit", lambda m: m.range(m.constant(4)), [])

# -- fill / zeros / ones / *_like ------------------------------------------------------------
check("fill", lambda m: m.fill([2, 3], 9), [])
check("fill float", lambda m: m.fill([2], 1.5), [])
check("zeros", lambda m: m.zeros([2, 3]), [])
check("zeros int32", lambda m: m.zeros([2], dtype=m.int32), [])
check("zeros scalar shape", lambda m: m.zeros([]), [])
check("zeros tuple shape", lambda m: m.zeros((2, 1), m.float64), [])
check("zeros dtype string", lambda m: m.zeros([2], "int32"), [])
check("fill dims tensor", lambda m, x: m.fill(m.shape(x), 0.5), [M])
check("zeros int64 shape tensor", lambda m: m.zeros(m.constant([2, 3], m.int64)), [])
check("fill int64 dims", lambda m: m.fill(m.constant([2], m.int64), 3), [])
check("ones bool", lambda m: m.ones([2], m.bool), [])
check("ones shape tensor", lambda m, x: m.ones(m.shape(x)), [M])
check("zeros_like", lambda m, x: m.zeros_like(x), [M])
check("zeros_like dtype", lambda m, x: m.zeros_like(x, dtype=m.int32), [M])
check("ones_like int", lambda m: m.ones_like(m.constant([1, 2])), [])
check("ones_like python list", lambda m: m.ones_like([[1.0, 2.0]]), [])

# -- shape / size / rank ---------------------------------------------------------------------
check("shape", lambda m, x: m.shape(x), [X])
check("shape out_type int64", lambda m, x: m.shape(x, out_type=m.int64), [X])
check("shape of scalar", lambda m: m.shape(m.constant(1.0)), [])
check("size", lambda m, x: m.size(x), [X])
check("size out_type", lambda m, x: m.size(x, out_type=m.int64), [X])
check("rank", lambda m, x: m.rank(x), [X])
check("shape out_type string", lambda m, x: m.shape(x, out_type="int64"), [X])
check("size of scalar", lambda m: m.size(3.0), [])
check("rank of python list", lambda m: m.rank([[1], [2]]), [])
check("shape of python list", lambda m: m.shape([[1, 2, 3]]), [])
same("static shape", "x.shape", str(df.constant(X).shape), str(tf.constant(X).shape))
same("static shape as_list", "as_list", df.constant(X).shape.as_list(),
     tf.constant(X).shape.as_list())

# -- unique / setdiff1d / invert_permutation -------------------------------------------------
check("unique", lambda m: tuple(m.unique([3, 1, 3, 2, 1])), [])
check("unique float", lambda m: tuple(m.unique(m.constant([1.5, 0.5, 1.5]))), [])
check("unique out_idx int64", lambda m: tuple(m.unique([3, 1, 3], out_idx=m.int64)), [])
check("unique 2-D", lambda m: tuple(m.unique([[1, 2]])), [])
check("compat.v1.setdiff1d called eagerly", lambda m: tuple(m.compat.v1.setdiff1d([1, 2, 3], [2])),
      [])
check("setdiff1d", lambda m: tuple(setdiff(m)([1, 2, 3, 2, 4], [2, 4])), [])
check("setdiff1d floats", lambda m: tuple(setdiff(m)(m.constant([1.0, 2.0, 3.0]), [2.0])), [])
check("sets.difference", lambda m: m.sparse.to_dense(
    m.sets.difference([[1, 2, 3]], [[2]])), [])
check("invert_permutation (tf.math name)", lambda m: m.math.invert_permutation([2, 0, 1]), [])
check("invert_permutation", lambda m: inv_perm(m)([2, 0, 3, 1]), [])
check("invert_permutation not a perm", lambda m: inv_perm(m)([0, 0, 1]), [])

# -- dynamic_partition / dynamic_stitch / unsorted_segment_sum -------------------------------
check("dynamic_partition", lambda m, x: m.dynamic_partition(x, [0, 1, 0, 2, 1], 3), [V],
      grad=True)
check("dynamic_partition rows", lambda m, x: m.dynamic_partition(x, [1, 0, 1], 2), [M],
      grad=True)
check("dynamic_partition 2-D ids", lambda m, x: m.dynamic_partition(x, [[0, 1, 1, 0], [1, 1, 0, 0],
                                                                       [0, 0, 0, 1]], 2), [M],
      grad=True)
check("dynamic_partition bad id", lambda m, x: m.dynamic_partition(x, [0, 1, 0, 5, 1], 3), [V])
check("dynamic_stitch", lambda m, a, b: m.dynamic_stitch([[0, 2], [1, 3]], [a, b]),
      [f32(2), f32(2)], grad=True)
check("dynamic_stitch overlap", lambda m, a, b: m.dynamic_stitch([[0, 1], [1, 2]], [a, b]),
      [f32(2, 3), f32(2, 3)], grad=True)
check("unsorted_segment_sum (tf.math name)",
      lambda m, x: m.math.unsorted_segment_sum(x, [0, 2, 0], 3), [M])
check("unsorted_segment_sum", lambda m, x: seg_sum(m)(x, [0, 2, 0], 3), [M], grad=True)
check("unsorted_segment_sum 1-D", lambda m, x: seg_sum(m)(x, [1, 1, 0, 0, 1], 2), [V], grad=True)
check("unsorted_segment_sum 2-D ids",
      lambda m, x: seg_sum(m)(x, [[0, 1, 1, 0], [2, 2, 0, 1]], 3), [f32(2, 4)],
      grad=True)
check("unsorted_segment_sum negative id (TF drops)",
      lambda m, x: seg_sum(m)(x, [0, -1, 1, 1, 0], 2), [V])
check("unsorted_segment_sum id >= num",
      lambda m, x: seg_sum(m)(x, [0, 5, 1, 1, 0], 2), [V])

# -- reverse / identity / stop_gradient ------------------------------------------------------
check("reverse", lambda m, x: m.reverse(x, [0, 2]), [X], grad=True)
check("reverse negative axis", lambda m, x: m.reverse(x, axis=[-1]), [M], grad=True)
check("identity", lambda m, x: m.identity(x) * 2.0, [M], grad=True)
check("identity python", lambda m: m.identity([1, 2]), [])
check("stop_gradient", lambda m, x: m.stop_gradient(x) * x, [M], grad=True)

# -- convert_to_tensor / constant ------------------------------------------------------------
check("convert nested ints", lambda m: m.convert_to_tensor([[1, 2], [3, 4]]), [])
check("convert nested floats", lambda m: m.convert_to_tensor([[1.0, 2.5]]), [])
check("convert mixed int/float", lambda m: m.convert_to_tensor([1, 2.5, 3]), [])
check("convert large int", lambda m: m.convert_to_tensor([1, 2**40]), [])
check("convert too large int", lambda m: m.convert_to_tensor(2**70), [])
check("convert bools", lambda m: m.convert_to_tensor([True, False]), [])
check("convert scalar float", lambda m: m.convert_to_tensor(3.0), [])
check("convert with dtype", lambda m: m.convert_to_tensor([1, 2], dtype=m.float64), [])
check("convert float to int dtype", lambda m: m.convert_to_tensor([1.5], dtype=m.int32), [])
check("convert ragged list", lambda m: m.convert_to_tensor([[1, 2], [3]]), [])
check("convert np float64", lambda m: m.convert_to_tensor(np.array([1.0, 2.0])), [])
check("convert np int64", lambda m: m.convert_to_tensor(np.array([1, 2])), [])
check("convert tensor dtype mismatch",
      lambda m: m.convert_to_tensor(m.constant([1, 2]), dtype=m.float32), [])
check("convert empty list", lambda m: m.convert_to_tensor([]), [])
check("constant dtype", lambda m: m.constant([1, 2], dtype=m.float32), [])
check("constant scalar to shape", lambda m: m.constant(7, shape=[2, 3]), [])
check("constant list to shape", lambda m: m.constant([1, 2, 3, 4], shape=[2, 2]), [])
check("constant wrong shape", lambda m: m.constant([1, 2, 3], shape=[2, 2]), [])
check("constant bool list", lambda m: m.constant([True, False, True]), [])
check("constant int to bool dtype", lambda m: m.constant([1, 0], dtype=m.bool), [])
check("constant float64 from python", lambda m: m.constant(1.5, m.float64), [])
check("constant string", lambda m: m.constant("abc"), [])

# -- names a course student would plausibly call ---------------------------------------------
_NAMES = {
    "": ["reverse", "gather_nd", "scatter_nd", "tensor_scatter_nd_update",
         "tensor_scatter_nd_add", "repeat", "roll", "meshgrid", "linspace", "eye", "newaxis",
         "sort", "argsort", "searchsorted", "unravel_index", "ensure_shape", "shape_n",
         "sequence_mask", "reverse_sequence", "einsum", "tensordot", "norm",
         "unique_with_counts", "identity_n", "cumsum", "reduce_any", "reduce_all", "round",
         "squared_difference", "tanh", "sigmoid", "floor", "ceil", "zeros_initializer",
         "ones_initializer", "constant_initializer", "random_normal_initializer", "nest",
         "is_tensor", "range", "split", "clip_by_value", "broadcast_static_shape",
         "broadcast_dynamic_shape", "size", "rank", "sets", "sparse", "math", "linalg",
         "strings", "image", "keras", "dtypes", "string", "bool", "float32", "int64", "complex64",
         "uint16", "uint32", "bfloat16", "map_fn", "while_loop", "cond", "case", "switch_case",
         "print", "assert_equal", "debugging", "TensorArray", "RaggedTensor", "SparseTensor",
         "IndexedSlices", "Module", "init_scope", "py_function", "numpy_function",
         "guarantee_const", "timestamp", "vectorized_map", "searchsorted", "where",
         "boolean_mask", "one_hot", "unstack", "stack", "concat", "transpose"],
    "math": ["cumsum", "cumprod", "top_k", "segment_sum", "segment_mean", "segment_max",
             "unsorted_segment_sum", "unsorted_segment_mean", "unsorted_segment_max",
             "unsorted_segment_min", "unsorted_segment_prod", "bincount", "reduce_any",
             "reduce_all", "count_nonzero", "reduce_std", "reduce_variance",
             "reduce_euclidean_norm", "in_top_k", "is_nan", "is_finite", "is_inf", "floor",
             "ceil", "round", "tanh", "sigmoid", "softplus", "confusion_matrix",
             "invert_permutation", "squared_difference", "divide_no_nan", "log_sigmoid",
             "argmax", "argmin", "l2_normalize", "erf", "expm1", "atan2", "real", "imag",
             "logical_xor", "floordiv", "truediv", "scalar_mul", "polyval", "accumulate_n",
             "xlogy", "reduce_mean", "top_k", "sqrt"],
    "strings": ["length", "split", "join", "format", "as_string", "to_number", "lower",
                "upper", "regex_replace", "substr", "reduce_join", "strip", "bytes_split"],
}


def _missing(ns):
    mod_df, mod_tf = df, tf
    for part in filter(None, ns.split(".")):
        mod_tf = getattr(mod_tf, part, None)
        mod_df = getattr(mod_df, part, None)
    if mod_tf is None:
        return []
    if mod_df is None:
        return ["<whole namespace>"]
    return sorted({n for n in _NAMES[ns] if hasattr(mod_tf, n) and not hasattr(mod_df, n)})


for _ns in _NAMES:
    same("API names tf.%s" % (_ns or "<top>"), "names TF has, distflow lacks",
         _missing(_ns), [])
