"""Const and Placeholder: where values enter a graph."""
import numpy as np

from distflow import backend
from distflow.framework import context, dtypes
from distflow.framework.eager import EagerTensor
from distflow.framework.graph import Tensor, get_default_graph
from distflow.framework.tensor_shape import TensorShape
from distflow.ops import dispatch
from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def
from distflow.ops.shapes import check_mergeable


__all__ = [
    "constant",
    "placeholder",
]


def _const_infer(value, dtype):
    return [(TensorShape(np.shape(value)), dtype)]


Const = op_def("Const", infer=_const_infer, forward=lambda xp, value, dtype: value,
               grad=NOT_DIFFERENTIABLE, aliases=True)


def const_in_graph(graph, array, name):
    dtype = dtypes.as_dtype(array.dtype)
    return dispatch.build_op(graph, Const, [], {"value": array, "dtype": dtype}, name)


def constant(value, dtype=None, shape=None, name="Const"):
    """A tensor holding `value` (broadcast to `shape` when given)."""
    arr = dispatch.to_array(backend_value(value), dtype)
    if shape is not None:
        shape = tuple(TensorShape(shape).as_list())
        if arr.size == 1 and arr.shape != shape:
            arr = np.full(shape, arr.reshape(()), dtype=arr.dtype)
        elif arr.shape != shape:
            if arr.size != int(np.prod(shape)):
                raise TypeError("Eager execution of tf.constant with unsupported shape. Tried to "
                                "convert %d values to shape %s" % (arr.size, list(shape)))
            arr = arr.reshape(shape)
    if context.executing_eagerly():
        return EagerTensor(backend.place_eager(arr))  # inside df.device("gpu"): on the GPU
    return const_in_graph(get_default_graph(), arr, name)


def backend_value(value):
    if isinstance(value, EagerTensor):
        return value.numpy()
    if isinstance(value, Tensor):
        raise TypeError("tf.constant takes a value, not a symbolic Tensor (%s)" % value.name)
    return value


def constant_value(t):
    """The value of `t` when it is known while building (a Const, or an eager tensor), else None."""
    if isinstance(t, EagerTensor):
        return t.numpy()
    if isinstance(t, Tensor):
        op = t.op
        if op.opdef is Const:
            return op.attrs["value"]
        if op.type == "Shape" and op.inputs[0].shape.is_fully_defined():
            return np.array(op.inputs[0].shape.as_list(), dtype=op.outputs[0].dtype.as_numpy_dtype)
    return None


def _placeholder_kernel(op, runtime):
    def missing():
        from distflow.framework.errors import InvalidArgumentError
        # TF's message names the dtype and shape as its C++ runtime prints them: float, [?,3]
        shape, dtype = op.attrs["shape"], op.attrs["dtype"].name
        dims = "" if shape.rank is None else " and shape [%s]" % ",".join(
            "?" if d is None else str(d) for d in shape.as_list())
        raise InvalidArgumentError(None, op, "You must feed a value for placeholder tensor '%s' "
                                   "with dtype %s%s" % (op.name, _CPP_DTYPES.get(dtype, dtype),
                                                        dims))
    return missing


_CPP_DTYPES = {"float32": "float", "float64": "double", "float16": "half"}


Placeholder = op_def("Placeholder", capturable=True, infer=lambda shape, dtype: [(shape, dtype)],
                     kernel=_placeholder_kernel, grad=NOT_DIFFERENTIABLE)


def placeholder(dtype, shape=None, name=None):
    """A graph input that Session.run must feed. Graph mode only, as in TF."""
    if context.executing_eagerly() and not context.ctx.graphs:
        raise RuntimeError("tf.placeholder() is not compatible with eager execution.")
    attrs = {"dtype": dtypes.as_dtype(dtype), "shape": TensorShape(shape)}
    return dispatch.build_op(get_default_graph(), Placeholder, [], attrs, name)



def _placeholder_with_default_infer(input, shape):
    """The declared shape, which must admit the default's: a feed may then be any value of
    the declared shape (TF's shape function merges the two the same way)."""
    check_mergeable(input.shape, shape)
    return [(shape, input.dtype)]


# Unfed, the default flows through; fed, the Session replaces the output as for any fed tensor.
PlaceholderWithDefault = op_def("PlaceholderWithDefault", infer=_placeholder_with_default_infer,
                                forward=lambda xp, x, shape: x, aliases=True,
                                grad=lambda op, dy: dy)


def placeholder_with_default(input, shape, name=None):
    """`input`, unless a value is fed in its place (TF1's optional graph input)."""
    attrs = {"shape": TensorShape(shape)}
    if dispatch.dtype_of(input) is not None or context.executing_eagerly():
        return dispatch.apply(PlaceholderWithDefault, [input], attrs, name=name)
    graph = get_default_graph()  # a plain value becomes `<name>/input`, as TF names it
    with graph.name_scope(name or "PlaceholderWithDefault") as scope:
        default = dispatch.convert_to_tensor(input, name="input")
        return dispatch.apply(PlaceholderWithDefault, [default], attrs, name=scope)
