"""Trigonometric, hyperbolic and special functions, and TF's small helpers built on them.

Ops (each TF's type name, kernel, and gradient as TF's math_grad.py writes it):
  Tan, Asin, Acos, Atan, Atan2          the trigonometric functions and their inverses;
  Sinh, Cosh, Asinh, Acosh, Atanh       the hyperbolic functions and their inverses;
  Expm1                                 exp(x) - 1, accurate for small x;
  Erf, Erfc                             the error function and its complement;
  Xlogy, Xdivy                          x * log(y) and x / y, 0 wherever x is 0.
Composites (no op of their own, as in TF): scalar_mul (Mul of a 0-D scalar), polyval (Horner).

The ops take floating tensors only: TF refuses an integer tangent (`tf.tan(1)` raises) where
NumPy would silently compute it in float64. The composites take integers too, as TF's do.

NumPy has no erf (SciPy has, and distflow does not depend on SciPy), and CuPy's is in
cupyx.scipy; so Erf and Erfc are computed here with the rational approximations of fdlibm's
s_erf.c (Sun Microsystems, 1993), written with array operations that run on NumPy and CuPy
alike. In float64, erf is within 1 ulp and erfc within 1e-15 relative of the C library's
(tests compare them with Python's math.erf and math.erfc over the whole range); float16/32
inputs are computed in float64 and rounded. lgamma is left out: its gradient needs digamma,
and its second derivative polygamma, none of which NumPy has either.

The module's __all__ holds the names TF2 also has at its top level (tf.tan, tf.scalar_mul), so
they are exported there; expm1, erf, erfc, xlogy, xdivy and polyval are tf.math names only in
TF2, and distflow/math.py exports them by name. All are in `df.math`.
"""
import math

import numpy as np

from distflow.framework.graph import name_scope
from distflow.ops.array_ops import zeros_like
from distflow.ops.comparison_ops import not_equal
from distflow.ops.dispatch import convert_to_tensor, dtype_of
from distflow.ops.math_ops import (binary, cast, cos, exp, float_unary, multiply, reciprocal,
                                   sqrt, square)
from distflow.ops.registry import op_def, skips_input
from distflow.ops.shapes import binary_infer, same_as_input, unbroadcast

__all__ = [
    "tan",
    "asin",
    "acos",
    "atan",
    "atan2",
    "sinh",
    "cosh",
    "asinh",
    "acosh",
    "atanh",
    "scalar_mul",
]


def _float_binary(opdef, x, y, name=None, names=("x", "y")):
    """Applies a two-input op defined only for floating dtypes (TF's atan2 of int32 raises)."""
    dtype = dtype_of(x) or dtype_of(y)
    if dtype is None:  # two Python values: the first decides the dtype, as TF converts it
        x = convert_to_tensor(x)
        dtype = x.dtype
    if not dtype.is_floating:
        raise TypeError("Value passed to parameter '%s' has DataType %s not in list of allowed "
                        "values: float16, float32, float64" % (names[0], dtype.name))
    return binary(opdef, x, y, name, names)


# -- Tan, Asin, Acos, Atan ------------------------------------------------------------------
def _tan_grad(op, dy):
    secx = reciprocal(cos(op.inputs[0]))
    return square(secx) * dy


def _one_minus_square(x):
    return 1.0 - square(x)


Tan = op_def("Tan", infer=same_as_input, forward=lambda xp, x: xp.tan(x), grad=_tan_grad)
Asin = op_def("Asin", infer=same_as_input, forward=lambda xp, x: xp.arcsin(x),
              grad=lambda op, dy: dy * reciprocal(sqrt(_one_minus_square(op.inputs[0]))))
Acos = op_def("Acos", infer=same_as_input, forward=lambda xp, x: xp.arccos(x),
              grad=lambda op, dy: -dy * reciprocal(sqrt(_one_minus_square(op.inputs[0]))))
Atan = op_def("Atan", infer=same_as_input, forward=lambda xp, x: xp.arctan(x),
              grad=lambda op, dy: dy * reciprocal(1.0 + square(op.inputs[0])))


def tan(x, name=None):
    """The tangent of x (radians) elementwise (floats only)."""
    return float_unary(Tan, x, name)


