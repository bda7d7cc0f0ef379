"""Keras's convolution and pooling layers (channels last), on distflow's conv and pooling ops.

Names, arguments, defaults and weights are Keras 3's: `kernel` of shape (kh, kw, in, filters)
for Conv2D, (k, in, filters) for Conv1D, (kh, kw, filters, in) for Conv2DTranspose, (kh, kw, in,
depth_multiplier) for DepthwiseConv2D, then `bias`; glorot_uniform kernels and zero biases by
default; padding 'valid' | 'same' (and 'causal' for Conv1D); pooling strides default to the pool
size. data_format 'channels_first' is refused with a message: distflow computes NHWC only.
"""
import numpy as np

from distflow.framework.tensor_shape import TensorShape
from distflow.nn import initializers
from distflow.nn import layers as _layers
from distflow.ops import array_ops, conv_ops, math_ops, nn_ops, pooling_ops, reduction_ops
from distflow.ops.conv_ops import out_and_pads

__all__ = ["Conv1D", "Conv2D", "Conv2DTranspose", "DepthwiseConv2D", "MaxPooling1D",
           "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D",
           "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
           "Convolution2D", "MaxPool2D", "AvgPool2D", "MaxPool1D", "AvgPool1D",
           "GlobalAvgPool2D", "GlobalMaxPool2D", "GlobalAvgPool1D"]


def _seed(seed):
    from distflow.keras.layers import _global_seed
    return _global_seed() if seed is None else seed


def _tuple(value, n, what):
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ValueError("The `%s` argument must be a tuple of %d integers. Received: %r"
                         % (what, n, value))
    return value


def _padding(padding, allowed=("valid", "same")):
    p = str(padding).lower()
    if p not in allowed:
        raise ValueError("The `padding` argument must be one of %s. Received: %r"
                         % (", ".join(repr(a) for a in allowed), padding))
    return p


def _channels_last(data_format, name):
    if data_format not in (None, "channels_last"):
        raise ValueError("%s: data_format=%r is not supported; distflow computes channels_last "
                         "(NHWC) only" % (name, data_format))


def _dims(input_shape, rank, name):
    dims = TensorShape(input_shape).as_tuple()
    if dims is None or len(dims) != rank:
        raise ValueError("Input 0 of layer \"%s\" is incompatible with the layer: expected "
                         "ndim=%d, found ndim=%s. Full shape received: %s"
                         % (name, rank, None if dims is None else len(dims), input_shape))
    return dims


class _Conv(_layers.Layer):
    """The shared part of the convolutions: arguments, weights, bias and activation."""
    rank = 2

    def __init__(self, filters, kernel_size, strides, padding, data_format, dilation_rate,
                 activation, use_bias, kernel_initializer, bias_initializer, seed, name, dtype,
                 trainable, input_shape, groups=1, paddings=("valid", "same"), **unsupported):
        _reject(unsupported, type(self).__name__)
        super().__init__(name, dtype, trainable, input_shape)
        _channels_last(data_format, type(self).__name__)
        if filters is not None and (isinstance(filters, bool) or int(filters) < 1):
            raise ValueError("Invalid value for argument `filters`. Expected a strictly positive "
                             "value. Received filters=%r." % (filters,))
        if groups != 1:
            raise ValueError("%s: groups=%r is not supported (only 1)"
                             % (type(self).__name__, groups))
        self.filters = None if filters is None else int(filters)
        self.kernel_size = _tuple(kernel_size, self.rank, "kernel_size")
        self.strides = _tuple(strides, self.rank, "strides")
        self.dilation_rate = _tuple(dilation_rate, self.rank, "dilation_rate")
        self.padding = _padding(padding, paddings)
        self.activation = _layers.get_activation(activation)
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.seed = _seed(seed)
        self.kernel = None
        self.bias = None

    def kernel_shape(self, channels):
        return self.kernel_size + (channels, self.filters)

    def out_channels(self, channels):
        return self.filters

    def param_shapes(self, input_shape):
        channels = _dims(input_shape, self.rank + 2, self.name)[-1]
        if channels is None:
            raise ValueError("The channel dimension of the inputs to %s should be defined. "
                             "Found `None`." % self.name)
        shapes = [self.kernel_shape(int(channels))]
        return shapes + ([(self.out_channels(int(channels)),)] if self.use_bias else [])

    def build(self, input_shape):
        shapes = self.param_shapes(input_shape)
        self.kernel = self.add_weight("kernel", shapes[0], initializers.get(
            self.kernel_initializer, seed=self.seed))
        if self.use_bias:
            seed = None if self.seed is None else _layers.derive_seed(self.seed, 1)
            self.bias = self.add_weight("bias", shapes[1], initializers.get(
                self.bias_initializer, seed=seed))

    def _tf_padding(self):
        return self.padding.upper()

    def compute_output_shape(self, input_shape):
        dims = _dims(input_shape, self.rank + 2, self.name)
        out = [out_and_pads(d, k, s, r, self._tf_padding(), self.name)[0] for d, k, s, r in
               zip(dims[1:-1], self.kernel_size, self.strides, self.dilation_rate)]
        return TensorShape([dims[0]] + out + [self.out_channels(dims[-1])])

    def call(self, inputs, training=False):
        _dims(inputs.shape if inputs.shape.rank is not None else [None] * (self.rank + 2),
              self.rank + 2, self.name)
        y = self.convolve(inputs)
        if self.use_bias:
            y = nn_ops.bias_add(y, self.bias)
        return y if self.activation is None else self.activation(y)


