"""Comparisons, logical ops, `where`, and the ops that select by comparing (maximum, minimum,
clip_by_value).

Comparisons and logical ops give bool tensors and are not differentiable. The selecting ops route
the incoming gradient to whichever input supplied each element, so their gradients are `where`s.
"""
from distflow.framework import dtypes
from distflow.framework.errors import InvalidArgumentError
from distflow.framework.tensor_shape import TensorShape
from distflow.ops import array_ops
from distflow.ops.dispatch import apply, binary_operands, convert_to_tensor, dtype_of
from distflow.ops.math_ops import binary
from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def
from distflow.ops.shapes import (binary_grad, binary_infer, broadcast_shapes, check_same_dtype,
                                 unbroadcast)


__all__ = [
    "equal",
    "not_equal",
    "less",
    "less_equal",
    "greater",
    "greater_equal",
    "logical_and",
    "logical_or",
    "logical_not",
    "logical_xor",
    "is_nan",
    "is_inf",
    "is_finite",
    "where",
    "where_v2",
    "maximum",
    "minimum",
    "clip_by_value",
]


# -- Equal, NotEqual, Less, LessEqual, Greater, GreaterEqual -------------------------------------
def _comparison(name, kernel):
    return op_def(name, infer=binary_infer(name, dtypes.bool_), forward=kernel,
                  grad=NOT_DIFFERENTIABLE)


Equal = _comparison("Equal", lambda xp, x, y: xp.equal(x, y))
NotEqual = _comparison("NotEqual", lambda xp, x, y: xp.not_equal(x, y))
Less = _comparison("Less", lambda xp, x, y: xp.less(x, y))
LessEqual = _comparison("LessEqual", lambda xp, x, y: xp.less_equal(x, y))
Greater = _comparison("Greater", lambda xp, x, y: xp.greater(x, y))
GreaterEqual = _comparison("GreaterEqual", lambda xp, x, y: xp.greater_equal(x, y))


def equal(x, y, name=None):
    """x == y elementwise, as a bool tensor."""
    return binary(Equal, x, y, name)


def not_equal(x, y, name=None):
    """x != y elementwise, as a bool tensor."""
    return binary(NotEqual, x, y, name)


def less(x, y, name=None):
    """x < y elementwise, as a bool tensor."""
    return binary(Less, x, y, name)


def less_equal(x, y, name=None):
    """x <= y elementwise, as a bool tensor."""
    return binary(LessEqual, x, y, name)


def greater(x, y, name=None):
    """x > y elementwise, as a bool tensor."""
    return binary(Greater, x, y, name)


def greater_equal(x, y, name=None):
    """x >= y elementwise, as a bool tensor."""
    return binary(GreaterEqual, x, y, name)


# -- LogicalAnd, LogicalOr, LogicalNot ------------------------------------------------------
def _check_bool(opname, **inputs):
    for arg, t in inputs.items():
        if t.dtype != dtypes.bool_:
            raise TypeError("Input '%s' of '%s' Op has type %s that does not match expected type "
                            "of bool." % (arg, opname, t.dtype.name))


def _logical_infer(name):
    def infer(x, y):
        _check_bool(name, x=x, y=y)
        return [(broadcast_shapes(x.shape, y.shape, name), dtypes.bool_)]
    return infer


LogicalAnd = op_def("LogicalAnd", infer=_logical_infer("LogicalAnd"), grad=NOT_DIFFERENTIABLE,
                    forward=lambda xp, x, y: xp.logical_and(x, y))
LogicalOr = op_def("LogicalOr", infer=_logical_infer("LogicalOr"), grad=NOT_DIFFERENTIABLE,
                   forward=lambda xp, x, y: xp.logical_or(x, y))


def _logical(opdef, x, y, name):
    x, y = _as_tensors(*binary_operands(x, y))
    _check_bool(opdef.name, x=x, y=y)  # in the wrapper, so that eager mode checks it too
    return apply(opdef, [x, y], name=name)


def _as_tensors(*values):
    return [convert_to_tensor(v) if dtype_of(v) is None else v for v in values]


def logical_and(x, y, name=None):
    """x AND y elementwise, for bool tensors."""
    return _logical(LogicalAnd, x, y, name)


def logical_or(x, y, name=None):
    """x OR y elementwise, for bool tensors."""
    return _logical(LogicalOr, x, y, name)


def _logical_not_infer(x):
    _check_bool("LogicalNot", x=x)
    return [(x.shape, dtypes.bool_)]


LogicalNot = op_def("LogicalNot", infer=_logical_not_infer, grad=NOT_DIFFERENTIABLE,
                    forward=lambda xp, x: xp.logical_not(x))


