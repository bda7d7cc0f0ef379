"""N-d indexing: gather_nd and scatter_nd (each the other's gradient), the tensor_scatter_nd
updates, and `newaxis` (None, for `t[:, newaxis]`).

An index tensor of shape I + [m] names m-d positions of an m-or-higher-rank tensor: position
indices[i] is element (or slice) tensor[indices[i][0], ..., indices[i][m-1]]. Out-of-range
positions raise InvalidArgumentError on the CPU, as TF's CPU kernels do (not checked on a GPU,
where a check would wait for the device).
"""
import numpy as np

from distflow.framework.errors import run_error
from distflow.framework.tensor_shape import TensorShape, unknown_shape
from distflow.ops import dispatch
from distflow.ops.array_ops import (as_int32, as_tensor, concat, fill, known_ints, op_scope, rank,
                                    reshape, shape, zeros_like)
from distflow.ops.dispatch import apply, convert_to_tensor
from distflow.ops.registry import op_def
from distflow.ops.shapes import shape_tensor, static_shape
from distflow.ops.slicing_ops import _segment_sum_forward, range as range_op


__all__ = [
    "gather_nd",
    "scatter_nd",
    "tensor_scatter_nd_update",
    "tensor_scatter_nd_add",
    "newaxis",
]

newaxis = None



def _dims_str(dims):
    return "[%s]" % ",".join(str(d) for d in dims)


# -- positions: indices[..., m] into the leading m dims of a shape ----------------------------
def _flat_positions(xp, indices, dims, message):
    """Row-major positions (int64, one per index row) of `indices`' rows in dims[:m], each row
    checked against dims as TF's CPU kernels check it."""
    m = indices.shape[-1]
    rows = indices.reshape((int(np.prod(indices.shape[:-1])), m))
    if xp is np and rows.size:
        bad = np.flatnonzero(((rows < 0) | (rows >= np.array(dims[:m]))).any(axis=1))
        if bad.size:
            at = np.unravel_index(bad[0], indices.shape[:-1])
            raise run_error(message % (",".join(map(str, at)),
                                        ", ".join(map(str, rows[bad[0]].tolist())),
                                        _dims_str(dims)))
    strides = [int(np.prod(dims[j + 1:m])) for j in range(m)]
    return (rows.astype(np.int64) * xp.asarray(strides, dtype=np.int64)).sum(axis=1)


_UPDATES_ERRORS = {  # (TensorScatter* op?, outer dims wrong?) -> TF's message
    (False, True): "Dimensions [0,{o}) of indices[shape={i}] must match dimensions [0,{o}) of "
                   "updates[shape={u}]",
    (False, False): "Dimensions [{m},{r}) of input[shape={d}] must match dimensions [{o},{ur}) "
                    "of updates[shape={u}]",
    (True, True): "Outer dimensions of indices and update must match. Indices shape: {i}, "
                  "updates shape:{u}",
    (True, False): "The inner {n} dimensions of output.shape={d} must match the inner {n} "
                   "dimensions of updates.shape={u}",
}


def _scattered_rows(indices, updates, dims, tensor_op):
    """updates as one row per index row, checked to be of shape indices.shape[:-1] + dims[m:]."""
    m, outer = indices.shape[-1], indices.ndim - 1
    if updates.shape != indices.shape[:-1] + tuple(dims[m:]):
        message = _UPDATES_ERRORS[tensor_op, updates.shape[:outer] != indices.shape[:-1]]
        raise run_error(message.format(
            o=outer, m=m, r=len(dims), n=len(dims) - m, ur=updates.ndim, d=_dims_str(dims),
            i=_dims_str(indices.shape), u=_dims_str(updates.shape)))
    return updates.reshape((int(np.prod(indices.shape[:-1])),) + tuple(dims[m:]))


def _check_index_rank(indices, params_rank, error):
    if indices.ndim < 1:
        raise error("indices must be at least a vector")
    if indices.shape[-1] > params_rank:
        raise error("index innermost dimension length must be <= params rank; saw: %d vs. %d"
                    % (indices.shape[-1], params_rank))


