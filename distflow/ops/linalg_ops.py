"""Linear algebra: what `df.linalg` holds beside matmul (matmul_ops.py), for the course's
normal-equation programs, theta = (X^T X)^-1 X^T y, and more.

Where TF has a kernel (MatrixInverse, MatrixDeterminant, MatrixSolve, MatrixDiagPartV3,
MatrixDiagV3) there is one here, written against `xp`; everything TF builds from other ops
(matrix_transpose, trace, matvec, eye, tensordot, norm) is built from distflow ops the same way,
so its gradient comes from theirs. Matrices are the last two dimensions; any before are a batch.
"""
import numpy as np

from distflow.framework import dtypes
from distflow.framework.errors import InvalidArgumentError
from distflow.framework.tensor_shape import TensorShape
from distflow.ops import array_ops, comparison_ops, math_ops, reduction_ops, set_ops, slicing_ops
from distflow.ops.array_ops import as_tensor, op_scope
from distflow.ops.constant_op import constant_value
from distflow.ops.dispatch import apply, binary_operands, convert_to_tensor, dtype_of
from distflow.ops.matmul_ops import dims_text, matmul, static_rank
from distflow.ops.registry import op_def, skips_input
from distflow.ops.shapes import check_same_dtype, static_shape


# What TF2 has at its top level; `distflow.linalg` re-exports these and the rest below.
__all__ = [
    "eye",
    "norm",
    "tensordot",
]

# TF1's top-level names for what TF2 keeps under tf.linalg only (distflow.compat.v1 adds them).
V1_NAMES = ["matrix_inverse", "matrix_determinant", "matrix_solve", "matrix_transpose", "trace",
            "matrix_diag", "matrix_diag_part"]


# -- shared helpers of the matrix kernels -----------------------------------------------------
def _fail(message):
    raise InvalidArgumentError(None, None, message)


def _float_operand(x, param="input"):
    """`x` as a float tensor. TF refuses other dtypes with a TypeError while building a graph
    and an InvalidArgumentError eagerly; so does this."""
    x = as_tensor(x)
    if x.dtype not in (dtypes.float16, dtypes.float32, dtypes.float64):
        if hasattr(x, "numpy"):
            _fail("Value for attr 'T' of %s is not in the list of allowed values: double, float, "
                  "half, complex64, complex128" % x.dtype.name)
        raise TypeError("Value passed to parameter '%s' has DataType %s not in list of allowed "
                        "values: float64, float32, float16, complex64, complex128"
                        % (param, x.dtype.name))
    return x


def _matrix_dims(opname, x, square=True):
    """The static dims of a batch of (square) matrices, checked as TF's shape functions check
    them; None when the rank is unknown."""
    d = x.shape.as_tuple()
    if d is not None and len(d) < 2:
        raise ValueError("Shape must be at least rank 2 but is rank %d for '%s' (op: '%s') with "
                         "input shapes: %s." % (len(d), opname, opname, dims_text(d)))
    if d is not None and square and None not in d[-2:] and d[-2] != d[-1]:
        raise ValueError("Dimensions must be equal, but are %d and %d for '%s' (op: '%s') with "
                         "input shapes: %s." % (d[-2], d[-1], opname, opname, dims_text(d)))
    return d


def _lapack(xp, fn, x, *rest, error, adjoint=False):
    """fn(x, *rest) from xp.linalg, after the run-time checks (the only ones eagerly, where the
    shape rules do not run). float16, which LAPACK lacks, goes through float32; a singular
    matrix raises `error`. (CuPy reports singular matrices only under
    cupyx.errstate(linalg="raise"); otherwise its results hold inf or nan.)"""
    if x.ndim < 2:
        _fail("Input tensor 0 must have rank >= 2, got %d" % x.ndim)
    if x.shape[-2] != x.shape[-1]:
        _fail("First input (lhs) must be a square matrix." if rest else "Input matrix must be square.")
    arrays = [a.astype(np.float32) if a.dtype == np.float16 else a for a in (x,) + rest]
    try:
        out = fn(xp.swapaxes(arrays[0], -1, -2) if adjoint else arrays[0], *arrays[1:])
    except np.linalg.LinAlgError:
        _fail(error)
    return out.astype(x.dtype, copy=False)


