"""tf.linalg as a course on linear regression uses it: the normal equations theta = (X^T X)^-1 X^T y
on Boston-housing-like data, in TF1 (tf.matrix_inverse in a Session) and TF2 (tf.linalg eagerly).

Covers: inv, det, solve (plain, batched, adjoint, float32 and float64) with gradients; trace,
matrix_transpose, adjoint, diag_part, diag, matvec, eye, tensordot, norm (vector and matrix
norms), linalg.matmul; the errors a student meets (a singular or non-square matrix, bad norm or
tensordot arguments); static shapes and names in TF1 graphs; which names sit where (TF2's top
level has tf.eye, tf.norm, tf.tensordot but not tf.matrix_inverse; TF1's has both).
"""
import numpy as np
import tensorflow as tf

import distflow as df
from harness import both, check, same

f32, f64 = np.float32, np.float64
rng = np.random.default_rng(3)

# A Boston-housing-like design matrix: a bias column and three features; targets.
X = np.hstack([np.ones((6, 1)), rng.uniform(0, 10, (6, 3))]).astype(f32)
Y = (X @ np.array([[1.0], [0.5], [-0.25], [2.0]]) + rng.normal(0, 0.1, (6, 1))).astype(f32)
A = (rng.uniform(-1, 1, (3, 3)) + 3 * np.eye(3)).astype(f32)      # well conditioned
AB = (rng.uniform(-1, 1, (2, 3, 3)) + 3 * np.eye(3)).astype(f64)  # a batch
B = rng.uniform(-1, 1, (3, 2)).astype(f32)
BB = rng.uniform(-1, 1, (2, 3, 1)).astype(f64)
M = rng.uniform(-2, 2, (2, 3, 4)).astype(f32)
V = rng.uniform(-2, 2, (4,)).astype(f32)
SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]], f32)

# -- the kernels, with gradients --------------------------------------------------------------
for x in (A, AB):
    check("linalg.inv(%s%s)" % (x.dtype, x.shape), lambda m, a: m.linalg.inv(a), [x], grad=True,
          rtol=1e-4, atol=1e-5)
    check("linalg.inv(adjoint, %s)" % x.dtype, lambda m, a: m.linalg.inv(a, adjoint=True), [x],
          grad=True, rtol=1e-4, atol=1e-5)
    check("linalg.det(%s%s)" % (x.dtype, x.shape), lambda m, a: m.linalg.det(a), [x], grad=True,
          rtol=1e-4, atol=1e-4)
check("linalg.solve", lambda m, a, b: m.linalg.solve(a, b), [A, B], grad=True, rtol=1e-4, atol=1e-5)
check("linalg.solve(batched)", lambda m, a, b: m.linalg.solve(a, b), [AB, BB], grad=True)
check("linalg.solve(adjoint)", lambda m, a, b: m.linalg.solve(a, b, adjoint=True), [AB, BB],
      grad=True)
check("linalg.solve(rhs python list)", lambda m, a: m.linalg.solve(a, [[1.0], [2.0], [3.0]]), [A],
      rtol=1e-4)
check("linalg.det(singular)", lambda m, a: m.linalg.det(a), [SINGULAR])

# -- diagonals, transposes, products ------------------------------------------------------------
check("linalg.trace", lambda m, a: m.linalg.trace(a), [A], grad=True)
check("linalg.trace(batched, wide)", lambda m, a: m.linalg.trace(a), [M], grad=True)
check("linalg.trace(int)", lambda m, a: m.linalg.trace(a), [np.arange(9, dtype=np.int32).reshape(3, 3)])
check("linalg.matrix_transpose", lambda m, a: m.linalg.matrix_transpose(a), [M], grad=True)
check("linalg.adjoint", lambda m, a: m.linalg.adjoint(a), [M], grad=True)
check("linalg.diag_part", lambda m, a: m.linalg.diag_part(a), [M], grad=True)
check("linalg.diag_part(k=1)", lambda m, a: m.linalg.diag_part(a, k=1), [M], grad=True)
check("linalg.diag_part(k=-1)", lambda m, a: m.linalg.diag_part(a, k=-1), [M], grad=True)
check("linalg.diag", lambda m, d: m.linalg.diag(d), [V], grad=True)
check("linalg.diag(k=2)", lambda m, d: m.linalg.diag(d, k=2), [V], grad=True)
check("linalg.diag(k=-1, batched)", lambda m, d: m.linalg.diag(d, k=-1), [M], grad=True)
check("linalg.diag(num_rows, num_cols)", lambda m, d: m.linalg.diag(d, num_rows=4, num_cols=6),
      [V], grad=True)
check("linalg.diag(padding_value)", lambda m, d: m.linalg.diag(d, padding_value=9.0), [V])
check("linalg.matvec", lambda m, a, b: m.linalg.matvec(a, b), [M, V], grad=True)
check("linalg.matvec(transpose_a)", lambda m, a, b: m.linalg.matvec(a, b, transpose_a=True),
      [M, V[:3]], grad=True)
