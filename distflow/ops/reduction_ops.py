"""Reductions beyond sum and mean: max, min, prod, logsumexp, the Euclidean norm, and the index
reductions argmax and argmin. Axes are attributes (Python ints), as for reduce_sum in math_ops.
"""
import numpy as np

from distflow.framework import dtypes
from distflow.framework.tensor_shape import TensorShape
from distflow.ops.comparison_ops import equal
from distflow.ops.dispatch import apply, convert_to_tensor, dtype_of
from distflow.ops.math_ops import (_axis_attr, _expand_reduced, _reduce_infer, cast, divide,
                                   exp, numeric_input, reduce_sum)
from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def
from distflow.ops.shapes import normalize_axis


__all__ = [
    "reduce_max",
    "reduce_min",
    "reduce_prod",
    "reduce_logsumexp",
    "reduce_any",
    "reduce_all",
    "reduce_variance",
    "reduce_std",
    "count_nonzero",
    "argmax",
    "argmin",
]


def _reduce(opdef, input_tensor, axis, keepdims, name, reduction_indices, keep_dims):
    """TF1's `reduction_indices`/`keep_dims` spellings are accepted beside TF2's."""
    input_tensor = numeric_input(opdef.name, input_tensor)
    axis = reduction_indices if axis is None else axis
    keepdims = keep_dims if keep_dims is not None else keepdims
    return apply(opdef, [input_tensor], {"axis": _axis_attr(axis), "keepdims": bool(keepdims)},
                 name=name)


def _empty_reduction(xp, x, axis, keepdims, fill):
    """The result of reducing over an empty axis: every element is the reduction's identity."""
    axes = normalize_axis(axis, x.ndim)
    axes = range(x.ndim) if axes is None else axes
    dims = [1 if i in axes else d for i, d in enumerate(x.shape)] if keepdims else \
        [d for i, d in enumerate(x.shape) if i not in axes]
    return xp.full(tuple(dims), fill, dtype=x.dtype)


def _lowest(dtype):
    if dtype.kind == "f":
        return -np.inf
    return np.iinfo(dtype).min if dtype.kind in "iu" else False


def _highest(dtype):
    if dtype.kind == "f":
        return np.inf
    return np.iinfo(dtype).max if dtype.kind in "iu" else True


# -- Max and Min ----------------------------------------------------------------------------
def _max_forward(xp, x, axis=None, keepdims=False):
    if x.size == 0:  # NumPy refuses; TF gives the lowest value of the dtype
        return _empty_reduction(xp, x, axis, keepdims, _lowest(x.dtype))
    return xp.max(x, axis=axis, keepdims=keepdims)


def _min_forward(xp, x, axis=None, keepdims=False):
    if x.size == 0:
        return _empty_reduction(xp, x, axis, keepdims, _highest(x.dtype))
    return xp.min(x, axis=axis, keepdims=keepdims)


def _min_or_max_grad(op, dy):
    """The gradient goes to the elements equal to the result; ties share it equally (TF's rule)."""
    x, y = op.inputs[0], op.outputs[0]
    axis, keepdims = op.attrs["axis"], op.attrs["keepdims"]
    y = _expand_reduced(y, x, axis, keepdims)
    dy = _expand_reduced(dy, x, axis, keepdims)
    chosen = cast(equal(x, y), dy.dtype)
    count = reduce_sum(chosen, axis=axis, keepdims=True)
    return chosen * (dy / count)


Max = op_def("Max", infer=_reduce_infer, forward=_max_forward, grad=_min_or_max_grad)
Min = op_def("Min", infer=_reduce_infer, forward=_min_forward, grad=_min_or_max_grad)


