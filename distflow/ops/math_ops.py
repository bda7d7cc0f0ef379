"""Elementwise math, sums and means, and matmul. Each op: its rule, kernel, gradient, wrapper.

Max/Min/Prod/ArgMax and friends live in reduction_ops.py; comparisons, logical ops and `where` in
comparison_ops.py, with maximum, minimum and clip_by_value, which select by comparing. Gradients
here that need those import them where they are used, because comparison_ops builds on this
module's `binary` helper. The one-input elementwise ops (abs, sign, sqrt, exp, log, sin, ...)
live in unary_math_ops.py, the two-input ones past + - * / (floordiv, floormod, pow,
squared_difference, divide_no_nan) in binary_math_ops.py; their names are re-exported here.
"""
import functools
import math
import operator

import numpy as np

from distflow.framework import dtypes
from distflow.framework.eager import EagerTensor
from distflow.framework.errors import InvalidArgumentError
from distflow.framework.tensor_shape import TensorShape
from distflow.ops import array_ops, dispatch
from distflow.ops.constant_op import constant_value
from distflow.ops.dispatch import apply, binary_operands, convert_to_tensor, dtype_of
from distflow.ops.registry import SAME_SHAPE, op_def
from distflow.ops.shapes import (binary_grad, binary_infer, check_same_dtype, normalize_axis,
                                 reduced_shape, same_as_input, shape_tensor, static_shape)


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
    "floordiv",
    "floormod",
    "mod",
    "abs",
    "sign",
    "sqrt",
    "rsqrt",
    "exp",
    "log",
    "log1p",
    "sin",
    "cos",
    "reciprocal",
    "pow",
    "squared_difference",
    "divide_no_nan",
]


def binary(opdef, x, y, name=None, names=("x", "y")):
    """Applies a two-input op; a Python value takes the other operand's dtype."""
    if type(x) is not EagerTensor and (dtype_of(x) is None or dtype_of(y) is None):
        graph = dispatch.building_graph([x, y])
        if graph is not None:
            # TF names the constant a Python operand becomes after the op and the argument
            # (`x * 2.0` builds mul/y and mul): later default names (Const_1, ...) then match
            with graph.name_scope(name or opdef.name) as scope:
                return _binary(opdef, *dispatch.graph_operands(graph, x, y, names), names,
                               scope)
    return _binary(opdef, *binary_operands(x, y), names, name)


def _binary(opdef, x, y, names, name):
    # Checked here, not only in the shape rule, so that eager mode refuses what graphs refuse
    # instead of letting NumPy promote silently. Eager tensors compare their arrays' dtypes:
    # building DType objects would cost more than a small op itself.
    if type(x) is EagerTensor and type(y) is EagerTensor:
        kind = x._value.dtype.kind
        differ = x._value.dtype != y._value.dtype
    else:
        dx, dy = dtype_of(x), dtype_of(y)
        kind = dx._np.kind if dx is not None else None
        differ = dx is not None and dy is not None and dx != dy
    if differ:
        check_same_dtype(opdef.name, x, y, names)
    if kind == "b" and opdef.name not in _BOOL_OPERANDS:  # NumPy would add bools as `or`
        raise TypeError("Value for attr 'T' of bool is not in the list of allowed values for "
                        "'%s': bool tensors take logical ops (logical_and, logical_or)"
                        % opdef.name)
    return apply(opdef, [x, y], name=name)


_BOOL_OPERANDS = frozenset(["Equal", "NotEqual"])  # the two-input ops TF defines for bools


def unary(opdef, x, name=None):
    return apply(opdef, [x], name=name)


def float_unary(opdef, x, name=None):
    """Applies a one-input op defined only for floating dtypes (TF's `sqrt(4)` is a TypeError)."""
    if dtype_of(x) is None:
        x = convert_to_tensor(x)
    if not x.dtype.is_floating:
        raise TypeError("Value passed to parameter 'x' has DataType %s not in list of allowed "
                        "values: float16, float32, float64" % x.dtype.name)
    return apply(opdef, [x], name=name)


# -- Add ------------------------------------------------------------------------------------
# Binary gradients (shapes.binary_grad) leave out an input nobody needs: eagerly, that saves an
# op for a constant operand such as a label or a data batch.
def _add_grad(op, dy):
    return binary_grad(op, lambda x, y: dy, lambda x, y: dy)


# The arithmetic kernels use Python's operators, which reach the same ufuncs on arrays, while on
# NumPy scalars (what a ufunc returns for 0-d inputs: a step counter, a learning rate's schedule)
# they take NumPy's scalar arithmetic, a tenth of a ufunc call's cost (0.06 against 0.6 us). A
# plan calls the operator itself (`bind`), with no Python frame of ours between.
def _bind_operator(operator_fn, ufunc=None):
    def bind(xp, out=None):  # (CPU plans only: `ufunc` is NumPy's)
        if out is None:
            return operator_fn
        return lambda x, y: ufunc(x, y, out=out)
    return bind


