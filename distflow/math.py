"""`df.math`: the math ops under TF2's namespace (`df.math.log`, `df.math.reduce_sum`, ...)."""
from distflow.ops import comparison_ops as _comparison_ops
from distflow.ops import math_ops as _math_ops
from distflow.ops import reduction_ops as _reduction_ops
from distflow.ops.comparison_ops import *  # noqa: F401,F403
from distflow.ops.matmul_ops import matmul  # noqa: F401  (TF has no tf.math.matmul; kept for old code)
from distflow.ops.math_ops import *  # noqa: F401,F403
from distflow.ops.reduction_ops import *  # noqa: F401,F403
from distflow.ops.sort_ops import in_top_k, top_k  # noqa: F401  (TF has them under tf.math only)
from distflow.ops.rounding_ops import ceil, floor, round  # noqa: F401
from distflow.ops.scan_ops import cumprod, cumsum  # noqa: F401
from distflow.ops import special_math_ops as _special_math_ops
from distflow.ops.special_math_ops import *  # noqa: F401,F403
from distflow.ops.special_math_ops import erf, erfc, expm1, polyval, xdivy, xlogy  # noqa: F401
from distflow.ops.reduction_ops import reduce_euclidean_norm  # noqa: F401  (tf.math only)
from distflow.ops.nn_ops import log_softmax, sigmoid, softmax, softplus, tanh  # noqa: F401
from distflow.ops.activation_ops import log_sigmoid  # noqa: F401
from distflow.ops.array_ops import invert_permutation  # noqa: F401
from distflow.ops.slicing_ops import unsorted_segment_sum  # noqa: F401

__all__ = (_math_ops.__all__ + _reduction_ops.__all__ + _comparison_ops.__all__
           + _special_math_ops.__all__
           + ["matmul", "top_k", "in_top_k", "ceil", "floor", "round", "cumsum", "log_softmax",
              "sigmoid", "softmax", "softplus", "tanh", "invert_permutation",
              "unsorted_segment_sum", "log_sigmoid", "cumprod", "reduce_euclidean_norm",
              "expm1", "erf", "erfc", "xlogy", "xdivy", "polyval"])
