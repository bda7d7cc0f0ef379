"""Pooling on NHWC images: MaxPool and AvgPool with their gradient ops under TF's names
(MaxPoolGrad, MaxPoolGradGrad, AvgPoolGrad), and the functions TF offers over them (max_pool2d,
avg_pool2d, the 1-D forms through ExpandDims / Squeeze as TF builds them, TF1's max_pool and
avg_pool).

The windows are the strided slices of conv_ops: a kernel loops over the KH*KW window taps, each a
whole-tensor operation, never over pixels. Semantics are TF's: max pooling pads with -inf (a pad
never wins), and 'SAME' average pooling divides by the number of real (unpadded) elements in each
window. The gradient of max pooling goes to the first maximum of each window in row-major order,
as TF's CPU kernel sends it; MaxPoolGrad is linear in dy, and its gradient gathers at the same
positions (MaxPoolGradGrad), whose gradient is MaxPoolGrad again, so every order exists.
"""
import numpy as np

from distflow.framework.graph import name_scope
from distflow.framework.tensor_shape import TensorShape
from distflow.ops import array_ops
from distflow.ops.constant_op import constant_value
from distflow.ops.conv_ops import geometry, padding_attr, spatial, tap_slices, _nhwc
from distflow.ops.dispatch import apply, convert_to_tensor
from distflow.ops.registry import op_def
from distflow.ops.shapes import shape_tensor

__all__ = ["max_pool2d", "avg_pool2d", "max_pool1d", "avg_pool1d", "max_pool", "avg_pool",
           "pool"]

_ONES = (1, 1)


def _pad(xp, x, pads, fill):
    (pt, pb), (pl, pr) = pads
    if pt or pb or pl or pr:
        return xp.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=fill)
    return x


def _lowest(x):
    return -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min


def _geometry(shape, ksize, strides, padding):
    (oh, pt, pb), (ow, pl, pr) = geometry(shape[1:3], ksize, strides, _ONES, padding, "Pool")
    return (oh, ow), ((pt, pb), (pl, pr))


def _pool_infer(opname):
    def infer(x, ksize, strides, padding):
        d = x.shape.as_tuple()
        if d is None:
            return [(TensorShape([None] * 4), x.dtype)]
        if len(d) != 4:
            raise ValueError("Shape must be rank 4 but is rank %d for '%s'" % (len(d), opname))
        (oh, _, _), (ow, _, _) = geometry(d[1:3], ksize, strides, _ONES, padding, opname)
        return [(TensorShape([d[0], oh, ow, d[3]]), x.dtype)]
    return infer


# -- MaxPool -------------------------------------------------------------------------------------
def _max_pool_forward(xp, x, ksize, strides, padding):
    (oh, ow), pads = _geometry(x.shape, ksize, strides, padding)
    xpad = _pad(xp, x, pads, _lowest(x))
    out = None
    for _, _, where in tap_slices(ksize, strides, _ONES, (oh, ow)):
        out = xpad[where].copy() if out is None else xp.maximum(out, xpad[where], out=out)
    return out


def _first_max_taps(xp, x, y, ksize, strides, padding):
    """(slice, mask) per window tap: the mask marks the outputs whose first maximum (row-major
    within the window) is at that tap."""
    (oh, ow), pads = _geometry(x.shape, ksize, strides, padding)
    xpad = _pad(xp, x, pads, _lowest(x))
    taken = xp.zeros(y.shape, bool)
    for _, _, where in tap_slices(ksize, strides, _ONES, (oh, ow)):
        mask = (xpad[where] == y) & ~taken
        taken |= mask
        yield where, mask, xpad.shape, pads


def _crop(xp, a, shape, pads):
    (pt, _), (pl, _) = pads
    if a.shape == tuple(shape):
        return a
    return xp.ascontiguousarray(a[:, pt:pt + shape[1], pl:pl + shape[2], :])


def _max_pool_grad_forward(xp, x, y, dy, ksize, strides, padding):
    """dy to the first maximum of each window (row-major), a few whole-tensor operations per
    tap: a window's tied maxima (all zeros after a ReLU) are common, so a later tap takes only
    the windows no earlier tap took."""
    (oh, ow), pads = _geometry(x.shape, ksize, strides, padding)
    xpad = _pad(xp, x, pads, _lowest(x))
    # windows that tile the input exactly write every element once: no zeros, no additions
    tiled = tuple(strides) == tuple(ksize) and xpad.shape[1] == oh * ksize[0] \
        and xpad.shape[2] == ow * ksize[1]
    dx = (xp.empty if tiled else xp.zeros)(xpad.shape, dy.dtype)
    seen = None
    for _, _, where in tap_slices(ksize, strides, _ONES, (oh, ow)):
        mask = xp.equal(xpad[where], y)
        if seen is not None:
            xp.greater(mask, seen, out=mask)  # on bools: a maximum here and none before
        if tiled:
            xp.multiply(dy, mask, out=dx[where])
        else:
            dx[where] += dy * mask
        if seen is None:
            seen = mask.copy()
        else:
            seen |= mask
    return _crop(xp, dx, x.shape, pads)