Add = op_def("Add", infer=binary_infer("Add"), forward=lambda xp, x, y: x + y, grad=_add_grad,
             forward_out=lambda xp, x, y, out: xp.add(x, y, out=out),
             bind=_bind_operator(operator.add, np.add))


def add(x, y, name=None):
    """x + y elementwise, with NumPy broadcasting."""
    return binary(Add, x, y, name)


# -- Sub ------------------------------------------------------------------------------------
def _sub_grad(op, dy):
    return binary_grad(op, lambda x, y: dy, lambda x, y: -dy)


Sub = op_def("Sub", infer=binary_infer("Sub"), forward=lambda xp, x, y: x - y,
             grad=_sub_grad,
             bind=_bind_operator(operator.sub))


def subtract(x, y, name=None):
    """x - y elementwise."""
    return binary(Sub, x, y, name)


# -- Mul ------------------------------------------------------------------------------------
def _mul_grad(op, dy):
    return binary_grad(op, lambda x, y: dy * y, lambda x, y: x * dy)


Mul = op_def("Mul", infer=binary_infer("Mul"), forward=lambda xp, x, y: x * y,
             grad=_mul_grad,
             bind=_bind_operator(operator.mul))


def multiply(x, y, name=None):
    """x * y elementwise."""
    return binary(Mul, x, y, name)


# -- RealDiv --------------------------------------------------------------------------------
def _div_grad(op, dy):
    return binary_grad(op, lambda x, y: dy / y, lambda x, y: -dy * x / (y * y))


def _div_forward(xp, x, y):
    if x.dtype.kind in "iu":  # TF's truediv casts integers to float first
        return xp.true_divide(x, y)
    return x / y


def _div_infer(x, y):
    (shape, dtype), = binary_infer("RealDiv")(x, y)
    if dtype.is_integer:
        dtype = dtypes.float64 if dtype.size >= 4 else dtypes.float32
    return [(shape, dtype)]


RealDiv = op_def("RealDiv", infer=_div_infer, forward=_div_forward, grad=_div_grad,
                 bind=_bind_operator(operator.truediv))  # true division for integers too


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


def _add_n_forward_out(xp, *xs, out):
    xp.add(xs[0], xs[1], out=out)
    for x in xs[2:]:
        out += x
    return out


AddN = op_def("AddN", infer=_add_n_infer, forward=_add_n_forward, forward_out=_add_n_forward_out,
              grad=lambda op, dy: tuple(dy for _ in op.inputs))


def add_n(inputs, name=None):
    """The elementwise sum of a list of tensors of one shape and dtype."""
    inputs = list(inputs)
    if not inputs:
        raise ValueError("inputs must be a non-empty list of tensors")
    if len(inputs) == 1:
        from distflow.ops.array_ops import identity
        return identity(inputs[0], name=name)
    first = inputs[0]
    if type(first) is EagerTensor:  # eager calls skip the shape rule, and NumPy would broadcast
        for x in inputs[1:]:
            if type(x) is EagerTensor and (x._value.dtype != first._value.dtype
                                           or x._value.shape != first._value.shape):
                raise InvalidArgumentError(None, None, "AddN inputs must all have one shape and "
                                           "dtype, got %s %s and %s %s [Op:AddN]" % (
                                               first._value.dtype, first._value.shape,
                                               x._value.dtype, x._value.shape))
    return apply(AddN, inputs, name=name)


# -- SumTo / BroadcastTo: the pair that undoes and redoes broadcasting ---------------------
def _sum_to_forward(xp, g, shape):
    # The axes depend on the two shapes only: worked out once per pair (a bias's gradient runs
    # this every step, and working them out cost as much as the small sum itself).
    # (the shape's dtype too: int64 [64] and int32 [64, 0] have the same bytes)
    key = (g.shape, shape.dtype, shape.tobytes()) if type(shape) is np.ndarray else None
    plan = _SUM_TO_PLANS.get(key) if key is not None else None
    if plan is None:
        plan = _sum_to_plan(g.shape, tuple(shape.tolist()))  # tolist: 15x faster than int()s
        if key is not None:
            if len(_SUM_TO_PLANS) >= 1024:  # shapes that never repeat: start over
                _SUM_TO_PLANS.clear()
            _SUM_TO_PLANS[key] = plan
    axes, target = plan
    if target is None:  # the common case (a bias): sum the leading axes, nothing to reshape
        return _sum_leading(xp, g, len(axes))
    if axes:
        g = g.sum(axis=axes, keepdims=True, dtype=g.dtype)
    return g.reshape(target)


_SUM_TO_PLANS = {}  # (gradient's shape, target's dtype and bytes) -> _sum_to_plan's answer


