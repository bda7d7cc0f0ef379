"""Matrix products: MatMul for two matrices, BatchMatMulV2 for batches of them (tf.matmul).

Their own module because every layer, optimizer test and benchmark step runs through them; the
other matrix operations (inverse, determinant, solve, ...) live in linalg_ops.
"""
from distflow.framework.eager import EagerTensor
from distflow.framework.errors import InvalidArgumentError
from distflow.framework.tensor_shape import TensorShape
from distflow.ops.dispatch import apply, binary_operands, convert_to_tensor, dtype_of
from distflow.ops.registry import op_def, skips_input
from distflow.ops.shapes import broadcast_shapes, check_same_dtype, unbroadcast
from distflow.ops.state_ops import VariableStorage

__all__ = [
    "matmul",
]


# -- MatMul and BatchMatMulV2 ---------------------------------------------------------------
# Like tf.matmul: two matrices build MatMul (attrs transpose_a/b); anything of higher or unknown
# rank builds BatchMatMulV2 (attrs adj_x/y), whose leading batch dimensions broadcast. For real
# dtypes the adjoint is the transpose.
def _matmul_shape(opname, a, b, ta, tb):
    da, db = a.shape.as_tuple(), b.shape.as_tuple()
    if da is None or db is None:
        return TensorShape(None)
    m, ka = (da[-1], da[-2]) if ta else (da[-2], da[-1])
    kb, n = (db[-1], db[-2]) if tb else (db[-2], db[-1])
    if ka is not None and kb is not None and ka != kb:
        raise ValueError("Dimensions must be equal, but are %d and %d for '%s' (op: '%s') with "
                         "input shapes: %s, %s." % (ka, kb, opname, opname, dims_text(da), dims_text(db)))
    batch = broadcast_shapes(da[:-2], db[:-2], opname)
    return batch.concatenate([m, n])


def dims_text(shape):
    d = TensorShape(shape).as_tuple()
    return "?" if d is None else "[%s]" % ",".join("?" if x is None else str(x) for x in d)


def _matmul_infer(a, b, transpose_a=False, transpose_b=False):
    check_same_dtype("MatMul", a, b, ("a", "b"))
    return [(_matmul_shape("MatMul", a, b, transpose_a, transpose_b), a.dtype)]


def _batch_matmul_infer(x, y, adj_x=False, adj_y=False):
    check_same_dtype("BatchMatMulV2", x, y)
    return [(_matmul_shape("BatchMatMulV2", x, y, adj_x, adj_y), x.dtype)]


# MatMul's operands are matrices, where dot and matmul are the same product; NumPy's dot goes to
# BLAS with less argument handling (a 32x64 by 64x64 product: 3.0 against 3.4 us) and keeps BLAS
# for an inner dimension of 1, an outer product, where matmul runs its own loop (1.1 against
# 3.4 us for 32x1 by 1x64, the gradient of a one-unit layer).
def _matmul_forward(xp, a, b, transpose_a=False, transpose_b=False):
    return xp.dot(a.T if transpose_a else a, b.T if transpose_b else b)


def _batch_matmul_forward(xp, x, y, adj_x=False, adj_y=False):
    for i, v in enumerate((x, y)):
        if v.ndim < 2:  # only reachable when the rank was unknown while building
            raise InvalidArgumentError(None, None, "In[%d] ndims must be >= 2: %d" % (i, v.ndim))
    return xp.matmul(xp.swapaxes(x, -1, -2) if adj_x else x, xp.swapaxes(y, -1, -2) if adj_y else y)


def _matmul_grad(op, dy):
    a, b = op.inputs
    batched = op.opdef is BatchMatMulV2
    ta, tb = (op.attrs["adj_x"], op.attrs["adj_y"]) if batched else \
        (op.attrs["transpose_a"], op.attrs["transpose_b"])
    # With c = a @ b: da = dy @ b^T and db = a^T @ dy; the transposed variants follow by
    # transposing those identities, so no explicit transpose op is ever needed. An input nobody
    # needs (skips_input: a data batch, eagerly) gets no product at all.
    mm = matmul if batched else _matmul_2d
    if skips_input(op, 0):
        ga = None
    elif not ta:  # da = dy @ b^T, or dy @ b when b came transposed
        ga = mm(dy, b, transpose_b=not tb)
    else:         # a came transposed: its gradient is (dy @ b^T)^T = b @ dy^T
        ga = mm(b, dy, transpose_a=tb, transpose_b=True)
    if skips_input(op, 1):
        gb = None
    elif not tb:  # db = a^T @ dy, or a @ dy when a came transposed
        gb = mm(a, dy, transpose_a=not ta)
    else:         # b came transposed: its gradient is (a^T @ dy)^T = dy^T @ a
        gb = mm(dy, a, transpose_a=True, transpose_b=ta)
    if not batched:  # plain matrices: the gradients already have the inputs' shapes
        return ga, gb
    return unbroadcast(ga, a), unbroadcast(gb, b)