def asin(x, name=None):
    """The inverse sine elementwise, in [-pi/2, pi/2]; NaN outside [-1, 1] (floats only)."""
    return float_unary(Asin, x, name)


def acos(x, name=None):
    """The inverse cosine elementwise, in [0, pi]; NaN outside [-1, 1] (floats only)."""
    return float_unary(Acos, x, name)


def atan(x, name=None):
    """The inverse tangent elementwise, in (-pi/2, pi/2) (floats only)."""
    return float_unary(Atan, x, name)


# -- Atan2 ----------------------------------------------------------------------------------
def _atan2_grad(op, dy):
    y, x = op.inputs
    grad_inv = dy / (square(y) + square(x))
    return (None if skips_input(op, 0) else unbroadcast(x * grad_inv, y),
            None if skips_input(op, 1) else unbroadcast(-y * grad_inv, x))


Atan2 = op_def("Atan2", infer=binary_infer("Atan2"), forward=lambda xp, y, x: xp.arctan2(y, x),
               grad=_atan2_grad)


def atan2(y, x, name=None):
    """The angle of the point (x, y) elementwise, in [-pi, pi], with broadcasting: atan(y / x)
    put in the right quadrant by the signs of both (floats only)."""
    return _float_binary(Atan2, y, x, name, names=("y", "x"))


# -- Sinh, Cosh, Asinh, Acosh, Atanh --------------------------------------------------------
# TF's gradients: Asinh and Acosh divide by cosh and sinh of the op's output.
Sinh = op_def("Sinh", infer=same_as_input, forward=lambda xp, x: xp.sinh(x),
              grad=lambda op, dy: dy * cosh(op.inputs[0]))
Cosh = op_def("Cosh", infer=same_as_input, forward=lambda xp, x: xp.cosh(x),
              grad=lambda op, dy: dy * sinh(op.inputs[0]))
Asinh = op_def("Asinh", infer=same_as_input, forward=lambda xp, x: xp.arcsinh(x),
               grad=lambda op, dy: dy / cosh(op.outputs[0]))
Acosh = op_def("Acosh", infer=same_as_input, forward=lambda xp, x: xp.arccosh(x),
               grad=lambda op, dy: dy / sinh(op.outputs[0]))
Atanh = op_def("Atanh", infer=same_as_input, forward=lambda xp, x: xp.arctanh(x),
               grad=lambda op, dy: dy * reciprocal(_one_minus_square(op.inputs[0])))


def sinh(x, name=None):
    """The hyperbolic sine elementwise (floats only)."""
    return float_unary(Sinh, x, name)


def cosh(x, name=None):
    """The hyperbolic cosine elementwise (floats only)."""
    return float_unary(Cosh, x, name)


def asinh(x, name=None):
    """The inverse hyperbolic sine elementwise (floats only)."""
    return float_unary(Asinh, x, name)


def acosh(x, name=None):
    """The inverse hyperbolic cosine elementwise, for x >= 1; NaN below (floats only)."""
    return float_unary(Acosh, x, name)


def atanh(x, name=None):
    """The inverse hyperbolic tangent elementwise, for |x| < 1 (floats only)."""
    return float_unary(Atanh, x, name)


# -- Expm1 ----------------------------------------------------------------------------------
Expm1 = op_def("Expm1", infer=same_as_input, forward=lambda xp, x: xp.expm1(x),
               grad=lambda op, dy: dy * exp(op.inputs[0]))


def expm1(x, name=None):
    """exp(x) - 1 elementwise, accurate for small x (floats only)."""
    return float_unary(Expm1, x, name)


# -- Erf and Erfc ---------------------------------------------------------------------------
# fdlibm's s_erf.c, by |x|:
#   [0, 0.84375)     erf(x) = x + x * P(x^2) / Q(x^2)
#   [0.84375, 1.25)  erf(x) = sign(x) * (c + P1(s) / Q1(s)), s = |x| - 1, c = erf(1) in 24 bits
#   [1.25, 28)       erfc(|x|) = exp(-x^2 - 0.5625 + R(1/x^2) / S(1/x^2)) / |x|, with one pair
#                    R/S below 1/0.35 and another above; -x^2 is split as -z^2 + (z - x)(z + x),
#                    z = x rounded to 24 bits, so that z^2 is exact and exp loses nothing
#   [28, inf]        erf = sign(x), erfc = 0 or 2 (erfc(|x|) underflows from about 27)
_ERX = 8.45062911510467529297e-01
_PP = (1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
       -5.77027029648944159157e-03, -2.37630166566501626084e-05)
