"""`tf.keras.datasets.mnist.load_data(path="mnist.npz")`: Keras's mnist.npz (x_train, y_train,
x_test, y_test: uint8 arrays (60000, 28, 28), (60000,), (10000, 28, 28), (10000,)), from Keras's
cache or downloaded from Keras's address. The .npz is read with allow_pickle=False."""
import numpy as np

from distflow.keras.datasets.cache import get_file

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

__all__ = ["load_data"]


def load_data(path="mnist.npz"):
    """((x_train, y_train), (x_test, y_test)); `path` is relative to ~/.keras/datasets."""
    path = get_file(path, ORIGIN, SHA256)
    with np.load(path, allow_pickle=False) as f:
        missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in f.files]
        if missing:
            raise ValueError("%s is not Keras's mnist.npz: it lacks %s" % (path, missing))
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
