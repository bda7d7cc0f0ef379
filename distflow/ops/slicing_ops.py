"""Indexing: slices and `t[...]`, pad (the inverse of slice), gather and its scatter-add gradient,
and the ops that make indices (range, one_hot).

Like TF, this module defines `slice` and `range`, so the builtins are `builtins.slice` and
`builtins.range` here.
"""
import builtins

import numpy as np

from distflow.framework import dtypes
from distflow.framework.eager import EagerTensor
from distflow.framework.errors import InvalidArgumentError, run_error
from distflow.framework.graph import Tensor
from distflow.framework.tensor_shape import TensorShape, unknown_shape
from distflow.ops import dispatch
from distflow.ops.array_ops import (as_int32, as_tensor, check_axis, convert_all, known_int,
                                    known_ints, op_scope, reshape, shape, stack, transpose)
from distflow.ops.constant_op import constant_value
from distflow.ops.dispatch import apply, convert_to_tensor
from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def
from distflow.ops.shapes import shape_tensor, static_shape


__all__ = [
    "slice",
    "strided_slice",
    "pad",
    "gather",
    "unsorted_segment_sum",
    "one_hot",
    "range",
]



def _reduce_sum(x):
    from distflow.ops.math_ops import reduce_sum
    return reduce_sum(x)


# -- Slice ----------------------------------------------------------------------------------
def _slice_key(begin, size, dims, error):
    if not len(begin) == len(size) == len(dims):
        raise error("Expected begin and size arguments to be 1-D tensors of size %d, but got "
                    "shapes [%d] and [%d] instead." % (len(dims), len(begin), len(size)))
    key = []
    for i, (b, s, d) in enumerate(zip(begin, size, dims)):
        if not 0 <= b <= d:
            raise error("Expected begin[%d] in [0, %d], but got %d" % (i, d, b))
        s = d - b if s == -1 else s
        if not 0 <= s <= d - b:
            raise error("Expected size[%d] in [0, %d], but got %d" % (i, d - b, s))
        key.append(builtins.slice(b, b + s))
    return tuple(key)


def _slice_infer(x, begin, size):
    b, s, dims = known_ints(begin), known_ints(size), x.shape.as_tuple()
    if b is not None and s is not None and x.shape.is_fully_defined():
        key = _slice_key(b, s, dims, ValueError)
        return [(TensorShape([k.stop - k.start for k in key]), x.dtype)]
    n = len(s) if s is not None else len(dims) if dims is not None else begin.shape[0]
    if s is None:
        return [(unknown_shape(n), x.dtype)]
    out = []
    for i, si in enumerate(s):
        if si != -1:
            out.append(si)
        else:
            known = b is not None and dims is not None and dims[i] is not None
            out.append(dims[i] - b[i] if known else None)
    return [(TensorShape(out), x.dtype)]


def _slice_grad(op, dy):
    # The slice sits inside zeros: pad dy with `begin` before and the rest after.
    x, begin, _ = op.inputs
    xs, b, ds = static_shape(x), known_ints(begin), static_shape(dy)
    if xs is not None and b is not None and ds is not None:
        paddings = np.array([[bi, d - bi - s] for bi, d, s in zip(b, xs, ds)], np.int32)
    else:
        paddings = stack([begin, shape(x) - begin - shape(dy)], axis=1)
    return pad(dy, paddings), None, None


Slice = op_def("Slice", host_inputs=(1, 2), infer=_slice_infer, aliases=True, grad=_slice_grad,
               forward=lambda xp, x, begin, size: x[_slice_key(
                   begin.tolist(), size.tolist(), x.shape, run_error)])


def slice(input_, begin, size, name=None):
    """The block of `input_` starting at `begin` with extent `size` (-1: all the rest)."""
    return apply(Slice, [input_, as_int32(begin), as_int32(size)], name=name)


# -- StridedSlice: the op behind t[...] ------------------------------------------------------
_MASKS = ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")