_QQ = (1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03,
       1.32494738004321644526e-04, -3.96022827877536812320e-06)
_PA = (-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
       3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02,
       -2.16637559486879084300e-03)
_QA = (1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02,
       1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02)
_RA = (-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01,
       -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02,
       -8.12874355063065934246e+01, -9.81432934416914548592e+00)
_SA = (1.0, 1.96512716674392571292e+01, 1.37657754143519042600e+02, 4.34565877475229228821e+02,
       6.45387271733267880336e+02, 4.29008140027567833386e+02, 1.08635005541779435134e+02,
       6.57024977031928170135e+00, -6.04244152148580987438e-02)
_RB = (-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01,
       -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03,
       -4.83519191608651397019e+02)
_SB = (1.0, 3.03380607434824582924e+01, 3.25792512996573918826e+02, 1.53672958608443695994e+03,
       3.19985821950859553908e+03, 2.55305040643316442583e+03, 4.74528541206955367215e+02,
       -2.24409524465858183362e+01)


def _poly(t, coeffs):
    """coeffs[0] + coeffs[1] * t + ... by Horner's rule."""
    out = coeffs[-1]
    for c in coeffs[-2::-1]:
        out = out * t + c
    return out


def _erf_parts(xp, x):
    """The pieces of erf and erfc: |x|; x clipped to the small interval, xs, and its quotient y
    (erf(x) = xs + xs * y there); the middle quotient m (erf(|x|) = c + m); and the tail
    e = erfc(|x|) for |x| >= 1.25. Each piece is computed on x clipped to its own interval, so
    that it stays finite (no warnings, no NaN) where it is not used."""
    a = xp.abs(x)
    xs = xp.clip(x, -0.84375, 0.84375)
    z2 = xs * xs
    y = _poly(z2, _PP) / _poly(z2, _QQ)
    s = xp.clip(a, 0.84375, 1.25) - 1.0
    m = _poly(s, _PA) / _poly(s, _QA)
    t = xp.clip(a, 1.25, 28.0)
    u = 1.0 / (t * t)
    r = xp.where(t < 1 / 0.35, _poly(u, _RA) / _poly(u, _SA), _poly(u, _RB) / _poly(u, _SB))
    z = t.astype(np.float32).astype(np.float64)
    e = xp.exp(-z * z - 0.5625) * xp.exp((z - t) * (z + t) + r) / t
    return a, xs, y, m, e


def _erf_forward(xp, x):
    dtype = x.dtype
    x = x.astype(np.float64, copy=False)
    a, xs, y, m, e = _erf_parts(xp, x)
    sign = xp.where(x < 0, -1.0, 1.0)
    out = xp.where(a < 0.84375, xs + xs * y,
                   sign * xp.where(a < 1.25, _ERX + m, 1.0 - e))
    return out.astype(dtype, copy=False)


def _erfc_forward(xp, x):
    dtype = x.dtype
    x = x.astype(np.float64, copy=False)
    a, xs, y, m, e = _erf_parts(xp, x)
    # small |x|: 1 - erf(x), or for x in [1/4, 0.84375) 0.5 - (x*y + (x - 0.5)), which keeps
    # the bits that 1 - erf would lose
    small = xp.where(xs < 0.25, 1.0 - (xs + xs * y), 0.5 - (xs * y + (xs - 0.5)))
    positive = xp.where(a < 1.25, (1.0 - _ERX) - m, e)
    negative = xp.where(a < 1.25, 1.0 + (_ERX + m), 2.0 - e)
    out = xp.where(a < 0.84375, small, xp.where(x < 0, negative, positive))
    return out.astype(dtype, copy=False)


_TWO_OVER_ROOT_PI = 2 / math.sqrt(math.pi)

