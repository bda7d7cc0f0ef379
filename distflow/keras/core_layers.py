"""Keras's shape and activation layers (Flatten, Reshape, Softmax, Activation, ZeroPadding2D,
Rescaling) and BatchNormalization, with Keras 3's arguments and weights.

BatchNormalization keeps gamma and beta (trainable) and moving_mean / moving_variance
(non-trainable, in that order, Keras's). Called with training=True it normalizes with the batch's
mean and (biased) variance over every axis but `axis`, and moves the statistics:
moving = moving * momentum + batch * (1 - momentum). Eagerly and inside df.function (fit's
compiled step) the update runs with the step; in a TF1 graph it is an op added to the UPDATE_OPS
collection, to be run with the train op as TF1 programs do. training=False uses the moving
statistics.
"""
import numpy as np

from distflow.framework import graph as graph_module
from distflow.framework.tensor_shape import TensorShape
from distflow.nn import initializers
from distflow.nn import layers as _layers
from distflow.ops import (array_ops, dispatch, math_ops, nn_ops, normalization_ops, slicing_ops,
                          variables)

__all__ = ["Flatten", "Reshape", "Softmax", "Activation", "ZeroPadding2D", "Rescaling",
           "BatchNormalization", "SyncBatchNormalization"]


class Flatten(_layers.Layer):
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...)."""

    def __init__(self, data_format=None, name=None, dtype="float32", input_shape=None,
                 trainable=True):
        super().__init__(name, dtype, trainable, input_shape)
        if data_format not in (None, "channels_last"):
            raise ValueError("Flatten: data_format=%r is not supported (channels_last only)"
                             % (data_format,))

    def compute_output_shape(self, input_shape):
        dims = TensorShape(input_shape).as_tuple()
        if dims is None:
            return TensorShape([None, None])
        rest = dims[1:]
        n = None if any(d is None for d in rest) else int(np.prod(rest, dtype=np.int64))
        return TensorShape([dims[0], n])

    def call(self, inputs, training=False):
        out = self.compute_output_shape(inputs.shape).as_tuple()
        if out[1] is not None:
            return array_ops.reshape(inputs, [-1, out[1]])
        return array_ops.reshape(inputs, array_ops.stack([array_ops.shape(inputs)[0], -1]))


class Reshape(_layers.Layer):
    """(batch, ...) -> (batch,) + target_shape; one entry of target_shape may be -1."""

    def __init__(self, target_shape, name=None, dtype="float32", input_shape=None,
                 trainable=True):
        super().__init__(name, dtype, trainable, input_shape)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1 or \
                any(d < -1 or d == 0 for d in self.target_shape):
            raise ValueError("Reshape: target_shape must be positive sizes and at most one -1, "
                             "got %r" % (target_shape,))

    def compute_output_shape(self, input_shape):
        dims = TensorShape(input_shape).as_tuple()
        target = list(self.target_shape)
        if -1 in target:
            rest = None if dims is None or any(d is None for d in dims[1:]) \
                else int(np.prod(dims[1:], dtype=np.int64))
            known = int(np.prod([d for d in target if d != -1], dtype=np.int64))
            if rest is not None and rest % known:
                raise ValueError("total size of new array must be unchanged, input_shape = %s, "
                                 "output_shape = %s" % (list(dims[1:]), list(self.target_shape)))
            target[target.index(-1)] = None if rest is None else rest // known
        elif dims is not None and all(d is not None for d in dims[1:]) and \
                int(np.prod(dims[1:], dtype=np.int64)) != int(np.prod(target, dtype=np.int64)):
            raise ValueError("total size of new array must be unchanged, input_shape = %s, "
                             "output_shape = %s" % (list(dims[1:]), list(self.target_shape)))
        return TensorShape([None if dims is None else dims[0]] + target)

    def call(self, inputs, training=False):
        out = self.compute_output_shape(inputs.shape).as_tuple()
        if -1 not in self.target_shape:
            return array_ops.reshape(inputs, [-1] + list(self.target_shape))
        if all(d is not None for d in out[1:]):
            return array_ops.reshape(inputs, [-1] + list(out[1:]))
        batch = array_ops.shape(inputs)[0]  # both the batch and one target size are unknown
        return array_ops.reshape(inputs, array_ops.stack([batch] + list(self.target_shape)))


class Softmax(_layers.Layer):
    def __init__(self, axis=-1, name=None, dtype="float32", input_shape=None, trainable=True):
        super().__init__(name, dtype, trainable, input_shape)
        self.axis = axis

    def call(self, inputs, training=False):
        return nn_ops.softmax(inputs, axis=self.axis)


class Activation(_layers.Layer):
    """Applies an activation by name ('relu', 'softmax', ...) or a callable."""

    def __init__(self, activation, name=None, dtype="float32", input_shape=None, trainable=True):
        super().__init__(name, dtype, trainable, input_shape)
        self.activation = _layers.get_activation(activation) or (lambda x: x)

    def call(self, inputs, training=False):
        return self.activation(inputs)


class ZeroPadding2D(_layers.Layer):
    """Zeros around the height and width: padding an int, (h, w), or ((top, bottom), (left,
    right))."""

    def __init__(self, padding=(1, 1), data_format=None, name=None, dtype="float32",
                 input_shape=None, trainable=True):
        super().__init__(name, dtype, trainable, input_shape)
        if data_format not in (None, "channels_last"):
            raise ValueError("ZeroPadding2D: data_format=%r is not supported (channels_last "
                             "only)" % (data_format,))
        if isinstance(padding, (int, np.integer)):
            padding = ((padding, padding), (padding, padding))
        padding = tuple(padding)
        if len(padding) != 2:
            raise ValueError("`padding` should have two elements. Received: %r" % (padding,))
        self.padding = tuple((int(p), int(p)) if isinstance(p, (int, np.integer))
                             else tuple(int(v) for v in p) for p in padding)

    def compute_output_shape(self, input_shape):
        dims = list(TensorShape(input_shape).as_list())
        for a, (before, after) in zip((1, 2), self.padding):
            dims[a] = None if dims[a] is None else dims[a] + before + after
        return TensorShape(dims)

    def call(self, inputs, training=False):
        return slicing_ops.pad(inputs, [[0, 0], list(self.padding[0]), list(self.padding[1]),
                                        [0, 0]])


class Rescaling(_layers.Layer):
    """inputs * scale + offset (e.g. Rescaling(1. / 255) on images)."""

    def __init__(self, scale, offset=0.0, name=None, dtype="float32", input_shape=None,
                 trainable=True):
        super().__init__(name, dtype, trainable, input_shape)
        self.scale, self.offset = scale, offset

    def call(self, inputs, training=False):
        y = inputs * np.asarray(self.scale, self.dtype.as_numpy_dtype)
        return y + np.asarray(self.offset, self.dtype.as_numpy_dtype) if self.offset else y


class BatchNormalization(_layers.Layer):
    """Normalizes along `axis` (the channels) with batch statistics in training and the moving
    statistics otherwise; see the module's docstring for the updates."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 name=None, dtype="float32", trainable=True, input_shape=None, synchronized=False,
                 fused=None, **unsupported):
        # fused (tf.keras 2) picks TF's kernel, not the result: accepted and ignored
        given = sorted(k for k, v in unsupported.items() if v not in (None, False))
        if given:
            raise NotImplementedError("BatchNormalization: %s not supported by distflow"
                                      % ", ".join(given))
        super().__init__(name, dtype, trainable, input_shape)
        self.axis = int(axis) if not isinstance(axis, (list, tuple)) else int(axis[0])
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.initializers = (gamma_initializer, beta_initializer, moving_mean_initializer,
                             moving_variance_initializer)
        self.synchronized = bool(synchronized)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def _channels(self, input_shape):
        dims = TensorShape(input_shape).as_tuple()
        if dims is None:
            raise ValueError("BatchNormalization %s needs inputs of known rank" % self.name)
        if not -len(dims) <= self.axis < len(dims):
            raise ValueError("Invalid axis %d for inputs of rank %d" % (self.axis, len(dims)))
        c = dims[self.axis]
        if c is None:
            raise ValueError("Axis %d of input tensor should have a defined dimension but the "
                             "layer received an input with shape %s." % (self.axis, input_shape))
        return int(c), len(dims)

    def param_shapes(self, input_shape):
        c, _ = self._channels(input_shape)
        return [(c,)] * (self.scale + self.center + 2)

    def non_trainable_count(self, input_shape):
        c, _ = self._channels(input_shape)
        return 2 * c + (0 if self.trainable else (self.scale + self.center) * c)

    def build(self, input_shape):
        c, _ = self._channels(input_shape)
        g, b, mm, mv = self.initializers
        if self.scale:
            self.gamma = self.add_weight("gamma", (c,), initializers.get(g))
        if self.center:
            self.beta = self.add_weight("beta", (c,), initializers.get(b))
        self.moving_mean = self.add_weight("moving_mean", (c,), initializers.get(mm),
                                           trainable=False)
        self.moving_variance = self.add_weight("moving_variance", (c,), initializers.get(mv),
                                               trainable=False)

    def _broadcastable(self, v, rank):
        axis = self.axis % rank
        if axis == rank - 1:
            return v
        return array_ops.reshape(v, [-1] + [1] * (rank - 1 - axis))

    def _batch_moments(self, inputs, axes):
        if not self.synchronized:
            return normalization_ops.moments(inputs, axes)
        # the global batch's statistics: per-channel sums of x and x^2 and the row count, summed
        # over ranks in one collective; var = E[x^2] - E[x]^2 (TF's SyncBatchNormalization)
        from distflow.distribute.collective_sum import collective_sum
        channels, _ = self._channels(inputs.shape)
        count = math_ops.cast(array_ops.size(inputs), self.dtype) / float(channels)
        local = array_ops.concat([math_ops.reduce_sum(inputs, axes),
                                  math_ops.reduce_sum(math_ops.square(inputs), axes),
                                  array_ops.reshape(count, [1])], 0)
        total = collective_sum(local, label=self.name + "/moments")
        n = total[2 * channels]
        mean = total[:channels] / n
        return mean, total[channels:2 * channels] / n - math_ops.square(mean)

    def call(self, inputs, training=False):
        if not isinstance(training, (bool, np.bool_)):
            if dispatch.dtype_of(training) is None:
                raise TypeError("BatchNormalization's training flag must be a bool or a bool "
                                "tensor, got %r" % (training,))
        _, rank = self._channels(inputs.shape)
        axes = [a for a in range(rank) if a != self.axis % rank]
        if not isinstance(training, (bool, np.bool_)):
            # a TF1 program's is_training placeholder: t = 1.0 or 0.0 picks the batch or the
            # moving statistics when the graph runs, and t = 0 leaves the moving ones unmoved
            t = math_ops.cast(training, self.dtype)
            mean, var = self._batch_moments(inputs, axes)
            self._update(mean, var, t)
            mean = t * mean + (1.0 - t) * self.moving_mean
            var = t * var + (1.0 - t) * self.moving_variance
        elif training and self.trainable:
            mean, var = self._batch_moments(inputs, axes)
            self._update(mean, var)
        else:
            mean, var = self.moving_mean, self.moving_variance
        return normalization_ops.batch_normalization(
            inputs, self._broadcastable(mean, rank), self._broadcastable(var, rank),
            None if self.beta is None else self._broadcastable(self.beta, rank),
            None if self.gamma is None else self._broadcastable(self.gamma, rank),
            self.epsilon)

    def _update(self, mean, var, t=None):
        rate = 1.0 - self.momentum if t is None else t * (1.0 - self.momentum)
        updates = [self.moving_mean.assign_sub((self.moving_mean - mean) * rate),
                   self.moving_variance.assign_sub((self.moving_variance - var) * rate)]
        if isinstance(self.moving_mean, variables.GraphVariable):
            for u in updates:  # TF1: run with the train op (tf.control_dependencies(UPDATE_OPS))
                graph_module.add_to_collection(graph_module.GraphKeys.UPDATE_OPS,
                                               u.op if hasattr(u, "op") else u)



class SyncBatchNormalization(BatchNormalization):
    """BatchNormalization whose training statistics are those of the global batch: each rank's
    sums are added across ranks (distflow.distribute), so N ranks normalize, update the moving
    statistics and differentiate exactly as one process on the whole batch. One rank: plain
    batch statistics. (tf.keras.layers.experimental.SyncBatchNormalization; Keras 3 spells it
    BatchNormalization(synchronized=True).)"""

    def __init__(self, axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 name=None, dtype="float32", trainable=True, input_shape=None, **unsupported):
        super().__init__(axis, momentum, epsilon, center, scale, beta_initializer,
                         gamma_initializer, moving_mean_initializer, moving_variance_initializer,
                         name, dtype, trainable, input_shape, synchronized=True, **unsupported)