# -- MatrixInverse: d(A^-1) = -A^-1 dA A^-1, so dA = -A^-T dy A^-T ------------------------
def _inverse_grad(op, dy):
    ainv, adj = op.outputs[0], op.attrs["adjoint"]
    return -matmul(ainv, matmul(dy, ainv, adjoint_a=adj, adjoint_b=not adj), adjoint_a=not adj)


def _inverse_infer(x, adjoint=False):
    _matrix_dims("MatrixInverse", x)
    return [(x.shape, x.dtype)]


MatrixInverse = op_def("MatrixInverse", infer=_inverse_infer, grad=_inverse_grad,
                       forward=lambda xp, x, adjoint=False: _lapack(
                           xp, xp.linalg.inv, x, adjoint=adjoint, error="Input is not invertible."))


def matrix_inverse(input, adjoint=False, name=None):
    """The inverse of each square matrix in `input` (of its adjoint, with `adjoint`); a singular
    one raises InvalidArgumentError("Input is not invertible."). TF's tf.linalg.inv."""
    return apply(MatrixInverse, [_float_operand(input)], {"adjoint": bool(adjoint)}, name=name)


# -- MatrixDeterminant: d det(A) / dA = det(A) A^-T -------------------------------------------
def _det_infer(x):
    d = _matrix_dims("MatrixDeterminant", x)
    return [(TensorShape(None if d is None else d[:-2]), x.dtype)]


def _det_grad(op, dy):
    scale = array_ops.expand_dims(array_ops.expand_dims(dy * op.outputs[0], -1), -1)
    return scale * matrix_inverse(op.inputs[0], adjoint=True)


MatrixDeterminant = op_def("MatrixDeterminant", infer=_det_infer, grad=_det_grad,
                           forward=lambda xp, x: _lapack(xp, xp.linalg.det, x, error="det failed"))


def matrix_determinant(input, name=None):
    """The determinant of each square matrix in `input`. TF's tf.linalg.det."""
    return apply(MatrixDeterminant, [_float_operand(input)], name=name)


# -- MatrixSolve: X = A^-1 B; dB = A^-T dy, dA = -dB X^T ---------------------------------------
def _solve_infer(a, b, adjoint=False):
    check_same_dtype("MatrixSolve", a, b, ("matrix", "rhs"))
    da, db = _matrix_dims("MatrixSolve", a), _matrix_dims("MatrixSolve", b, square=False)
    if da is None or db is None:
        return [(TensorShape(None), a.dtype)]
    if len(da) != len(db):
        raise ValueError("Shapes must be equal rank, but are %d and %d for 'MatrixSolve' with "
                         "input shapes: %s, %s." % (len(da), len(db), dims_text(da), dims_text(db)))
    batch = TensorShape(da[:-2]).merge_with(db[:-2]).as_tuple()  # no broadcasting, as in TF
    if None not in (da[-2], db[-2]) and da[-2] != db[-2]:
        raise ValueError("Dimensions must be equal, but are %d and %d for 'MatrixSolve' (op: "
                         "'MatrixSolve') with input shapes: %s, %s."
                         % (da[-2], db[-2], dims_text(da), dims_text(db)))
    return [(TensorShape(batch + (da[-1], db[-1])), a.dtype)]


def _solve_forward(xp, a, b, adjoint=False):
    if b.ndim < 2 or a.ndim != b.ndim:
        _fail("All input tensors must have the same rank.")
    if a.shape[:-2] != b.shape[:-2]:
        _fail("All input tensors must have the same outer dimensions.")
    if a.shape[-2] != b.shape[-2]:
        _fail("Input matrix and rhs are incompatible.")
    return _lapack(xp, xp.linalg.solve, a, b, adjoint=adjoint,
                   error="Input matrix is not invertible.")


