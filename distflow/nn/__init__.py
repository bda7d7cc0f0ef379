"""`df.nn`: neural-network ops (relu, softmax, cross-entropies) and, beside them, layers.

Layers and models: Dense, Dropout, Sequential (and TF1's functional `dense`, `dropout`); weight
initializers under `df.nn.initializers`; losses under `df.nn.losses` (also `df.losses`); metrics
under `df.nn.metrics` (also `df.metrics`).
"""
from distflow.ops.nn_ops import *  # noqa: F401,F403
from distflow.ops.activation_ops import *  # noqa: F401,F403  (relu6, leaky_relu, selu)
from distflow.ops.normalization_ops import *  # noqa: F401,F403  (l2_normalize, moments)
from distflow.ops.conv_ops import *  # noqa: F401,F403  (conv2d, conv1d, ...)
from distflow.ops.pooling_ops import *  # noqa: F401,F403  (max_pool2d, avg_pool2d, ...)
from distflow.ops.sort_ops import in_top_k, top_k  # noqa: F401  (tf.nn.top_k, tf.nn.in_top_k)
from distflow.nn import initializers, losses, metrics  # noqa: F401
from distflow.nn.losses import (compute_average_loss,  # noqa: F401,E402  (tf.nn's names)
                                scale_regularization_loss)
from distflow.nn.layers import Dense, Dropout, Layer, get_activation  # noqa: F401
from distflow.nn.sequential import Sequential  # noqa: F401