def _max_pool_grad_grad_forward(xp, x, y, g, ksize, strides, padding):
    out = xp.zeros(y.shape, g.dtype)
    gpad = None
    for where, mask, padded, pads in _first_max_taps(xp, x, y, ksize, strides, padding):
        if gpad is None:
            gpad = _pad(xp, g, pads, 0)
        out += gpad[where] * mask
    return out


def _max_pool_grad_grad(op, gg):  # linear in g: the gradient scatters back (MaxPoolGrad)
    x, y, _ = op.inputs
    return None, None, apply(MaxPoolGrad, [x, y, gg], op.attrs)


MaxPoolGradGrad = op_def(
    "MaxPoolGradGrad",
    infer=lambda x, y, g, ksize, strides, padding: [(y.shape, g.dtype)],
    forward=_max_pool_grad_grad_forward, grad=_max_pool_grad_grad)


def _max_pool_grad_grad_fn(op, ddx):  # MaxPoolGrad is linear in dy: gather at the maxima
    x, y, _ = op.inputs
    return None, None, apply(MaxPoolGradGrad, [x, y, ddx], op.attrs)


MaxPoolGrad = op_def(
    "MaxPoolGrad",
    infer=lambda x, y, dy, ksize, strides, padding: [(x.shape, dy.dtype)],
    forward=_max_pool_grad_forward, grad=_max_pool_grad_grad_fn)

MaxPool = op_def(
    "MaxPool", infer=_pool_infer("MaxPool"), forward=_max_pool_forward,
    grad=lambda op, dy: apply(MaxPoolGrad, [op.inputs[0], op.outputs[0], dy], op.attrs))


# -- AvgPool -------------------------------------------------------------------------------------
def _counts(xp, shape, ksize, strides, pads, out_hw, dtype):
    """Real (unpadded) elements per window, shape (OH, OW, 1): TF's SAME average ignores pads."""
    counts = []
    for axis in range(2):
        start = np.arange(out_hw[axis]) * strides[axis] - pads[axis][0]
        end = np.minimum(start + ksize[axis], shape[1 + axis])
        counts.append(end - np.maximum(start, 0))
    c = (counts[0][:, None] * counts[1][None, :])[:, :, None].astype(dtype)
    return xp.asarray(c)


def _avg_pool_forward(xp, x, ksize, strides, padding):
    (oh, ow), pads = _geometry(x.shape, ksize, strides, padding)
    xpad = _pad(xp, x, pads, 0)
    out = None
    for _, _, where in tap_slices(ksize, strides, _ONES, (oh, ow)):
        out = xpad[where].copy() if out is None else xp.add(out, xpad[where], out=out)
    out /= _counts(xp, x.shape, ksize, strides, pads, (oh, ow), x.dtype)
    return out


def _avg_pool_grad_forward(xp, sizes, dy, ksize, strides, padding):
    shape = tuple(int(v) for v in sizes.tolist())
    (oh, ow), pads = _geometry(shape, ksize, strides, padding)
    g = dy / _counts(xp, shape, ksize, strides, pads, (oh, ow), dy.dtype)
    (pt, pb), (pl, pr) = pads
    dx = xp.zeros((shape[0], shape[1] + pt + pb, shape[2] + pl + pr, shape[3]), dy.dtype)
    for _, _, where in tap_slices(ksize, strides, _ONES, (oh, ow)):
        dx[where] += g
    return _crop(xp, dx, shape, pads)


def _sizes_infer(sizes, dy, ksize, strides, padding):
    value = constant_value(sizes)
    return [(TensorShape([None] * 4 if value is None else [int(v) for v in value]), dy.dtype)]


AvgPoolGrad = op_def(
    "AvgPoolGrad", host_inputs=(0,), infer=_sizes_infer, forward=_avg_pool_grad_forward,
    # linear in dy, and its transpose is the pooling itself
    grad=lambda op, g: (None, apply(AvgPool, [g], op.attrs)))

