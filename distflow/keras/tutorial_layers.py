"""Keras layers tutorials use beyond Dense and Dropout: Normalization (with `adapt`), Lambda,
Embedding, and the merging layers Concatenate and Add (for the functional API).

Weights and their order are Keras 3's, so a model saved here loads in Keras and back
(distflow/keras/keras_format.py): Normalization keeps `mean`, `variance` and `count` as
non-trainable weights (shapes: the kept axes), Embedding one `embeddings` matrix
(input_dim, output_dim).
"""
import numpy as np

from distflow.framework import context, dtypes
from distflow.framework.tensor_shape import TensorShape
from distflow.nn import layers as _layers
from distflow.ops import comparison_ops, dispatch, math_ops

__all__ = ["Normalization", "Lambda", "Embedding", "Concatenate", "Add"]


class Normalization(_layers.Layer):
    """(inputs - mean) / max(sqrt(variance), 1e-7), per feature along `axis` (an int, a tuple,
    or None for one mean and variance over everything); `adapt(data)` sets mean and variance
    from data (population variance), or give `mean` and `variance` directly. `invert=True`
    maps normalized values back."""

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, name=None,
                 dtype="float32", input_shape=None, input_dim=None, **kwargs):
        _no_extra(kwargs, "Normalization")
        if input_shape is None and input_dim is not None:
            input_shape = (int(input_dim),)
        super().__init__(name, dtype, True, input_shape)
        if axis is None:
            axis = ()
        elif isinstance(axis, int):
            axis = (axis,)
        else:
            axis = tuple(axis)
        self.axis = axis
        if (mean is None) != (variance is None):
            raise ValueError("When setting values directly, both `mean` and `variance` must be "
                             "set. Received: mean=%r and variance=%r" % (mean, variance))
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self.adapt_mean = self.adapt_variance = self.count = None
        if self.input_shape is not None:
            self._build_once(self.input_shape)

    def _keep_axes(self, ndim):
        keep = tuple(sorted(a % ndim for a in self.axis))
        for a in self.axis:
            if not -ndim <= a < ndim:
                raise ValueError("All `axis` values must be in the range [-ndim, ndim). Received "
                                 "inputs with ndim=%d, while axis=%s" % (ndim, self.axis))
        return keep

    def build(self, input_shape):
        dims = TensorShape(input_shape).as_list()
        self._ndim = len(dims)
        keep = self._keep_axes(self._ndim)
        for a in keep:
            if dims[a] is None:
                raise ValueError("All `axis` values to be kept must have a known shape. "
                                 "Received axis=%s, inputs.shape=%s" % (self.axis, dims))
        shape = tuple(dims[a] for a in keep)
        self._broadcast = [dims[d] if d in keep else 1 for d in range(self._ndim)]
        self.adapt_mean = self.add_weight("mean", shape, "zeros", trainable=False)
        self.adapt_variance = self.add_weight("variance", shape, "ones", trainable=False)
        self.count = self.add_weight("count", (), "zeros", trainable=False)
        if self.input_mean is not None:
            self.adapt_mean.assign(np.broadcast_to(np.asarray(self.input_mean, np.float32),
                                                   shape))
            self.adapt_variance.assign(np.broadcast_to(
                np.asarray(self.input_variance, np.float32), shape))

    def param_shapes(self, input_shape):
        dims = TensorShape(input_shape).as_list()
        shape = tuple(dims[a] for a in self._keep_axes(len(dims)))
        return [shape, shape, ()]

    def non_trainable_count(self, input_shape):
        """summary(): every weight of this layer is non-trainable."""
        return sum(int(np.prod(s)) for s in self.param_shapes(input_shape))

    @property
    def mean(self):
        return _reshape(self.adapt_mean, self._broadcast)

    @property
    def variance(self):
        return _reshape(self.adapt_variance, self._broadcast)

    def adapt(self, data, batch_size=None, steps=None):
        """Sets mean and variance from `data` (an array, a DataFrame, a tensor or a Dataset of
        batches): over every axis but `axis`."""
        from distflow.data.dataset import Dataset
        if isinstance(data, Dataset):
            data = np.concatenate([_numpy(b) for b in data])
        data = _numpy(data)
        if data.ndim == 0:
            data = data.reshape(1)
        if not self.built:
            self._build_once(TensorShape([None] + list(data.shape[1:])))
        keep = self._keep_axes(data.ndim)
        reduce = tuple(d for d in range(data.ndim) if d not in keep)
        values = data.astype(np.float64)
        self.adapt_mean.assign(values.mean(axis=reduce).astype(np.float32))
        self.adapt_variance.assign(values.var(axis=reduce).astype(np.float32))
        self.count.assign(np.float32(int(np.prod([data.shape[d] for d in reduce]))))

    def call(self, inputs, training=False):
        mean, variance = self.mean, self.variance
        if self.invert:
            return mean + inputs * comparison_ops.maximum(math_ops.sqrt(variance), 1e-7)
        return (inputs - mean) / comparison_ops.maximum(math_ops.sqrt(variance), 1e-7)

    def __repr__(self):
        return "<Normalization name=%s, axis=%s>" % (self.name, self.axis)


