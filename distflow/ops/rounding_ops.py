"""Rounding: floor, ceil and round (to the nearest integer, halves to even, as TF and NumPy do).

Their results are piecewise constant in the input, so TF gives them no gradient (its _FloorGrad,
_CeilGrad and _RoundGrad return None): a loss built through them does not train what feeds
them, silently. They keep their input's floating dtype; integers pass through unchanged.
"""
from distflow.ops.dispatch import apply, convert_to_tensor, dtype_of
from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def
from distflow.ops.shapes import same_as_input

__all__ = [
    "floor",
    "ceil",
    "round",
]


def _rounding(name, kernel):
    return op_def(name, infer=same_as_input, forward=kernel, grad=NOT_DIFFERENTIABLE)


Floor = _rounding("Floor", lambda xp, x: xp.floor(x))
Ceil = _rounding("Ceil", lambda xp, x: xp.ceil(x))
Round = _rounding("Round", lambda xp, x: xp.round(x))


def _apply_float_only(opdef, x, name):
    if dtype_of(x) is None:
        x = convert_to_tensor(x)
    if not x.dtype.is_floating:
        if x.dtype.is_integer and opdef is Round:  # TF rounds integers to themselves
            from distflow.ops.array_ops import identity
            return identity(x, name=name)
        raise TypeError("Value passed to parameter 'x' has DataType %s not in list of allowed "
                        "values: float16, float32, float64" % x.dtype.name)
    return apply(opdef, [x], name=name)


def floor(x, name=None):
    """The largest integer not greater than x, elementwise (floats only)."""
    return _apply_float_only(Floor, x, name)


def ceil(x, name=None):
    """The smallest integer not less than x, elementwise (floats only)."""
    return _apply_float_only(Ceil, x, name)


def round(x, name=None):  # noqa: A001 (TF's name; shadows the builtin inside this module only)
    """x rounded to the nearest integer, halves to the even one (round(2.5) is 2.0)."""
    return _apply_float_only(Round, x, name)