Erf = op_def("Erf", infer=same_as_input, forward=_erf_forward,
             grad=lambda op, dy: dy * _TWO_OVER_ROOT_PI * exp(-square(op.inputs[0])))
Erfc = op_def("Erfc", infer=same_as_input, forward=_erfc_forward,
              grad=lambda op, dy: dy * -_TWO_OVER_ROOT_PI * exp(-square(op.inputs[0])))


def erf(x, name=None):
    """The Gauss error function, 2/sqrt(pi) * integral of exp(-t^2) from 0 to x (floats only)."""
    return float_unary(Erf, x, name)


def erfc(x, name=None):
    """1 - erf(x), computed without cancellation for large x (floats only)."""
    return float_unary(Erfc, x, name)


# -- Xlogy and Xdivy ------------------------------------------------------------------------
# 0 wherever x is 0, even where y is 0, inf or NaN (TF's kernels); TF's gradients keep that:
# d/dx is xlogy(x != 0, y), and d/dy is xdivy(x, y), 0 where x is 0.
def _xlogy_forward(xp, x, y):
    zero = x == 0
    safe_y = xp.where(zero, xp.ones((), y.dtype), y)
    return xp.where(zero, xp.zeros((), x.dtype), x * xp.log(safe_y))


def _xdivy_forward(xp, x, y):
    zero = x == 0
    return xp.where(zero, xp.zeros((), x.dtype), x / xp.where(zero, xp.ones((), y.dtype), y))


def _nonzero(x):
    return cast(not_equal(x, 0), x.dtype)


def _xlogy_grad(op, dy):
    x, y = op.inputs
    return (None if skips_input(op, 0) else unbroadcast(xlogy(_nonzero(x), y) * dy, x),
            None if skips_input(op, 1) else unbroadcast(xdivy(x, y) * dy, y))


def _xdivy_grad(op, dy):
    x, y = op.inputs
    return (None if skips_input(op, 0) else unbroadcast(xdivy(_nonzero(x), y) * dy, x),
            None if skips_input(op, 1) else unbroadcast(xdivy(-x, y ** 2) * dy, y))


Xlogy = op_def("Xlogy", infer=binary_infer("Xlogy"), forward=_xlogy_forward, grad=_xlogy_grad)
Xdivy = op_def("Xdivy", infer=binary_infer("Xdivy"), forward=_xdivy_forward, grad=_xdivy_grad)


def xlogy(x, y, name=None):
    """x * log(y) elementwise with broadcasting, and 0 where x is 0 (floats only)."""
    return _float_binary(Xlogy, x, y, name)


def xdivy(x, y, name=None):
    """x / y elementwise with broadcasting, and 0 where x is 0 (floats only)."""
    with name_scope(name, "xdivy"):  # TF builds xdivy/Xdivy
        return _float_binary(Xdivy, x, y)


# -- scalar_mul and polyval: composites, as in TF --------------------------------------------
def scalar_mul(scalar, x, name=None):
    """scalar * x, for a 0-D `scalar` converted to x's dtype (a ValueError for any other rank)."""
    if dtype_of(x) is None:
        x = convert_to_tensor(x)
    with name_scope(name, "scalar_mul") as scope:
        scalar = convert_to_tensor(scalar, x.dtype, name="scalar")
        if scalar.shape.rank != 0:
            raise ValueError("The input scalar must be a 0-D value. Received shape %s."
                             % scalar.shape)
        return multiply(scalar, x, name=scope or None)


def polyval(coeffs, x, name=None):
    """coeffs[0] * x**(n-1) + ... + coeffs[n-1] by Horner's rule (coeffs a list, highest power
    first; numpy.polyval's order); zeros like x for an empty list."""
    if not isinstance(coeffs, list):
        raise ValueError("Argument coeffs must be list type. Received type %s." % type(coeffs))
    with name_scope(name, "polyval") as scope:
        x = convert_to_tensor(x, name="x")
        if not coeffs:
            return zeros_like(x, name=scope or None)
        coeffs = [convert_to_tensor(c, name="coeff_%d" % i) for i, c in enumerate(coeffs)]
        p = coeffs[0]
        for c in coeffs[1:]:
            p = c + p * x
        return p