class _Unknown:
    """A begin/end/stride value not known while building the graph."""

    def __repr__(self):
        return "?"


UNKNOWN = _Unknown()


def _index_key(begin, end, strides, begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0,
               shrink_axis_mask=0):
    """The NumPy index that means the same as a strided-slice spec: bit i of each mask turns
    entry i into `...`, a new axis (None), a single index, or a slice open at either end."""
    key = []
    for i, (b, e, s) in enumerate(zip(begin, end, strides)):
        bit = 1 << i
        if ellipsis_mask & bit:
            key.append(Ellipsis)
        elif new_axis_mask & bit:
            key.append(None)
        elif shrink_axis_mask & bit:
            key.append(b)
        else:
            key.append(builtins.slice(None if begin_mask & bit else b,
                                      None if end_mask & bit else e, s))
    return tuple(key)


def _sliced_dims(key, dims, error):
    """The dims of x[key] for x of `dims` (None: unknown); key values may be UNKNOWN. Raises
    `error` with TF's messages for specs that cannot apply to `dims`."""
    if sum(k is Ellipsis for k in key) > 1:
        raise error("Multiple ellipses in slice spec not allowed")
    consumed = sum(k is not None and k is not Ellipsis for k in key)
    if consumed > len(dims):
        raise error("Index out of range using input dim %d; input has only %d dims"
                    % (consumed - 1, len(dims)))
    out, d = [], 0
    for k in key:
        if k is Ellipsis:
            span = len(dims) - consumed
            out.extend(dims[d:d + span])
            d += span
        elif k is None:
            out.append(1)
        elif isinstance(k, builtins.slice):
            size, d = dims[d], d + 1
            if k.step == 0:
                raise error("strides[%d] must be non-zero" % (d - 1))
            if size is None or UNKNOWN in (k.start, k.stop, k.step):
                out.append(None)
            else:
                out.append(len(builtins.range(*k.indices(size))))
        else:
            size, d = dims[d], d + 1
            if k is not UNKNOWN and size is not None and not -size <= k < size:
                raise error("slice index %d of dimension %d out of bounds." % (k, d - 1))
    return out + list(dims[d:])


def _partial_ints(t):
    """Each value of a 1-D int tensor, UNKNOWN where not known while building (a tensor index
    packed beside constants); None when even its length is unknown."""
    v = known_ints(t)
    if v is not None:
        return v
    if isinstance(t, Tensor) and t.op.type == "Pack":
        return [UNKNOWN if known_int(i) is None else known_int(i) for i in t.op.inputs]
    n = t.shape.as_tuple()
    return None if not n or n[0] is None else [UNKNOWN] * n[0]


def _strided_slice_infer(x, begin, end, strides, **masks):
    spec, dims = [_partial_ints(t) for t in (begin, end, strides)], x.shape.as_tuple()
    if dims is None or None in spec:
        return [(TensorShape(None), x.dtype)]
    return [(TensorShape(_sliced_dims(_index_key(*spec, **masks), dims, ValueError)), x.dtype)]


def _strided_slice_forward(xp, x, begin, end, strides, **masks):
    key = _index_key(begin.tolist(), end.tolist(), strides.tolist(), **masks)
    _sliced_dims(key, x.shape, run_error)
    return xp.asarray(x[key])  # asarray: NumPy gives a scalar, not a 0-d array, for x[i] of 1-D


def _strided_slice_grad(op, dy):
    x, begin, end, strides = op.inputs
    masks = {m: op.attrs[m] for m in _MASKS}
    return (apply(StridedSliceGrad, [shape_tensor(x), begin, end, strides, dy], masks),
            None, None, None)


StridedSlice = op_def("StridedSlice", host_inputs=(1, 2, 3),
                      infer=_strided_slice_infer, aliases=True,
                      forward=_strided_slice_forward, grad=_strided_slice_grad)


