"""Optimizers and training helpers, with TF1's names (`tf.train.AdamOptimizer`, ...)."""
from distflow.train.adagrad import AdagradOptimizer  # noqa: F401
from distflow.train.adam import AdamOptimizer  # noqa: F401
from distflow.train.gradient_descent import GradientDescentOptimizer  # noqa: F401
from distflow.train.learning_rate_decay import (cosine_decay, exponential_decay,  # noqa: F401
                                                piecewise_constant)
from distflow.train.momentum import MomentumOptimizer  # noqa: F401
from distflow.train.optimizer import (Optimizer, get_global_step,  # noqa: F401
                                      get_or_create_global_step)
from distflow.train.rmsprop import RMSPropOptimizer  # noqa: F401

__all__ = [
    "AdagradOptimizer",
    "AdamOptimizer",
    "GradientDescentOptimizer",
    "MomentumOptimizer",
    "Optimizer",
    "RMSPropOptimizer",
    "cosine_decay",
    "exponential_decay",
    "get_global_step",
    "get_or_create_global_step",
    "piecewise_constant",
]
