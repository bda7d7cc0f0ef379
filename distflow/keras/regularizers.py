"""`tf.keras.regularizers`: L1, L2, L1L2 (and l1, l2, l1_l2), as Keras 3 computes them.

A layer given `kernel_regularizer=...` (Dense, Embedding's embeddings_regularizer) attaches the
regularizer to its weight; the penalties are the model's `losses`, recomputed from the current
weights each time they are read, together with the tensors layers and subclassed models passed
to `add_loss` during their last call; compile()'s training loss is the compiled loss plus their
sum, as Keras's.
"""
import numpy as np

from distflow.ops import math_ops

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get", "serialize",
           "deserialize"]


class Regularizer:
    def __call__(self, x):
        return 0.0

    def get_config(self):
        return {}


def _factor(value, name):
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError("Value for argument `%s` must be a non-negative float. Received: "
                         "%s=%s" % (name, name, value))
    return value


class L1(Regularizer):
    """l1 * sum(|x|)."""

    def __init__(self, l1=0.01):
        self.l1 = _factor(l1, "l1")

    def __call__(self, x):
        return self.l1 * math_ops.reduce_sum(math_ops.abs(x))

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """l2 * sum(x ** 2)."""

    def __init__(self, l2=0.01):
        self.l2 = _factor(l2, "l2")

    def __call__(self, x):
        return self.l2 * math_ops.reduce_sum(math_ops.square(x))

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    """l1 * sum(|x|) + l2 * sum(x ** 2)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = _factor(l1, "l1"), _factor(l2, "l2")

    def __call__(self, x):
        return self.l1 * math_ops.reduce_sum(math_ops.abs(x)) + \
            self.l2 * math_ops.reduce_sum(math_ops.square(x))

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


l1, l2, l1_l2 = L1, L2, L1L2
_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}


def get(identifier):
    if identifier is None or isinstance(identifier, Regularizer) or callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError("Could not interpret regularizer identifier: %r" % (identifier,))


def serialize(reg):
    if reg is None:
        return None
    return {"module": "keras.regularizers", "class_name": type(reg).__name__,
            "config": reg.get_config() if hasattr(reg, "get_config") else {},
            "registered_name": None}


def deserialize(config):
    if config is None or not isinstance(config, dict):
        return get(config)
    cls = {"L1": L1, "L2": L2, "L1L2": L1L2}.get(config.get("class_name"))
    if cls is None:
        raise ValueError("Unknown regularizer %r" % (config.get("class_name"),))
    return cls(**config.get("config", {}))


def attach(layer, var, regularizer):
    """Makes `regularizer(var)` one of the layer's losses."""
    layer.__dict__.setdefault("_regularized", []).append((get(regularizer), var))


def layer_losses(layer):
    out = [reg(var) for reg, var in layer.__dict__.get("_regularized", [])]
    out.extend(layer.__dict__.get("_call_losses", []))
    for sub in getattr(layer, "_layers", None) or []:
        out.extend(layer_losses(sub))
    return out


def reset_call_losses(model):
    """A model's call starts afresh: the losses add_loss made in the last call go."""
    model.__dict__.pop("_call_losses", None)
    for layer in getattr(model, "layers", []) or []:
        layer.__dict__.pop("_call_losses", None)
        if getattr(layer, "_layers", None):
            reset_call_losses(layer)


def collect(model):
    """Every regularization penalty of the model's layers and the losses their calls added
    (Keras's `model.losses`)."""
    out = list(model.__dict__.get("_call_losses", []))
    for layer in getattr(model, "layers", []) or []:
        out.extend(layer_losses(layer))
    return out
