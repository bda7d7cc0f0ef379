"""Elementwise math, reductions, matmul and comparisons. Each op: its rule, kernel, gradient, wrapper."""
import numpy as np

from distflow.framework import dtypes
from distflow.framework.tensor_shape import TensorShape
from distflow.ops import dispatch
from distflow.ops.constant_op import constant_value
from distflow.ops.dispatch import apply, binary_operands, convert_to_tensor
from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def
from distflow.ops.shapes import (binary_infer, normalize_axis, reduced_shape, same_as_input,
                                 shape_tensor, unbroadcast)


__all__ = [
    "add",
    "subtract",
    "multiply",
    "divide",
    "truediv",
    "negative",
    "square",
    "add_n",
    "sum_to",
    "broadcast_to",
    "reduce_sum",
    "reduce_mean",
    "cast",
]


def binary(opdef, x, y, name=None):
    x, y = binary_operands(x, y)
    return apply(opdef, [x, y], name=name)


def unary(opdef, x, name=None):
    return apply(opdef, [x], name=name)


# -- Add ------------------------------------------------------------------------------------
def _add_grad(op, dy):
    x, y = op.inputs
    return unbroadcast(dy, x), unbroadcast(dy, y)


Add = op_def("Add", infer=binary_infer("Add"), forward=lambda xp, x, y: xp.add(x, y), grad=_add_grad)


def add(x, y, name=None):
    """x + y elementwise, with NumPy broadcasting."""
    return binary(Add, x, y, name)


# -- Sub ------------------------------------------------------------------------------------
def _sub_grad(op, dy):
    x, y = op.inputs
    return unbroadcast(dy, x), unbroadcast(-dy, y)


Sub = op_def("Sub", infer=binary_infer("Sub"), forward=lambda xp, x, y: xp.subtract(x, y),
             grad=_sub_grad)


def subtract(x, y, name=None):
    """x - y elementwise."""
    return binary(Sub, x, y, name)


# -- Mul ------------------------------------------------------------------------------------
def _mul_grad(op, dy):
    x, y = op.inputs
    return unbroadcast(dy * y, x), unbroadcast(x * dy, y)


Mul = op_def("Mul", infer=binary_infer("Mul"), forward=lambda xp, x, y: xp.multiply(x, y),
             grad=_mul_grad)


def multiply(x, y, name=None):
    """x * y elementwise."""
    return binary(Mul, x, y, name)


# -- RealDiv --------------------------------------------------------------------------------
def _div_grad(op, dy):
    x, y = op.inputs
    return unbroadcast(dy / y, x), unbroadcast(-dy * x / (y * y), y)


def _div_forward(xp, x, y):
    if x.dtype.kind in "iu":  # TF's truediv casts integers to float first
        return xp.true_divide(x, y)
    return xp.divide(x, y)


def _div_infer(x, y):
    (shape, dtype), = binary_infer("RealDiv")(x, y)
    if dtype.is_integer:
        dtype = dtypes.float64 if dtype.size >= 4 else dtypes.float32
    return [(shape, dtype)]


RealDiv = op_def("RealDiv", infer=_div_infer, forward=_div_forward, grad=_div_grad)


def divide(x, y, name=None):
    """x / y elementwise (true division: integers give floats, as in TF)."""
    return binary(RealDiv, x, y, name)


truediv = divide


# -- Neg ------------------------------------------------------------------------------------
Neg = op_def("Neg", infer=same_as_input, forward=lambda xp, x: xp.negative(x),
             grad=lambda op, dy: -dy)


def negative(x, name=None):
    """-x elementwise."""
    return unary(Neg, x, name)


# -- Square ---------------------------------------------------------------------------------
Square = op_def("Square", infer=same_as_input, forward=lambda xp, x: xp.square(x),
                grad=lambda op, dy: dy * (2.0 * op.inputs[0]) if op.inputs[0].dtype.is_floating
                else None)


def square(x, name=None):
    """x * x elementwise."""
    return unary(Square, x, name)


# -- AddN -----------------------------------------------------------------------------------
def _add_n_infer(*xs):
    shape = xs[0].shape
    for x in xs[1:]:
        if x.dtype != xs[0].dtype:
            raise TypeError("AddN inputs must all have the same dtype")
        shape = shape.merge_with(x.shape)
    return [(shape, xs[0].dtype)]


def _add_n_forward(xp, *xs):
    out = xs[0] + xs[1]
    for x in xs[2:]:
        out += x
    return out


AddN = op_def("AddN", infer=_add_n_infer, forward=_add_n_forward,
              grad=lambda op, dy: tuple(dy for _ in op.inputs))


def add_n(inputs, name=None):
    """The elementwise sum of a list of tensors of one shape and dtype."""
    inputs = list(inputs)
    if not inputs:
        raise ValueError("inputs must be a non-empty list of tensors")
    if len(inputs) == 1:
        from distflow.ops.array_ops import identity
        return identity(inputs[0], name=name)
    return apply(AddN, inputs, name=name)


# -- SumTo / BroadcastTo: the pair that undoes and redoes broadcasting ---------------------
def _sum_to_forward(xp, g, shape):
    shape = tuple(int(s) for s in shape)
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _shape_from_tensor(shape_t, dtype):
    value = constant_value(shape_t)
    if value is not None:
        return TensorShape([int(v) for v in value])
    n = shape_t.shape.as_tuple()
    return TensorShape(None if not n or n[0] is None else [None] * n[0])


