"""Optimizers and training helpers, with TF1's names (`tf.train.AdamOptimizer`, ...)."""
from distflow.train.adadelta import AdadeltaOptimizer  # noqa: F401
from distflow.train.adagrad import AdagradOptimizer  # noqa: F401
from distflow.train.adam import AdamOptimizer  # noqa: F401
from distflow.train.checkpoint import Checkpoint, CheckpointManager  # noqa: F401
from distflow.train.gradient_descent import GradientDescentOptimizer  # noqa: F401
from distflow.train.learning_rate_decay import (cosine_decay, exponential_decay,  # noqa: F401
                                                inverse_time_decay, natural_exp_decay,
                                                piecewise_constant, polynomial_decay)
from distflow.train.momentum import MomentumOptimizer  # noqa: F401
from distflow.train.optimizer import (Optimizer, get_global_step,  # noqa: F401
                                      get_or_create_global_step)
from distflow.train.proximal import (FtrlOptimizer,  # noqa: F401
                                     ProximalGradientDescentOptimizer)
from distflow.train.rmsprop import RMSPropOptimizer  # noqa: F401
from distflow.train.saver import (Saver, checkpoint_exists, get_checkpoint_state,  # noqa: F401
                                  latest_checkpoint)

__all__ = [
    "AdadeltaOptimizer",
    "AdagradOptimizer",
    "AdamOptimizer",
    "Checkpoint",
    "CheckpointManager",
    "FtrlOptimizer",
    "GradientDescentOptimizer",
    "MomentumOptimizer",
    "Optimizer",
    "ProximalGradientDescentOptimizer",
    "RMSPropOptimizer",
    "Saver",
    "checkpoint_exists",
    "cosine_decay",
    "exponential_decay",
    "get_checkpoint_state",
    "get_global_step",
    "get_or_create_global_step",
    "inverse_time_decay",
    "latest_checkpoint",
    "natural_exp_decay",
    "piecewise_constant",
    "polynomial_decay",
]
