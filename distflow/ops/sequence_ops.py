"""Ops along one axis and sequences: reverse and roll (each its own gradient, run backwards),
repeat and sequence_mask (composites, as TF builds them), and linspace.
"""
import numpy as np

from distflow.framework import dtypes
from distflow.framework.errors import run_error
from distflow.framework.tensor_shape import TensorShape
from distflow.ops import dispatch
from distflow.ops.array_ops import (as_int32, as_tensor, check_axis, concat, expand_dims,
                                    known_ints, op_scope, reshape, shape, tile, zeros_like)
from distflow.ops.dispatch import apply, convert_to_tensor
from distflow.ops.registry import op_def
from distflow.ops.shapes import static_shape, unbroadcast
from distflow.ops.slicing_ops import gather, range as range_op


__all__ = [
    "reverse",
    "roll",
    "repeat",
    "linspace",
    "sequence_mask",
]



# -- ReverseV2, Roll ------------------------------------------------------------------------
def _reverse_axes(axis, rank, error):
    axes = []
    for i, a in enumerate(axis):
        if not -rank <= a < rank:
            raise error("'axis'[%d] = %d is out of valid range [0, %d" % (i, a, rank - 1))
        if a % rank in axes:
            raise error("axis %d specified more than once." % (a % rank))
        axes.append(a % rank)
    return tuple(axes)


def _reverse_infer(x, axis):
    a, r = known_ints(axis), x.shape.rank
    if axis.shape.rank not in (None, 1):
        raise ValueError("Shape must be rank 1 but is rank %d for 'ReverseV2'" % axis.shape.rank)
    if a is not None and r is not None:
        _reverse_axes(a, r, ValueError)
    return [(x.shape, x.dtype)]


def _reverse_forward(xp, x, axis):
    if axis.ndim != 1:
        raise run_error("'dims' must be 1-dimension, not %d" % axis.ndim)
    axes = _reverse_axes(axis.tolist(), x.ndim, run_error)
    return xp.flip(x, axis=axes) if axes else x


ReverseV2 = op_def("ReverseV2", infer=_reverse_infer, forward=_reverse_forward, aliases=True,
                   grad=lambda op, dy: (apply(ReverseV2, [dy, op.inputs[1]]), None))


def reverse(tensor, axis, name=None):
    """`tensor` with the order of its elements reversed along each dimension in `axis`."""
    return apply(ReverseV2, [tensor, as_int32(axis)], name=name)


def _roll_infer(x, shift, axis):
    if x.shape.rank == 0:
        raise ValueError("Shape must be at least rank 1 but is rank 0 for 'Roll'")
    if None not in (shift.shape.rank, axis.shape.rank) and shift.shape.rank != axis.shape.rank:
        raise ValueError("Shapes must be equal rank, but are %d and %d for 'Roll'"
                         % (shift.shape.rank, axis.shape.rank))
    return [(x.shape, x.dtype)]


def _roll_forward(xp, x, shift, axis):
    if x.ndim < 1:
        raise run_error("input must be 1-D or higher")
    if shift.shape != axis.shape:
        raise run_error("shift and axis must have the same size")
    shifts, axes = shift.reshape(-1).tolist(), axis.reshape(-1).tolist()
    for a in axes:
        if not -x.ndim <= a < x.ndim:
            raise run_error("axis %d is out of range" % a)
    return xp.roll(x, tuple(shifts), tuple(axes)) if axes else x.copy()  # repeats: shifts add


def _roll_grad(op, dy):
    from distflow.ops.math_ops import negative
    return apply(Roll, [dy, negative(op.inputs[1]), op.inputs[2]]), None, None


Roll = op_def("Roll", infer=_roll_infer, forward=_roll_forward, grad=_roll_grad)


def roll(input, shift, axis, name=None):
    """`input` with its elements shifted by `shift` along `axis` (both ints or lists), those
    falling off one end coming back at the other."""
    return apply(Roll, [input, as_int32(shift), as_int32(axis)], name=name)


# -- LinSpace -------------------------------------------------------------------------------
def _linspace_dtype(dtype):
    # start's dtype when it is a float; else that of TF's true division of ints
    if dtype.is_floating:
        return dtype
    return dtypes.float32 if dtype.size <= 2 else dtypes.float64


def _linspace_infer(start, stop, num, axis=0):
    from distflow.ops.shapes import broadcast_shapes
    dims = broadcast_shapes(start.shape, stop.shape, "LinSpace").as_tuple()
    dtype = _linspace_dtype(start.dtype)
    if dims is None:
        return [(TensorShape(None), dtype)]
    n = known_ints(num)
    a = check_axis(axis, len(dims) + 1)
    return [(TensorShape(dims[:a] + (None if n is None else n[0],) + dims[a:]), dtype)]