def _strided_slice_grad_infer(shape_t, begin, end, strides, dy, **masks):
    dims = known_ints(shape_t)
    if dims is None:
        n = shape_t.shape.as_tuple()
        return [(unknown_shape(n[0] if n else None), dy.dtype)]
    return [(TensorShape(dims), dy.dtype)]


def _strided_slice_grad_forward(xp, shape_a, begin, end, strides, dy, **masks):
    out = xp.zeros(tuple(shape_a.tolist()), dtype=dy.dtype)
    out[_index_key(begin.tolist(), end.tolist(), strides.tolist(), **masks)] = dy
    return out


def _strided_slice_grad_grad(op, ddx):
    # StridedSliceGrad is linear in dy and its transpose is the slice itself.
    begin, end, strides = op.inputs[1:4]
    masks = {m: op.attrs[m] for m in _MASKS}
    return None, None, None, None, apply(StridedSlice, [ddx, begin, end, strides], masks)


StridedSliceGrad = op_def("StridedSliceGrad", host_inputs=(0, 1, 2, 3),
                          infer=_strided_slice_grad_infer,
                          forward=_strided_slice_grad_forward, grad=_strided_slice_grad_grad)


def strided_slice(input_, begin, end, strides=None, begin_mask=0, end_mask=0, ellipsis_mask=0,
                  new_axis_mask=0, shrink_axis_mask=0, var=None, name=None):
    """input_[begin:end:strides] per dimension; bit i of each mask changes entry i as in TF
    (begin/end ignored, `...`, new axis, single index). `t[...]` is the friendly way to call it."""
    begin = as_int32(begin)
    strides = np.ones(begin.shape.as_list(), np.int32) if strides is None else strides
    masks = dict(zip(_MASKS, (begin_mask, end_mask, ellipsis_mask, new_axis_mask,
                              shrink_axis_mask)))
    return apply(StridedSlice, [input_, begin, as_int32(end), as_int32(strides)],
                 {m: int(v) for m, v in masks.items()}, name=name)


_INDEX_ERROR = ("Only integers, slices (`:`), ellipsis (`...`), tf.newaxis (`None`) and scalar "
                "tf.int32/tf.int64 tensors are valid indices, got %r")


def _check_index(k):
    if isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)):
        return int(k)
    if isinstance(k, (Tensor, EagerTensor)) and k.dtype in (dtypes.int32, dtypes.int64) \
            and k.shape.rank in (0, None):
        return k
    raise TypeError(_INDEX_ERROR % (k,))


def _pack(values, name):
    if all(isinstance(v, int) for v in values):
        return convert_to_tensor(np.array(values, np.int32).reshape(-1), name=name)
    from distflow.ops.math_ops import cast
    return stack([cast(v, dtypes.int32) if dispatch.dtype_of(v) else v for v in values],
                 name=name)


def slice_helper(tensor, key):
    """`tensor[key]` as one StridedSlice named `strided_slice`, as TF builds it. Keys: ints and
    scalar int tensors (drop that dimension), slices with any step, `...`, and None (new axis)."""
    key = key if isinstance(key, tuple) else (key,)
    begin, end, strides, masks = [], [], [], dict.fromkeys(_MASKS, 0)
    for i, k in enumerate(key):
        bit = 1 << i
        if isinstance(k, builtins.slice):
            start, stop, step = (None if v is None else _check_index(v)
                                 for v in (k.start, k.stop, k.step))
            if start is None:
                masks["begin_mask"] |= bit
            if stop is None:
                masks["end_mask"] |= bit
            begin.append(0 if start is None else start)
            end.append(0 if stop is None else stop)
            strides.append(1 if step is None else step)
            continue
        if k is Ellipsis:
            masks["ellipsis_mask"] |= bit
        elif k is None:
            masks["new_axis_mask"] |= bit
        else:  # a single index: a slice of length one, then that dimension dropped
            k = _check_index(k)
            masks["shrink_axis_mask"] |= bit
            begin.append(k)
            end.append(k + 1)
            strides.append(1)
            continue
        begin.append(0)
        end.append(0)
        strides.append(1)
    with op_scope("strided_slice", [tensor] + [v for v in begin + end + strides
                                               if not isinstance(v, int)]) as scope:
        spec = [_pack(values, "stack") for values in (begin, end, strides)]
        return apply(StridedSlice, [tensor] + spec, masks, name=scope)
