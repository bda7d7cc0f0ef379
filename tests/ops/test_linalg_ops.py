"""The op table for linear algebra (df.linalg, the normal equations' ops): forward, shapes,
gradients and second derivatives in both modes; then TF's errors and the TF1 course program."""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf1
from op_check import Case, table_tests

R = np.random.RandomState(7)


def f64(*shape):
    return R.uniform(-1.0, 1.0, shape)


def well_conditioned(*shape):
    """Square matrices (the last two dims) with a strong diagonal: safely invertible, so finite
    differences of inv, det and solve are accurate."""
    n = shape[-1]
    return R.uniform(-1.0, 1.0, shape) + 3.0 * np.eye(n)


def swap(x):
    return np.swapaxes(x, -1, -2)


def np_diag(d, k=0, rows=None, cols=None):
    n = d.shape[-1]  # TF's default: square, just big enough
    rows = n + abs(k) if rows is None else rows
    cols = n + abs(k) if cols is None else cols
    out = np.zeros(d.shape[:-1] + (rows, cols), d.dtype)
    i = np.arange(n)
    out[..., i + max(-k, 0), i + max(k, 0)] = d
    return out


def np_norm(x, ord=2, axis=None, keepdims=False):
    if axis is None:
        return np.linalg.norm(x.reshape(-1), ord).reshape((1,) * x.ndim if keepdims else ())
    return np.linalg.norm(x, ord, axis=axis, keepdims=keepdims)