def _reject(unsupported, name):
    """Keras's regularizers and constraints are not implemented: refuse them rather than
    silently train without them; None (their default) is fine."""
    given = sorted(k for k, v in unsupported.items() if v is not None)
    if given:
        raise NotImplementedError("%s: %s not supported by distflow" % (name, ", ".join(given)))


class Conv2D(_Conv):
    """2-D convolution over (batch, height, width, channels): kernel (kh, kw, in, filters)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", seed=None,
                 name=None, dtype="float32", trainable=True, input_shape=None, **unsupported):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, kernel_initializer, bias_initializer, seed, name,
                         dtype, trainable, input_shape, groups, **unsupported)

    def convolve(self, x):
        return conv_ops.conv2d(x, self.kernel, self.strides, self._tf_padding(),
                               dilations=self.dilation_rate)


Convolution2D = Conv2D


class Conv1D(_Conv):
    """1-D convolution over (batch, steps, channels); padding 'causal' pads only on the left,
    so output t sees inputs up to t."""
    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", seed=None,
                 name=None, dtype="float32", trainable=True, input_shape=None, **unsupported):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, kernel_initializer, bias_initializer, seed, name,
                         dtype, trainable, input_shape, groups, ("valid", "same", "causal"),
                         **unsupported)

    def _tf_padding(self):
        if self.padding == "causal":
            return ((self.kernel_size[0] - 1) * self.dilation_rate[0], 0)
        return self.padding.upper()

    def convolve(self, x):
        pad = self._tf_padding()
        return conv_ops.conv1d(x, self.kernel, self.strides, [pad] if isinstance(pad, tuple)
                               else pad, dilations=self.dilation_rate)


class DepthwiseConv2D(_Conv):
    """Each input channel convolved with its own depth_multiplier filters: kernel
    (kh, kw, in, depth_multiplier), output channels in * depth_multiplier."""

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros", seed=None,
                 name=None, dtype="float32", trainable=True, input_shape=None, **unsupported):
        self.depth_multiplier = int(depth_multiplier)
        super().__init__(None, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, depthwise_initializer, bias_initializer, seed,
                         name, dtype, trainable, input_shape, **unsupported)

    def kernel_shape(self, channels):
        return self.kernel_size + (channels, self.depth_multiplier)

    def out_channels(self, channels):
        return None if channels is None else channels * self.depth_multiplier

    def convolve(self, x):
        return conv_ops.depthwise_conv2d(x, self.kernel, (1,) + self.strides + (1,),
                                         self._tf_padding(), dilations=self.dilation_rate)


def _deconv_length(size, k, stride, padding, dilation):
    """Keras's deconv_output_length with output_padding=None."""
    if size is None:
        return None
    k = k + (k - 1) * (dilation - 1)
    return size * stride + max(k - stride, 0) if padding == "valid" else size * stride