AvgPool = op_def(
    "AvgPool", infer=_pool_infer("AvgPool"), forward=_avg_pool_forward,
    grad=lambda op, dy: apply(AvgPoolGrad, [shape_tensor(op.inputs[0]), dy], op.attrs))


# -- the functions -------------------------------------------------------------------------------
def _attrs(ksize, strides, padding, what):
    padding = padding_attr(padding, 2, what)
    return {"ksize": spatial(ksize, 2, what, "ksize"), "strides": spatial(strides, 2, what),
            "padding": padding}


def _pool2d(opdef, input, ksize, strides, padding, data_format, name, what):
    _nhwc(data_format, what)
    x = convert_to_tensor(input)
    if opdef is AvgPool and not x.dtype.is_floating:
        raise TypeError("Value passed to parameter 'value' has DataType %s not in list of "
                        "allowed values: float16, float32, float64 (op AvgPool)" % x.dtype.name)
    attrs = _attrs(ksize, strides, padding, what)
    if opdef is AvgPool and not isinstance(attrs["padding"], str):
        raise ValueError("%s: padding must be 'SAME' or 'VALID' (TF's average pooling takes no "
                         "explicit padding), got %r" % (what, padding))
    if x.shape.rank is not None and x.shape.rank != 4:
        raise ValueError("%s: input must be 4-D (NHWC), got shape %s" % (what, x.shape))
    return apply(opdef, [x], attrs, name=name)


def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    """tf.nn.max_pool2d: the maximum of each ksize window of an NHWC input."""
    return _pool2d(MaxPool, input, ksize, strides, padding, data_format, name, "max_pool2d")


def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    """tf.nn.avg_pool2d: the mean of each window; 'SAME' windows average their real elements."""
    return _pool2d(AvgPool, input, ksize, strides, padding, data_format, name, "avg_pool2d")


def _pool1d(fn, input, ksize, strides, padding, data_format, name, what):
    _nhwc(data_format, what, ("NWC", None))
    with name_scope(name, what) as scope:
        x = array_ops.expand_dims(convert_to_tensor(input), 1)
        ksize = (1,) + spatial(ksize, 1, what, "ksize")
        strides = (1,) + spatial(strides, 1, what)
        pad = padding if isinstance(padding, str) else ((0, 0),) + padding_attr(padding, 1, what)
        return array_ops.squeeze(fn(x, ksize, strides, pad), [1], name=scope or None)


def max_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):
    """tf.nn.max_pool1d on NWC signals (a max_pool2d of height 1, as TF builds it)."""
    return _pool1d(max_pool2d, input, ksize, strides, padding, data_format, name, "MaxPool1d")


def avg_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):
    """tf.nn.avg_pool1d on NWC signals."""
    return _pool1d(avg_pool2d, input, ksize, strides, padding, data_format, name, "AvgPool1D")


def pool(input, ksize, pooling_type, strides, padding, data_format=None, name=None):
    rank = convert_to_tensor(input).shape.rank
    fns = {"MAX": (max_pool1d, max_pool2d), "AVG": (avg_pool1d, avg_pool2d)}
    if pooling_type not in fns:
        raise ValueError("pooling_type must be 'MAX' or 'AVG', got %r" % (pooling_type,))
    fn = fns[pooling_type][0 if rank == 3 else 1]
    return fn(input, ksize, strides, padding, data_format or ("NWC" if rank == 3 else "NHWC"),
              name)


def max_pool(input, ksize, strides, padding, data_format=None, name=None):
    """tf.nn.max_pool (TF2: 1-D or 2-D by the input's rank)."""
    return pool(input, ksize, "MAX", strides, padding, data_format, name)


def avg_pool(input, ksize, strides, padding, data_format=None, name=None):
    """tf.nn.avg_pool (TF2: 1-D or 2-D by the input's rank)."""
    return pool(input, ksize, "AVG", strides, padding, data_format, name)


def max_pool_v1(value=None, ksize=None, strides=None, padding=None, data_format="NHWC",
                name=None, input=None):
    """tf.compat.v1.nn.max_pool(value, ksize, strides, padding): 4-element ksize and strides."""
    return max_pool2d(value if value is not None else input, ksize, strides, padding,
                      data_format, name)


def avg_pool_v1(value=None, ksize=None, strides=None, padding=None, data_format="NHWC",
                name=None, input=None):
    """tf.compat.v1.nn.avg_pool(value, ksize, strides, padding)."""
    return avg_pool2d(value if value is not None else input, ksize, strides, padding,
                      data_format, name)

