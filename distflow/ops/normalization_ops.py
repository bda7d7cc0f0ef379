"""l2_normalize and moments: composites of existing ops, built as TF builds them (nn_impl.py).

They add no op of their own, so their gradients (and second derivatives) come from the ops they
are made of, and their node names are TF's: `l2_normalize:0`, `moments/mean:0`,
`moments/Squeeze:0`.
"""
from distflow.framework import dtypes
from distflow.framework.graph import name_scope
from distflow.ops import array_ops, comparison_ops, math_ops
from distflow.ops.dispatch import convert_to_tensor

__all__ = [
    "l2_normalize",
    "moments",
]


def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    """x / sqrt(max(sum(x ** 2, axis), epsilon)): unit L2 norm along `axis` (every axis when
    None). A slice whose squared norm is below epsilon is scaled by 1 / sqrt(epsilon) instead,
    so zeros stay zeros. Integers are refused, as TF does (epsilon would not convert)."""
    if dim is not None:  # TF1's old name for axis
        if axis is not None:
            raise ValueError("Cannot specify both 'axis' and 'dim'")
        axis = dim
    with name_scope(name, "l2_normalize") as scope:
        x = convert_to_tensor(x, name="x")
        square_sum = math_ops.reduce_sum(math_ops.square(x), axis, keepdims=True)
        x_inv_norm = math_ops.rsqrt(comparison_ops.maximum(square_sum, epsilon))
        return math_ops.multiply(x, x_inv_norm, name=scope or None)


def moments(x, axes, shift=None, keepdims=False, name=None, keep_dims=None):
    """(mean, variance) of x over `axes`; the variance is the population one (divided by n).

    `shift` is accepted and unused, as in TF. float16 input is reduced in float32 and the results
    cast back, as TF does. Unlike TF, the mean inside the variance is not wrapped in
    stop_gradient: the first derivatives are the same (that path contributes zero), and second
    derivatives of the variance come out right instead of missing the -1/n term.
    """
    if keep_dims is not None:  # TF1's old spelling
        keepdims = keep_dims
    with name_scope(name, "moments"):
        x = convert_to_tensor(x, name="x")
        y = math_ops.cast(x, dtypes.float32) if x.dtype == dtypes.float16 else x
        mean = math_ops.reduce_mean(y, axes, keepdims=True, name="mean")
        variance = math_ops.reduce_mean(math_ops.squared_difference(y, mean), axes,
                                        keepdims=True, name="variance")
        if not keepdims:
            mean = array_ops.squeeze(mean, axes)
            variance = array_ops.squeeze(variance, axes)
        if x.dtype == dtypes.float16:
            return math_ops.cast(mean, dtypes.float16), math_ops.cast(variance, dtypes.float16)
        return mean, variance


def moments_v1(x, axes, shift=None, name=None, keep_dims=None, keepdims=None):
    """TF1's tf.compat.v1.nn.moments: the same, with name before keep_dims positionally."""
    return moments(x, axes, shift=shift, keepdims=bool(keepdims or keep_dims), name=name)
