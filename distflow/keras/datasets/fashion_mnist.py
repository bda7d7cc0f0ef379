"""`tf.keras.datasets.fashion_mnist.load_data()`: the four gzipped IDX files Keras keeps in
~/.keras/datasets/fashion-mnist (labels: 8-byte header then uint8; images: 16-byte header then
28x28 uint8 each), from the cache or downloaded from Keras's address and checked."""
import gzip
import os

import numpy as np

from distflow.keras.datasets.cache import get_file

BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
SHA256 = {
    "train-labels-idx1-ubyte.gz":
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "train-images-idx3-ubyte.gz":
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "t10k-labels-idx1-ubyte.gz":
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "t10k-images-idx3-ubyte.gz":
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
}

__all__ = ["load_data"]


def load_data():
    """((x_train, y_train), (x_test, y_test)) as uint8 arrays."""
    paths = {name: get_file(name, BASE + name, digest,
                            cache_subdir=os.path.join("datasets", "fashion-mnist"))
             for name, digest in SHA256.items()}

    def read(name, offset):
        with gzip.open(paths[name], "rb") as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)

    y_train = read("train-labels-idx1-ubyte.gz", 8)
    x_train = read("train-images-idx3-ubyte.gz", 16).reshape(len(y_train), 28, 28)
    y_test = read("t10k-labels-idx1-ubyte.gz", 8)
    x_test = read("t10k-images-idx3-ubyte.gz", 16).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)
