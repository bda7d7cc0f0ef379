"""`tf.keras.datasets`: `boston_housing.load_data()` reads distflow's bundled copy (checked
against its sha256, never downloaded) and splits it as Keras does (404 training rows, 102 test).
`mnist`, `fashion_mnist` and `cifar10` read Keras's cache (~/.keras/datasets, or $KERAS_HOME/
datasets) and download from Keras's addresses, checked against Keras's sha256, only when the
file is not there (cache.py)."""
from distflow.data import boston_housing  # noqa: F401
from distflow.keras.datasets import cifar10, fashion_mnist, mnist  # noqa: F401

__all__ = ["boston_housing", "mnist", "fashion_mnist", "cifar10"]
