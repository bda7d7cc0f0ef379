"""The two-input elementwise ops past + - * /: floor division and modulo, the squared
difference, division that gives 0 where the divisor is 0, and the power. Built on math_ops'
helpers (`binary`, shape rules); their names are re-exported there, where TF has them.
"""
import numpy as np

from distflow.framework import dtypes
from distflow.framework.errors import InvalidArgumentError
from distflow.ops.dispatch import binary_operands, convert_to_tensor, dtype_of
from distflow.ops.math_ops import binary, cast
from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def
from distflow.ops.shapes import binary_grad, binary_infer
from distflow.ops.unary_math_ops import log


# -- FloorDiv and FloorMod ------------------------------------------------------------------
# floor(x / y) is piecewise constant, so TF gives FloorDiv no gradient (its _FloorDivGrad returns
# None for both inputs); FloorMod's follows from x mod y = x - floor(x / y) * y.
def _integer_divisor(xp, y):
    """TF's CPU kernel refuses an integer division by zero; NumPy would warn and give 0. (Not
    checked on a GPU, as TF's GPU kernel does not check: the test would wait for the device.)"""
    if xp is np and y.dtype.kind in "iu" and not y.all():
        raise InvalidArgumentError(None, None, "Integer division by zero")


def _floor_div_forward(xp, x, y):
    _integer_divisor(xp, y)
    return xp.floor_divide(x, y)


def _floor_mod_forward(xp, x, y):
    _integer_divisor(xp, y)
    return xp.mod(x, y)


FloorDiv = op_def("FloorDiv", infer=binary_infer("FloorDiv"), forward=_floor_div_forward,
                  grad=NOT_DIFFERENTIABLE)


def floordiv(x, y, name=None):
    """floor(x / y) elementwise, rounding toward negative infinity (integers too)."""
    return binary(FloorDiv, x, y, name)


def _floor_mod_grad(op, dy):
    return binary_grad(op, lambda x, y: dy, lambda x, y: -dy * floordiv(x, y))


FloorMod = op_def("FloorMod", infer=binary_infer("FloorMod"), forward=_floor_mod_forward,
                  grad=_floor_mod_grad)


def floormod(x, y, name=None):
    """x - floor(x / y) * y elementwise: the remainder has the sign of y, as in Python."""
    return binary(FloorMod, x, y, name)


mod = floormod


# -- SquaredDifference and DivNoNan ----------------------------------------------------------
def _squared_difference_grad(op, dy):
    x, y = op.inputs
    if not x.dtype.is_floating:
        return None, None
    g = 2.0 * dy * (x - y)
    return binary_grad(op, lambda x, y: g, lambda x, y: -g)


SquaredDifference = op_def("SquaredDifference", infer=binary_infer("SquaredDifference"),
                           forward=lambda xp, x, y: xp.square(xp.subtract(x, y)),
                           grad=_squared_difference_grad)


def squared_difference(x, y, name=None):
    """(x - y) ** 2 elementwise, in one op."""
    return binary(SquaredDifference, x, y, name)


def _div_no_nan_forward(xp, x, y):
    zero = y == 0
    return xp.where(zero, xp.zeros((), x.dtype), x / xp.where(zero, xp.ones((), y.dtype), y))


def _div_no_nan_grad(op, dy):
    # TF's: the quotient rule, with every division one that gives 0 where y is 0, so that no
    # NaN or inf reaches a gradient through the elements the forward pass set to 0
    return binary_grad(op, lambda x, y: divide_no_nan(dy, y),
                       lambda x, y: dy * divide_no_nan(divide_no_nan(-x, y), y))


DivNoNan = op_def("DivNoNan", infer=binary_infer("DivNoNan"), forward=_div_no_nan_forward,
                  grad=_div_no_nan_grad)


def divide_no_nan(x, y, name="div_no_nan"):
    """x / y, and 0 where y is 0 (even for x = 0 or inf): a mean over a possibly empty set.
    Integers are divided as float64, as TF's truediv does."""
    x, y = binary_operands(x, y)
    x = convert_to_tensor(x) if dtype_of(x) is None else x
    y = convert_to_tensor(y) if dtype_of(y) is None else y
    if x.dtype.is_integer and y.dtype == x.dtype:
        x, y = cast(x, dtypes.float64), cast(y, dtypes.float64)
    return binary(DivNoNan, x, y, name)


# -- Pow ------------------------------------------------------------------------------------
def _pow_grad(op, dy):
    return binary_grad(op, lambda x, y: dy * y * pow(x, y - 1),
                       lambda x, y: dy * op.outputs[0] * _log_where_positive(x))


def _log_where_positive(x):
    # d(x**y)/dy = x**y * log(x) is real only for x > 0. Like TF, use 0 elsewhere, and give log a
    # safe argument there, so that neither log nor its own gradient produces NaN or inf.
    from distflow.ops.comparison_ops import greater, where
    positive = greater(x, 0)
    return where(positive, log(where(positive, x, 1)), 0)


Pow = op_def("Pow", infer=binary_infer("Pow"), forward=lambda xp, x, y: x ** y,
             grad=_pow_grad)


def pow(x, y, name=None):  # noqa: A001 (TF's name; shadows the builtin inside this module only)
    """x ** y elementwise."""
    return binary(Pow, x, y, name)