check("linalg.matmul", lambda m, a, b: m.linalg.matmul(a, b, transpose_a=True), [X, Y], grad=True,
      rtol=1e-4)
for args in ((3,), (2, 4), (3, None, [2]), (2, 3, [2, 1])):
    check("eye%s" % (args,), lambda m, *a: m.eye(*a), list(args))
    check("linalg.eye%s" % (args,), lambda m, *a: m.linalg.eye(*a), list(args))
check("eye(dtype=int32)", lambda m: m.eye(3, dtype=m.int32), [])
check("eye(dtype=float64)", lambda m: m.eye(2, 3, dtype=m.float64), [])
check("eye(2.0)", lambda m: m.eye(2.0), [])
check("eye(tensor n)", lambda m, n: m.eye(n), [np.array(3, np.int32)])

# -- tensordot ------------------------------------------------------------------------------------
P, Q = rng.uniform(-1, 1, (2, 3, 4)).astype(f32), rng.uniform(-1, 1, (3, 4, 5)).astype(f32)
for axes in (1, 2, 0, [[1, 2], [0, 1]], [[2], [1]], [1, 0], [[-1], [1]], ([1], [0])):
    check("tensordot(axes=%s)" % (axes,), lambda m, a, b, ax=axes: m.tensordot(a, b, ax), [P, Q],
          grad=True, rtol=1e-4)
check("linalg.tensordot", lambda m, a, b: m.linalg.tensordot(a, b, 1), [X, Y], grad=True, rtol=1e-4)
for axes in (-1, 4, [[0, 1], [0]], [[0], [0], [1]], [[0], [0]]):  # errors, TF's classes
    check("tensordot(bad axes=%s)" % (axes,), lambda m, a, b, ax=axes: m.tensordot(a, b, ax), [P, Q])

# -- norm ----------------------------------------------------------------------------------------
Z = np.array([[3.0, -4.0, 0.0], [1.0, 2.0, -2.0]], f32)
for kw in ({}, {"axis": 0}, {"axis": 1}, {"axis": -1, "keepdims": True}, {"keepdims": True},
           {"ord": 1}, {"ord": 1, "axis": 1}, {"ord": np.inf}, {"ord": np.inf, "axis": 0},
           {"ord": 2, "axis": 1}, {"ord": 3}, {"ord": 0.5, "axis": 1}, {"ord": "euclidean"},
           {"ord": "fro", "axis": [0, 1]}, {"ord": "euclidean", "axis": (-2, -1)},
           {"ord": 1, "axis": [0, 1]}, {"ord": np.inf, "axis": [0, 1]},
           {"ord": 1, "axis": [1, 0], "keepdims": True}, {"ord": np.inf, "axis": (1, 0)}):
    check("norm(%s)" % kw, lambda m, t, kw=kw: m.norm(t, **kw), [Z], grad=True, rtol=1e-5)
    check("linalg.norm(%s, float64)" % kw, lambda m, t, kw=kw: m.linalg.norm(t, **kw),
          [Z.astype(f64)], grad=True)
check("norm(batched matrices)", lambda m, t: m.norm(t, ord="fro", axis=[1, 2]), [M], grad=True)
for kw in ({"axis": [0]}, {"ord": 0}, {"ord": -1}, {"ord": "fro"}, {"ord": 3, "axis": [0, 1]},
           {"axis": [0, 0]}, {"axis": 1.5}, {"ord": "nuc", "axis": [0, 1]}):
    check("norm(bad %s)" % kw, lambda m, t, kw=kw: m.norm(t, **kw), [Z])

# -- errors ---------------------------------------------------------------------------------------
check("linalg.inv(singular)", lambda m, a: m.linalg.inv(a), [SINGULAR])
check("linalg.solve(singular)", lambda m, a, b: m.linalg.solve(a, b), [SINGULAR, B[:2]])
check("linalg.inv(non-square)", lambda m, a: m.linalg.inv(a), [M[0]])
check("linalg.det(non-square)", lambda m, a: m.linalg.det(a), [M[0]])
check("linalg.inv(rank 1)", lambda m, a: m.linalg.inv(a), [V])
check("linalg.inv(int)", lambda m, a: m.linalg.inv(a), [np.eye(2, dtype=np.int32)])
check("linalg.solve(non-square)", lambda m, a, b: m.linalg.solve(a, b), [M[0], B[:2]])
check("linalg.solve(rhs rows)", lambda m, a, b: m.linalg.solve(a, b), [A, B[:2]])
check("linalg.solve(batch broadcast)", lambda m, a, b: m.linalg.solve(a, b), [AB, BB[0]])
check("linalg.matrix_transpose(rank 1)", lambda m, a: m.linalg.matrix_transpose(a), [V])
check("linalg.trace(rank 1)", lambda m, a: m.linalg.trace(a), [V])