def _static_updates_check(indices, updates, dims):
    ids, ud = indices.shape.as_tuple(), updates.shape.as_tuple()
    if not ids or ud is None or dims is None or ids[-1] is None or ids[-1] > len(dims):
        return
    want = TensorShape(ids[:-1] + tuple(dims[ids[-1]:]))
    if not want.is_compatible_with(TensorShape(ud)):
        raise ValueError("Shape of updates %s must be indices.shape[:-1] + shape[%d:] = %s"
                         % (TensorShape(ud), ids[-1], want))


# -- GatherNd, ScatterNd ----------------------------------------------------------------------
def _gather_nd_infer(params, indices):
    pd, ids = params.shape.as_tuple(), indices.shape.as_tuple()
    if ids is not None and len(ids) < 1:
        raise ValueError("Shape must be at least rank 1 but is rank 0 for 'GatherNd'")
    if pd is None or ids is None or ids[-1] is None:
        return [(TensorShape(None), params.dtype)]
    if ids[-1] > len(pd):
        raise ValueError("indices.shape[-1] must be <= params.rank, but saw indices shape: %s and "
                         "params shape: %s" % (_dims_str(ids), _dims_str(pd)))
    return [(TensorShape(ids[:-1] + pd[ids[-1]:]), params.dtype)]


def _gather_nd_forward(xp, params, indices):
    _check_index_rank(indices, params.ndim, run_error)
    m = indices.shape[-1]
    flat = _flat_positions(xp, indices, params.shape,
                           "indices[%s] = [%s] does not index into param shape %s, "
                           "node name: GatherNd")
    rows = params.reshape((int(np.prod(params.shape[:m])),) + params.shape[m:])
    return xp.take(rows, flat, axis=0).reshape(indices.shape[:-1] + params.shape[m:])


GatherNd = op_def("GatherNd", infer=_gather_nd_infer, forward=_gather_nd_forward,
                  grad=lambda op, dy: (scatter_nd(op.inputs[1], dy, shape_tensor(op.inputs[0])),
                                       None))


def _scatter_nd_infer(indices, updates, shape_t):
    dims = known_ints(shape_t)
    if dims is None:
        n = shape_t.shape.as_tuple()
        return [(unknown_shape(n[0] if n else None), updates.dtype)]
    _static_updates_check(indices, updates, dims)
    return [(TensorShape(dims), updates.dtype)]


def _scatter_nd_forward(xp, indices, updates, shape_a):
    dims = tuple(int(d) for d in shape_a.tolist())
    for d in dims:
        if d < 0:
            raise run_error("Dimension %d must be >= 0" % d)
    _check_index_rank(indices, len(dims), run_error)
    if indices.size and not np.prod(dims):
        raise run_error("Indices and updates specified for empty output.  indices shape: %s"
                         % _dims_str(indices.shape))
    if indices.shape[-1] == 0 and updates.size:  # TF's kernel refuses positions of length 0
        raise run_error("Indices and updates specified for empty output shape")
    rows = _scattered_rows(indices, updates, dims, tensor_op=False)
    flat = _flat_positions(xp, indices, dims, "indices[%s] = [%s] does not index into shape %s")
    m = indices.shape[-1]
    # Repeated positions add up: the scatter-add of unsorted_segment_sum, by flat position.
    return _segment_sum_forward(xp, rows, flat, int(np.prod(dims[:m]))).reshape(dims)


ScatterNd = op_def("ScatterNd", infer=_scatter_nd_infer, forward=_scatter_nd_forward,
                   grad=lambda op, dy: (None, gather_nd(dy, op.inputs[0]), None))


def gather_nd(params, indices, batch_dims=0, name=None):
    """The elements (or slices) of `params` at the m-d positions in `indices` (shape I + [m]):
    output shape I + params.shape[m:]. With batch_dims b, the first b dims of params and
    indices are batch dims, each batch indexed on its own."""
    params, indices = as_tensor(params), as_tensor(indices)
    batch_dims = int(batch_dims)
    if batch_dims == 0:
        return apply(GatherNd, [params, indices], name=name)
    return _batch_gather_nd(params, indices, batch_dims, name)


