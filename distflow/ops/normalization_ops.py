"""l2_normalize, moments, batch_normalization and fused_batch_norm: composites of existing ops,
built as TF builds them (nn_impl.py).

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
    "batch_normalization",
    "fused_batch_norm",
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


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """(x - mean) * scale / sqrt(variance + epsilon) + offset, computed as TF does:
    x * inv + (offset - mean * inv) with inv = scale * rsqrt(variance + epsilon). `offset` and
    `scale` may be None (0 and 1)."""
    with name_scope(name, "batchnorm") as scope:
        x = convert_to_tensor(x, name="x")
        inv = math_ops.rsqrt(math_ops.add(convert_to_tensor(variance, x.dtype), variance_epsilon))
        if scale is not None:
            inv = inv * convert_to_tensor(scale, x.dtype)
        shift = -convert_to_tensor(mean, x.dtype) * inv
        if offset is not None:
            shift = convert_to_tensor(offset, x.dtype) + shift
        return math_ops.add(x * inv, shift, name=scope or None)


def fused_batch_norm(x, scale, offset, mean=None, variance=None, epsilon=0.001,
                     data_format="NHWC", is_training=True, name=None,
                     exponential_avg_factor=1.0):
    """tf.compat.v1.nn.fused_batch_norm on channels-last input: (y, mean, variance).

    Training: y is normalized with the batch's mean and (population) variance over every axis but
    the last; the returned variance is the Bessel-corrected one (n / (n - 1)), as TF's kernel
    returns it for the running statistics, and with exponential_avg_factor f < 1 both are
    blended with the given mean and variance: (1 - f) * old + f * batch. Inference: y uses the
    given mean and variance, which come back unchanged. Composed of ops, so it differentiates to
    any order (TF's FusedBatchNormGrad has no second derivative of its own)."""
    if data_format not in ("NHWC", "NDHWC", "NWC", None):
        raise ValueError("fused_batch_norm: data_format %r is not supported; distflow computes "
                         "channels last only" % (data_format,))
    with name_scope(name, "FusedBatchNorm"):
        x = convert_to_tensor(x, name="x")
        rank = x.shape.rank
        if rank is not None and rank < 2:
            raise ValueError("fused_batch_norm needs an input of rank >= 2, got %s" % x.shape)
        if not is_training:
            if mean is None or variance is None:
                raise ValueError("fused_batch_norm in inference (is_training=False) needs the "
                                 "mean and variance")
            y = batch_normalization(x, mean, variance, offset, scale, epsilon)
            return y, convert_to_tensor(mean, x.dtype), convert_to_tensor(variance, x.dtype)
        # every axis but the channels, whatever the rank: the rows of x as (-1, channels)
        rows = array_ops.reshape(x, array_ops.stack([-1, array_ops.shape(x)[-1]]))
        batch_mean, batch_var = moments(rows, [0])
        y = batch_normalization(x, batch_mean, batch_var, offset, scale, epsilon)
        n = math_ops.cast(array_ops.size(x), x.dtype) / math_ops.cast(
            array_ops.shape(x)[-1], x.dtype)
        unbiased = batch_var * (n / comparison_ops.maximum(n - 1.0, 1.0))
        f = float(exponential_avg_factor)
        if f != 1.0 and mean is not None and variance is not None:
            batch_mean = (1.0 - f) * convert_to_tensor(mean, x.dtype) + f * batch_mean
            unbiased = (1.0 - f) * convert_to_tensor(variance, x.dtype) + f * unbiased
        return y, batch_mean, unbiased
