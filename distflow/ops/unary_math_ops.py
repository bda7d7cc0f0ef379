"""One-input elementwise math: abs, sign, sqrt, rsqrt, exp, log, log1p, sin, cos, reciprocal
(re-exported by math_ops, whose helpers they use)."""
from distflow.ops import array_ops
from distflow.ops.math_ops import float_unary, square, unary
from distflow.ops.registry import op_def
from distflow.ops.shapes import same_as_input


# -- Abs and Sign ---------------------------------------------------------------------------
Abs = op_def("Abs", infer=same_as_input, forward=lambda xp, x: xp.abs(x),
             grad=lambda op, dy: dy * sign(op.inputs[0]))


def abs(x, name=None):  # noqa: A001 (TF's name; shadows the builtin inside this module only)
    """|x| elementwise."""
    return unary(Abs, x, name)


# sign is flat almost everywhere: like TF, its gradient is zeros (connected, not None).
Sign = op_def("Sign", infer=same_as_input, forward=lambda xp, x: xp.sign(x),
              grad=lambda op, dy: array_ops.zeros_like(op.inputs[0]))


def sign(x, name=None):
    """-1, 0 or 1 elementwise, by the sign of x."""
    return unary(Sign, x, name)


# -- Sqrt, Rsqrt, Exp, Log, Log1p, Sin, Cos, Reciprocal ------------------------------------
# Each gradient reuses the op's output y where that is cheaper than recomputing from x.
Sqrt = op_def("Sqrt", infer=same_as_input, forward=lambda xp, x: xp.sqrt(x),
              grad=lambda op, dy: dy * 0.5 / op.outputs[0])


def sqrt(x, name=None):
    """The square root of x elementwise (floats only)."""
    return float_unary(Sqrt, x, name)


# d(x**-0.5)/dx = -0.5 * x**-1.5 = -0.5 * y**3, and y**3 = y / x.
Rsqrt = op_def("Rsqrt", infer=same_as_input, forward=lambda xp, x: xp.reciprocal(xp.sqrt(x)),
               grad=lambda op, dy: -0.5 * dy * op.outputs[0] / op.inputs[0])


def rsqrt(x, name=None):
    """1 / sqrt(x) elementwise (floats only)."""
    return float_unary(Rsqrt, x, name)


Exp = op_def("Exp", infer=same_as_input, forward=lambda xp, x: xp.exp(x),
             grad=lambda op, dy: dy * op.outputs[0])


def exp(x, name=None):
    """e**x elementwise (floats only)."""
    return float_unary(Exp, x, name)


Log = op_def("Log", infer=same_as_input, forward=lambda xp, x: xp.log(x),
             grad=lambda op, dy: dy / op.inputs[0])


def log(x, name=None):
    """The natural logarithm of x elementwise (floats only)."""
    return float_unary(Log, x, name)


Log1p = op_def("Log1p", infer=same_as_input, forward=lambda xp, x: xp.log1p(x),
               grad=lambda op, dy: dy / (op.inputs[0] + 1.0))


def log1p(x, name=None):
    """log(1 + x) elementwise, accurate for small x (floats only)."""
    return float_unary(Log1p, x, name)


Sin = op_def("Sin", infer=same_as_input, forward=lambda xp, x: xp.sin(x),
             grad=lambda op, dy: dy * cos(op.inputs[0]))
Cos = op_def("Cos", infer=same_as_input, forward=lambda xp, x: xp.cos(x),
             grad=lambda op, dy: -dy * sin(op.inputs[0]))


def sin(x, name=None):
    """The sine of x (radians) elementwise (floats only)."""
    return float_unary(Sin, x, name)


def cos(x, name=None):
    """The cosine of x (radians) elementwise (floats only)."""
    return float_unary(Cos, x, name)


Reciprocal = op_def("Reciprocal", infer=same_as_input, forward=lambda xp, x: xp.reciprocal(x),
                    grad=lambda op, dy: -dy * square(op.outputs[0]))


def reciprocal(x, name=None):
    """1 / x elementwise (floats only: an integer 1 / x would truncate to 0 almost always)."""
    return float_unary(Reciprocal, x, name)
