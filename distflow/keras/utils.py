"""`tf.keras.utils`: `set_random_seed`, the one utility a course program calls."""
import random

import numpy as np

from distflow.ops import random_ops

__all__ = ["set_random_seed"]


def set_random_seed(seed):
    """Seeds Python's `random`, NumPy's global generator and distflow's global seed at once, as
    keras.utils.set_random_seed does: after it, a Keras program (initial weights, shuffling,
    dropout masks) gives the same numbers on every run."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError("Expected `seed` argument to be an integer. Received: seed=%s" % (seed,))
    random.seed(int(seed))
    np.random.seed(int(seed))
    random_ops.set_seed(int(seed))
