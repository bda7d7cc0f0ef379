"""Convolutions on NHWC images: Conv2D and DepthwiseConv2dNative, their backprop ops under TF's
names, and the functions built on them (conv2d, conv1d, depthwise_conv2d, conv2d_transpose).

Each kernel is an im2col: the padded input seen through one strided view of shape
(N, OH, OW, KH, KW, C) (no copy), flattened into one (N*OH*OW, KH*KW*C) matrix that a single BLAS
matmul multiplies by the filter. The way back (col2im) adds the column gradient into the padded
input once per filter tap (KH*KW slice additions); no Python loop ever runs over pixels. The same
code runs on CuPy, whose `lib.stride_tricks.as_strided` and matmul mirror NumPy's.

Geometry is TF's: 'VALID' keeps only full windows; 'SAME' gives ceil(in / stride) outputs and pads
max((out - 1) * stride + (k - 1) * dilation + 1 - in, 0) with the smaller half before; explicit
padding is a pair (before, after) per spatial dimension.

The gradients are bilinear identities, so each is again one of these ops and differentiates to any
order: for y = conv(x, f), dx = Conv2DBackpropInput(shape(x), f, dy) and df =
Conv2DBackpropFilter(x, shape(f), dy); the backprop ops' own gradients are conv and the other
backprop op.
"""
import numpy as np

from distflow.framework.eager import EagerTensor
from distflow.framework.graph import name_scope
from distflow.framework.tensor_shape import TensorShape
from distflow.ops import array_ops
from distflow.ops.constant_op import constant_value
from distflow.ops.dispatch import apply, convert_to_tensor
from distflow.ops.registry import op_def, skips_input
from distflow.ops.shapes import shape_tensor

__all__ = ["conv2d", "conv1d", "depthwise_conv2d", "conv2d_transpose", "convolution"]


