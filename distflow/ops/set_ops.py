"""Data-dependent ops: how big their outputs are depends on the input values, not only on the
input shapes, so their static shapes have an unknown dimension (printed `?`, as in `(?,)`).

setdiff1d (ListDiff) and unique return (values, indices) pairs; boolean_mask keeps the elements
where a mask is true; dynamic_partition splits data into groups by a partition number per element,
and dynamic_stitch merges such groups back by index.
"""
import collections

from distflow.framework import dtypes
from distflow.framework.errors import run_error
from distflow.framework.graph import Tensor
from distflow.framework.tensor_shape import TensorShape
from distflow.ops import array_ops
from distflow.ops.array_ops import (as_tensor, check_axis, concat, convert_all, op_scope,
                                    output_list, reshape, same_dtype, squeeze)
from distflow.ops.comparison_ops import equal, where
from distflow.ops.dispatch import apply
from distflow.ops.math_ops import cast
from distflow.ops.registry import NO_GRADIENT, op_def
from distflow.ops.shapes import shape_tensor, static_shape
from distflow.ops.slicing_ops import check_indices, gather
from distflow.ops.slicing_ops import range as range_op


__all__ = [
    "setdiff1d",
    "unique",
    "boolean_mask",
    "dynamic_partition",
    "dynamic_stitch",
]



def _check_rank1(opname, *tensors):
    for t in tensors:
        if t.shape.rank not in (None, 1):
            raise ValueError("Shape must be rank 1 but is rank %d for '%s' with input shapes: %s."
                             % (t.shape.rank, opname, ", ".join(str(u.shape) for u in tensors)))


# -- ListDiff (setdiff1d) ---------------------------------------------------------------------
def _list_diff_infer(x, y, out_idx=dtypes.int32):
    _check_rank1("ListDiff", x, y)
    same_dtype("ListDiff", [x, y])
    return [(TensorShape([None]), x.dtype), (TensorShape([None]), out_idx)]


def _list_diff_forward(xp, x, y, out_idx=dtypes.int32):
    if x.ndim != 1 or y.ndim != 1:
        raise run_error("x and y should be 1D vectors, got shapes %s and %s"
                         % (list(x.shape), list(y.shape)))
    idx = xp.flatnonzero(~xp.isin(x, y))
    return x[idx], idx.astype(out_idx.as_numpy_dtype)


# TF defines no gradient for ListDiff: `out` is a selection whose size jumps with the values.
ListDiff = op_def("ListDiff", infer=_list_diff_infer, forward=_list_diff_forward, grad=NO_GRADIENT)
SetDiffResult = collections.namedtuple("ListDiff", ["out", "idx"])


def setdiff1d(x, y, index_dtype=dtypes.int32, name=None):
    """The values of the 1-D `x` that are not in `y`, in x's order and with x's duplicates, and
    where they are in x (out[i] = x[idx[i]]). Returns the pair (out, idx)."""
    x, y = convert_all([x, y])
    outs = apply(ListDiff, [x, y], {"out_idx": dtypes.as_dtype(index_dtype)}, name=name)
    return SetDiffResult(*outs)


# -- Unique ---------------------------------------------------------------------------------
def _unique_infer(x, out_idx=dtypes.int32):
    _check_rank1("Unique", x)
    return [(TensorShape([None]), x.dtype), (x.shape, out_idx)]


def _unique_forward(xp, x, out_idx=dtypes.int32):
    if x.ndim != 1:
        raise run_error("unique expects a 1D vector, got shape %s" % list(x.shape))
    values, first, inverse = xp.unique(x, return_index=True, return_inverse=True)
    order = xp.argsort(first)  # sorted values -> first-occurrence order, the order TF lists them
    position = xp.empty_like(order)
    position[order] = xp.arange(order.size)
    return values[order], position[inverse.reshape(-1)].astype(out_idx.as_numpy_dtype)


Unique = op_def("Unique", infer=_unique_infer, forward=_unique_forward, grad=NO_GRADIENT)
UniqueResult = collections.namedtuple("Unique", ["y", "idx"])


def unique(x, out_idx=dtypes.int32, name=None):
    """The distinct values of the 1-D `x` in the order they first occur, and for each element of
    x the position of its value in y (x[i] = y[idx[i]]). Returns the pair (y, idx)."""
    outs = apply(Unique, [x], {"out_idx": dtypes.as_dtype(out_idx)}, name=name)
    return UniqueResult(*outs)


# -- boolean_mask: a composite of Reshape, Where and GatherV2 ----------------------------------
def boolean_mask(tensor, mask, name="boolean_mask", axis=None):
    """The slices of `tensor` where the k-D boolean `mask` is true; the mask covers dimensions
    axis..axis+k-1 of tensor, which the result folds into one of unknown size."""
    tensor, mask = as_tensor(tensor), as_tensor(mask)
    k, dims = mask.shape.rank, tensor.shape.as_tuple()
    if k is None:
        raise ValueError("Number of mask dimensions must be specified, even if some dimensions "
                         "are None.  E.g. shape=[None] is ok, but shape=None is not.")
    if k == 0:
        raise ValueError("mask cannot be scalar.")
    axis = 0 if axis is None else axis if dims is None else check_axis(int(axis), len(dims))
    if dims is not None and not TensorShape(dims[axis:axis + k]).is_compatible_with(mask.shape):
        raise ValueError("Shapes %s and %s are incompatible"
                         % (TensorShape(dims[axis:axis + k]), mask.shape))
    with op_scope(name, [tensor, mask]):
        static = static_shape(tensor)
        if static is not None:
            folded_shape = list(static[:axis]) + [-1] + list(static[axis + k:])
        else:
            full = array_ops.shape(tensor)
            folded_shape = concat([full[:axis], [-1], full[axis + k:]], 0)
        folded = reshape(tensor, folded_shape)
        positions = squeeze(where(reshape(mask, [-1])), axis=[1])
        out = gather(folded, positions, axis=axis)
    if isinstance(out, Tensor) and dims is not None:
        out.set_shape(dims[:axis] + (None,) + dims[axis + k:])
    return out


