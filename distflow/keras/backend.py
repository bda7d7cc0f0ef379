"""`tf.keras.backend`: `clear_session` (fresh layer names: dense, dense_1, ... start again) and
`floatx` / `epsilon`."""
from distflow.nn import layers as _layers

__all__ = ["clear_session", "floatx", "epsilon"]


def clear_session():
    """Forgets the layer names given so far, as Keras's clear_session does; models already built
    keep working."""
    _layers._name_counts.clear()


def floatx():
    return "float32"


def epsilon():
    return 1e-7