def _sum_to_plan(g_shape, shape):
    """(axes to sum, shape to reshape to, or None when summing the leading axes is all)."""
    lead = len(g_shape) - len(shape)
    kept = tuple(lead + i for i, s in enumerate(shape) if s == 1 and g_shape[lead + i] != 1)
    if lead and not kept:
        return tuple(range(lead)), None
    return tuple(range(lead)) + kept, shape


# A bias's gradient sums a (batch, units) matrix over its rows. On the CPU that is a product with a
# row of ones (BLAS's gemv, as Caffe's bias_multiplier does it): 0.6 us for 32x64 against 1.6 us
# for np.sum's reduction machinery, with the same float32 accumulation over the rows.
_BLAS_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@functools.lru_cache(maxsize=32)
def _ones(n, dtype):
    ones = np.ones(n, dtype)
    ones.flags.writeable = False
    return ones


def _sum_leading(xp, g, lead, out=None):
    if xp is np and lead == 1 and g.ndim == 2 and g.dtype in _BLAS_DTYPES and (
            out is None or (out.flags.c_contiguous and out.dtype == g.dtype)):
        return np.dot(_ones(g.shape[0], g.dtype), g, out=out)
    return g.sum(axis=tuple(range(lead)), dtype=g.dtype, out=out)


def _shape_from_tensor(shape_t, dtype):
    value = constant_value(shape_t)
    if value is not None:
        return TensorShape([int(v) for v in value])
    n = shape_t.shape.as_tuple()
    return TensorShape(None if not n or n[0] is None else [None] * n[0])


def _sum_to_forward_out(xp, g, shape, out):
    lead = g.ndim - out.ndim
    if lead and g.shape[lead:] == out.shape:  # the common case (a bias): sum the leading axes
        return _sum_leading(xp, g, lead, out)
    out[...] = _sum_to_forward(xp, g, shape)
    return out


SumTo = op_def("SumTo", host_inputs=(1,), pass_through=SAME_SHAPE,
               infer=lambda g, shape: [(_shape_from_tensor(shape, g.dtype), g.dtype)],
               forward=_sum_to_forward, forward_out=_sum_to_forward_out,
               bind=lambda xp, out=None: functools.partial(_sum_to_forward, xp) if out is None
               else lambda g, shape: _sum_to_forward_out(xp, g, shape, out),
               grad=lambda op, dy: (broadcast_to(dy, shape_tensor(op.inputs[0])), None))


def sum_to(x, shape, name=None):
    """Sums `x` over broadcast dimensions down to `shape` (the inverse of broadcast_to)."""
    return apply(SumTo, [x, convert_to_tensor(shape, dtypes.int32)], name=name)


_SMALL_BROADCAST = 4096  # elements: below this a copy costs less than xp.broadcast_to's Python


def _broadcast_to_forward(xp, x, shape):
    shape = tuple(shape.tolist())
    if x.shape == shape:
        return x
    # (x.ndim checked: assignment would also drop extra leading 1s, which broadcast_to refuses)
    if x.ndim <= len(shape) and math.prod(shape) <= _SMALL_BROADCAST:
        out = xp.empty(shape, dtype=x.dtype)
        out[...] = x
        return out
    return xp.broadcast_to(x, shape)


BroadcastTo = op_def("BroadcastTo", host_inputs=(1,), pass_through=SAME_SHAPE,
                     infer=lambda x, shape: [(_shape_from_tensor(shape, x.dtype), x.dtype)],
                     forward=_broadcast_to_forward, aliases=True,
                     grad=lambda op, dy: (sum_to(dy, shape_tensor(op.inputs[0])), None))


def broadcast_to(x, shape, name=None):
    """`x` broadcast to `shape` (NumPy rules)."""
    return apply(BroadcastTo, [x, array_ops.as_int32(shape)], name=name)


# -- Sum and Mean ---------------------------------------------------------------------------
def _reduce_infer(x, axis=None, keepdims=False):
    return [(reduced_shape(x.shape, axis, keepdims), x.dtype)]


def _expand_reduced(dy, x, axis, keepdims):
    """dy reshaped so that it broadcasts against x (the reduced axes put back as size 1)."""
    if keepdims or axis is None:  # axes kept line up; all axes reduced: a scalar broadcasts
        return dy
    from distflow.ops.array_ops import expand_dims
    rank = x.shape.rank
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


def _sum_forward_out(xp, x, axis=None, keepdims=False, out=None):
    xp.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype, out=out)
    return out  # not sum's result: for a NumPy scalar input that is a new scalar


Sum = op_def("Sum", infer=_reduce_infer, forward=_sum_forward, forward_out=_sum_forward_out,
             grad=_sum_grad)