# -- geometry ----------------------------------------------------------------------------------
def out_and_pads(size, k, stride, dilation, padding, what="Conv2D"):
    """(output size, pad before, pad after) of one spatial dimension; sizes may be None."""
    eff = (k - 1) * dilation + 1 if k is not None else None
    if padding == "SAME":
        if size is None or eff is None:
            return (None if size is None else -(-size // stride)), None, None
        out = -(-size // stride)
        total = max((out - 1) * stride + eff - size, 0)
        return out, total // 2, total - total // 2
    before, after = (0, 0) if padding == "VALID" else padding
    if size is None or eff is None:
        return None, before, after
    span = size + before + after - eff
    if span < 0:
        raise ValueError("Computed output size would be negative: %d [input_size: %d, "
                         "effective_filter_size: %d, stride: %d] (op %s)"
                         % (span // stride + 1, size, eff, stride, what))
    return span // stride + 1, before, after


def geometry(in_hw, k_hw, strides, dilations, padding, what="Conv2D"):
    """((oh, pt, pb), (ow, pl, pr)) for an NHWC input of spatial size in_hw."""
    pads = (padding, padding) if isinstance(padding, str) else padding
    return tuple(out_and_pads(in_hw[i], k_hw[i], strides[i], dilations[i], pads[i], what)
                 for i in range(2))


def windows(xp, x, k_hw, strides, dilations, padding, fill=0):
    """The padded NHWC input as a (N, OH, OW, KH, KW, C) strided view (no copy of the windows),
    and the padded input itself."""
    n, h, w, c = x.shape
    (oh, pt, pb), (ow, pl, pr) = geometry((h, w), k_hw, strides, dilations, padding)
    if pt or pb or pl or pr:
        x = xp.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=fill)
    s = x.strides
    view = xp.lib.stride_tricks.as_strided(
        x, (n, oh, ow, k_hw[0], k_hw[1], c),
        (s[0], s[1] * strides[0], s[2] * strides[1], s[1] * dilations[0], s[2] * dilations[1],
         s[3]))
    return view, x


def tap_slices(k_hw, strides, dilations, out_hw):
    """For each filter tap (i, j), the slice of the padded input its outputs read."""
    (sh, sw), (dh, dw), (oh, ow) = strides, dilations, out_hw
    for i in range(k_hw[0]):
        for j in range(k_hw[1]):
            yield i, j, (slice(None), slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
                         slice(j * dw, j * dw + sw * (ow - 1) + 1, sw), slice(None))


def col2im(xp, cols, in_shape, k_hw, strides, dilations, padding):
    """Adds (N, OH, OW, KH, KW, C) window gradients back onto an NHWC input of `in_shape`."""
    n, h, w, c = in_shape
    (oh, pt, pb), (ow, pl, pr) = geometry((h, w), k_hw, strides, dilations, padding)
    dx = xp.zeros((n, h + pt + pb, w + pl + pr, c), cols.dtype)
    for i, j, where in tap_slices(k_hw, strides, dilations, (oh, ow)):
        dx[where] += cols[:, :, :, i, j, :]
    if pt or pb or pl or pr:
        dx = xp.ascontiguousarray(dx[:, pt:pt + h, pl:pl + w, :])
    return dx


# -- the two contractions: full convolution and depthwise ----------------------------------------
# Shapes are spelled out (no -1): a rank's part of a global batch may have no rows.
def _conv_forward(xp, cols, f):
    n, oh, ow = cols.shape[:3]
    k = f.shape[0] * f.shape[1] * f.shape[2]
    return (cols.reshape(n * oh * ow, k) @ f.reshape(k, f.shape[3])).reshape(n, oh, ow, f.shape[3])


def _conv_dcols(xp, dy, f):
    kh, kw, c, co = f.shape
    n, oh, ow = dy.shape[:3]
    return (dy.reshape(n * oh * ow, co) @ f.reshape(-1, co).T).reshape(n, oh, ow, kh, kw, c)


def _conv_dfilter(xp, cols, dy, f_shape):
    n, oh, ow = cols.shape[:3]
    k = cols.shape[3] * cols.shape[4] * cols.shape[5]
    return (cols.reshape(n * oh * ow, k).T @ dy.reshape(n * oh * ow, dy.shape[3])).reshape(f_shape)


def _dw_forward(xp, cols, f):
    n, oh, ow = cols.shape[:3]
    out = xp.einsum("nhwijc,ijcm->nhwcm", cols, f, optimize=True)
    return out.reshape(n, oh, ow, f.shape[2] * f.shape[3])


def _dw_dcols(xp, dy, f):
    kh, kw, c, m = f.shape
    n, oh, ow = dy.shape[:3]
    return xp.einsum("nhwcm,ijcm->nhwijc", dy.reshape(n, oh, ow, c, m), f, optimize=True)


def _dw_dfilter(xp, cols, dy, f_shape):
    n, oh, ow = cols.shape[:3]
    kh, kw, c, m = f_shape
    return xp.einsum("nhwijc,nhwcm->ijcm", cols, dy.reshape(n, oh, ow, c, m), optimize=True)


# -- shape rules ---------------------------------------------------------------------------------
def _check_float(opname, *ts):
    for t in ts:
        if not t.dtype.is_floating:
            raise TypeError("Value passed to parameter 'input' has DataType %s not in list of "
                            "allowed values: float16, float32, float64 (op %s)"
                            % (t.dtype.name, opname))
    if any(t.dtype != ts[0].dtype for t in ts):
        raise TypeError("%s needs inputs of one dtype, got %s"
                        % (opname, ", ".join(t.dtype.name for t in ts)))


def _dims(t, rank, what, opname):
    d = t.shape.as_tuple()
    if d is None:
        return (None,) * rank
    if len(d) != rank:
        raise ValueError("Shape must be rank %d but is rank %d for '%s' (%s)"
                         % (rank, len(d), opname, what))
    return d


def _out_channels(kind, f):
    if kind == "conv":
        return f[3]
    return None if f[2] is None or f[3] is None else f[2] * f[3]


def _make_infer(kind, opname):
    def infer(x, f, strides, padding, dilations):
        _check_float(opname, x, f)
        xd, fd = _dims(x, 4, "input", opname), _dims(f, 4, "filter", opname)
        if xd[3] is not None and fd[2] is not None and xd[3] != fd[2]:
            raise ValueError("Dimensions must be equal, but are %d and %d for '%s' with input "
                             "shapes: %s, %s." % (xd[3], fd[2], opname, x.shape, f.shape))
        (oh, _, _), (ow, _, _) = geometry(xd[1:3], fd[:2], strides, dilations, padding, opname)
        return [(TensorShape([xd[0], oh, ow, _out_channels(kind, fd)]), x.dtype)]
    return infer


def _sizes_shape(sizes):
    value = constant_value(sizes)
    return TensorShape([None] * 4 if value is None else [int(v) for v in value])


# -- the ops -------------------------------------------------------------------------------------
def _define(kind, names, fwd, dcols, dfilter):
    """Registers the forward op and its two backprop ops for one contraction."""
    fwd_name, input_name, filter_name = names
    ops = {}

    def forward(xp, x, f, strides, padding, dilations):
        if x.shape[3] != f.shape[2]:
            raise ValueError("input depth %d does not match filter depth %d"
                             % (x.shape[3], f.shape[2]))
        cols, _ = windows(xp, x, f.shape[:2], strides, dilations, padding)
        return fwd(xp, cols, f)

    def backprop_input(xp, sizes, f, dy, strides, padding, dilations):
        shape = tuple(int(v) for v in sizes.tolist())
        (oh, _, _), (ow, _, _) = geometry(shape[1:3], f.shape[:2], strides, dilations, padding,
                                          input_name)
        if len(shape) != 4 or (dy.shape[0], oh, ow) != (shape[0], dy.shape[1], dy.shape[2]):
            raise ValueError("%s: Size of out_backprop %s doesn't match the output %s computed "
                             "for input_sizes %s" % (input_name, list(dy.shape),
                                                     [shape[0], oh, ow], list(shape)))
        return col2im(xp, dcols(xp, dy, f), shape, f.shape[:2], strides, dilations, padding)

    def backprop_filter(xp, x, sizes, dy, strides, padding, dilations):
        shape = tuple(int(v) for v in sizes.tolist())
        cols, _ = windows(xp, x, shape[:2], strides, dilations, padding)
        return dfilter(xp, cols, dy, shape)

    def grad(op, dy):
        x, f = op.inputs
        return (None if skips_input(op, 0) else
                apply(ops["input"], [shape_tensor(x), f, dy], op.attrs),
                None if skips_input(op, 1) else
                apply(ops["filter"], [x, shape_tensor(f), dy], op.attrs))

    def input_grad(op, g):  # <g, BI(f, dy)> = <conv(g, f), dy>
        _, f, dy = op.inputs
        return (None,
                None if skips_input(op, 1) else
                apply(ops["filter"], [g, shape_tensor(f), dy], op.attrs),
                None if skips_input(op, 2) else apply(ops["fwd"], [g, f], op.attrs))

    def filter_grad(op, g):  # <g, BF(x, dy)> = <conv(x, g), dy>
        x, _, dy = op.inputs
        return (None if skips_input(op, 0) else
                apply(ops["input"], [shape_tensor(x), g, dy], op.attrs),
                None,
                None if skips_input(op, 2) else apply(ops["fwd"], [x, g], op.attrs))

    def input_infer(sizes, f, dy, strides, padding, dilations):
        _check_float(input_name, f, dy)
        return [(_sizes_shape(sizes), dy.dtype)]

    def filter_infer(x, sizes, dy, strides, padding, dilations):
        _check_float(filter_name, x, dy)
        return [(_sizes_shape(sizes), x.dtype)]

    ops["fwd"] = op_def(fwd_name, infer=_make_infer(kind, fwd_name), forward=forward, grad=grad)
    ops["input"] = op_def(input_name, host_inputs=(0,),
    infer=input_infer, forward=backprop_input, grad=input_grad)
    ops["filter"] = op_def(filter_name, host_inputs=(1,),
    infer=filter_infer, forward=backprop_filter,
                           grad=filter_grad)
    return ops["fwd"], ops["input"], ops["filter"]


Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter = _define(
    "conv", ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"),
    _conv_forward, _conv_dcols, _conv_dfilter)
DepthwiseConv2dNative, DepthwiseConv2dNativeBackpropInput, DepthwiseConv2dNativeBackpropFilter = \
    _define("depthwise", ("DepthwiseConv2dNative", "DepthwiseConv2dNativeBackpropInput",
                          "DepthwiseConv2dNativeBackpropFilter"),
            _dw_forward, _dw_dcols, _dw_dfilter)


# -- arguments as TF takes them ------------------------------------------------------------------
def spatial(value, n, what, name="strides"):
    """An int, or a list of 1, n or n + 2 ints (the full NHWC form, batch and channel 1), as
    the n spatial values."""
    if value is None:
        return (1,) * n
    if isinstance(value, (int, np.integer)):
        vals = (int(value),) * n
    else:
        vals = tuple(int(v) for v in value)
        if len(vals) == 1:
            vals = vals * n
        elif len(vals) == n + 2:
            if vals[0] != 1 or vals[-1] != 1:
                raise ValueError("%s: %s in the batch and depth dimensions must be 1, got %s"
                                 % (what, name, list(vals)))
            vals = vals[1:-1]
        elif len(vals) != n:
            raise ValueError("%s: %s should be of length 1, %d or %d, got %s"
                             % (what, name, n, n + 2, list(vals)))
    if any(v < 1 for v in vals):
        raise ValueError("%s: %s must be positive, got %s" % (what, name, list(vals)))
    return vals


def padding_attr(padding, n, what):
    """'SAME', 'VALID', or explicit pairs: n spatial pairs, or n + 2 with zero batch/channel."""
    if isinstance(padding, str):
        p = padding.upper()
        if p not in ("SAME", "VALID"):
            raise ValueError("%s: padding must be 'SAME', 'VALID' or explicit pairs, got %r"
                             % (what, padding))
        return p
    try:
        pairs = [tuple(int(v) for v in pair) for pair in padding]
    except TypeError:
        raise ValueError("%s: padding must be 'SAME', 'VALID' or a list of [before, after] "
                         "pairs, got %r" % (what, padding)) from None
    if len(pairs) == n + 2:
        if pairs[0] != (0, 0) or pairs[-1] != (0, 0):
            raise ValueError("%s: explicit padding of the batch and channel dimensions must be "
                             "0, got %r" % (what, padding))
        pairs = pairs[1:-1]
    if len(pairs) != n or any(len(p) != 2 or min(p) < 0 for p in pairs):
        raise ValueError("%s: explicit padding needs %d (or %d) non-negative [before, after] "
                         "pairs, got %r" % (what, n, n + 2, padding))
    return tuple(pairs)


def _nhwc(data_format, what, allowed=("NHWC", None)):
    if data_format not in allowed:
        raise ValueError("%s: data_format %r is not supported; distflow computes NHWC (channels "
                         "last) only" % (what, data_format))


def _conv_attrs(strides, padding, dilations, what):
    strides = spatial(strides, 2, what)
    dilations = spatial(dilations, 2, what, "dilations")
    if max(strides) > 1 and max(dilations) > 1:
        raise ValueError("%s: strides > 1 not supported in conjunction with dilation_rate > 1"
                         % what)
    return {"strides": strides, "padding": padding_attr(padding, 2, what),
            "dilations": dilations}


def _float_pair(x, f):
    x = convert_to_tensor(x)
    f = convert_to_tensor(f, x.dtype) if not hasattr(f, "dtype") else convert_to_tensor(f)
    return x, f


def _eager_check(opdef, x, f, attrs):
    """Eager calls skip the shape rule; run it on the arrays' shapes for TF's messages."""
    if type(x) is EagerTensor and type(f) is EagerTensor:
        opdef.infer(x, f, **attrs)


def conv2d(input, filters, strides, padding, data_format="NHWC", dilations=None, name=None):
    """tf.nn.conv2d: NHWC input, filters of shape [height, width, in_channels, out_channels]."""
    _nhwc(data_format, "conv2d")
    x, f = _float_pair(input, filters)
    attrs = _conv_attrs(strides, padding, dilations, "conv2d")
    _eager_check(Conv2D, x, f, attrs)
    return apply(Conv2D, [x, f], attrs, name=name)


def conv2d_v1(input, filter=None, strides=None, padding=None, use_cudnn_on_gpu=True,
              data_format="NHWC", dilations=None, name=None, filters=None):
    """tf.compat.v1.nn.conv2d: `filter` (TF1's name) or `filters`."""
    return conv2d(input, filter if filter is not None else filters, strides, padding,
                  data_format, dilations, name)


def conv1d(input, filters, stride, padding, data_format="NWC", dilations=None, name=None):
    """tf.nn.conv1d on NWC signals: as TF does it, a conv2d of height 1 between ExpandDims and
    Squeeze (filters [width, in_channels, out_channels])."""
    _nhwc(data_format, "conv1d", ("NWC", "NHWC", None))
    with name_scope(name, "conv1d") as scope:
        x, f = _float_pair(input, filters)
        stride = (1,) + spatial(stride, 1, "conv1d")
        dilations = (1,) + spatial(dilations, 1, "conv1d", "dilations")
        pad = padding if isinstance(padding, str) else \
            ((0, 0),) + padding_attr(padding, 1, "conv1d")
        y = conv2d(array_ops.expand_dims(x, 1), array_ops.expand_dims(f, 0), stride, pad,
                   dilations=dilations)
        return array_ops.squeeze(y, [1], name=scope or None)


def conv1d_v1(value=None, filters=None, stride=None, padding=None, use_cudnn_on_gpu=None,
              data_format=None, name=None, input=None, dilations=None):
    return conv1d(value if value is not None else input, filters, stride, padding,
                  data_format or "NWC", dilations, name)


def depthwise_conv2d(input, filter, strides, padding, data_format=None, dilations=None,
                     name=None, rate=None):
    """tf.nn.depthwise_conv2d: each input channel c convolved with filter[:, :, c, :], the
    channel_multiplier outputs of channel c next to each other (c * multiplier + m)."""
    _nhwc(data_format, "depthwise_conv2d")
    x, f = _float_pair(input, filter)
    attrs = _conv_attrs(strides, padding, rate if dilations is None else dilations,
                        "depthwise_conv2d")
    _eager_check(DepthwiseConv2dNative, x, f, attrs)
    return apply(DepthwiseConv2dNative, [x, f], attrs, name=name)


def conv2d_transpose(input, filters, output_shape, strides, padding="SAME", data_format="NHWC",
                     dilations=None, name=None):
    """tf.nn.conv2d_transpose: the gradient of conv2d with respect to its input, i.e.
    Conv2DBackpropInput(output_shape, filters, input); filters [h, w, out_channels, in_channels]."""
    _nhwc(data_format, "conv2d_transpose")
    x, f = _float_pair(input, filters)
    attrs = _conv_attrs(strides, padding, dilations, "conv2d_transpose")
    sizes = output_shape if hasattr(output_shape, "dtype") else \
        np.asarray(output_shape, np.int32)
    return apply(Conv2DBackpropInput, [convert_to_tensor(sizes), f, x], attrs, name=name)


def conv2d_transpose_v1(value=None, filter=None, output_shape=None, strides=None,
                        padding="SAME", data_format="NHWC", name=None, input=None,
                        filters=None, dilations=None):
    return conv2d_transpose(value if value is not None else input,
                            filter if filter is not None else filters, output_shape, strides,
                            padding, data_format, dilations, name)


def convolution(input, filters, strides=None, padding="VALID", data_format=None, dilations=None,
                name=None):
    """tf.nn.convolution for 1-D (NWC) and 2-D (NHWC) inputs."""
    rank = convert_to_tensor(input).shape.rank
    if rank == 3:
        return conv1d(input, filters, strides or 1, padding, data_format or "NWC", dilations,
                      name)
    return conv2d(input, filters, strides or 1, padding, data_format or "NHWC", dilations, name)
