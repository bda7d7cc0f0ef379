"""`tf.keras.optimizers`: distflow's Keras 3 optimizers (distflow/optimizers.py) and `get`, which
turns compile()'s `optimizer='adam'` into an optimizer with Keras's defaults."""
from distflow.optimizers import (SGD, Adadelta, Adagrad, Adam, AdamW, Nadam,  # noqa: F401
                                 Optimizer, RMSprop, schedules)

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Nadam", "Optimizer",
           "schedules", "get"]

_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad,
            "adadelta": Adadelta, "nadam": Nadam}


def get(identifier):
    """An optimizer object as it is, or a new one from its name ('adam', 'sgd', 'rmsprop', ...,
    any case), as keras.optimizers.get."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError("Could not interpret optimizer identifier: %s" % (identifier,))
