"""Compatibility faces: `distflow.compat.v1` is TensorFlow 1.x's API.

Imported with the package, so that TF2 code reaches `tf.compat.v1.<name>` after a plain
`import distflow as tf`, as it does in TensorFlow.
"""
from distflow.compat import v1  # noqa: F401
