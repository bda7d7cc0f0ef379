"""TF1's functional layers for images: tf.layers.conv2d, max_pooling2d, average_pooling2d,
flatten, batch_normalization (and the 1-D forms). Each makes the Keras layer of the same name and
applies it at once, as tf.compat.v1.layers does; batch_normalization(training=True) puts its
moving-statistics updates in the UPDATE_OPS collection, to be run with the train op:

    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        train_op = optimizer.minimize(loss)
"""
from distflow.keras import conv_layers as _conv, core_layers as _core
from distflow.nn.layers import _float_dtype_of

__all__ = ["conv1d", "conv2d", "conv2d_transpose", "max_pooling1d", "max_pooling2d",
           "average_pooling1d", "average_pooling2d", "flatten", "batch_normalization",
           "Conv1D", "Conv2D", "Conv2DTranspose", "MaxPooling1D", "MaxPooling2D",
           "AveragePooling1D", "AveragePooling2D", "Flatten", "BatchNormalization"]

Conv1D, Conv2D, Conv2DTranspose = _conv.Conv1D, _conv.Conv2D, _conv.Conv2DTranspose
MaxPooling1D, MaxPooling2D = _conv.MaxPooling1D, _conv.MaxPooling2D
AveragePooling1D, AveragePooling2D = _conv.AveragePooling1D, _conv.AveragePooling2D
Flatten, BatchNormalization = _core.Flatten, _core.BatchNormalization


def _format(data_format):
    return None if data_format == "channels_last" else data_format


def _conv_fn(cls, default_stride):
    def fn(inputs, filters, kernel_size, strides=default_stride, padding="valid",
           data_format="channels_last", dilation_rate=1, activation=None, use_bias=True,
           kernel_initializer=None, bias_initializer="zeros", kernel_regularizer=None,
           bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
           bias_constraint=None, trainable=True, name=None, reuse=None):
        if reuse:
            raise NotImplementedError("tf.layers.%s: reuse is not supported" % cls.__name__)
        layer = cls(filters, kernel_size, strides, padding, data_format=_format(data_format),
                    dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                    kernel_initializer=kernel_initializer or "glorot_uniform",
                    bias_initializer=bias_initializer, name=name,
                    dtype=_float_dtype_of(inputs), trainable=trainable,
                    kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                    activity_regularizer=activity_regularizer,
                    kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        return layer(inputs)
    fn.__doc__ = "tf.layers.%s: makes a %s layer and applies it to `inputs`." % (
        cls.__name__.lower(), cls.__name__)
    return fn


conv2d = _conv_fn(Conv2D, (1, 1))
conv1d = _conv_fn(Conv1D, 1)
conv2d_transpose = _conv_fn(Conv2DTranspose, (1, 1))


def _pool_fn(cls):
    def fn(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
        return cls(pool_size, strides, padding, _format(data_format), name=name,
                   dtype=_float_dtype_of(inputs))(inputs)
    fn.__doc__ = "tf.layers: makes a %s layer and applies it to `inputs`." % cls.__name__
    return fn


max_pooling2d = _pool_fn(MaxPooling2D)
average_pooling2d = _pool_fn(AveragePooling2D)
max_pooling1d = _pool_fn(MaxPooling1D)
average_pooling1d = _pool_fn(AveragePooling1D)


def flatten(inputs, name=None, data_format="channels_last"):
    """tf.layers.flatten: (batch, ...) -> (batch, prod(...))."""
    return Flatten(_format(data_format), name=name, dtype=_float_dtype_of(inputs))(inputs)


def batch_normalization(inputs, axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True,
                        beta_initializer="zeros", gamma_initializer="ones",
                        moving_mean_initializer="zeros", moving_variance_initializer="ones",
                        beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                        gamma_constraint=None, training=False, trainable=True, name=None,
                        reuse=None, renorm=False, renorm_clipping=None, renorm_momentum=0.99,
                        fused=None, virtual_batch_size=None, adjustment=None):
    """tf.layers.batch_normalization; `training` may be a bool tensor (a placeholder)."""
    if reuse or renorm or virtual_batch_size is not None or adjustment is not None:
        raise NotImplementedError("tf.layers.batch_normalization: reuse, renorm, "
                                  "virtual_batch_size and adjustment are not supported")
    layer = BatchNormalization(axis, momentum, epsilon, center, scale, beta_initializer,
                               gamma_initializer, moving_mean_initializer,
                               moving_variance_initializer, name=name,
                               dtype=_float_dtype_of(inputs), trainable=trainable,
                               beta_regularizer=beta_regularizer,
                               gamma_regularizer=gamma_regularizer,
                               beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
    return layer(inputs, training=training)
