"""tf.math's trigonometric, hyperbolic and special functions, cumprod, reduce_euclidean_norm,
scalar_mul, xlogy, xdivy and polyval, against TF 2.21: values (float32 and float64), gradients
(first order, through the tape), second derivatives, the dtypes TF refuses (checked in graph
mode, where both raise TypeError), TF's node names, and which names TF2 has at its top level.
"""
import numpy as np
import tensorflow as tf

import distflow as df
from harness import both, check, same

f32, f64, i32 = np.float32, np.float64, np.int32

V = np.array([-2.0, -0.5, 0.0, 0.5, 3.0], f32)        # includes 0 and negatives
U = np.array([-0.9, -0.3, 0.0, 0.4, 0.8], f32)        # inside (-1, 1)
G = np.array([1.0, 1.5, 2.0, 4.0], f32)               # >= 1
T = np.array([-1.2, -0.4, 0.0, 0.7, 1.3], f32)        # clear of tan's poles
W = np.array([-6.0, -2.5, -1.0, -0.6, 0.0, 0.3, 0.9, 1.1, 2.0, 3.5, 5.5, 7.0], f64)  # erf's pieces
P = np.array([0.25, 1.0, 4.0, 9.0], f32)              # positive
A23 = np.array([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]], f32)
I23 = np.array([[1, -2, 3], [4, 5, -6]], i32)

# -- Elementwise: TF2 has the trigonometric and hyperbolic names at the top level too --------------
for name, x in (("tan", T), ("atan", V), ("asin", U), ("acos", U), ("sinh", V), ("cosh", V),
                ("asinh", V), ("acosh", G), ("atanh", U)):
    check(name, lambda m, t, n=name: getattr(m, n)(t), [x], grad=True)
    check("math.%s float64" % name, lambda m, t, n=name: getattr(m.math, n)(t),
          [x.astype(f64)], grad=True, rtol=1e-12, atol=1e-12)
for name, x in (("expm1", V), ("erf", V), ("erfc", V), ("erf", W), ("erfc", W)):
    check("math.%s(%s)" % (name, x.dtype), lambda m, t, n=name: getattr(m.math, n)(t), [x],
          grad=True, rtol=1e-5 if x.dtype == f32 else 1e-14, atol=1e-7 if x.dtype == f32 else 0)
check("math.expm1 tiny", lambda m, t: m.math.expm1(t), [np.array([1e-10, -1e-12], f64)],
      rtol=1e-15, atol=0)
# erfc(27) is 5.2e-319, a subnormal TF rounds to 0: compared to 1e-300
check("math.erf tails", lambda m, t: (m.math.erf(t), m.math.erfc(t)),
      [np.array([-30.0, -26.0, 26.0, 27.0, 30.0, np.nan], f64)], rtol=1e-14, atol=1e-300)
check("math.erf inf float32", lambda m, t: (m.math.erf(t), m.math.erfc(t)),
      [np.array([np.inf, -np.inf], f32)])
check("math.erf inf float64", lambda m, t: (m.math.erf(t), m.math.erfc(t)),
      [np.array([np.inf, -np.inf], f64)])
check("math.acos outside [-1, 1]", lambda m, t: m.math.acos(t), [np.array([1.5, -2.0], f32)])

# -- Two-input ops ---------------------------------------------------------------------------------
check("atan2", lambda m, y, x: m.atan2(y, x), [A23, A23[::-1]], grad=True)
check("math.atan2 broadcast", lambda m, y, x: m.math.atan2(y, x),
      [A23, np.array([[2.0], [-1.0]], f32)], grad=True)
check("math.atan2 python y", lambda m, x: m.math.atan2(1.0, x), [V])
check("math.atan2 quadrants", lambda m, y, x: m.math.atan2(y, x),
      [np.array([1.0, 1.0, -1.0, -1.0, 0.0], f32), np.array([1.0, -1.0, -1.0, 1.0, -1.0], f32)])