def reduce_max(input_tensor, axis=None, keepdims=False, name=None, reduction_indices=None,
               keep_dims=None):
    """The maximum over `axis` (all axes when None)."""
    return _reduce(Max, input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_min(input_tensor, axis=None, keepdims=False, name=None, reduction_indices=None,
               keep_dims=None):
    """The minimum over `axis` (all axes when None)."""
    return _reduce(Min, input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


# -- Prod -----------------------------------------------------------------------------------
def _prod_forward(xp, x, axis=None, keepdims=False):
    return xp.prod(x, axis=axis, keepdims=keepdims, dtype=x.dtype)


def _prod_grad(op, dy):
    """d prod / d x_i is the product of the other elements. y / x_i fails where x_i == 0, so zeros
    are set aside: with z_i = [x_i == 0] and p the product of the nonzero elements,
    the product of the others is p / nz_i if no *other* element is zero, else 0."""
    x = op.inputs[0]
    axis, keepdims = op.attrs["axis"], op.attrs["keepdims"]
    zero = cast(equal(x, 0), x.dtype)
    nonzero = x + zero  # x with its zeros replaced by ones; z has no gradient, so d/dx is 1
    p = reduce_prod(nonzero, axis=axis, keepdims=True)
    zeros_elsewhere = reduce_sum(zero, axis=axis, keepdims=True) - zero
    others_clear = cast(equal(zeros_elsewhere, 0), x.dtype)
    dy = _expand_reduced(dy, x, axis, keepdims)
    return (p / nonzero) * others_clear * dy


Prod = op_def("Prod", infer=_reduce_infer, forward=_prod_forward, grad=_prod_grad)


def reduce_prod(input_tensor, axis=None, keepdims=False, name=None, reduction_indices=None,
                keep_dims=None):
    """The product over `axis` (all axes when None)."""
    return _reduce(Prod, input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


# -- ReduceLogSumExp ------------------------------------------------------------------------
# One op instead of TF's composite (max, stop_gradient, sub, exp, sum, log, add): the same
# numerically stable formula, log(sum(exp(x - m))) + m with m the (finite) maximum, in one kernel,
# and a gradient that is just softmax(x) * dy.
def _logsumexp_forward(xp, x, axis=None, keepdims=False):
    if x.size == 0:
        return _empty_reduction(xp, x, axis, keepdims, -np.inf)
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)  # all -inf (or an inf) in a slice: no shift
    out = xp.log(xp.sum(xp.exp(x - m), axis=axis, keepdims=keepdims))
    return out + m.reshape(out.shape)


def _logsumexp_grad(op, dy):
    # softmax(x) over the axes, from exp(x - max) / sum: exp(x - y) would carry y's rounding
    # error (y is near max(x) + log n, ~1e-4 relative for float32 values around 1e3)
    from distflow.ops.array_ops import stop_gradient
    x = op.inputs[0]
    axis, keepdims = op.attrs["axis"], op.attrs["keepdims"]
    e = exp(x - stop_gradient(reduce_max(x, axis=axis, keepdims=True)))
    return e / reduce_sum(e, axis=axis, keepdims=True) * _expand_reduced(dy, x, axis, keepdims)


def _logsumexp_infer(x, axis=None, keepdims=False):
    if not x.dtype.is_floating:
        raise TypeError("reduce_logsumexp needs a floating input, got %s" % x.dtype.name)
    return _reduce_infer(x, axis, keepdims)


ReduceLogSumExp = op_def("ReduceLogSumExp", infer=_logsumexp_infer, forward=_logsumexp_forward,
                         grad=_logsumexp_grad)


def reduce_logsumexp(input_tensor, axis=None, keepdims=False, name=None, reduction_indices=None,
                     keep_dims=None):
    """log(sum(exp(x))) over `axis`, computed without overflow (floats only)."""
    if dtype_of(input_tensor) is None:
        input_tensor = convert_to_tensor(input_tensor)
    if not input_tensor.dtype.is_floating:  # checked here too, so that eager mode refuses it
        raise TypeError("reduce_logsumexp needs a floating input, got %s"
                        % input_tensor.dtype.name)
    return _reduce(ReduceLogSumExp, input_tensor, axis, keepdims, name, reduction_indices,
                   keep_dims)


# -- EuclideanNorm --------------------------------------------------------------------------
# sqrt(sum(x * x)), as TF's kernel computes it (no rescaling against overflow). TF's kernel takes
# integers too: the sum of squares in the input's dtype, its square root rounded toward zero.
def _euclidean_norm_forward(xp, x, axis=None, keepdims=False):
    out = xp.sqrt(xp.sum(x * x, axis=axis, keepdims=keepdims, dtype=x.dtype))
    return out.astype(x.dtype, copy=False)


def _euclidean_norm_grad(op, dy):
    # TF's: x / (norm / dy), with norm and dy given back the reduced axes (NaN where norm is 0)
    x = op.inputs[0]
    axis, keepdims = op.attrs["axis"], op.attrs["keepdims"]
    norm = _expand_reduced(op.outputs[0], x, axis, keepdims)
    return divide(x, norm / _expand_reduced(dy, x, axis, keepdims))


EuclideanNorm = op_def("EuclideanNorm", infer=_reduce_infer, forward=_euclidean_norm_forward,
                       grad=_euclidean_norm_grad)


def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False, name=None):
    """sqrt(sum(x ** 2)) over `axis` (all axes when None), in the input's dtype (for integers,
    rounded toward zero, as TF's kernel does)."""
    return _reduce(EuclideanNorm, input_tensor, axis, keepdims, name, None, None)


# -- Any and All: reductions of bools -------------------------------------------------------
def _bool_reduce_infer(name):
    def infer(x, axis=None, keepdims=False):
        if not x.dtype.is_bool:
            raise TypeError("Input 'input' of '%s' Op has type %s that does not match expected "
                            "type of bool." % (name, x.dtype.name))
        return _reduce_infer(x, axis, keepdims)
    return infer


Any = op_def("Any", infer=_bool_reduce_infer("Any"), grad=NOT_DIFFERENTIABLE,
             forward=lambda xp, x, axis=None, keepdims=False: xp.any(x, axis=axis,
                                                                      keepdims=keepdims))
All = op_def("All", infer=_bool_reduce_infer("All"), grad=NOT_DIFFERENTIABLE,
             forward=lambda xp, x, axis=None, keepdims=False: xp.all(x, axis=axis,
                                                                      keepdims=keepdims))


def _reduce_bools(opdef, input_tensor, axis, keepdims, name, reduction_indices, keep_dims):
    if dtype_of(input_tensor) is None:
        input_tensor = convert_to_tensor(input_tensor)
    opdef.infer(input_tensor)  # eager calls skip the shape rule: refuse numbers here too
    axis = reduction_indices if axis is None else axis
    keepdims = keep_dims if keep_dims is not None else keepdims
    return apply(opdef, [input_tensor], {"axis": _axis_attr(axis), "keepdims": bool(keepdims)},
                 name=name)


def reduce_any(input_tensor, axis=None, keepdims=False, name=None, reduction_indices=None,
               keep_dims=None):
    """True where any element over `axis` is True (bool tensors only)."""
    return _reduce_bools(Any, input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_all(input_tensor, axis=None, keepdims=False, name=None, reduction_indices=None,
               keep_dims=None):
    """True where every element over `axis` is True (bool tensors only)."""
    return _reduce_bools(All, input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


# -- Variance, standard deviation, counting: built from other ops, as TF builds them ----------
def _floating_input(fname, x):
    if dtype_of(x) is None:
        x = convert_to_tensor(x)
    if not x.dtype.is_floating:
        raise TypeError("Input must be either real or complex. Received integer type %s."
                        % x.dtype.name)
    return x


def reduce_variance(input_tensor, axis=None, keepdims=False, name=None):
    """The population variance over `axis`: the mean squared deviation from the mean."""
    from distflow.framework.graph import name_scope
    from distflow.ops.math_ops import reduce_mean, square
    with name_scope(name or "reduce_variance"):
        x = _floating_input("reduce_variance", input_tensor)
        deviations = x - reduce_mean(x, axis=axis, keepdims=True)
        return reduce_mean(square(deviations), axis=axis, keepdims=keepdims)


def reduce_std(input_tensor, axis=None, keepdims=False, name=None):
    """The population standard deviation over `axis`: the square root of reduce_variance."""
    from distflow.framework.graph import name_scope
    from distflow.ops.math_ops import sqrt
    with name_scope(name or "reduce_std"):
        return sqrt(reduce_variance(input_tensor, axis=axis, keepdims=keepdims))


def count_nonzero(input, axis=None, keepdims=None, dtype=dtypes.int64, name=None):
    """How many elements over `axis` are not zero (not False, for bools); int64 by default."""
    from distflow.framework.graph import name_scope
    from distflow.ops.comparison_ops import not_equal
    with name_scope(name or "count_nonzero"):
        if dtype_of(input) is None:
            input = convert_to_tensor(input)
        nonzero = cast(not_equal(input, np.zeros((), input.dtype.as_numpy_dtype)), dtypes.int64)
        return cast(reduce_sum(nonzero, axis=axis, keepdims=bool(keepdims)), dtype)


# -- ArgMax and ArgMin ----------------------------------------------------------------------
def _arg_infer(x, axis, output_type):
    dims = x.shape.as_tuple()
    if dims is None:
        return [(TensorShape(None), output_type)]
    if not -len(dims) <= axis < len(dims):
        raise ValueError("Expected dimension in the range [%d, %d), but got %d"
                         % (-len(dims), len(dims), axis))
    axis %= len(dims)
    return [(TensorShape(dims[:axis] + dims[axis + 1:]), output_type)]


ArgMax = op_def("ArgMax", infer=_arg_infer, grad=NOT_DIFFERENTIABLE,
                forward=lambda xp, x, axis, output_type: xp.argmax(x, axis=axis).astype(
                    output_type.as_numpy_dtype, copy=False))
ArgMin = op_def("ArgMin", infer=_arg_infer, grad=NOT_DIFFERENTIABLE,
                forward=lambda xp, x, axis, output_type: xp.argmin(x, axis=axis).astype(
                    output_type.as_numpy_dtype, copy=False))


def _arg(opdef, input, axis, output_type, name, dimension):
    axis = dimension if axis is None else axis
    axis = 0 if axis is None else _axis_attr(axis)  # TF reduces axis 0 by default
    if not isinstance(axis, int):
        raise TypeError("%s takes a single axis, got %s" % (opdef.name, axis))
    output_type = dtypes.as_dtype(output_type)
    if output_type not in (dtypes.int32, dtypes.int64):
        raise TypeError("Value passed to parameter 'output_type' has DataType %s not in list of "
                        "allowed values: int32, int64" % output_type.name)
    input = numeric_input(opdef.name, input)
    return apply(opdef, [input], {"axis": axis, "output_type": output_type}, name=name)


def argmax(input, axis=None, output_type=dtypes.int64, name=None, dimension=None):
    """The index of the largest value along `axis` (the first one on ties); int64 by default."""
    return _arg(ArgMax, input, axis, output_type, name, dimension)


def argmin(input, axis=None, output_type=dtypes.int64, name=None, dimension=None):
    """The index of the smallest value along `axis` (the first one on ties); int64 by default."""
    return _arg(ArgMin, input, axis, output_type, name, dimension)