L = df.linalg
CASES = [
    # -- kernels: MatrixInverse, MatrixDeterminant, MatrixSolve
    Case("inv", L.inv, np.linalg.inv, [well_conditioned(3, 3)], second=True),
    Case("inv_batched", L.inv, np.linalg.inv, [well_conditioned(2, 2, 3, 3)], second=True),
    Case("inv_adjoint", lambda a: L.inv(a, adjoint=True), lambda a: np.linalg.inv(swap(a)),
         [well_conditioned(2, 3, 3)], second=True),
    Case("inv_float32", L.inv, np.linalg.inv, [well_conditioned(2, 4, 4).astype(np.float32)],
         grad=False, rtol=1e-5, atol=1e-6),
    Case("det", L.det, np.linalg.det, [well_conditioned(3, 3)], second=True),
    Case("det_batched", L.det, np.linalg.det, [well_conditioned(2, 3, 4, 4)], second=True),
    Case("det_float32", L.det, np.linalg.det, [well_conditioned(3, 3).astype(np.float32)],
         grad=False, rtol=1e-5),
    Case("solve", L.solve, np.linalg.solve, [well_conditioned(3, 3), f64(3, 2)], second=True),
    Case("solve_batched", L.solve, np.linalg.solve, [well_conditioned(2, 3, 3), f64(2, 3, 1)],
         second=True),
    Case("solve_adjoint", lambda a, b: L.solve(a, b, adjoint=True),
         lambda a, b: np.linalg.solve(swap(a), b), [well_conditioned(2, 3, 3), f64(2, 3, 2)],
         second=True),
    Case("solve_float32", L.solve, np.linalg.solve,
         [well_conditioned(4, 4).astype(np.float32), f64(4, 3).astype(np.float32)], grad=False,
         rtol=1e-5, atol=1e-6),
    # -- kernels: MatrixDiagPartV3 and MatrixDiagV3, each the other's gradient
    Case("diag_part", L.diag_part, lambda x: np.diagonal(x, 0, -2, -1), [f64(3, 3)], second=True),
    Case("diag_part_wide_batched", L.diag_part, lambda x: np.diagonal(x, 0, -2, -1),
         [f64(2, 3, 4)], second=True),
    Case("diag_part_k", lambda x: L.diag_part(x, k=1), lambda x: np.diagonal(x, 1, -2, -1),
         [f64(4, 3)]),
    Case("diag_part_k_negative", lambda x: L.diag_part(x, k=-2),
         lambda x: np.diagonal(x, -2, -2, -1), [f64(2, 4, 3)]),
    Case("diag_part_int", L.diag_part, lambda x: np.diagonal(x, 0, -2, -1),
         [np.arange(6, dtype=np.int32).reshape(2, 3)], grad=False),
    Case("diag", L.diag, np_diag, [f64(3)], second=True),
    Case("diag_batched", L.diag, np_diag, [f64(2, 3)]),
    Case("diag_k", lambda d: L.diag(d, k=1), lambda d: np_diag(d, 1), [f64(2, 3)]),
    Case("diag_rows_cols", lambda d: L.diag(d, num_rows=3, num_cols=5),
         lambda d: np_diag(d, 0, 3, 5), [f64(2, 3)]),
    Case("diag_float32", L.diag, np_diag, [f64(4).astype(np.float32)], grad=False),
    # -- composites
    Case("trace", L.trace, lambda x: np.trace(x, 0, -2, -1), [f64(3, 3)], second=True),
    Case("trace_batched_wide", L.trace, lambda x: np.trace(x, 0, -2, -1), [f64(2, 3, 4)]),
    Case("trace_float32", L.trace, lambda x: np.trace(x, 0, -2, -1),
         [f64(3, 3).astype(np.float32)], grad=False, rtol=1e-5),
    Case("matrix_transpose", L.matrix_transpose, swap, [f64(2, 3, 4)]),
    Case("matrix_transpose_int", L.matrix_transpose, swap, [np.arange(6, dtype=np.int32).reshape(2, 3)],
         grad=False),
    Case("adjoint", L.adjoint, swap, [f64(3, 2)]),
    Case("matvec", L.matvec, lambda a, b: a @ b, [f64(3, 4), f64(4)], second=True),
    Case("matvec_batched_transpose_a", lambda a, b: L.matvec(a, b, transpose_a=True),
         lambda a, b: (swap(a) @ b[..., None])[..., 0], [f64(2, 4, 3), f64(2, 4)]),
    Case("matmul", L.matmul, np.matmul, [f64(2, 3), f64(3, 4)]),
    Case("matmul_batched", L.matmul, np.matmul, [f64(2, 2, 3), f64(3, 4)]),
    Case("eye_times", lambda x: df.matmul(df.eye(3, dtype=df.float64), x) + x,
         lambda x: 2 * x, [f64(3, 2)]),
    Case("eye_batched_wide", lambda x: df.eye(2, 4, batch_shape=[3], dtype=df.float64) * x,
         lambda x: np.eye(2, 4) * x, [f64(3, 2, 4)]),
    Case("tensordot_1", lambda a, b: df.tensordot(a, b, 1), lambda a, b: np.tensordot(a, b, 1),
         [f64(2, 3), f64(3, 4)], second=True),
    Case("tensordot_2", lambda a, b: df.tensordot(a, b, 2), lambda a, b: np.tensordot(a, b, 2),
         [f64(2, 3, 4), f64(3, 4, 2)]),
    Case("tensordot_lists", lambda a, b: L.tensordot(a, b, [[0, 2], [1, 0]]),
         lambda a, b: np.tensordot(a, b, [[0, 2], [1, 0]]), [f64(2, 3, 4), f64(4, 2, 5)]),
    Case("tensordot_negative_axes", lambda a, b: df.tensordot(a, b, [[-1], [-2]]),
         lambda a, b: np.tensordot(a, b, [[-1], [-2]]), [f64(2, 3), f64(3, 2)]),
    Case("tensordot_ints", lambda a, b: df.tensordot(a, b, [0, 0]),
         lambda a, b: np.tensordot(a, b, [[0], [0]]), [f64(3, 2), f64(3, 4)]),
    Case("tensordot_outer", lambda a, b: df.tensordot(a, b, 0),
         lambda a, b: np.tensordot(a, b, 0), [f64(2), f64(3)]),
    Case("norm", df.norm, np_norm, [f64(3, 4)], second=True),
    Case("norm_axis", lambda x: df.norm(x, axis=1), lambda x: np_norm(x, 2, 1), [f64(3, 4)],
         second=True),
    Case("norm_keepdims", lambda x: L.norm(x, axis=-1, keepdims=True),
         lambda x: np_norm(x, 2, -1, True), [f64(2, 3, 4)]),
    Case("norm_all_keepdims", lambda x: df.norm(x, keepdims=True),
         lambda x: np_norm(x, 2, None, True), [f64(2, 3)]),
    Case("norm_1", lambda x: df.norm(x, ord=1, axis=0), lambda x: np_norm(x, 1, 0), [f64(3, 4)]),
    Case("norm_inf", lambda x: df.norm(x, ord=np.inf), lambda x: np_norm(x, np.inf),
         [f64(3, 4)]),
    Case("norm_p3", lambda x: df.norm(x, ord=3, axis=1), lambda x: np_norm(x, 3, 1), [f64(3, 4)]),
    Case("norm_fro", lambda x: df.norm(x, ord="fro", axis=[-2, -1]),
         lambda x: np.linalg.norm(x, "fro", axis=(-2, -1)), [f64(2, 3, 4)], second=True),
    Case("norm_matrix_1", lambda x: df.norm(x, ord=1, axis=(1, 2)),
         lambda x: np.linalg.norm(x, 1, axis=(1, 2)), [f64(2, 3, 4)]),
    Case("norm_matrix_inf_keepdims", lambda x: df.norm(x, ord=np.inf, axis=[0, 1], keepdims=True),
         lambda x: np.linalg.norm(x, np.inf, axis=(0, 1), keepdims=True), [f64(3, 4)]),
    Case("norm_float32", df.norm, np_norm, [f64(5).astype(np.float32)], grad=False, rtol=1e-5),
]