def logical_not(x, name=None):
    """NOT x elementwise, for a bool tensor."""
    x, = _as_tensors(x)
    _check_bool("LogicalNot", x=x)
    return apply(LogicalNot, [x], name=name)


def logical_xor(x, y, name="LogicalXor"):
    """x XOR y elementwise, for bool tensors; built from and/or/not as TF builds it."""
    return logical_and(logical_or(x, y), logical_not(logical_and(x, y)), name=name)


# -- IsNan, IsInf, IsFinite -------------------------------------------------------------------
def _float_test_infer(name):
    def infer(x):
        if not x.dtype.is_floating:
            raise TypeError("Value passed to parameter 'x' has DataType %s not in list of allowed "
                            "values: float16, float32, float64" % x.dtype.name)
        return [(x.shape, dtypes.bool_)]
    return infer


IsNan = op_def("IsNan", infer=_float_test_infer("IsNan"), grad=NOT_DIFFERENTIABLE,
               forward=lambda xp, x: xp.isnan(x))
IsInf = op_def("IsInf", infer=_float_test_infer("IsInf"), grad=NOT_DIFFERENTIABLE,
               forward=lambda xp, x: xp.isinf(x))
IsFinite = op_def("IsFinite", infer=_float_test_infer("IsFinite"), grad=NOT_DIFFERENTIABLE,
                  forward=lambda xp, x: xp.isfinite(x))


def _float_test(opdef, x, name):
    x, = _as_tensors(x)
    opdef.infer(x)  # in the wrapper too, so that eager mode refuses integers as TF does
    return apply(opdef, [x], name=name)


def is_nan(x, name=None):
    """True where x is NaN, elementwise (floats only)."""
    return _float_test(IsNan, x, name)


def is_inf(x, name=None):
    """True where x is +inf or -inf, elementwise (floats only)."""
    return _float_test(IsInf, x, name)


def is_finite(x, name=None):
    """True where x is neither NaN nor infinite, elementwise (floats only)."""
    return _float_test(IsFinite, x, name)


# -- SelectV2, Select and Where -------------------------------------------------------------
# TF2's where(c, x, y) is SelectV2: c, x and y broadcast together. TF1's where is Select: x and y
# have one shape, and c either has it too or is a vector that picks whole rows of x and y.
# With a condition alone, where(c) gives the indices of the true elements: a data-dependent shape.
def _select_v2_infer(c, x, y):
    _check_bool("SelectV2", condition=c)
    check_same_dtype("SelectV2", x, y, ("t", "e"))
    shape = broadcast_shapes(broadcast_shapes(c.shape, x.shape, "SelectV2"), y.shape, "SelectV2")
    return [(shape, x.dtype)]


def _select_v2_grad(op, dy):
    c, x, y = op.inputs
    return None, unbroadcast(where(c, dy, 0), x), unbroadcast(where(c, 0, dy), y)


SelectV2 = op_def("SelectV2", infer=_select_v2_infer, grad=_select_v2_grad,
                  forward=lambda xp, c, x, y: xp.where(c, x, y))


def _select_infer(c, x, y):
    _check_bool("Select", condition=c)
    check_same_dtype("Select", x, y, ("t", "e"))
    shape = x.shape.merge_with(y.shape)
    rc, rx = c.shape.rank, shape.rank
    if rc is not None and rx is not None and rc not in (0, 1, rx):
        raise ValueError("Shape must be rank 0, 1 or %d but is rank %d for 'Select' with input "
                         "shapes: %s, %s, %s." % (rx, rc, c.shape, x.shape, y.shape))
    if rc == rx:
        shape = shape.merge_with(c.shape)
    elif rc == 1 and not TensorShape(c.shape[:1]).is_compatible_with(shape[:1]):  # picks rows
        raise ValueError("Dimensions must be equal, but are %s and %s for 'Select'"
                         % (c.shape[0], shape[0]))
    return [(shape, x.dtype)]


def _select_forward(xp, c, x, y):
    if x.shape != y.shape or c.ndim not in (0, 1, x.ndim):
        raise InvalidArgumentError(None, None, "'then' and 'else' must have the same size, and "
                                   "the condition must be a scalar, a vector or of their shape")
    if c.ndim == 1 and x.ndim > 1:  # a vector condition picks rows
        c = c.reshape((-1,) + (1,) * (x.ndim - 1))
    return xp.where(c, x, y)


def _select_grad(op, dy):
    c = op.inputs[0]
    zeros = array_ops.zeros_like(dy)
    return None, where_v1(c, dy, zeros), where_v1(c, zeros, dy)