def _axis_attr(axis):
    if axis is None:
        return None
    value = constant_value(axis) if not isinstance(axis, (int, list, tuple, np.ndarray)) else axis
    if value is None:
        raise TypeError("distflow reductions take the axis as a Python int or list, not a tensor "
                        "computed at run time")
    value = np.asarray(value)
    return int(value) if value.ndim == 0 else tuple(int(v) for v in value)


def numeric_input(opname, x):
    """`x` as a tensor, refused when it holds bools: NumPy would sum them to one bool (True),
    where TF has no bool sums at all; a count is reduce_sum(cast(x, int32))."""
    if type(x) is EagerTensor and x._value.dtype.kind != "b":  # eagerly: no DType to make
        return x
    if dtype_of(x) is None:
        x = convert_to_tensor(x)
    if dtype_of(x).is_bool:
        raise TypeError("Value for attr 'T' of bool is not in the list of allowed values for "
                        "'%s': cast bools to a number first" % opname)
    return x


def reduce_sum(input_tensor, axis=None, keepdims=False, name=None, reduction_indices=None,
               keep_dims=None):
    """Sum over `axis` (all axes when None)."""
    input_tensor = numeric_input("Sum", input_tensor)
    axis = reduction_indices if axis is None else axis
    keepdims = keep_dims if keep_dims is not None else keepdims
    return apply(Sum, [input_tensor], {"axis": _axis_attr(axis), "keepdims": bool(keepdims)},
                 name=name)


def _mean_forward(xp, x, axis=None, keepdims=False):
    if x.dtype.kind == "f" and x.dtype.itemsize >= 4:
        # What xp.mean computes for float32/64 (the sum in the input's dtype, then one
        # division), without its Python wrapper, which costs 5x a small mean itself.
        if xp is np:  # the ufunc's reduce itself: ndarray.sum is a Python wrapper around it
            total = np.add.reduce(x, axis=axis, dtype=x.dtype, keepdims=keepdims)
        else:
            total = x.sum(axis=axis, keepdims=keepdims, dtype=x.dtype)
        return total / (x.size // total.size if total.size else 1)
    out = xp.mean(x, axis=axis, keepdims=keepdims)
    return out.astype(x.dtype, copy=False)


def _mean_grad(op, dy):
    x, y = op.inputs[0], op.outputs[0]
    xs, ys = static_shape(x), static_shape(y)
    if xs is not None and ys is not None:
        # Shapes known (always, eagerly): the count is a number, as in TF's _MeanGrad. Dividing
        # dy before broadcasting it divides one value per output instead of one per input.
        n = math.prod(xs) / max(math.prod(ys), 1)
        return _sum_grad(op, dy / n)
    from distflow.ops.array_ops import size
    n = cast(size(x), y.dtype) / cast(size(y), y.dtype)
    return _sum_grad(op, dy) / n


Mean = op_def("Mean", infer=_reduce_infer, forward=_mean_forward, grad=_mean_grad,
              bind=lambda xp, axis=None, keepdims=False:
              lambda x: _mean_forward(xp, x, axis, keepdims))


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None, reduction_indices=None,
                keep_dims=None):
    """Mean over `axis` (all axes when None); integer inputs give an integer mean, as in TF."""
    input_tensor = numeric_input("Mean", input_tensor)
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
              grad=_cast_grad, bind=lambda xp, DstT: functools.partial(
                  _cast_to, np.dtype(DstT.as_numpy_dtype)))


def _cast_to(np_dtype, x):
    if type(x) is np.ndarray or np_dtype.kind != "f" or x.dtype.kind not in "biuf":
        return x.astype(np_dtype, copy=False)
    return np_dtype.type(x)  # a real NumPy scalar to a float: the same value, without astype's
    # trip through a 0-d array (a step count cast for Adam's bias correction: 0.15 against 1 us)


def cast(x, dtype, name=None):
    """`x` converted to `dtype`."""
    dtype = dtypes.as_dtype(dtype)
    x = convert_to_tensor(x) if dispatch.dtype_of(x) is None else x
    if dispatch.dtype_of(x) == dtype:
        return x
    return apply(Cast, [x], {"DstT": dtype}, name=name)


# The one-input elementwise ops live in unary_math_ops.py (it builds on the helpers above);
# their names stay here, where TF has them.
from distflow.ops.unary_math_ops import (Abs, Cos, Exp, Log, Log1p, Reciprocal,  # noqa: E402,F401
                                         Rsqrt, Sign, Sin, Sqrt, abs, cos, exp, log, log1p,
                                         reciprocal, rsqrt, sign, sin, sqrt)
# and the two-input ones past + - * / in binary_math_ops.py
from distflow.ops.binary_math_ops import (DivNoNan, FloorDiv, FloorMod, Pow,  # noqa: E402,F401
                                          SquaredDifference, divide_no_nan, floordiv, floormod,
                                          mod, pow, squared_difference)
