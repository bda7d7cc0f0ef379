"""`tf.keras.utils`: `set_random_seed` and `to_categorical`."""
import random

import numpy as np

from distflow.ops import random_ops

__all__ = ["set_random_seed", "to_categorical"]


def set_random_seed(seed):
    """Seeds Python's `random`, NumPy's global generator and distflow's global seed at once, as
    keras.utils.set_random_seed does: after it, a Keras program (initial weights, shuffling,
    dropout masks) gives the same numbers on every run."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError("Expected `seed` argument to be an integer. Received: seed=%s" % (seed,))
    random.seed(int(seed))
    np.random.seed(int(seed))
    random_ops.set_seed(int(seed))


def to_categorical(x, num_classes=None):
    """Integer class labels to one-hot rows, as keras.utils.to_categorical: shape x.shape +
    (num_classes,) (a trailing axis of 1 is dropped first), float64 like Keras's NumPy result;
    num_classes defaults to max(x) + 1."""
    x = np.asarray(x.numpy() if hasattr(x, "numpy") else x)
    if x.dtype.kind == "f" and not np.all(np.mod(x, 1) == 0):
        raise ValueError("to_categorical expects integer class labels, got %r" % (x,))
    x = x.astype(np.int64)
    if x.ndim > 1 and x.shape[-1] == 1:
        x = x.reshape(x.shape[:-1])
    if num_classes is None:
        num_classes = int(x.max()) + 1 if x.size else 0
    if x.size and (x.min() < 0 or x.max() >= num_classes):
        raise ValueError("to_categorical: labels must be in [0, num_classes=%d), got values "
                         "from %d to %d" % (num_classes, x.min(), x.max()))
    out = np.zeros(x.shape + (int(num_classes),), np.float64)
    np.put_along_axis(out, x[..., None], 1.0, axis=-1)
    return out
