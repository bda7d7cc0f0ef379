"""`tf.keras.layers`: distflow's Dense and Dropout with Keras's extra arguments, and Input.

What Keras adds over `df.nn.Dense` / `df.nn.Dropout`:

  * `input_dim=13` (Keras 2's spelling of `input_shape=(13,)`);
  * randomness that follows the global seed: a layer made without `seed` after
    `tf.keras.utils.set_random_seed(s)` (or `tf.random.set_seed(s)`) takes one from the global
    seed's stream, so the program's initial weights and dropout masks repeat run after run, as
    Keras's SeedGenerator makes them. Without a global seed they are fresh each run.

`Input(shape=(13,))` is a KerasTensor (distflow/keras/functional.py): the start of a functional
model, or, first in a Sequential, its input shape, as Keras 3 has it. Normalization, Lambda,
Embedding, Concatenate and Add live in distflow/keras/tutorial_layers.py.
"""
import types

from distflow.framework.tensor_shape import TensorShape
from distflow.keras import regularizers
from distflow.nn import layers as _layers
from distflow.ops import random_ops

__all__ = ["Layer", "Dense", "Dropout", "Input", "InputLayer", "Normalization", "Lambda",
           "Embedding", "Concatenate", "Add"]

Layer = _layers.Layer


def _global_seed():
    """A seed drawn from the global seed's stream, or None when no global seed is set."""
    global_seed, op_seed = random_ops.get_seed(None)
    return None if global_seed is None else _layers.derive_seed(global_seed, op_seed)


class Dense(_layers.Dense):
    __doc__ = _layers.Dense.__doc__

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", seed=None, name=None, dtype="float32", trainable=True,
                 input_shape=None, input_dim=None, kernel_regularizer=None,
                 bias_regularizer=None):
        if input_shape is None and input_dim is not None:
            input_shape = (int(input_dim),)
        super().__init__(units, activation, use_bias, kernel_initializer, bias_initializer,
                         _global_seed() if seed is None else seed, name, dtype, trainable,
                         input_shape)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def build(self, input_shape):
        super().build(input_shape)
        # the penalties are the model's losses (distflow/keras/regularizers.py)
        if self.kernel_regularizer is not None:
            regularizers.attach(self, self.kernel, self.kernel_regularizer)
        if self.bias_regularizer is not None and self.use_bias:
            regularizers.attach(self, self.bias, self.bias_regularizer)


class Dropout(_layers.Dropout):
    __doc__ = _layers.Dropout.__doc__

    def __init__(self, rate, noise_shape=None, seed=None, name=None, dtype="float32",
                 input_shape=None):
        super().__init__(rate, noise_shape, _global_seed() if seed is None else seed, name,
                         dtype, input_shape)


class InputLayer:
    """The input of a Sequential model: its shape without the batch dimension (Keras's
    `shape`), or with it (`batch_shape`)."""

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None,
                 input_shape=None):
        shape = shape if shape is not None else input_shape
        if batch_shape is not None:
            dims = list(TensorShape(batch_shape).as_list())
        elif shape is not None:
            dims = [batch_size] + list(TensorShape(shape).as_list())
        else:
            raise ValueError("You must pass a `shape` argument.")
        self.batch_shape = TensorShape(dims)
        self.dtype = dtype or "float32"
        self.name = name or _layers.unique_layer_name("input_layer")

    @property
    def shape(self):
        return self.batch_shape

    def __repr__(self):
        return "<InputLayer name=%s, shape=%s>" % (self.name, self.batch_shape)


# Convolution, pooling, shape layers and BatchNormalization (imported last: they take their
# seeds from _global_seed above)
from distflow.keras import conv_layers, core_layers  # noqa: E402
from distflow.keras.conv_layers import *  # noqa: E402,F401,F403
from distflow.keras.core_layers import *  # noqa: E402,F401,F403
from distflow.keras.tutorial_layers import (Add, Concatenate, Embedding, Lambda,  # noqa: E402,F401
                                            Normalization)
from distflow.keras.functional import Input  # noqa: E402,F401

__all__ += conv_layers.__all__ + core_layers.__all__
experimental = types.SimpleNamespace(  # tf.keras.layers.experimental.SyncBatchNormalization
    SyncBatchNormalization=core_layers.SyncBatchNormalization)