# -- where the names are --------------------------------------------------------------------------
import distflow.compat.v1 as dv1  # noqa: E402

for name in ("eye", "norm", "tensordot", "linalg", "matrix_inverse", "matrix_determinant",
             "matrix_solve", "matrix_transpose", "trace", "matrix_diag", "matrix_diag_part"):
    same("top-level %s" % name, "hasattr", hasattr(df, name), hasattr(tf, name))
    same("compat.v1 %s" % name, "hasattr", hasattr(dv1, name), hasattr(tf.compat.v1, name))
for name in ("inv", "det", "solve", "trace", "matrix_transpose", "matvec", "diag_part", "diag",
             "eye", "tensordot", "norm", "matmul", "adjoint", "transpose"):
    same("linalg.%s" % name, "hasattr", hasattr(df.linalg, name), hasattr(tf.linalg, name))
    same("compat.v1.linalg.%s" % name, "hasattr", hasattr(dv1.linalg, name),
         hasattr(tf.compat.v1.linalg, name))


# -- TF1: the normal equations in a Session, and graph-time shapes and errors ----------------------
def _outcome(fn):
    a, b = both(fn)
    return [x if not isinstance(x, BaseException) else ("raises", type(x).__name__) for x in (a, b)]


def normal_equation(m):
    Xp = m.placeholder(m.float32, shape=(None, 4), name="X")
    yp = m.placeholder(m.float32, shape=(None, 1), name="y")
    XT = m.transpose(Xp)
    theta = m.matmul(m.matmul(m.matrix_inverse(m.matmul(XT, Xp)), XT), yp)
    with m.Session() as s:
        value = s.run(theta, {Xp: X, yp: Y})
    return theta.name, str(theta.shape), theta.dtype.name, value


a, b = both(normal_equation)
same("TF1 normal equation", "name, shape, dtype", a[:3], b[:3])
same("TF1 normal equation", "theta", np.allclose(a[3], b[3], rtol=1e-3, atol=1e-3), True)
same("TF1 normal equation vs lstsq", "theta", np.allclose(
    a[3], np.linalg.lstsq(X.astype(f64), Y.astype(f64), rcond=None)[0], rtol=1e-3, atol=1e-3), True)


def graph_facts(m):
    batch = m.placeholder(m.float32, [None, 3, 3])
    wide = m.placeholder(m.float32, [5, 2, 3])
    outs = [m.matrix_inverse(batch), m.matrix_determinant(batch),
            m.matrix_solve(batch, m.placeholder(m.float32, [4, 3, 2])), m.trace(wide),
            m.matrix_transpose(wide), m.matrix_diag_part(wide), m.matrix_diag(wide),
            m.linalg.inv(batch), m.eye(3), m.eye(2, 3, batch_shape=[4]),
            m.tensordot(m.placeholder(m.float32, [None, 3]), m.ones([3, 4]), 1),
            m.norm(batch), m.norm(batch, axis=[1, 2]), m.norm(wide, ord=1, axis=-1),
            m.linalg.matvec(wide, m.ones([3])), m.linalg.transpose(wide)]
    # as_list: TF 2.21 prints unknown dims as None, TF1 (and distflow) as ?
    return [(t.name, t.shape.as_list(), t.dtype.name) for t in outs]


a, b = both(graph_facts)
for i, (x, y) in enumerate(zip(a, b)):
    same("TF1 graph facts %d" % i, "name, shape, dtype", x, y)

for case, fn in (
        ("TF1 inv(non-square)", lambda m: m.matrix_inverse(m.placeholder(m.float32, [2, 3]))),
        ("TF1 det(non-square)", lambda m: m.matrix_determinant(m.placeholder(m.float32, [2, 3]))),
        ("TF1 solve(rhs rows)", lambda m: m.matrix_solve(m.ones([3, 3]), m.ones([2, 1]))),
        ("TF1 inv(int)", lambda m: m.matrix_inverse(m.ones([2, 2], m.int32))),
        ("TF1 inv(rank 1)", lambda m: m.matrix_inverse(m.ones([3]))),
        ("TF1 trace(rank 1)", lambda m: m.trace(m.ones([3]))),
        ("TF1 matrix_transpose(rank 1)", lambda m: m.matrix_transpose(m.ones([3])))):
    x, y = _outcome(lambda m, fn=fn: type(fn(m)).__name__)
    same(case, "outcome", x, y)


def singular_in_session(m):
    a = m.placeholder(m.float32, [None, None])
    with m.Session() as s:
        return s.run(m.matrix_inverse(a), {a: SINGULAR})


x, y = _outcome(singular_in_session)
same("TF1 inv(singular) in a Session", "outcome", x, y)
