"""`df.random`: random ops under TF2's names (`df.random.normal`, `df.random.set_seed`)."""
from distflow.ops.random_ops import *  # noqa: F401,F403
