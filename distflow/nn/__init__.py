"""`df.nn`: neural-network ops (relu, softmax, cross-entropies) and, beside them, layers."""
from distflow.ops.nn_ops import *  # noqa: F401,F403
