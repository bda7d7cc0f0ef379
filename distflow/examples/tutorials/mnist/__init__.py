"""TF 1.x's tensorflow.examples.tutorials.mnist: `input_data.read_data_sets`."""
from distflow.examples.tutorials.mnist import input_data  # noqa: F401
