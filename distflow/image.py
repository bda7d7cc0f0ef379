"""`df.image`: tf.image.resize (bilinear, nearest) and per_image_standardization."""
from distflow.ops.image_ops import *  # noqa: F401,F403