def _solve_grad(op, dy):
    a, c, adj = op.inputs[0], op.outputs[0], op.attrs["adjoint"]
    gb = matrix_solve(a, dy, adjoint=not adj)
    if skips_input(op, 0):
        return None, gb
    return (-matmul(c, gb, adjoint_b=True) if adj else -matmul(gb, c, adjoint_b=True)), gb


MatrixSolve = op_def("MatrixSolve", infer=_solve_infer, forward=_solve_forward, grad=_solve_grad)


def matrix_solve(matrix, rhs, adjoint=False, name=None):
    """X with matrix @ X = rhs (adjoint(matrix) @ X = rhs with `adjoint`) for each matrix of a
    batch; rhs is [..., M, K] with the same batch dimensions. TF's tf.linalg.solve."""
    a = _float_operand(matrix, "matrix")
    b = _float_operand(rhs if dtype_of(rhs) else convert_to_tensor(rhs, a.dtype), "rhs")
    return apply(MatrixSolve, [a, b], {"adjoint": bool(adjoint)}, name=name)


# -- MatrixDiagPartV3 and MatrixDiagV3: diagonal k (0: the main one, > 0 above it) ------------
# Each is the other's gradient. TF's k may also be a band (k1, k2); only one diagonal is here.
def _diag_len(rows, cols, k):
    return None if rows is None or cols is None else max(0, min(rows + min(k, 0), cols - max(k, 0)))


def _diag_part_infer(x, k=0):
    d = _matrix_dims("MatrixDiagPartV3", x, square=False)
    return [(TensorShape(None if d is None else d[:-2] + (_diag_len(d[-2], d[-1], k),)), x.dtype)]


def _diag_part_forward(xp, x, k=0):
    if x.ndim < 2:
        _fail("input must be at least 2-dim, received shape: %s" % dims_text(x.shape))
    return xp.diagonal(x, offset=k, axis1=-2, axis2=-1).copy()


def _diag_part_grad(op, dy):
    x = op.inputs[0]
    dims = x.shape.as_tuple()
    rows_cols = dims[-2:] if dims is not None and None not in dims[-2:] else None
    if rows_cols is None:  # known only at run time
        s = array_ops.shape(x)
        rows_cols = s[-2], s[-1]
    return matrix_diag(dy, k=op.attrs["k"], num_rows=rows_cols[0], num_cols=rows_cols[1])


MatrixDiagPartV3 = op_def("MatrixDiagPartV3", infer=_diag_part_infer, forward=_diag_part_forward,
                          grad=_diag_part_grad)


def _diag_sizes(length, rows, cols, k):
    """TF's defaults (-1): a square matrix just big enough, or the other size just big enough."""
    min_rows, min_cols = length + max(-k, 0), length + max(k, 0)
    if rows == -1 and cols == -1:
        return max(min_rows, min_cols), max(min_rows, min_cols)
    return (min_rows if rows == -1 else rows), (min_cols if cols == -1 else cols)


def _diag_infer(d, num_rows, num_cols, padding_value, k=0):
    dims, rows, cols = d.shape.as_tuple(), constant_value(num_rows), constant_value(num_cols)
    if dims is None:
        return [(TensorShape(None), d.dtype)]
    if rows is None or cols is None or dims[-1] is None:
        return [(TensorShape(dims[:-1] + (None, None)), d.dtype)]
    return [(TensorShape(dims[:-1] + _diag_sizes(dims[-1], int(rows), int(cols), k)), d.dtype)]


