"""`df.math`: the math ops under TF2's namespace (`df.math.log`, `df.math.reduce_sum`, ...)."""
from distflow.ops import comparison_ops as _comparison_ops
from distflow.ops import math_ops as _math_ops
from distflow.ops import reduction_ops as _reduction_ops
from distflow.ops.comparison_ops import *  # noqa: F401,F403
from distflow.ops.linalg_ops import matmul  # noqa: F401  (TF has no tf.math.matmul; kept for old code)
from distflow.ops.math_ops import *  # noqa: F401,F403
from distflow.ops.reduction_ops import *  # noqa: F401,F403

__all__ = _math_ops.__all__ + _reduction_ops.__all__ + _comparison_ops.__all__ + ["matmul"]
