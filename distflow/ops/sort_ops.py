"""Sorting: top_k (the TopKV2 op and its scatter gradient), sort and argsort built on it as TF
builds them, and in_top_k (InTopKV2).

TF has `sort` and `argsort` at the top level and `top_k`, `in_top_k` only under `tf.math` and
`tf.nn`, so only the first two are in `__all__`; distflow/math.py and distflow/nn export the others.

Ties follow TF: top_k (and so a descending sort) puts the lower index first; an ascending sort
sorts the negated values descending, so there too equal values keep their order.
"""
import collections

import numpy as np

from distflow.framework import dtypes
from distflow.framework.errors import run_error
from distflow.framework.tensor_shape import TensorShape
from distflow.ops.array_ops import (as_int32, as_tensor, concat, known_int, op_scope, rank,
                                    reshape, shape, stack, transpose)
from distflow.ops.dispatch import apply, convert_to_tensor, dtype_of
from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def
from distflow.ops.shapes import shape_tensor, static_shape


__all__ = [
    "sort",
    "argsort",
]



# -- TopKV2 ---------------------------------------------------------------------------------
def _top_k_infer(x, k, sorted=True, index_type=dtypes.int32):
    kk, dims = known_int(k), x.shape.as_tuple()
    if dims is not None and len(dims) < 1:
        raise ValueError("Shape must be at least rank 1 but is rank 0 for 'TopKV2' with input "
                         "shapes: [], [].")
    if kk is not None and kk < 0:
        raise ValueError("Dimension size, given by scalar input 1, must be non-negative but is "
                         "%d for 'TopKV2'" % kk)
    if dims is None:
        return [(TensorShape(None), x.dtype), (TensorShape(None), index_type)]
    if kk is not None and dims[-1] is not None and dims[-1] < kk:
        raise ValueError("input must have last dimension >= k = %d but is %d for 'TopKV2'"
                         % (kk, dims[-1]))
    out = TensorShape(dims[:-1] + (kk,))
    return [(out, x.dtype), (out, index_type)]


def descending_order(xp, x):
    """The indices that sort the last axis of `x` from largest to smallest, equal values in
    index order: a stable ascending sort of the reversed row, read backwards."""
    n = x.shape[-1]
    kind = "stable" if xp is np else None  # CuPy's sorts are always stable
    ascending = xp.argsort(x[..., ::-1], axis=-1, kind=kind)
    return (n - 1 - ascending)[..., ::-1]


def _top_k_forward(xp, x, k, sorted=True, index_type=dtypes.int32):
    k = int(k)
    if x.ndim < 1:
        raise run_error("input must be >= 1-D, got shape %s" % list(x.shape))
    if k < 0:
        raise run_error("Need k >= 0, got %d" % k)
    if x.shape[-1] < k:
        raise run_error("input must have at least k columns. Had %d, needed %d"
                         % (x.shape[-1], k))
    indices = descending_order(xp, x)[..., :k]
    values = xp.take_along_axis(x, indices, axis=-1)
    return values, indices.astype(index_type.as_numpy_dtype)


def _top_k_grad(op, dy, _):
    # Each input element picked by an index gets that output's dy; the rest get zeros. As TF:
    # the indices made flat (row r's offset is r * n), and the dy scattered to them.
    from distflow.ops.math_ops import cast
    from distflow.ops.slicing_ops import range as range_op, unsorted_segment_sum
    x, indices = op.inputs[0], cast(op.outputs[1], dtypes.int32)
    xs = static_shape(x)
    if xs is not None:
        n, total = xs[-1], int(np.prod(xs))
        rows = (np.arange(int(np.prod(xs[:-1])), dtype=np.int32) * n).reshape(xs[:-1] + (1,))
    else:
        full = shape(x)
        n = full[-1]
        total = _reduce_prod(full)
        rows = reshape(range_op(0, total, n), concat([full[:-1], [1]], 0))
    flat = reshape(indices + rows, [-1])
    dx = unsorted_segment_sum(reshape(dy, [-1]), flat, total)
    return reshape(dx, shape_tensor(x)), None


def _reduce_prod(t):
    from distflow.ops.reduction_ops import reduce_prod
    return reduce_prod(t)


TopKV2 = op_def("TopKV2", infer=_top_k_infer, forward=_top_k_forward, grad=_top_k_grad)

TopKResult = collections.namedtuple("TopKV2", ["values", "indices"])


def top_k(input, k=1, sorted=True, index_type=dtypes.int32, name=None):
    """The `k` largest entries of each last-axis row of `input`, largest first, and their
    indices (int32 unless `index_type`); equal values come in index order. Returns the pair
    (values, indices)."""
    index_type = dtypes.as_dtype(index_type)
    outs = apply(TopKV2, [input, as_int32(k)],
                 {"sorted": bool(sorted), "index_type": index_type}, name=name)
    return TopKResult(*outs)