ZX = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 2.0, -1.0, 1.0], f32)
ZY = np.array([0.0, np.nan, np.inf, -1.0, 0.0, -1.0, 2.0, np.nan], f32)
check("math.xlogy special values", lambda m, x, y: m.math.xlogy(x, y), [ZX, ZY], grad=True)
check("math.xdivy special values", lambda m, x, y: m.math.xdivy(x, y), [ZX, ZY], grad=True)
check("math.xlogy broadcast", lambda m, x, y: m.math.xlogy(x, y),
      [A23, np.array([0.5, 2.0, 3.0], f32)], grad=True)
check("math.xdivy broadcast", lambda m, x, y: m.math.xdivy(x, y),
      [A23, np.array([[0.5], [2.0]], f32)], grad=True)

# -- cumprod and reduce_euclidean_norm -------------------------------------------------------------
check("math.cumprod", lambda m, t: m.math.cumprod(t), [P], grad=True)
check("math.cumprod axis 1 exclusive reverse",
      lambda m, t: m.math.cumprod(t, axis=1, exclusive=True, reverse=True), [A23], grad=True)
check("math.cumprod exclusive", lambda m, t: m.math.cumprod(t, exclusive=True), [A23], grad=True)
check("math.cumprod int", lambda m, t: m.math.cumprod(t, axis=-1), [I23])
check("math.cumprod grad with a zero (TF's formula)", lambda m, t: m.math.cumprod(t),
      [np.array([2.0, 0.0, 3.0, 4.0], f32)], grad=True)
check("math.reduce_euclidean_norm", lambda m, t: m.math.reduce_euclidean_norm(t, axis=1),
      [A23], grad=True)
check("math.reduce_euclidean_norm all keepdims",
      lambda m, t: m.math.reduce_euclidean_norm(t, keepdims=True), [A23], grad=True)
check("math.reduce_euclidean_norm axis list",
      lambda m, t: m.math.reduce_euclidean_norm(t, axis=[0, 1]), [A23], grad=True)
check("math.reduce_euclidean_norm int", lambda m, t: m.math.reduce_euclidean_norm(t, axis=0),
      [I23])
check("math.reduce_euclidean_norm zeros grad (NaN)",
      lambda m, t: m.math.reduce_euclidean_norm(t * 0.0), [V], grad=True)
check("math.reduce_euclidean_norm empty", lambda m, t: m.math.reduce_euclidean_norm(t),
      [np.zeros((0,), f32)])

# -- scalar_mul and polyval ------------------------------------------------------------------------
check("scalar_mul", lambda m, a: m.scalar_mul(3.0, a), [A23], grad=True)
check("math.scalar_mul tensor scalar", lambda m, s, a: m.math.scalar_mul(s, a),
      [np.array(2.5, f32), A23], grad=True)
check("math.scalar_mul int", lambda m, a: m.math.scalar_mul(2, a), [I23])
check("math.scalar_mul vector scalar", lambda m, s, a: m.math.scalar_mul(s, a),
      [np.array([2.0], f32), A23])
check("math.polyval", lambda m, x: m.math.polyval([1.0, 2.5, -4.2], x), [V], grad=True)
check("math.polyval tensor coeffs", lambda m, a, b, x: m.math.polyval([a, b], x),
      [np.array(2.0, f32), np.array(-1.0, f32), V], grad=True)
check("math.polyval ints", lambda m: m.math.polyval([2, 1, 0], 3), [])
check("math.polyval empty", lambda m, x: m.math.polyval([], x), [V])


# -- Second derivatives (nested tapes) -------------------------------------------------------------
def second(case, fn, x):
    out = {}
    for m in (df, tf):
        t = m.constant(x)
        with m.GradientTape() as outer:
            outer.watch(t)
            with m.GradientTape() as inner:
                inner.watch(t)
                y = m.reduce_sum(fn(m, t))
            g = inner.gradient(y, t)
        out[m.__name__] = np.asarray(outer.gradient(g, t).numpy())
    check(case, lambda m: m.constant(out[m.__name__]), [], rtol=1e-10, atol=1e-12)