class Lambda(_layers.Layer):
    """Wraps a function of one tensor (or of a list, for several inputs) as a layer."""

    takes_any_rank = True  # first in a Sequential, fit hands it a 1-D x as it is (Keras 3)

    def __init__(self, function, output_shape=None, mask=None, arguments=None, name=None,
                 dtype="float32", input_shape=None, **kwargs):
        _no_extra(kwargs, "Lambda")
        super().__init__(name, dtype, True, input_shape)
        if not callable(function):
            raise ValueError("Lambda's `function` must be callable, got %r" % (function,))
        self.function = function
        self.arguments = dict(arguments or {})
        self.output_shape = output_shape

    def __call__(self, inputs, training=False):
        from distflow.keras.functional import call_symbolic, is_keras_tensor
        if is_keras_tensor(inputs):
            return call_symbolic(self, inputs)
        self.built = True
        inputs = [self._convert_input(x) for x in inputs] if isinstance(inputs, (list, tuple)) \
            else self._convert_input(inputs)
        return self.function(inputs, **self.arguments)

    call = __call__

    def compute_output_shape(self, input_shape):
        """`output_shape` when given (a tuple leaves out the batch axis, as Keras's); else the
        function's output on a row of zeros (Keras 3 infers it by running the function), so a
        Sequential of Lambda then Dense builds from the data's shape."""
        input_shape = TensorShape(input_shape)
        if callable(self.output_shape):
            return TensorShape(self.output_shape(input_shape))
        if self.output_shape is not None:
            return TensorShape([input_shape.as_list()[0]] + list(self.output_shape))
        if input_shape.rank is None:
            return TensorShape(None)
        zeros = np.zeros([1 if d is None else d for d in input_shape.as_list()],
                         dtypes.as_dtype(self.dtype).as_numpy_dtype)
        with context.eager_mode():
            out = self(zeros)
        return TensorShape([None] + list(TensorShape(out.shape).as_list()[1:]))


class Embedding(_layers.Layer):
    """Integer indices (batch, ...) to rows of an (input_dim, output_dim) matrix."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, mask_zero=False, input_length=None, name=None,
                 dtype="float32", trainable=True, input_shape=None, seed=None, **kwargs):
        _no_extra(kwargs, "Embedding")
        super().__init__(name, dtype, trainable, input_shape)
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError("Both `input_dim` and `output_dim` should be positive, Received "
                                 "%s=%r" % (arg, value))
        if mask_zero:
            raise NotImplementedError("Embedding(mask_zero=True): masking is not supported")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer = embeddings_initializer
        self.embeddings_regularizer = embeddings_regularizer
        self.seed = seed
        self.embeddings = None

    def _convert_input(self, inputs):
        x = dispatch.convert_to_tensor(inputs)
        return x if x.dtype.is_integer else math_ops.cast(x, dtypes.int32)

    def param_shapes(self, input_shape):
        return [(self.input_dim, self.output_dim)]

    def build(self, input_shape):
        from distflow.nn import initializers
        init = self.embeddings_initializer
        if init == "uniform":  # Keras's default: RandomUniform(-0.05, 0.05)
            init = initializers.RandomUniform(-0.05, 0.05, seed=self.seed)
        else:
            init = initializers.get(init, seed=self.seed)
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim), init)
        if self.embeddings_regularizer is not None:
            from distflow.keras import regularizers
            regularizers.attach(self, self.embeddings, self.embeddings_regularizer)

    def compute_output_shape(self, input_shape):
        return TensorShape(TensorShape(input_shape).as_list() + [self.output_dim])

    def call(self, inputs, training=False):
        from distflow.ops import slicing_ops
        return slicing_ops.gather(self.embeddings, inputs)


class _Merge(_layers.Layer):
    """A layer of a list of tensors (the functional API's merging layers)."""

    def __init__(self, name=None, dtype="float32", **kwargs):
        _no_extra(kwargs, type(self).__name__)
        super().__init__(name, dtype, True, None)

    def __call__(self, inputs, training=False):
        from distflow.keras.functional import call_symbolic, is_keras_tensor
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 1:
            raise ValueError("A merge layer should be called on a list of inputs. Received: "
                             "inputs=%r (not a list of tensors)" % (inputs,))
        if is_keras_tensor(inputs):
            return call_symbolic(self, list(inputs))
        tensors = [self._convert_input(x) for x in inputs]
        if not self.built:
            self.input_shape = [TensorShape(t.shape) for t in tensors]
            self.built = True
        return self.call(tensors, training=training)


class Concatenate(_Merge):
    """Joins its inputs along `axis` (default the last)."""

    def __init__(self, axis=-1, name=None, dtype="float32", **kwargs):
        super().__init__(name, dtype, **kwargs)
        self.axis = int(axis)

    def call(self, inputs, training=False):
        from distflow.ops import array_ops
        return array_ops.concat(list(inputs), axis=self.axis)


class Add(_Merge):
    """The elementwise sum of its inputs (all of one shape)."""

    def call(self, inputs, training=False):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out


def _reshape(var, shape):
    from distflow.ops import array_ops
    return array_ops.reshape(var, shape)


def _numpy(a):
    a = a.numpy() if hasattr(a, "numpy") else a
    return np.asarray(np.asarray(a), np.float32) if np.asarray(a).dtype.kind in "fbiuO" \
        else np.asarray(a)


def _no_extra(kwargs, cls):
    if kwargs:
        raise TypeError("Unrecognized keyword arguments passed to %s: %s" % (cls, kwargs))
