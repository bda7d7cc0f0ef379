"""`df.math`: the math ops under TF2's namespace (`df.math.log`, `df.math.reduce_sum`, ...)."""
from distflow.ops.math_ops import *  # noqa: F401,F403
from distflow.ops.math_ops import __all__  # noqa: F401