# -- DynamicPartition ------------------------------------------------------------------------
def _dynamic_partition_infer(data, partitions, num_partitions):
    pr, dims = partitions.shape.rank, data.shape.as_tuple()
    if pr is None or dims is None:
        return [(TensorShape(None), data.dtype)] * num_partitions
    if not TensorShape(dims[:pr]).is_compatible_with(partitions.shape):
        raise ValueError("data.shape must start with partitions.shape, got data.shape = %s, "
                         "partitions.shape = %s" % (data.shape, partitions.shape))
    return [(TensorShape((None,) + dims[pr:]), data.dtype)] * num_partitions


def _dynamic_partition_forward(xp, data, partitions, num_partitions):
    if data.shape[:partitions.ndim] != partitions.shape:
        raise run_error("data.shape must start with partitions.shape, got data.shape = %s, "
                         "partitions.shape = %s" % (list(data.shape), list(partitions.shape)))
    check_indices(xp, partitions.reshape(-1), num_partitions,
                  "partitions[%d] = %d is not in [0, %d)")
    # A boolean index over the leading dims of data keeps those elements, in order.
    return tuple(data[partitions == i] for i in range(num_partitions))


def _dynamic_partition_grad(op, *dys):
    # Partition the positions 0..n-1 the same way, then stitch each gradient back to them.
    data, partitions = op.inputs
    n = op.attrs["num_partitions"]
    positions = reshape(range_op(array_ops.size(partitions)), shape_tensor(partitions))
    groups = dynamic_partition(positions, partitions, n)
    return reshape(dynamic_stitch(groups, list(dys)), shape_tensor(data)), None


DynamicPartition = op_def("DynamicPartition", infer=_dynamic_partition_infer,
                          forward=_dynamic_partition_forward, grad=_dynamic_partition_grad)


def dynamic_partition(data, partitions, num_partitions, name=None):
    """`num_partitions` tensors: output i holds the elements of `data` whose entry of
    `partitions` (shaped like data's leading dimensions) is i, in their order in data."""
    data, partitions = as_tensor(data), as_tensor(partitions)
    return output_list(apply(DynamicPartition, [data, partitions],
                             {"num_partitions": int(num_partitions)}, name=name))


# -- DynamicStitch ---------------------------------------------------------------------------
def _dynamic_stitch_infer(*inputs, N):
    indices, data = inputs[:N], inputs[N:]
    dtype = same_dtype("DynamicStitch", data)
    ir, dims = indices[0].shape.rank, data[0].shape.as_tuple()
    if ir is None or dims is None:
        return [(TensorShape(None), dtype)]
    values = [array_ops.known_ints(i) for i in indices]
    rows = None if None in values else 1 + max((max(v) for v in values if v), default=-1)
    return [(TensorShape((rows,) + dims[ir:]), dtype)]


def _dynamic_stitch_forward(xp, *arrays, N):
    indices, data = arrays[:N], arrays[N:]
    rest = data[0].shape[indices[0].ndim:]
    for i, (idx, d) in enumerate(zip(indices, data)):
        if d.shape != idx.shape + rest:
            raise run_error("data[%d].shape = %s does not start with indices[%d].shape = %s"
                             % (i, list(d.shape), i, list(idx.shape)))
    rows = 1 + max((int(idx.max()) for idx in indices if idx.size), default=-1)
    out = xp.zeros((rows,) + rest, dtype=data[0].dtype)
    for idx, d in zip(indices, data):  # later writes win, as TF specifies
        out[idx.reshape(-1)] = d.reshape((-1,) + rest)
    return out


def _dynamic_stitch_grad(op, dy):
    # Each value gets the gradient of the row it was written to, unless a later value with the
    # same index overwrote it. Stitching every value's serial number the same way tells which
    # value won each row.
    n = op.attrs["N"]
    indices = op.inputs[:n]
    serials, offset = [], 0
    for idx in indices:
        size = array_ops.size(idx)
        serials.append(reshape(range_op(offset, offset + size), shape_tensor(idx)))
        offset = offset + size
    winners = dynamic_stitch(list(indices), serials)
    trailing = [1] * (dy.shape.rank - 1)
    grads = []
    for idx, serial in zip(indices, serials):
        won = cast(equal(gather(winners, idx), serial), dy.dtype)
        if trailing:  # one mask value per row, broadcast over the row's elements
            won = reshape(won, concat([shape_tensor(idx), trailing], 0))
        grads.append(gather(dy, idx) * won)
    return [None] * n + grads


DynamicStitch = op_def("DynamicStitch", infer=_dynamic_stitch_infer,
                       forward=_dynamic_stitch_forward, grad=_dynamic_stitch_grad)


def dynamic_stitch(indices, data, name=None):
    """One tensor with merged[indices[m][i...]] = data[m][i...]; where indices repeat, the
    later value wins. Merges what dynamic_partition split."""
    indices = [as_tensor(i) for i in indices]
    data = convert_all(list(data))
    if len(indices) != len(data):
        raise ValueError("dynamic_stitch needs as many index tensors (%d) as data tensors (%d)"
                         % (len(indices), len(data)))
    return apply(DynamicStitch, indices + data, {"N": len(indices)}, name=name)