def _diag_forward(xp, d, num_rows, num_cols, padding_value, k=0):
    rows, cols = _diag_sizes(d.shape[-1], int(num_rows), int(num_cols), k)
    n = _diag_len(rows, cols, k)
    if n != d.shape[-1]:
        _fail("The number of rows or columns is not consistent with the specified d_lower, "
              "d_upper, and diagonal.")
    out = xp.full(d.shape[:-1] + (rows, cols), padding_value, dtype=d.dtype)
    i = xp.arange(n)
    out[..., i + max(-k, 0), i + max(k, 0)] = d
    return out


MatrixDiagV3 = op_def("MatrixDiagV3", infer=_diag_infer, forward=_diag_forward,
                      grad=lambda op, dy: (matrix_diag_part(dy, k=op.attrs["k"]), None, None, None))


def _one_k(k):
    if not isinstance(k, (int, np.integer)):
        raise NotImplementedError("distflow's diagonal ops take one diagonal k as a Python int, "
                                  "not a band (k1, k2) or a tensor")
    return int(k)


def matrix_diag_part(input, name="diag_part", k=0, padding_value=0, align="RIGHT_LEFT"):
    """Diagonal k of each matrix in `input`: [..., M, N] gives [..., min(M, N)] for k = 0.
    TF's tf.linalg.diag_part (padding_value and align matter only for bands)."""
    return apply(MatrixDiagPartV3, [as_tensor(input)], {"k": _one_k(k)}, name=name)


def matrix_diag(diagonal, name="diag", k=0, num_rows=-1, num_cols=-1, padding_value=0,
                align="RIGHT_LEFT"):
    """Matrices with `diagonal` on their diagonal k and `padding_value` elsewhere: [..., N]
    gives [..., N, N] by default. TF's tf.linalg.diag."""
    d = as_tensor(diagonal)
    sizes = [s if dtype_of(s) else convert_to_tensor(s, dtypes.int32) for s in (num_rows, num_cols)]
    return apply(MatrixDiagV3, [d] + sizes + [convert_to_tensor(padding_value, d.dtype)],
                 {"k": _one_k(k)}, name=name)


# -- composites, built from other ops as TF builds them ------------------------------------
def matrix_transpose(a, name="matrix_transpose", conjugate=False):
    """`a` with its last two dimensions swapped (real dtypes: conjugate changes nothing)."""
    a = as_tensor(a)
    with op_scope(name, [a]):
        n = static_rank(a)
        if n is None:
            r = array_ops.rank(a)
            perm = array_ops.concat([slicing_ops.range(r - 2), array_ops.stack([r - 1, r - 2])], 0)
        elif n < 2:
            raise ValueError("Argument `a` should be a (batch) matrix with rank >= 2.  Received "
                             "`a` = %s with shape: %s" % (a, a.shape))
        else:
            perm = list(range(n - 2)) + [n - 1, n - 2]
        return array_ops.transpose(a, perm=perm)


def adjoint(matrix, name=None):
    """The conjugate transpose of the last two dimensions; the transpose for real dtypes."""
    return matrix_transpose(matrix, name=name or "adjoint", conjugate=True)


def trace(x, name=None):
    """The sum of the main diagonal of each matrix in `x`: [..., M, N] gives [...]."""
    x = as_tensor(x)
    with op_scope(name or "Trace", [x]) as scope:
        return math_ops.reduce_sum(matrix_diag_part(x), [-1], name=scope)


def matvec(a, b, transpose_a=False, adjoint_a=False, a_is_sparse=False, b_is_sparse=False,
           name=None):
    """Each matrix in `a` times each vector in `b`: [..., M, N] and [..., N] give [..., M]."""
    a, b = binary_operands(a, b)
    with op_scope(name or "MatVec", [a, b]):  # named MatVec/Squeeze, as in TF
        out = matmul(a, array_ops.expand_dims(b, -1), transpose_a=transpose_a, adjoint_a=adjoint_a)
        return array_ops.squeeze(out, axis=-1)