def static_rank(t):
    """The static rank; for an eager tensor or Variable read off its array, since building its
    TensorShape costs more than a small product."""
    value = t.read_array() if isinstance(t, VariableStorage) else getattr(t, "_value", None)
    return value.ndim if hasattr(value, "ndim") else t.shape.rank


def _matmul_2d(x, y, transpose_a=False, transpose_b=False):
    """MatMul of matrices whose dtypes and ranks the forward op has checked: the gradient's way
    past matmul()'s argument handling, which costs more than a small product itself."""
    return apply(MatMul, [x, y], {"transpose_a": transpose_a, "transpose_b": transpose_b})


def _matmul_forward_out(xp, a, b, transpose_a=False, transpose_b=False, out=None):
    a, b = a.T if transpose_a else a, b.T if transpose_b else b
    if out.flags.c_contiguous and out.dtype == a.dtype == b.dtype:  # what dot's out= requires
        xp.dot(a, b, out=out)
    else:
        xp.matmul(a, b, out=out)
    return out


def _matmul_bind(xp, out=None, transpose_a=False, transpose_b=False):
    dot = xp.dot
    if out is not None and not out.flags.c_contiguous:  # dot's out= must be C-contiguous
        return lambda a, b: _matmul_forward_out(xp, a, b, transpose_a, transpose_b, out)
    if out is None:
        if not (transpose_a or transpose_b):
            return dot
        if transpose_a and transpose_b:
            return lambda a, b: dot(a.T, b.T)
        return (lambda a, b: dot(a.T, b)) if transpose_a else (lambda a, b: dot(a, b.T))
    if not (transpose_a or transpose_b):
        return lambda a, b: dot(a, b, out=out)
    if transpose_a and transpose_b:
        return lambda a, b: dot(a.T, b.T, out=out)
    return (lambda a, b: dot(a.T, b, out=out)) if transpose_a else \
        (lambda a, b: dot(a, b.T, out=out))


MatMul = op_def("MatMul", infer=_matmul_infer, forward=_matmul_forward,
                forward_out=_matmul_forward_out, grad=_matmul_grad, bind=_matmul_bind)
BatchMatMulV2 = op_def("BatchMatMulV2", infer=_batch_matmul_infer, forward=_batch_matmul_forward,
                       grad=_matmul_grad)


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False,
           a_is_sparse=False, b_is_sparse=False, name=None):
    """The matrix product a @ b of the last two dimensions, broadcasting any batch dimensions.
    The sparsity flags are hints in TF and are accepted and ignored here."""
    if transpose_a and adjoint_a:
        raise ValueError("Only one of transpose_a and adjoint_a can be True.")
    if transpose_b and adjoint_b:
        raise ValueError("Only one of transpose_b and adjoint_b can be True.")
    ta, tb = bool(transpose_a or adjoint_a), bool(transpose_b or adjoint_b)
    a, b = binary_operands(a, b)
    if type(a) is EagerTensor and type(b) is EagerTensor:  # eagerly, the common case at once
        av, bv = a._value, b._value
        if av.ndim == 2 and bv.ndim == 2 and av.dtype == bv.dtype:
            return apply(MatMul, [a, b], {"transpose_a": ta, "transpose_b": tb}, name=name)
    a = convert_to_tensor(a) if dtype_of(a) is None else a
    b = convert_to_tensor(b) if dtype_of(b) is None else b
    check_same_dtype("MatMul", a, b, ("a", "b"))
    ra, rb = static_rank(a), static_rank(b)
    for r in (ra, rb):
        if r is not None and r < 2:
            raise ValueError("Shape must be at least rank 2 but is rank %d for 'MatMul' with input "
                             "shapes: %s, %s." % (r, dims_text(a.shape), dims_text(b.shape)))
    if ra == 2 and rb == 2:
        return apply(MatMul, [a, b], {"transpose_a": ta, "transpose_b": tb}, name=name)
    return apply(BatchMatMulV2, [a, b], {"adj_x": ta, "adj_y": tb}, name=name or "MatMul")
