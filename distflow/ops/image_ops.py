"""tf.image: resize (bilinear, nearest) and per_image_standardization, composed of ops.

Resizing follows TF2's tf.image.resize (half-pixel centers, no corner alignment): output pixel o
of a dimension samples the input at (o + 0.5) * in / out - 0.5. Bilinear blends the two nearest
rows, then the two nearest columns (gathers and a lerp, so gradients flow to the images to any
order); nearest takes row min(floor((o + 0.5) * in / out), in - 1). The sampling positions are
NumPy constants when the input's height and width are known while building, else computed from
its shape when the graph runs.
"""
import numpy as np

from distflow.framework import dtypes
from distflow.framework.graph import name_scope
from distflow.ops import (array_ops, comparison_ops, math_ops, reduction_ops, rounding_ops,
                          slicing_ops)
from distflow.ops.dispatch import convert_to_tensor

__all__ = ["resize", "per_image_standardization", "ResizeMethod"]


class ResizeMethod:
    BILINEAR = "bilinear"
    NEAREST_NEIGHBOR = "nearest"


def _sizes(size):
    try:
        h, w = (int(v) for v in np.asarray(size).reshape(-1))
    except (TypeError, ValueError):
        raise ValueError("'size' must be a 1-D int32 Tensor of 2 elements: new_height, "
                         "new_width, got %r" % (size,)) from None
    if h < 1 or w < 1:
        raise ValueError("'size' must be positive, got %r" % ([h, w],))
    return h, w


def _source(x, axis, n_out):
    """(input size, sampling positions (o + 0.5) * in / out): NumPy values when the size is
    known while building, else tensors computed when the graph runs."""
    n_in = x.shape.as_list()[axis]
    if n_in is not None:
        return n_in, (np.arange(n_out) + 0.5) * (n_in / n_out)
    n_in = math_ops.cast(array_ops.shape(x)[axis], dtypes.float64)
    steps = math_ops.cast(slicing_ops.range(n_out), dtypes.float64)
    return n_in, (steps + 0.5) * (n_in / float(n_out))


def _index(v, n_in):
    """Positions as int32 indices clipped into [0, n_in - 1]."""
    if isinstance(v, np.ndarray):
        return np.clip(v, 0, n_in - 1).astype(np.int32)
    return math_ops.cast(comparison_ops.clip_by_value(v, 0.0, n_in - 1.0), dtypes.int32)


def _floor(v):
    return np.floor(v) if isinstance(v, np.ndarray) else rounding_ops.floor(v)


def _lerp_axis(x, axis, n_out):
    n_in, src = _source(x, axis, n_out)
    src = src - 0.5
    floor = _floor(src)
    a = slicing_ops.gather(x, _index(floor, n_in), axis=axis)
    b = slicing_ops.gather(x, _index(floor + 1.0, n_in), axis=axis)
    shape = [1] * 4
    shape[axis] = n_out
    frac = array_ops.reshape(math_ops.cast(convert_to_tensor(src - floor), x.dtype), shape)
    return a + (b - a) * frac


def _nearest_axis(x, axis, n_out):
    n_in, src = _source(x, axis, n_out)
    return slicing_ops.gather(x, _index(_floor(src), n_in), axis=axis)


def resize(images, size, method=ResizeMethod.BILINEAR, preserve_aspect_ratio=False,
           antialias=False, name=None):
    """images (N, H, W, C) or (H, W, C) resized to `size` = (new_height, new_width). Bilinear
    returns float32 (float64 stays float64); nearest keeps the images' dtype."""
    if preserve_aspect_ratio or antialias:
        raise NotImplementedError("tf.image.resize: preserve_aspect_ratio and antialias are not "
                                  "supported")
    method = getattr(method, "value", method)
    if method not in ("bilinear", "nearest"):
        raise ValueError("Resize method %r is not supported; use 'bilinear' or 'nearest'"
                         % (method,))
    h, w = _sizes(size)
    with name_scope(name, "resize"):
        x = convert_to_tensor(images)
        rank = x.shape.rank
        if rank is None:
            raise ValueError("'images' contains no shape.")
        if rank not in (3, 4):
            raise ValueError("'images' must have either 3 or 4 dimensions, got shape %s"
                             % x.shape)
        if rank == 3:
            x = array_ops.expand_dims(x, 0)
        if method == "nearest":
            y = _nearest_axis(_nearest_axis(x, 1, h), 2, w)
        else:
            if x.dtype not in (dtypes.float32, dtypes.float64):
                x = math_ops.cast(x, dtypes.float32)
            y = _lerp_axis(_lerp_axis(x, 1, h), 2, w)
        return array_ops.squeeze(y, [0]) if rank == 3 else y


def per_image_standardization(image, name=None):
    """(x - mean) / max(stddev, 1 / sqrt(N)) over each image's pixels and channels (the last 3
    axes); integers become float32."""
    with name_scope(name, "per_image_standardization"):
        x = convert_to_tensor(image)
        if not x.dtype.is_floating:
            x = math_ops.cast(x, dtypes.float32)
        axes = [-1, -2, -3]
        n = math_ops.cast(reduction_ops.reduce_prod(array_ops.shape(x)[-3:]), x.dtype)
        mean = math_ops.reduce_mean(x, axes, keepdims=True)
        std = math_ops.sqrt(math_ops.reduce_mean(math_ops.square(x - mean), axes, keepdims=True))
        return (x - mean) / comparison_ops.maximum(std, math_ops.rsqrt(n))