# -- Pad, PadV2, MirrorPad ------------------------------------------------------------------
def _pad_pairs(dims, paddings, mode, error):
    """[(before, after), ...] checked against `dims` (None: unknown) as TF checks them."""
    pairs = list(zip(paddings[0::2], paddings[1::2]))
    if len(pairs) != len(dims):
        raise error("The first dimension of paddings must be the rank of inputs[%d,2], got %d "
                    "pairs" % (len(dims), len(pairs)))
    limit_offset = {"REFLECT": 0, "SYMMETRIC": 1}.get(mode)
    for d, (lo, hi) in zip(dims, pairs):
        if lo < 0 or hi < 0:
            raise error("Paddings must be non-negative: %d %d" % (lo, hi))
        # Mirroring reads the input: REFLECT needs pads < dim, SYMMETRIC pads <= dim.
        if limit_offset is not None and d is not None and max(lo, hi) >= d + limit_offset:
            raise error("paddings must be no greater than the dimension size: %d, %d greater "
                        "than %d" % (lo, hi, d - 1 + limit_offset))
    return pairs


def _pad_infer(x, paddings, *constant_values, mode=None):
    p, dims = known_ints(paddings), x.shape.as_tuple()
    if p is None:
        n = paddings.shape.as_tuple()
        return [(unknown_shape(len(dims) if dims is not None else n[0] if n else None), x.dtype)]
    dims = (None,) * (len(p) // 2) if dims is None else dims
    pairs = _pad_pairs(dims, p, mode, ValueError)
    return [(TensorShape([None if d is None else d + lo + hi for d, (lo, hi) in zip(dims, pairs)]),
             x.dtype)]


def _pad_forward(xp, x, paddings, constant_values=0):
    pairs = _pad_pairs(x.shape, paddings.reshape(-1).tolist(), None, run_error)
    out = xp.empty(tuple(d + lo + hi for d, (lo, hi) in zip(x.shape, pairs)), dtype=x.dtype)
    out[...] = constant_values
    out[tuple(builtins.slice(lo, lo + d) for d, (lo, _) in zip(x.shape, pairs))] = x
    return out


def _pad_grad(op, dy):
    # The input sits inside the padded output: slice it out (from `before`, x's shape long).
    x, paddings = op.inputs[:2]
    p = known_ints(paddings)
    begin = p[0::2] if p is not None else reshape(slice(paddings, [0, 0], [-1, 1]), [-1])
    dx = slice(dy, begin, shape_tensor(x))
    if op.type == "PadV2":  # every padded position holds constant_values
        return dx, None, _reduce_sum(dy) - _reduce_sum(dx)
    return dx, None


Pad = op_def("Pad", host_inputs=(1,), infer=_pad_infer, forward=_pad_forward, grad=_pad_grad)
PadV2 = op_def("PadV2", host_inputs=(1,), infer=_pad_infer, forward=_pad_forward, grad=_pad_grad)


def _mirror_pad_forward(xp, x, paddings, mode):
    pairs = _pad_pairs(x.shape, paddings.reshape(-1).tolist(), mode, run_error)
    return xp.pad(x, pairs, mode=mode.lower())


def _mirror_pad_grad_forward(xp, dy, paddings, mode):
    """Folds each mirrored border of dy back onto the input positions it copied."""
    offset = 1 if mode == "REFLECT" else 0  # REFLECT skips the edge element, SYMMETRIC repeats it
    pairs = paddings.reshape(-1, 2).tolist()
    for axis, (lo, hi) in enumerate(pairs):
        g = xp.moveaxis(dy, axis, 0)
        n = g.shape[0] - lo - hi
        core = g[lo:lo + n].copy()
        core[offset:offset + lo] += g[:lo][::-1]
        core[n - offset - hi:n - offset] += g[lo + n:][::-1]
        dy = xp.moveaxis(core, 0, axis)
    return dy


def _mirror_pad_grad_infer(dy, paddings, mode):
    p, dims = known_ints(paddings), dy.shape.as_tuple()
    if p is None or dims is None:
        return [(unknown_shape(None if dims is None else len(dims)), dy.dtype)]
    pairs = list(zip(p[0::2], p[1::2]))
    return [(TensorShape([None if d is None else d - lo - hi for d, (lo, hi) in zip(dims, pairs)]),
             dy.dtype)]


MirrorPad = op_def("MirrorPad", host_inputs=(1,), infer=_pad_infer, forward=_mirror_pad_forward,
                   grad=lambda op, dy: (apply(MirrorPadGrad, [dy, op.inputs[1]], op.attrs), None))
MirrorPadGrad = op_def("MirrorPadGrad", host_inputs=(1,), infer=_mirror_pad_grad_infer,
                       forward=_mirror_pad_grad_forward,
                       grad=lambda op, ddx: (apply(MirrorPad, [ddx, op.inputs[1]], op.attrs), None))


def pad(tensor, paddings, mode="CONSTANT", name=None, constant_values=0):
    """`tensor` with paddings[i] = [before, after] elements added around dimension i: copies of
    `constant_values` (mode CONSTANT), or mirror images of the borders (REFLECT without the edge
    element, SYMMETRIC with it)."""
    mode = mode.upper()
    paddings = as_int32(paddings)
    if mode in ("REFLECT", "SYMMETRIC"):
        return apply(MirrorPad, [tensor, paddings], {"mode": mode}, name=name)
    if mode != "CONSTANT":
        raise ValueError("Unknown padding mode: %s" % mode)
    if dispatch.dtype_of(constant_values) is None and np.all(np.asarray(constant_values) == 0):
        return apply(Pad, [tensor, paddings], name=name)
    tensor, constant_values = convert_all([tensor, constant_values])
    return apply(PadV2, [tensor, paddings, constant_values], name=name)


# -- GatherV2 and UnsortedSegmentSum: a gather and the scatter-add that is its gradient -------
def _gather_infer(params, indices, axis, batch_dims=0):
    a, pd, idims = known_int(axis), params.shape.as_tuple(), indices.shape.as_tuple()
    if pd is None or idims is None or a is None:
        return [(TensorShape(None), params.dtype)]
    a = check_axis(a, len(pd))
    return [(TensorShape(pd[:a] + idims + pd[a + 1:]), params.dtype)]


def check_indices(xp, ids, n, message):
    # TF's CPU kernels reject out-of-range indices; checking on a GPU would wait for it (a sync),
    # so there, as in TF's GPU kernels, the check is skipped.
    if xp is np and ids.size:
        bad = np.flatnonzero((ids < 0) | (ids >= n))
        if bad.size:
            i = bad[0]
            raise run_error(message % (i, ids.reshape(-1)[i], n))


def _gather_forward(xp, params, indices, axis, batch_dims=0):
    a = int(axis) % params.ndim
    check_indices(xp, indices.reshape(-1), params.shape[a], "indices[%d] = %d is not in [0, %d)")
    return xp.asarray(xp.take(params, indices, axis=a))


def _gather_grad(op, dy):
    # Each params row gathered k times gets the sum of its k rows of dy: a segment sum by index.
    params, indices, axis = op.inputs
    pr, ir = params.shape.rank, indices.shape.rank
    if pr is None or ir is None:
        raise ValueError("The gradient of gather needs the ranks of params and indices")
    a = check_axis(known_int(axis), pr)
    ps = static_shape(params)
    n = ps[a] if ps is not None else shape(params)[a]
    if a == 0:
        return unsorted_segment_sum(dy, indices, n), None, None
    r = builtins.range
    moved = transpose(dy, list(r(a, a + ir)) + list(r(a)) + list(r(a + ir, pr + ir - 1)))
    summed = unsorted_segment_sum(moved, indices, n)  # params' axis a now comes first
    return transpose(summed, list(r(1, a + 1)) + [0] + list(r(a + 1, pr))), None, None


GatherV2 = op_def("GatherV2", infer=_gather_infer, forward=_gather_forward, grad=_gather_grad)


def gather(params, indices, validate_indices=None, name=None, axis=None, batch_dims=0):
    """Slices of `params` along `axis` (default 0) at `indices`: output shape
    params.shape[:axis] + indices.shape + params.shape[axis+1:]."""
    if batch_dims != 0:
        raise NotImplementedError("gather with batch_dims != 0 is not supported")
    axis = 0 if axis is None else axis
    if known_int(as_int32(axis)) is None:
        raise TypeError("gather takes the axis as a Python int or a constant")
    return apply(GatherV2, [params, indices, as_int32(axis)], {"batch_dims": 0}, name=name)


def _segment_sum_infer(data, segment_ids, num_segments):
    n, dims, ir = known_int(num_segments), data.shape.as_tuple(), segment_ids.shape.rank
    if dims is None or ir is None:
        return [(TensorShape(None), data.dtype)]
    if not TensorShape(dims[:ir]).is_compatible_with(segment_ids.shape):
        raise ValueError("segment_ids.shape = %s does not match prefix of data.shape = %s"
                         % (segment_ids.shape, data.shape))
    return [(TensorShape((n,) + dims[ir:]), data.dtype)]


def _segment_sum_forward(xp, data, segment_ids, num_segments):
    n, ir = int(num_segments), segment_ids.ndim
    if data.shape[:ir] != segment_ids.shape:
        raise run_error("segment_ids.shape = %s does not match prefix of data.shape = %s"
                         % (list(segment_ids.shape), list(data.shape)))
    ids = segment_ids.reshape(-1)
    # TF drops negative ids; here they are an error, so the gradient (a gather) stays exact.
    check_indices(xp, ids, n, "segment_ids[%d] = %d is out of range [0, %d)")
    out = xp.zeros((n,) + data.shape[ir:], dtype=data.dtype)
    xp.add.at(out, ids, data.reshape((-1,) + data.shape[ir:]))  # repeated ids add up (CuPy >= 12)
    return out


UnsortedSegmentSum = op_def("UnsortedSegmentSum", infer=_segment_sum_infer,
                            forward=_segment_sum_forward,
                            grad=lambda op, dy: (gather(dy, op.inputs[1]), None, None))


def unsorted_segment_sum(data, segment_ids, num_segments, name=None):
    """output[j] = sum of data[i...] over the i with segment_ids[i...] == j, for j < num_segments;
    segment_ids' shape is a prefix of data's."""
    return apply(UnsortedSegmentSum, [data, segment_ids, as_int32(num_segments)], name=name)


# -- OneHot ---------------------------------------------------------------------------------
def _one_hot_infer(indices, depth, on_value, off_value, axis=-1):
    if on_value.dtype != off_value.dtype:
        raise TypeError("on_value and off_value must have the same dtype, got %s and %s"
                        % (on_value.dtype.name, off_value.dtype.name))
    d, dims = known_int(depth), indices.shape.as_tuple()
    if dims is None:
        return [(TensorShape(None), on_value.dtype)]
    if not -1 <= axis <= len(dims):
        raise ValueError("Expected axis to be -1 or between [0, %d).  But received: %d"
                         % (len(dims) + 1, axis))
    a = len(dims) if axis == -1 else axis
    return [(TensorShape(dims[:a] + (d,) + dims[a:]), on_value.dtype)]


def _one_hot_forward(xp, indices, depth, on_value, off_value, axis=-1):
    d = int(depth)
    if d < 0:
        raise InvalidArgumentError(None, None, "depth must be non-negative, got: %d" % d)
    hot = indices[..., None] == xp.arange(d, dtype=indices.dtype)  # out-of-range: all off
    out = xp.where(hot, on_value, off_value)
    return out if axis == -1 else xp.moveaxis(out, -1, axis)


def _one_hot_grad(op, dy):
    # out = on * hot + off * (1 - hot): linear in on_value and off_value.
    from distflow.ops.math_ops import reduce_sum
    indices, depth = op.inputs[:2]
    hot = one_hot(indices, depth, 1, 0, axis=op.attrs["axis"], dtype=dy.dtype)
    d_on = reduce_sum(dy * hot)
    return None, None, d_on, reduce_sum(dy) - d_on


OneHot = op_def("OneHot", infer=_one_hot_infer, forward=_one_hot_forward, grad=_one_hot_grad)


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """A tensor with `on_value` where the last (or `axis`) index equals `indices`, else
    `off_value`. The dtype is `dtype`, else that of on/off_value, else float32."""
    if dtype is None:
        given = [v for v in (on_value, off_value) if v is not None]
        dtype = as_tensor(given[0]).dtype if given else dtypes.float32
    dtype = dtypes.as_dtype(dtype)
    indices = as_tensor(indices)
    with op_scope(name or "one_hot", [indices]) as scope:
        on = convert_to_tensor(1 if on_value is None else on_value, dtype, name="on_value")
        off = convert_to_tensor(0 if off_value is None else off_value, dtype, name="off_value")
        return apply(OneHot, [indices, as_int32(depth), on, off],
                     {"axis": -1 if axis is None else int(axis)}, name=scope)


# -- Range ----------------------------------------------------------------------------------
def _range_size(start, limit, delta, error):
    if delta == 0:
        raise error("Requires delta != 0: %s" % delta)
    if delta > 0 and start > limit:
        raise error("Requires start <= limit when delta > 0: %s/%s" % (start, limit))
    if delta < 0 and start < limit:
        raise error("Requires start >= limit when delta < 0: %s/%s" % (start, limit))
    return int(np.ceil(np.abs((limit - start) / delta)))


def _range_infer(start, limit, delta):
    values = [constant_value(t) for t in (start, limit, delta)]
    if any(v is None for v in values):
        return [(TensorShape([None]), start.dtype)]
    return [(TensorShape([_range_size(*values, ValueError)]), start.dtype)]


def _range_forward(xp, start, limit, delta):
    error = lambda msg: InvalidArgumentError(None, None, msg)  # noqa: E731
    n = _range_size(start, limit, delta, error)  # 0-d arrays: the size computed in their dtype
    return start + xp.arange(n, dtype=start.dtype) * delta


Range = op_def("Range", infer=_range_infer, forward=_range_forward, grad=NOT_DIFFERENTIABLE)

_RANGE_DTYPES = [dtypes.int32, dtypes.int64, dtypes.float32, dtypes.float64]


def range(start, limit=None, delta=1, dtype=None, name="range"):
    """[start, start + delta, ...) up to `limit` (exclusive); range(n) counts 0..n-1. Without
    `dtype`, the widest of the arguments' dtypes: int32 for Python ints, float32 for floats."""
    if limit is None:
        start, limit = 0, start
    args = [start, limit, delta]
    if dtype is None:
        kinds = [dispatch.dtype_of(v) or dtypes.as_dtype(dispatch.to_array(v).dtype) for v in args]
        dtype = max(kinds, key=_RANGE_DTYPES.index)
    dtype = dtypes.as_dtype(dtype)
    with op_scope(name, [v for v in args if dispatch.dtype_of(v) is not None]) as scope:
        tensors = []
        for v, arg_name in zip(args, ("start", "limit", "delta")):
            if dispatch.dtype_of(v) is None:
                v = convert_to_tensor(v, dtype, name=arg_name)
            elif v.dtype != dtype:
                from distflow.ops.math_ops import cast
                v = cast(v, dtype)
            tensors.append(v)
        return apply(Range, tensors, name=scope)