# -- sort, argsort: composites of TopKV2, as TF's ---------------------------------------------
def _descending(values, axis, return_argsort):
    dims = values.shape.as_tuple()
    r = None if dims is None else len(dims)
    if r is not None and -r <= axis < r and dims[axis] is not None:
        k = dims[axis]
    else:  # the shape's slice raises TF's errors for an axis out of range
        k = shape(values)[axis]
    if axis == -1 or (r is not None and axis + 1 == r):
        perm = None
    elif r is not None:  # swap `axis` and the last axis, sort, and swap back
        a = axis % r
        perm = np.r_[np.arange(a), [r - 1], np.arange(a + 1, r - 1), [a]].astype(np.int32)
        values = transpose(values, perm)
    else:  # the same swap, built at run time
        from distflow.ops.indexing_ops import tensor_scatter_nd_update
        from distflow.ops.slicing_ops import range as range_op
        last = rank(values) - 1
        a = axis if axis >= 0 else last + 1 + axis
        perm = tensor_scatter_nd_update(range_op(last + 1), reshape(stack([a, last]), [2, 1]),
                                        stack([last, a]))
        values = transpose(values, perm)
    out = top_k(values, k)[1 if return_argsort else 0]
    return out if perm is None else transpose(out, perm)


def _ascending(values, axis, return_argsort):
    dtype = values.dtype
    if dtype.is_unsigned:  # dtype.max - values reverses the order without overflow
        out = _descending(dtype.max - values, axis, return_argsort)
        return out if return_argsort else dtype.max - out
    if dtype.is_integer:  # -values - 1 reverses the order and keeps dtype.min in range
        out = _descending(-values - 1, axis, return_argsort)
        return out if return_argsort else -out - 1
    out = _descending(-values, axis, return_argsort)
    return out if return_argsort else -out


_SORT_IMPL = {"ASCENDING": _ascending, "DESCENDING": _descending}


def _sort_or_argsort(values, axis, direction, return_argsort):
    if direction not in _SORT_IMPL:
        raise ValueError("Argument `direction` should be one of %s. Received: direction=%s"
                         % (", ".join(sorted(_SORT_IMPL)), direction))
    axis_t = as_int32(axis)
    a = known_int(axis_t) if axis_t.shape.rank == 0 else None
    if a is None:
        raise ValueError("Argument `axis` must be a constant scalar. Received: axis=%s." % (axis,))
    return _SORT_IMPL[direction](as_tensor(values), a, return_argsort)


def sort(values, axis=-1, direction="ASCENDING", name=None):
    """`values` sorted along `axis` (default the last), 'ASCENDING' or 'DESCENDING'."""
    with op_scope(name or "sort", [values]):
        return _sort_or_argsort(values, axis, direction, return_argsort=False)


def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None):
    """The int32 indices that sort `values` along `axis`; equal values keep their order (the
    sort is always stable, as TF's is)."""
    del stable  # TF's sort is always stable too
    with op_scope(name or "argsort", [values]):
        return _sort_or_argsort(values, axis, direction, return_argsort=True)


# -- InTopKV2 -------------------------------------------------------------------------------
def _in_top_k_infer(predictions, targets, k):
    pd, td = predictions.shape.as_tuple(), targets.shape.as_tuple()
    if pd is not None and len(pd) != 2:
        raise ValueError("Shape must be rank 2 but is rank %d for 'InTopKV2'" % len(pd))
    if td is not None and len(td) != 1:
        raise ValueError("Shape must be rank 1 but is rank %d for 'InTopKV2'" % len(td))
    batch = TensorShape([None if pd is None else pd[0]]).merge_with(TensorShape(
        [None]) if td is None else TensorShape(td))
    return [(batch, dtypes.bool_)]


def _in_top_k_forward(xp, predictions, targets, k):
    if predictions.ndim != 2:
        raise run_error("predictions must be 2-dimensional")
    if targets.ndim != 1:
        raise run_error("targets must be 1-dimensional")
    if predictions.shape[0] != targets.shape[0]:
        raise run_error("First dimension of predictions %d must match length of targets %d"
                         % (predictions.shape[0], targets.shape[0]))
    n = predictions.shape[1]
    valid = (targets >= 0) & (targets < n)  # as TF: a target out of range is never in the top k
    target = xp.take_along_axis(predictions, xp.where(valid, targets, 0)[:, None], axis=1)
    better = (predictions > target).sum(axis=1)  # ties count in: TF's rule, unlike top_k's
    return valid & xp.isfinite(predictions).all(axis=1) & (better < int(k))


InTopKV2 = op_def("InTopKV2", infer=_in_top_k_infer, forward=_in_top_k_forward,
                  grad=NOT_DIFFERENTIABLE)


def in_top_k(targets, predictions, k, name=None):
    """For each row of the float32 `predictions`, whether the class `targets[i]` is among the
    `k` largest: fewer than k classes predicted strictly higher, all of the row finite."""
    with op_scope(name or "in_top_k", [targets, predictions]):
        predictions = convert_to_tensor(predictions, dtypes.float32)
        targets = as_int32(targets)
        k = convert_to_tensor(k, targets.dtype) if dtype_of(k) is None else k
        return apply(InTopKV2, [predictions, targets, k])