SumTo = op_def("SumTo", infer=lambda g, shape: [(_shape_from_tensor(shape, g.dtype), g.dtype)],
               forward=_sum_to_forward,
               grad=lambda op, dy: (broadcast_to(dy, shape_tensor(op.inputs[0])), None))


def sum_to(x, shape, name=None):
    """Sums `x` over broadcast dimensions down to `shape` (the inverse of broadcast_to)."""
    return apply(SumTo, [x, convert_to_tensor(shape, dtypes.int32)], name=name)


def _broadcast_to_forward(xp, x, shape):
    return xp.broadcast_to(x, tuple(int(s) for s in shape))


BroadcastTo = op_def("BroadcastTo",
                     infer=lambda x, shape: [(_shape_from_tensor(shape, x.dtype), x.dtype)],
                     forward=_broadcast_to_forward, aliases=True,
                     grad=lambda op, dy: (sum_to(dy, shape_tensor(op.inputs[0])), None))


def broadcast_to(x, shape, name=None):
    """`x` broadcast to `shape` (NumPy rules)."""
    return apply(BroadcastTo, [x, convert_to_tensor(shape, dtypes.int32)], name=name)


# -- Sum and Mean ---------------------------------------------------------------------------
def _reduce_infer(x, axis=None, keepdims=False):
    return [(reduced_shape(x.shape, axis, keepdims), x.dtype)]


def _expand_reduced(dy, x, axis, keepdims):
    """dy reshaped so that it broadcasts against x (the reduced axes put back as size 1)."""
    from distflow.ops.array_ops import expand_dims, reshape
    rank = x.shape.rank
    if keepdims or axis is None and rank is not None and rank == 0:
        return dy
    if axis is None:
        if rank is None:
            return dy  # a scalar broadcasts against any shape
        return reshape(dy, [1] * rank)
    if rank is None:
        raise ValueError("The gradient of a reduction over given axes needs the input's rank")
    for a in normalize_axis(axis, rank):
        dy = expand_dims(dy, a)
    return dy


def _sum_grad(op, dy):
    x = op.inputs[0]
    return broadcast_to(_expand_reduced(dy, x, op.attrs["axis"], op.attrs["keepdims"]),
                        shape_tensor(x))


def _sum_forward(xp, x, axis=None, keepdims=False):
    return xp.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype)


Sum = op_def("Sum", infer=_reduce_infer, forward=_sum_forward, grad=_sum_grad)


def _axis_attr(axis):
    if axis is None:
        return None
    value = constant_value(axis) if not isinstance(axis, (int, list, tuple, np.ndarray)) else axis
    if value is None:
        raise TypeError("distflow reductions take the axis as a Python int or list, not a tensor "
                        "computed at run time")
    value = np.asarray(value)
    return int(value) if value.ndim == 0 else tuple(int(v) for v in value)


def reduce_sum(input_tensor, axis=None, keepdims=False, name=None, reduction_indices=None,
               keep_dims=None):
    """Sum over `axis` (all axes when None)."""
    axis = reduction_indices if axis is None else axis
    keepdims = keep_dims if keep_dims is not None else keepdims
    return apply(Sum, [input_tensor], {"axis": _axis_attr(axis), "keepdims": bool(keepdims)},
                 name=name)


def _mean_forward(xp, x, axis=None, keepdims=False):
    out = xp.mean(x, axis=axis, keepdims=keepdims)
    return out.astype(x.dtype, copy=False)


def _mean_grad(op, dy):
    x, y = op.inputs[0], op.outputs[0]
    from distflow.ops.array_ops import size
    n = cast(size(x), y.dtype) / cast(size(y), y.dtype)
    return _sum_grad(op, dy) / n


Mean = op_def("Mean", infer=_reduce_infer, forward=_mean_forward, grad=_mean_grad)


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None, reduction_indices=None,
                keep_dims=None):
    """Mean over `axis` (all axes when None); integer inputs give an integer mean, as in TF."""
    axis = reduction_indices if axis is None else axis
    keepdims = keep_dims if keep_dims is not None else keepdims
    return apply(Mean, [input_tensor], {"axis": _axis_attr(axis), "keepdims": bool(keepdims)},
                 name=name)


# -- Cast -----------------------------------------------------------------------------------
def _cast_grad(op, dy):
    if op.inputs[0].dtype.is_floating and op.outputs[0].dtype.is_floating:
        return cast(dy, op.inputs[0].dtype)
    return None


Cast = op_def("Cast", infer=lambda x, DstT: [(x.shape, DstT)],
              forward=lambda xp, x, DstT: x.astype(DstT.as_numpy_dtype, copy=False),
              grad=_cast_grad)


def cast(x, dtype, name=None):
    """`x` converted to `dtype`."""
    dtype = dtypes.as_dtype(dtype)
    x = convert_to_tensor(x) if dispatch.dtype_of(x) is None else x
    if dispatch.dtype_of(x) == dtype:
        return x
    return apply(Cast, [x], {"DstT": dtype}, name=name)