def eye(num_rows, num_columns=None, batch_shape=None, dtype=dtypes.float32, name=None):
    """The identity matrix [num_rows, num_columns] (square by default), repeated over
    `batch_shape`. Sizes may be tensors, as in TF."""
    sizes = [v for v in (num_rows, num_columns, batch_shape) if dtype_of(v) is not None]
    with op_scope(name or "eye", sizes):
        square, num_columns = num_columns is None, num_rows if num_columns is None else num_columns
        batch = [] if batch_shape is None else batch_shape
        if not sizes:  # all known: Python values
            if not all(isinstance(n, (int, np.integer)) for n in (num_rows, num_columns)):
                raise TypeError("Arguments `num_rows` and `num_columns` must be positive integer "
                                "values. Received: num_rows=%s, num_columns=%s"
                                % (num_rows, num_columns))
            square = num_rows == num_columns
            shape = list(batch) + [min(num_rows, num_columns)]
        else:
            size = array_ops.reshape(comparison_ops.minimum(num_rows, num_columns), [1])
            shape = array_ops.concat([array_ops.as_int32(batch), size], 0)
        ones = array_ops.ones(shape, dtype=dtype)
        if square:
            return matrix_diag(ones)
        # TF sets the diagonal of zeros (MatrixSetDiagV3, named set_diag): the same values
        return matrix_diag(ones, num_rows=num_rows, num_cols=num_columns, name="set_diag")


def _tensordot_axes(a, axes):
    """(a's axes, b's axes): lists, or int32 tensors when a's rank is known only at run time."""
    rank = static_rank(a)
    if isinstance(axes, (int, np.integer)):
        if axes < 0:
            raise ValueError("`axes` must be at least 0. Received: %d." % axes)
        if rank is None:
            r = array_ops.rank(a)
            return slicing_ops.range(r - axes, r), slicing_ops.range(axes)
        if axes > rank:
            raise ValueError("`axes` must not be larger than the number of dimensions of tensor "
                             "%s.  Received %d, vs tensor dimensions %d." % (a, axes, rank))
        return list(range(rank - axes, rank)), list(range(axes))
    if not isinstance(axes, (list, tuple)):
        axes = as_tensor(axes)
        return axes[0], axes[1]
    if len(axes) != 2:
        raise ValueError("`axes` must be an integer or have length 2. Received %s." % (axes,))
    a_axes, b_axes = [[x] if isinstance(x, (int, np.integer)) else list(x) for x in axes]
    if len(a_axes) != len(b_axes):
        raise ValueError("Different number of contraction axes `a` and `b`, %d != %d."
                         % (len(a_axes), len(b_axes)))
    return a_axes, b_axes


def _tensordot_reshape(a, axes, flipped=False):
    """`a` as a matrix [free, contracted] ([contracted, free] when `flipped`), with its free
    dims: a list when all are known, else an int32 tensor and their static dims (or None)."""
    dims = a.shape.as_tuple()
    if dims is not None and isinstance(axes, list):
        axes = [i + len(dims) if i < 0 else i for i in axes]
        free = [i for i in range(len(dims)) if i not in axes]
        perm, static = (axes + free if flipped else free + axes), [dims[i] for i in free]
        if None not in dims:
            if perm != list(range(len(dims))):
                a = array_ops.transpose(a, perm)
            sizes = [int(np.prod([dims[i] for i in axes])), int(np.prod(static))]
            new = sizes if flipped else sizes[::-1]
            return (a if list(static_shape(a)) == new else array_ops.reshape(a, new)), static, static
        axes, free = [array_ops.as_int32(np.array(v, np.int32)) for v in (axes, free)]
    else:
        static, r = None, array_ops.rank(a)
        axes = array_ops.as_int32(axes)
        axes = comparison_ops.where(axes >= 0, axes, axes + r)
        free = set_ops.setdiff1d(slicing_ops.range(r), axes)[0]
    shape = array_ops.shape(a)
    free_dims = slicing_ops.gather(shape, free)
    sizes = [reduction_ops.reduce_prod(slicing_ops.gather(shape, axes)),
             reduction_ops.reduce_prod(free_dims)]
    perm = array_ops.concat([axes, free] if flipped else [free, axes], 0)
    new = array_ops.stack(sizes if flipped else sizes[::-1])
    return array_ops.reshape(array_ops.transpose(a, perm), new), free_dims, static