class Conv2DTranspose(_Conv):
    """The transpose of Conv2D (the gradient of a convolution with respect to its input):
    kernel (kh, kw, filters, in); 'same' multiplies the size by the stride."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", seed=None,
                 name=None, dtype="float32", trainable=True, input_shape=None, **unsupported):
        if output_padding is not None:
            raise NotImplementedError("Conv2DTranspose: output_padding is not supported")
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, kernel_initializer, bias_initializer, seed, name,
                         dtype, trainable, input_shape, **unsupported)

    def kernel_shape(self, channels):
        return self.kernel_size + (self.filters, channels)

    def compute_output_shape(self, input_shape):
        dims = _dims(input_shape, 4, self.name)
        out = [_deconv_length(d, k, s, self.padding, r) for d, k, s, r in
               zip(dims[1:3], self.kernel_size, self.strides, self.dilation_rate)]
        return TensorShape([dims[0]] + out + [self.filters])

    def convolve(self, x):
        static = self.compute_output_shape(x.shape).as_tuple()
        if all(d is not None for d in static):
            out_shape = np.array(static, np.int32)
        else:
            dyn = array_ops.shape(x)
            size = [dyn[i + 1] * s if self.padding == "same" else
                    dyn[i + 1] * s + max(k + (k - 1) * (r - 1) - s, 0)
                    for i, (k, s, r) in enumerate(zip(self.kernel_size, self.strides,
                                                      self.dilation_rate))]
            out_shape = array_ops.stack([dyn[0]] + size + [self.filters])
        return conv_ops.conv2d_transpose(x, self.kernel, out_shape, self.strides,
                                         self._tf_padding(), dilations=self.dilation_rate)


# -- pooling -------------------------------------------------------------------------------------
class _Pool(_layers.Layer):
    rank = 2
    fn = None

    def __init__(self, pool_size, strides, padding, data_format, name, dtype="float32",
                 input_shape=None, trainable=True):
        super().__init__(name, dtype, trainable, input_shape)
        _channels_last(data_format, type(self).__name__)
        self.pool_size = _tuple(pool_size, self.rank, "pool_size")
        self.strides = self.pool_size if strides is None else _tuple(strides, self.rank,
                                                                     "strides")
        self.padding = _padding(padding)

    def compute_output_shape(self, input_shape):
        dims = _dims(input_shape, self.rank + 2, self.name)
        out = [out_and_pads(d, k, s, 1, self.padding.upper(), self.name)[0]
               for d, k, s in zip(dims[1:-1], self.pool_size, self.strides)]
        return TensorShape([dims[0]] + out + [dims[-1]])

    def call(self, inputs, training=False):
        return type(self).fn(inputs, self.pool_size, self.strides, self.padding.upper())


def _pool_class(name, fn, rank, doc):
    default = (2, 2) if rank == 2 else 2

    def __init__(self, pool_size=default, strides=None, padding="valid", data_format=None,
                 name=None, dtype="float32", input_shape=None, trainable=True):
        _Pool.__init__(self, pool_size, strides, padding, data_format, name, dtype, input_shape,
                       trainable)
    return type(name, (_Pool,), {"rank": rank, "fn": staticmethod(fn), "__init__": __init__,
                                 "__doc__": doc})


MaxPooling2D = _pool_class("MaxPooling2D", pooling_ops.max_pool2d, 2,
                           "The maximum of each pool_size window (strides default to it).")
AveragePooling2D = _pool_class("AveragePooling2D", pooling_ops.avg_pool2d, 2,
                               "The mean of each window; 'same' windows average real elements.")
MaxPooling1D = _pool_class("MaxPooling1D", pooling_ops.max_pool1d, 1,
                           "The maximum of each window of a (batch, steps, channels) input.")
AveragePooling1D = _pool_class("AveragePooling1D", pooling_ops.avg_pool1d, 1,
                               "The mean of each window of a (batch, steps, channels) input.")
MaxPool2D, AvgPool2D, MaxPool1D, AvgPool1D = (MaxPooling2D, AveragePooling2D, MaxPooling1D,
                                              AveragePooling1D)


class _GlobalPool(_layers.Layer):
    rank = 2
    reduce = None

    def __init__(self, data_format=None, keepdims=False, name=None, dtype="float32",
                 input_shape=None, trainable=True):
        super().__init__(name, dtype, trainable, input_shape)
        _channels_last(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        dims = _dims(input_shape, self.rank + 2, self.name)
        return TensorShape([dims[0]] + [1] * self.rank * self.keepdims + [dims[-1]])

    def call(self, inputs, training=False):
        return type(self).reduce(inputs, list(range(1, self.rank + 1)), keepdims=self.keepdims)


def _global_class(name, reduce, rank):
    return type(name, (_GlobalPool,), {"rank": rank, "reduce": staticmethod(reduce),
                                       "__doc__": "%s over every spatial position." % name})


GlobalAveragePooling2D = _global_class("GlobalAveragePooling2D", math_ops.reduce_mean, 2)
GlobalAveragePooling1D = _global_class("GlobalAveragePooling1D", math_ops.reduce_mean, 1)
GlobalMaxPooling2D = _global_class("GlobalMaxPooling2D", reduction_ops.reduce_max, 2)
GlobalMaxPooling1D = _global_class("GlobalMaxPooling1D", reduction_ops.reduce_max, 1)
GlobalAvgPool2D, GlobalMaxPool2D, GlobalAvgPool1D = (GlobalAveragePooling2D, GlobalMaxPooling2D,
                                                     GlobalAveragePooling1D)
