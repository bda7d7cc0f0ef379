"""Optimizers and training helpers, with TF1's names."""
from distflow.train.gradient_descent import GradientDescentOptimizer  # noqa: F401
from distflow.train.optimizer import (Optimizer, get_global_step,  # noqa: F401
                                      get_or_create_global_step)

__all__ = ["GradientDescentOptimizer", "Optimizer", "get_global_step", "get_or_create_global_step"]