def tensordot(a, b, axes, name=None):
    """The sum of a * b over the axes that `axes` pairs: an int n pairs a's last n axes with b's
    first n; a pair of lists pairs them one by one. The result has a's other axes, then b's."""
    a, b = binary_operands(a, b)
    a, b = as_tensor(a), as_tensor(b)
    with op_scope(name or "Tensordot", [a, b]) as scope:
        a_axes, b_axes = _tensordot_axes(a, axes)
        a2, a_free, a_static = _tensordot_reshape(a, a_axes)
        b2, b_free, b_static = _tensordot_reshape(b, b_axes, flipped=True)
        ab = matmul(a2, b2)
        if isinstance(a_free, list) and isinstance(b_free, list):
            if static_shape(ab) == tuple(a_free + b_free):
                return ab
            return array_ops.reshape(ab, a_free + b_free, name=scope)
        free = [array_ops.as_int32(np.array(f, np.int32) if isinstance(f, list) else f)
                for f in (a_free, b_free)]
        product = array_ops.reshape(ab, array_ops.concat(free, 0), name=scope)
        if a_static is not None and b_static is not None and hasattr(product, "set_shape"):
            product.set_shape(a_static + b_static)
        return product


def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None):
    """The vector norm over `axis` (all of `tensor` when None): 'euclidean' (= 2), 1, np.inf or
    any p > 0; with a pair of axes, the matrix norm 'fro' (= 'euclidean'), 1 or np.inf."""
    is_matrix = isinstance(axis, (tuple, list)) and len(axis) == 2
    bad_axis = ValueError("'axis' must be None, an integer, or a tuple of 2 unique integers, "
                          "got %s" % (axis,))
    if is_matrix:
        axis = tuple(axis)
        if not all(isinstance(i, int) for i in axis) or axis[0] == axis[1]:
            raise bad_axis
        if ord not in ("euclidean", "fro", 1, 2, np.inf):
            raise ValueError("'ord' must be a supported matrix norm in ['euclidean', 'fro', 1, 2, "
                             "inf], got %s" % (ord,))
        if ord == 2:
            raise NotImplementedError("The spectral norm (ord=2 on a matrix) needs an SVD, which "
                                      "distflow lacks; use ord='fro', 1 or np.inf")
    else:
        if not (axis is None or isinstance(axis, int)):
            raise bad_axis
        p = isinstance(ord, (int, float, np.number)) and not isinstance(ord, bool) and ord > 0
        if not p and ord not in ("euclidean", 1, 2, np.inf):
            raise ValueError("'ord' must be a supported vector norm, got %s" % (ord,))
        axis = None if axis is None else (axis,)
    x = as_tensor(tensor)
    with op_scope(name or "norm", [x]):
        first = None if axis is None else axis[0]
        if ord in ("fro", "euclidean", 2):
            result = math_ops.sqrt(math_ops.reduce_sum(x * x, axis, keepdims=True))
        elif ord == 1:  # a matrix: the largest column sum
            result = math_ops.reduce_sum(math_ops.abs(x), first, keepdims=True)
            if is_matrix:
                result = reduction_ops.reduce_max(result, axis[1], keepdims=True)
        elif ord == np.inf:  # a matrix: the largest row sum
            result = math_ops.abs(x)
            if is_matrix:
                result = math_ops.reduce_sum(result, axis[1], keepdims=True)
            result = reduction_ops.reduce_max(result, first, keepdims=True)
        else:  # a p-norm, p > 0
            result = math_ops.pow(math_ops.reduce_sum(math_ops.pow(math_ops.abs(x), ord), axis,
                                                      keepdims=True), 1.0 / ord)
        return result if keepdims else array_ops.squeeze(result, axis)
