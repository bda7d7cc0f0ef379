"""`tf.keras.activations`: the activation functions layers accept by name, and `get`."""
from distflow.nn.layers import get_activation
from distflow.ops.nn_ops import elu, relu, sigmoid, softmax, softplus, tanh  # noqa: F401

__all__ = ["relu", "sigmoid", "tanh", "softmax", "softplus", "elu", "linear", "get"]


def linear(x):
    """The identity (Keras's 'linear', a layer's default)."""
    return x


def get(identifier):
    """A callable from a name ('relu', ...), a callable, or None / 'linear' (the identity)."""
    fn = get_activation(identifier)
    return linear if fn is None else fn
