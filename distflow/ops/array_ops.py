"""Shape and array manipulation ops."""
import numpy as np

from distflow.framework import dtypes
from distflow.framework.tensor_shape import TensorShape
from distflow.ops.constant_op import constant_value
from distflow.ops.dispatch import apply, convert_to_tensor
from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def
from distflow.ops.shapes import same_as_input, shape_tensor


__all__ = [
    "identity",
    "stop_gradient",
    "shape",
    "size",
    "reshape",
    "expand_dims",
    "zeros_like",
    "ones_like",
    "fill",
    "zeros",
    "ones",
]


# -- Identity -------------------------------------------------------------------------------
Identity = op_def("Identity", infer=same_as_input, forward=lambda xp, x: x, aliases=True,
                  grad=lambda op, dy: dy)


def identity(input, name=None):
    """The same value, as a new tensor."""
    return apply(Identity, [input], name=name)


# -- StopGradient ---------------------------------------------------------------------------
StopGradient = op_def("StopGradient", infer=same_as_input, forward=lambda xp, x: x,
                      aliases=True, grad=lambda op, dy: None)


def stop_gradient(input, name=None):
    """The same value; no gradient flows back through it."""
    return apply(StopGradient, [input], name=name)


# -- Shape, Size, Rank ----------------------------------------------------------------------
def _shape_infer(x, out_type=dtypes.int32):
    rank = x.shape.rank
    return [(TensorShape([rank]), out_type)]


Shape = op_def("Shape", infer=_shape_infer, grad=NOT_DIFFERENTIABLE,
               forward=lambda xp, x, out_type=dtypes.int32: np.array(
                   x.shape, dtype=out_type.as_numpy_dtype))


def shape(input, name=None, out_type=dtypes.int32):
    """The shape of `input` as a 1-D integer tensor, computed at run time."""
    return apply(Shape, [input], {"out_type": dtypes.as_dtype(out_type)}, name=name)


Size = op_def("Size", infer=lambda x, out_type=dtypes.int32: [(TensorShape([]), out_type)],
              grad=NOT_DIFFERENTIABLE,
              forward=lambda xp, x, out_type=dtypes.int32: np.array(
                  x.size, dtype=out_type.as_numpy_dtype))


def size(input, name=None, out_type=dtypes.int32):
    """The number of elements of `input`."""
    return apply(Size, [input], {"out_type": dtypes.as_dtype(out_type)}, name=name)


# -- Reshape --------------------------------------------------------------------------------
def _reshape_infer(x, shape):
    value = constant_value(shape)
    if value is None:
        n = shape.shape.as_tuple()
        return [(TensorShape(None if not n or n[0] is None else [None] * n[0]), x.dtype)]
    dims = [int(v) for v in value]
    if dims.count(-1) > 1:
        raise ValueError("Cannot infer multiple unknown dimensions in shape %s" % dims)
    if -1 in dims:
        known = x.shape.num_elements()
        rest = int(np.prod([d for d in dims if d != -1]))
        if known is not None and rest:
            if known % rest:
                raise ValueError("Cannot reshape a tensor with %d elements to shape %s"
                                 % (known, dims))
            dims[dims.index(-1)] = known // rest
        else:
            dims[dims.index(-1)] = None
    else:
        known = x.shape.num_elements()
        if known is not None and known != int(np.prod(dims)):
            raise ValueError("Cannot reshape a tensor with %d elements to shape %s (%d elements)"
                             % (known, dims, int(np.prod(dims))))
    return [(TensorShape(dims), x.dtype)]


Reshape = op_def("Reshape", infer=_reshape_infer, aliases=True,
                 forward=lambda xp, x, shape: xp.reshape(x, tuple(int(s) for s in shape)),
                 grad=lambda op, dy: (reshape(dy, shape_tensor(op.inputs[0])), None))


def reshape(tensor, shape, name=None):
    """`tensor` with a new shape of the same size; one dimension may be -1."""
    return apply(Reshape, [tensor, convert_to_tensor(shape, dtypes.int32)], name=name)


# -- ExpandDims -----------------------------------------------------------------------------
def _expand_dims_infer(x, axis):
    dims = x.shape.as_tuple()
    if dims is None:
        return [(TensorShape(None), x.dtype)]
    rank = len(dims) + 1
    if not -rank <= axis < rank:
        raise ValueError("axis %d is out of range for a tensor of rank %d" % (axis, rank - 1))
    a = axis % rank
    return [(TensorShape(dims[:a] + (1,) + dims[a:]), x.dtype)]


ExpandDims = op_def("ExpandDims", infer=_expand_dims_infer, aliases=True,
                    forward=lambda xp, x, axis: xp.expand_dims(x, axis),
                    grad=lambda op, dy: reshape(dy, shape_tensor(op.inputs[0])))


def expand_dims(input, axis, name=None):
    """`input` with a new dimension of size 1 at `axis`."""
    return apply(ExpandDims, [input], {"axis": int(axis)}, name=name)


# -- ZerosLike, OnesLike, Fill ----------------------------------------------------------------
ZerosLike = op_def("ZerosLike", infer=same_as_input, forward=lambda xp, x: xp.zeros_like(x),
                   grad=NOT_DIFFERENTIABLE)
OnesLike = op_def("OnesLike", infer=same_as_input, forward=lambda xp, x: xp.ones_like(x),
                  grad=NOT_DIFFERENTIABLE)


def zeros_like(tensor, dtype=None, name=None):
    """Zeros with the shape (and dtype, unless given) of `tensor`."""
    out = apply(ZerosLike, [tensor], name=name)
    return out if dtype is None else _cast(out, dtype)


def ones_like(tensor, dtype=None, name=None):
    """Ones with the shape (and dtype, unless given) of `tensor`."""
    out = apply(OnesLike, [tensor], name=name)
    return out if dtype is None else _cast(out, dtype)


def _cast(x, dtype):
    from distflow.ops.math_ops import cast
    return cast(x, dtype)


def _fill_infer(dims, value):
    v = constant_value(dims)
    if v is None:
        n = dims.shape.as_tuple()
        return [(TensorShape(None if not n or n[0] is None else [None] * n[0]), value.dtype)]
    return [(TensorShape([int(d) for d in v]), value.dtype)]


Fill = op_def("Fill", infer=_fill_infer,
              forward=lambda xp, dims, value: xp.full(tuple(int(d) for d in dims), value,
                                                      dtype=value.dtype),
              grad=lambda op, dy: (None, _sum_all(dy)))


def _sum_all(x):
    from distflow.ops.math_ops import reduce_sum
    return reduce_sum(x)


def fill(dims, value, name=None):
    """A tensor of shape `dims` filled with the scalar `value`."""
    return apply(Fill, [convert_to_tensor(dims, dtypes.int32), convert_to_tensor(value)], name=name)


def zeros(shape, dtype=dtypes.float32, name=None):
    """A tensor of zeros."""
    dtype = dtypes.as_dtype(dtype)
    return fill(shape, np.zeros((), dtype.as_numpy_dtype), name=name)


def ones(shape, dtype=dtypes.float32, name=None):
    """A tensor of ones."""
    dtype = dtypes.as_dtype(dtype)
    return fill(shape, np.ones((), dtype.as_numpy_dtype), name=name)