def _batch_gather_nd(params, indices, b, name):
    # The batch dims folded into one, whose index leads each position: one plain GatherNd.
    from distflow.ops.math_ops import broadcast_to, cast
    from distflow.ops.reduction_ops import reduce_prod
    pr, ir = params.shape.rank, indices.shape.rank
    if b < 0 or (ir is not None and b >= ir) or (pr is not None and b >= pr):
        raise ValueError("batch_dims = %d must be less than the ranks of params (%s) and "
                         "indices (%s)" % (b, pr, ir))
    with op_scope(name or "BatchGatherND", [params, indices]):
        ps, ids = static_shape(params), static_shape(indices)
        if ps is not None and ids is not None:
            n = int(np.prod(ps[:b]))
            pshape, ishape, n1 = ps, ids, [n]
            lead = np.arange(n).reshape((n,) + (1,) * (len(ids) - b))
            lead_shape, out_shape = (n,) + ids[b:-1] + (1,), ids[:-1] + ps[b + ids[-1]:]
        else:
            pshape, ishape = shape(params), shape(indices)
            n = reduce_prod(pshape[:b])
            n1 = reshape(n, [1])
            ones = fill(reshape(rank(indices) - b, [1]), 1)
            lead = reshape(range_op(n), concat([n1, ones], 0))
            lead_shape = concat([n1, ishape[b:-1], [1]], 0)
            out_shape = concat([ishape[:-1], pshape[b + ishape[-1]:]], 0)
        folded = reshape(params, concat([n1, pshape[b:]], 0))
        idx = reshape(indices, concat([n1, ishape[b:]], 0))
        positions = concat([broadcast_to(cast(lead, indices.dtype), lead_shape), idx], -1)
        return reshape(apply(GatherNd, [folded, positions]), out_shape)


def scatter_nd(indices, updates, shape, name=None):
    """Zeros of `shape` with updates[i] added at position indices[i] (repeats add up)."""
    updates = as_tensor(updates)
    return apply(ScatterNd, [as_tensor(indices), updates, as_int32(shape)], name=name)


# -- TensorScatterUpdate, TensorScatterAdd ----------------------------------------------------
def _tensor_scatter_infer(tensor, indices, updates):
    if tensor.dtype != updates.dtype:
        raise TypeError("Input 'updates' of '%s' Op has type %s that does not match type %s of "
                        "argument 'tensor'." % ("TensorScatter", updates.dtype.name,
                                                tensor.dtype.name))
    _static_updates_check(indices, updates, tensor.shape.as_tuple())
    return [(tensor.shape, tensor.dtype)]


def _tensor_scatter(add):
    def forward(xp, tensor, indices, updates):
        dims = tensor.shape
        _check_index_rank(indices, len(dims), run_error)
        rows = _scattered_rows(indices, updates, dims, tensor_op=True)
        flat = _flat_positions(xp, indices, dims,
                               "indices[%s] = [%s] does not index into shape %s")
        m = indices.shape[-1]
        n = int(np.prod(dims[:m]))
        out = tensor.reshape((n,) + dims[m:]).copy()
        if add:
            out += _segment_sum_forward(xp, rows, flat, n)
        else:
            out[flat] = rows  # repeated positions: one of them wins, as in TF
        return out.reshape(dims)
    return forward


def _tensor_scatter_update_grad(op, dy):
    indices, updates = op.inputs[1], op.inputs[2]
    return (tensor_scatter_nd_update(dy, indices, zeros_like(updates)), None,
            gather_nd(dy, indices))


TensorScatterUpdate = op_def("TensorScatterUpdate", infer=_tensor_scatter_infer,
                             forward=_tensor_scatter(add=False), grad=_tensor_scatter_update_grad)
TensorScatterAdd = op_def("TensorScatterAdd", infer=_tensor_scatter_infer,
                          forward=_tensor_scatter(add=True),
                          grad=lambda op, dy: (dy, None, gather_nd(dy, op.inputs[1])))


def _scatter_into(opdef, tensor, indices, updates, name):
    tensor = as_tensor(tensor)
    if dispatch.dtype_of(updates) is None:
        updates = convert_to_tensor(updates, tensor.dtype)
    return apply(opdef, [tensor, as_tensor(indices), updates], name=name)


def tensor_scatter_nd_update(tensor, indices, updates, name=None):
    """A copy of `tensor` with the elements (or slices) at `indices` replaced by `updates`."""
    return _scatter_into(TensorScatterUpdate, tensor, indices, updates, name)


def tensor_scatter_nd_add(tensor, indices, updates, name=None):
    """A copy of `tensor` with `updates` added at positions `indices` (repeats add up)."""
    return _scatter_into(TensorScatterAdd, tensor, indices, updates, name)