Select = op_def("Select", infer=_select_infer, forward=_select_forward, grad=_select_grad)


def _where_infer(c):
    rank = c.shape.rank
    return [(TensorShape([None, rank]), dtypes.int64)]


Where = op_def("Where", infer=_where_infer, grad=NOT_DIFFERENTIABLE,
               forward=lambda xp, c: xp.argwhere(c).astype("int64", copy=False))


def _select(opdef, condition, x, y, name):
    if x is None and y is None:
        return apply(Where, [condition], name=name)
    if x is None or y is None:
        raise ValueError("x and y must both be non-None or both be None.")
    condition, x, y = _as_tensors(condition, *binary_operands(x, y))
    _check_bool(opdef.name, condition=condition)
    check_same_dtype(opdef.name, x, y, ("t", "e"))
    return apply(opdef, [condition, x, y], name=name)


def where(condition, x=None, y=None, name=None):
    """Elements of x where condition is true, else of y (all three broadcast together). With the
    condition alone: the int64 indices of its true (nonzero) elements, one row per element."""
    return _select(SelectV2, condition, x, y, name)


where_v2 = where


def where_v1(condition, x=None, y=None, name=None):
    """TF1's where (`tf.compat.v1.where`): x and y of one shape; the condition has that shape, or
    is a vector that picks whole rows. With the condition alone, as `where`."""
    return _select(Select, condition, x, y, name)


# -- Maximum and Minimum --------------------------------------------------------------------
def _max_min_grad(x_wins):
    """The gradient goes to whichever input was selected; on ties to x, as in TF."""
    def grad(op, dy):
        mask = x_wins(*op.inputs)
        return binary_grad(op, lambda x, y: where(mask, dy, 0), lambda x, y: where(mask, 0, dy))
    return grad


Maximum = op_def("Maximum", infer=binary_infer("Maximum"), grad=_max_min_grad(greater_equal),
                 forward=lambda xp, x, y: xp.maximum(x, y))
Minimum = op_def("Minimum", infer=binary_infer("Minimum"), grad=_max_min_grad(less_equal),
                 forward=lambda xp, x, y: xp.minimum(x, y))


def maximum(x, y, name=None):
    """The larger of x and y elementwise, with broadcasting."""
    return binary(Maximum, x, y, name)


def minimum(x, y, name=None):
    """The smaller of x and y elementwise, with broadcasting."""
    return binary(Minimum, x, y, name)


# -- ClipByValue ----------------------------------------------------------------------------
_CLIP_NAMES = ("t", "clip_value_min", "clip_value_max")


def _clip_infer(t, lo, hi):
    check_same_dtype("ClipByValue", t, lo, _CLIP_NAMES[:2])
    check_same_dtype("ClipByValue", t, hi, _CLIP_NAMES[::2])
    # The bounds may broadcast against t but never enlarge it.
    full = broadcast_shapes(broadcast_shapes(t.shape, lo.shape, "ClipByValue"), hi.shape,
                            "ClipByValue")
    if not full.is_compatible_with(t.shape):
        raise ValueError("Shapes %s and %s are incompatible" % (full, t.shape))
    return [(t.shape.merge_with(full), t.dtype)]


def _clip_forward(xp, t, lo, hi):
    out = xp.clip(t, lo, hi)
    if out.shape != t.shape:  # only reachable when shapes were unknown while building, or eagerly
        raise InvalidArgumentError(None, None, "clip_value_min and clip_value_max must broadcast "
                                   "to the shape of t %s, not enlarge it to %s"
                                   % (t.shape, out.shape))
    return out


def _clip_grad(op, dy):
    t, lo, hi = op.inputs
    below, above = less(t, lo), greater(t, hi)
    return (where(logical_or(below, above), 0, dy),
            unbroadcast(where(below, dy, 0), lo), unbroadcast(where(above, dy, 0), hi))


ClipByValue = op_def("ClipByValue", infer=_clip_infer, forward=_clip_forward, grad=_clip_grad)


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """t with values below clip_value_min raised to it and values above clip_value_max lowered to
    it. The gradient flows to t inside the range, and to the bound that was applied outside."""
    t, = _as_tensors(t)
    lo, hi = [convert_to_tensor(v, t.dtype) if dtype_of(v) is None else v
              for v in (clip_value_min, clip_value_max)]
    check_same_dtype("ClipByValue", t, lo, _CLIP_NAMES[:2])
    check_same_dtype("ClipByValue", t, hi, _CLIP_NAMES[::2])
    return apply(ClipByValue, [t, lo, hi], name=name)