(test_forward_and_shapes, test_gradient, test_graph_gradient_with_unknown_dims,
 test_second_derivative) = table_tests(CASES)


def test_every_linalg_op_is_built_by_some_case():
    from distflow.ops import linalg_ops
    from distflow.ops.registry import OpDef
    from op_check import ops_built
    defined = {v.name for v in vars(linalg_ops).values() if isinstance(v, OpDef)}
    built = set().union(*(ops_built(c) for c in CASES))
    assert defined - built == set()


# -- namespaces: TF2's, and TF1's top-level names in compat.v1 only --------------------------
def test_namespaces_match_tensorflow():
    for name in ("inv", "det", "solve", "trace", "matrix_transpose", "matvec", "diag_part",
                 "diag", "eye", "tensordot", "norm", "matmul", "adjoint"):
        assert callable(getattr(df.linalg, name)) and callable(getattr(tf1.linalg, name))
    for name in ("eye", "norm", "tensordot"):  # at the top level of both faces
        assert callable(getattr(df, name)) and callable(getattr(tf1, name))
    for name in ("matrix_inverse", "matrix_determinant", "matrix_solve", "matrix_transpose",
                 "trace", "matrix_diag", "matrix_diag_part"):
        assert callable(getattr(tf1, name)) and not hasattr(df, name)
    assert callable(tf1.linalg.transpose) and not hasattr(df.linalg, "transpose")


# -- the course's program ----------------------------------------------------------------------
def test_tf1_normal_equation_matches_least_squares():
    rng = np.random.RandomState(0)
    features = rng.uniform(0, 10, (50, 2))
    X_data = np.hstack([np.ones((50, 1)), features]).astype(np.float32)  # a bias column
    y_data = (X_data @ np.array([[2.0], [0.5], [-1.5]]) + rng.normal(0, 0.1, (50, 1)))
    y_data = y_data.astype(np.float32)
    with tf1.Graph().as_default():
        X = tf1.placeholder(tf1.float32, shape=(None, 3), name="X")
        y = tf1.placeholder(tf1.float32, shape=(None, 1), name="y")
        XT = tf1.transpose(X)
        theta = tf1.matmul(tf1.matmul(tf1.matrix_inverse(tf1.matmul(XT, X)), XT), y)
        assert str(theta.shape) == "(3, 1)" and theta.dtype == tf1.float32
        with tf1.Session() as sess:
            theta_value = sess.run(theta, feed_dict={X: X_data, y: y_data})
    want = np.linalg.lstsq(X_data.astype(np.float64), y_data.astype(np.float64), rcond=None)[0]
    np.testing.assert_allclose(theta_value, want, rtol=1e-3, atol=1e-3)
    # TF2: the same with df.linalg, and solve instead of an explicit inverse
    Xt, yt = df.constant(X_data), df.constant(y_data)
    theta2 = df.linalg.solve(df.matmul(Xt, Xt, transpose_a=True), df.matmul(Xt, yt, transpose_a=True))
    np.testing.assert_allclose(theta2.numpy(), want, rtol=1e-3, atol=1e-3)


# -- errors, as TF raises them ---------------------------------------------------------------
SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]], np.float32)


def test_singular_matrix_is_not_invertible_in_both_modes():
    with pytest.raises(df.errors.InvalidArgumentError, match="Input is not invertible."):
        df.linalg.inv(SINGULAR)
    with pytest.raises(df.errors.InvalidArgumentError, match="Input matrix is not invertible."):
        df.linalg.solve(SINGULAR, np.ones((2, 1), np.float32))
    with tf1.Graph().as_default():
        a = tf1.placeholder(tf1.float32, [None, None])
        inverse = tf1.matrix_inverse(a)
        with tf1.Session() as s, pytest.raises(tf1.errors.InvalidArgumentError,
                                               match="Input is not invertible."):
            s.run(inverse, {a: SINGULAR})
    assert df.linalg.det(SINGULAR).numpy() == 0.0  # a determinant exists: no error