def _linspace_forward(xp, start, stop, num, axis=0):
    """TF's values exactly: start, start + i * (stop - start) / (num - 1) for 0 < i < num - 1,
    and stop itself."""
    n = int(num)
    if n < 0:
        raise run_error("Requires start <= limit when delta > 0: 1/-1")
    dtype = _linspace_dtype(dtypes.as_dtype(start.dtype)).as_numpy_dtype
    start, stop = xp.broadcast_arrays(start, stop)
    if not -start.ndim - 1 <= axis <= start.ndim:
        raise run_error("Tried to expand dim index %d for tensor with %d dimensions."
                         % (axis, start.ndim))
    a = axis % (start.ndim + 1)
    steps = max(n - 1, 1)
    first, last = xp.expand_dims(start, a), xp.expand_dims(stop, a)
    delta = (last - first).astype(dtype) / dtype(steps)
    i = xp.arange(1, steps, dtype=dtype).reshape((-1,) + (1,) * (start.ndim - a))
    ends = [first.astype(dtype), first.astype(dtype) + delta * i, last.astype(dtype)]
    return xp.concatenate(ends, axis=a)[(slice(None),) * a + (slice(0, n),)]


def _linspace_grad(op, dy):
    # Linear in start and stop: output i is start * (1 - w_i) + stop * w_i, w = linspace(0, 1).
    from distflow.ops.math_ops import reduce_sum
    start, stop, num = op.inputs
    if not start.dtype.is_floating:
        return None, None, None
    w = apply(LinSpace, [zeros_like(start + stop), zeros_like(start + stop) + 1, num], op.attrs)
    axis = op.attrs["axis"]
    d_stop = reduce_sum(dy * w, axis=axis)
    return unbroadcast(reduce_sum(dy, axis=axis) - d_stop, start), unbroadcast(d_stop, stop), None


LinSpace = op_def("LinSpace", infer=_linspace_infer, forward=_linspace_forward,
                  grad=_linspace_grad)


def linspace(start, stop, num, name=None, axis=0):
    """`num` evenly spaced values from `start` to `stop` (both included) along a new `axis`;
    start and stop broadcast. float32 for float32 start; float64 for int32 or int64 start."""
    start = as_tensor(start)
    stop = convert_to_tensor(stop, start.dtype)
    nd = dispatch.dtype_of(num)
    if (nd is not None and not nd.is_integer) or isinstance(num, float):
        raise TypeError("Argument `tensor` (name: num) must be of type integer. Received "
                        "`tensor` = %s" % (num,))
    return apply(LinSpace, [start, stop, as_int32(num)], {"axis": int(axis)}, name=name)


# -- repeat, sequence_mask: composites as TF's --------------------------------------------------
def repeat(input, repeats, axis=None, name=None):
    """Each element (axis None: of the flattened input) or each slice along `axis` repeated
    `repeats` times (an int, or one count per slice)."""
    with op_scope(name or "Repeat", [input, repeats]):
        data, repeats = as_tensor(input), as_int32(repeats)
        if axis is None:
            data, axis = reshape(data, [-1]), 0
        elif data.shape.rank == 0:
            data = reshape(data, [1])
        r = data.shape.rank
        if r is not None and not -r <= axis < r:
            raise ValueError("axis=%d out of bounds: expected %d<=axis<%d" % (axis, -r, r))
        axis = axis % r if r is not None else axis
        if repeats.shape.rank not in (None, 0, 1):
            raise ValueError("Shape must be at most rank 1 but is rank %d" % repeats.shape.rank)
        dims, counts = static_shape(data), known_ints(repeats)
        n = None if dims is None else dims[axis]
        if repeats.shape.rank == 1 and n is not None and repeats.shape[0] not in (None, 1, n):
            raise ValueError("Dimensions %d and %d are not compatible" % (n, repeats.shape[0]))
        if n is not None and counts is not None:  # the positions, known now: one gather
            counts = np.maximum(np.broadcast_to(counts, [n]), 0)
            return gather(data, np.repeat(np.arange(n, dtype=np.int32), counts), axis=axis)
        # positions at run time: 0..n-1 tiled max(repeats) times, masked by each count
        from distflow.ops.comparison_ops import maximum
        from distflow.ops.math_ops import broadcast_to
        from distflow.ops.reduction_ops import reduce_max
        from distflow.ops.set_ops import boolean_mask
        n = shape(data)[axis] if n is None else n
        counts = broadcast_to(repeats, reshape(n, [1]))
        most = maximum(reduce_max(counts), 0)
        grid = tile(expand_dims(range_op(n), 1), concat([[1], reshape(most, [1])], 0))
        return gather(data, boolean_mask(grid, sequence_mask(counts, most)), axis=axis)


def sequence_mask(lengths, maxlen=None, dtype=dtypes.bool_, name=None):
    """mask[i..., j] = j < lengths[i...], for j < maxlen (default: the largest length)."""
    from distflow.ops.comparison_ops import less, maximum
    from distflow.ops.math_ops import cast
    from distflow.ops.reduction_ops import reduce_max
    with op_scope(name or "SequenceMask", [lengths]):
        lengths = as_tensor(lengths)
        if maxlen is None:
            maxlen = maximum(reduce_max(lengths), convert_to_tensor(0, lengths.dtype))
        else:
            maxlen = as_tensor(maxlen)
        if maxlen.shape.rank not in (None, 0):
            raise ValueError("Argument `maxlen` must be scalar for sequence_mask, received "
                             "`maxlen` = %s with shape '%s' instead" % (maxlen, maxlen.shape))
        row = range_op(0, maxlen, 1, dtype=maxlen.dtype)
        result = less(row, cast(expand_dims(lengths, -1), maxlen.dtype))
        dtype = dtypes.as_dtype(dtype)
        return result if dtype == dtypes.bool_ else cast(result, dtype)
