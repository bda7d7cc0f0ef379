"""Every op, defined once. Importing this package registers them all and installs the operators."""
from distflow.ops import (array_ops, comparison_ops, constant_op, control_flow_ops,  # noqa: F401
                          indexing_ops, linalg_ops, logging_ops, math_ops, matmul_ops, nn_ops,
                          activation_ops, normalization_ops, special_math_ops,
                          random_ops, reduction_ops, rounding_ops, scan_ops, sequence_ops, set_ops,
                          script_ops, slicing_ops, sort_ops, state_ops, training_ops,
                          variables)
from distflow.ops import conv_ops, pooling_ops  # noqa: F401  (tf.nn.conv2d, tf.nn.max_pool2d)
from distflow.ops import overloads  # noqa: F401  (installs Python operators)

# Modules whose __all__ make up the top-level op namespace of `distflow` and `distflow.compat.v1`.
PUBLIC_MODULES = [constant_op, math_ops, matmul_ops, reduction_ops, comparison_ops, rounding_ops,
                  scan_ops, special_math_ops, linalg_ops, array_ops, slicing_ops, indexing_ops,
                  sequence_ops, sort_ops, set_ops, control_flow_ops, variables, script_ops]