def test_non_square_matrices_fail_at_graph_build_when_the_shape_is_known():
    with tf1.Graph().as_default():
        a = tf1.placeholder(tf1.float32, [2, 3])
        for fn in (tf1.matrix_inverse, tf1.matrix_determinant):
            with pytest.raises(ValueError, match="Dimensions must be equal, but are 2 and 3"):
                fn(a)
        with pytest.raises(ValueError, match="Dimensions must be equal, but are 2 and 3"):
            tf1.matrix_solve(a, tf1.zeros([2, 1]))
        with pytest.raises(ValueError, match="Dimensions must be equal, but are 3 and 2"):
            tf1.matrix_solve(tf1.zeros([3, 3]), tf1.zeros([2, 1]))
        with pytest.raises(ValueError, match="at least rank 2 but is rank 1"):
            tf1.matrix_inverse(tf1.zeros([3]))
        with pytest.raises(ValueError, match="should be a \\(batch\\) matrix with rank >= 2"):
            tf1.matrix_transpose(tf1.zeros([3]))
        with pytest.raises(TypeError, match="DataType int32 not in list of allowed values"):
            tf1.matrix_inverse(tf1.zeros([2, 2], tf1.int32))
        unknown = tf1.placeholder(tf1.float32)  # unknown shape: the kernel checks at run time
        with tf1.Session() as s, pytest.raises(tf1.errors.InvalidArgumentError,
                                               match="Input matrix must be square."):
            s.run(tf1.matrix_inverse(unknown), {unknown: np.ones((2, 3), np.float32)})
    with pytest.raises(df.errors.InvalidArgumentError, match="Input matrix must be square."):
        df.linalg.inv(np.ones((2, 3), np.float32))  # eagerly, as TF2
    with pytest.raises(df.errors.InvalidArgumentError, match="the same outer dimensions"):
        df.linalg.solve(np.ones((2, 2, 2), np.float32), np.ones((3, 2, 1), np.float32))


def test_static_shapes():
    with tf1.Graph().as_default():
        batch = tf1.placeholder(tf1.float32, [None, 3, 3])
        assert str(tf1.matrix_determinant(batch).shape) == "(?,)"
        assert str(tf1.matrix_inverse(batch).shape) == "(?, 3, 3)"
        assert str(tf1.matrix_solve(batch, tf1.placeholder(tf1.float32, [4, 3, 2])).shape) == \
            "(4, 3, 2)"
        assert str(tf1.trace(tf1.placeholder(tf1.float32, [5, 2, 3])).shape) == "(5,)"
        assert str(tf1.matrix_transpose(tf1.placeholder(tf1.float32, [None, 2, 3])).shape) == \
            "(?, 3, 2)"
        assert str(tf1.eye(2, 3, batch_shape=[4]).shape) == "(4, 2, 3)"
        assert str(tf1.tensordot(tf1.placeholder(tf1.float32, [None, 3]), tf1.ones([3, 4]),
                                 1).shape) == "(?, 4)"
        assert str(tf1.norm(batch, axis=[1, 2]).shape) == "(?,)"
    with tf1.Graph().as_default():  # names as TF gives them
        batch = tf1.placeholder(tf1.float32, [None, 3, 3])
        named = {"MatrixInverse:0": tf1.matrix_inverse(batch), "Trace:0": tf1.trace(batch),
                 "eye/diag:0": tf1.eye(3), "norm/Squeeze:0": tf1.norm(batch)}
        for name, t in named.items():
            assert t.name == name


def test_argument_errors_of_the_composites():
    x = df.constant(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="'axis' must be None, an integer, or a tuple of 2"):
        df.norm(x, axis=[0])
    with pytest.raises(ValueError, match="'ord' must be a supported vector norm, got 0"):
        df.norm(x, ord=0)
    with pytest.raises(ValueError, match="'ord' must be a supported matrix norm"):
        df.norm(x, ord=3, axis=[0, 1])
    with pytest.raises(NotImplementedError, match="SVD"):
        df.norm(x, ord=2, axis=[0, 1])
    with pytest.raises(ValueError, match="`axes` must be at least 0"):
        df.tensordot(x, x, -1)
    with pytest.raises(ValueError, match="Different number of contraction axes"):
        df.tensordot(x, x, [[0, 1], [0]])
    with pytest.raises(TypeError, match="must be positive integer values"):
        df.eye(2.0)
    assert df.eye(2, dtype=df.int32).dtype == df.int32


def test_eye_and_trace_with_sizes_known_only_at_run_time():
    with tf1.Graph().as_default():
        n = tf1.placeholder(tf1.int32, [])
        identity = tf1.eye(n, batch_shape=[2])
        with tf1.Session() as s:
            np.testing.assert_array_equal(s.run(identity, {n: 3}), np.broadcast_to(np.eye(3), (2, 3, 3)))
            np.testing.assert_array_equal(s.run(tf1.eye(n, 4), {n: 2}), np.eye(2, 4))
