"""Compatibility faces: `distflow.compat.v1` is TensorFlow 1.x's API.

`distflow.compat` is loaded on first use (distflow/__init__.py), and it loads v1 with it, so
that TF2 code reaches `tf.compat.v1.<name>` after a plain `import distflow as tf`, as it does
in TensorFlow.
"""
from distflow.compat import v1  # noqa: F401