X64 = np.array([-0.7, -0.2, 0.3, 0.6], f64)
for _name in ("tan", "atan", "asin", "acos", "sinh", "cosh", "asinh", "atanh", "expm1", "erf",
              "erfc"):
    second("second derivative math.%s" % _name, lambda m, t, n=_name: getattr(m.math, n)(t), X64)
second("second derivative math.acosh", lambda m, t: m.math.acosh(t), X64 + 2.0)
second("second derivative math.atan2", lambda m, t: m.math.atan2(t, t[::-1] + 2.0), X64)
second("second derivative math.xlogy", lambda m, t: m.math.xlogy(t, t + 1.0), X64)
second("second derivative math.xdivy", lambda m, t: m.math.xdivy(t, t + 1.0), X64)
second("second derivative math.cumprod", lambda m, t: m.math.cumprod(t, reverse=True), X64)
second("second derivative math.reduce_euclidean_norm",
       lambda m, t: m.math.reduce_euclidean_norm(t), X64)


# -- Integers refused (graph mode: TypeError on both sides) and node names -------------------------
def graph_error(fn):
    a, b = both(fn)
    return tuple(type(r).__name__ if isinstance(r, Exception) else "built" for r in (a, b))


for _name in ("tan", "atan", "asin", "acos", "sinh", "cosh", "asinh", "acosh", "atanh",
              "expm1", "erf", "erfc"):
    a, b = graph_error(lambda m, n=_name: getattr(m.math, n)(m.constant([1, 2])))
    same("graph math.%s(int32) refused" % _name, "outcome", a, b)
for _name in ("atan2", "xlogy", "xdivy"):
    a, b = graph_error(lambda m, n=_name: getattr(m.math, n)(m.constant([1, 2]),
                                                             m.constant([3, 4])))
    same("graph math.%s(int32) refused" % _name, "outcome", a, b)


def names(m):
    x = m.placeholder(m.float32, [3], name="x")
    scalar_mul = (tf if m is tf.compat.v1 else df).math.scalar_mul  # TF2's (see below)
    outs = [m.math.tan(x), m.math.atan2(x, 2.0), m.math.erf(x), m.math.erfc(x),
            m.math.expm1(x), m.math.xlogy(x, x), m.math.xdivy(x, x), scalar_mul(2.0, x),
            scalar_mul(2.0, x, name="twice"), m.math.cumprod(x),
            m.math.reduce_euclidean_norm(x), m.math.polyval([1.0, 2.0, 3.0], x),
            m.math.polyval([], x), m.math.asinh(x)]
    return [o.name for o in outs]


a, b = both(names)
same("graph names", "output names", a, b)
# TF1's tf.compat.v1.scalar_mul names its node Mul; TF2's tf.math.scalar_mul, scalar_mul
a, b = both(lambda m: m.scalar_mul(2.0, m.placeholder(m.float32, [3])).name)
same("graph compat.v1 scalar_mul name", "output name", a, b)

# -- Which names are at the top level in TF2 -------------------------------------------------------
_NAMES = ["tan", "atan", "atan2", "asin", "acos", "sinh", "cosh", "asinh", "acosh", "atanh",
          "scalar_mul", "expm1", "erf", "erfc", "cumprod", "reduce_euclidean_norm", "xlogy",
          "xdivy", "polyval"]
same("top-level names", "hasattr(m, name)", [hasattr(df, n) for n in _NAMES],
     [hasattr(tf, n) for n in _NAMES])
same("math names", "hasattr(m.math, name)", [hasattr(df.math, n) for n in _NAMES],
     [hasattr(tf.math, n) for n in _NAMES])
