"""`tf.keras.datasets.cifar10.load_data()`: CIFAR-10 from Keras's cache: the folder
~/.keras/datasets/cifar-10-batches-py (as Keras 2 and TF extract it; Keras 3's
cifar-10-batches-py_extracted/ too), else the archive cifar-10-batches-py.tar.gz, read in place,
downloaded from Keras's address and checked when absent.

Each batch file is the dataset authors' Python pickle of {b"data": uint8 (n, 3072),
b"labels": [int]}. It is read by an unpickler that can build nothing but NumPy arrays, dtypes and
plain containers (any other object in the file is refused), as Keras's RestrictedUnpickler does.
Images come out channels_last, (n, 32, 32, 3) uint8; labels (n, 1) uint8.
"""
import io
import os
import pickle
import tarfile

import numpy as np

from distflow.keras.datasets.cache import cache_dirs, get_file

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
FOLDER = "cifar-10-batches-py"
BATCHES = ["data_batch_%d" % i for i in range(1, 6)] + ["test_batch"]

__all__ = ["load_data"]


def load_data():
    """((x_train, y_train), (x_test, y_test)): 50000 and 10000 images of 32x32x3."""
    folders = [os.path.join(base, "datasets", *parts) for base in cache_dirs()
               for parts in ((FOLDER,), (FOLDER + "_extracted", FOLDER))]
    for folder in folders:
        if all(os.path.exists(os.path.join(folder, b)) for b in BATCHES):
            def read(name, folder=folder):
                with open(os.path.join(folder, name), "rb") as f:
                    return f.read()
            return _assemble(read)
    archive = get_file(FOLDER + ".tar.gz", ORIGIN, SHA256)
    with tarfile.open(archive, "r:gz") as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}

        def read(name):
            member = members.get(FOLDER + "/" + name)
            if member is None:
                raise ValueError("%s is not the CIFAR-10 archive: it has no %s/%s"
                                 % (archive, FOLDER, name))
            return tar.extractfile(member).read()
        return _assemble(read)


def _assemble(read):
    parts = [load_batch(read(name)) for name in BATCHES]
    x_train = np.concatenate([x for x, _ in parts[:5]])
    y_train = np.concatenate([y for _, y in parts[:5]])
    x_test, y_test = parts[5]
    return ((x_train.transpose(0, 2, 3, 1), y_train.reshape(-1, 1)),
            (x_test.transpose(0, 2, 3, 1), y_test.reshape(-1, 1)))


def load_batch(data, label_key="labels"):
    """(images (n, 3, 32, 32) uint8, labels (n,) uint8) from one batch file's bytes."""
    d = _ArraysOnly(io.BytesIO(data), encoding="bytes").load()
    if not isinstance(d, dict):
        raise ValueError("A CIFAR batch holds a dict, got %s" % type(d).__name__)
    d = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in d.items()}
    images = np.asarray(d["data"], dtype=np.uint8)
    labels = np.asarray(d[label_key], dtype=np.uint8)
    return images.reshape(images.shape[0], 3, 32, 32), labels


class _ArraysOnly(pickle.Unpickler):
    """Builds NumPy arrays and dtypes only: the names a pickled ndarray needs (and
    _codecs.encode, which protocol 2 written by Python 3 uses for an array's bytes)."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"),
                ("numpy._core.multiarray", "_reconstruct"), ("numpy", "ndarray"),
                ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError("A CIFAR batch may hold NumPy arrays only; this file "
                                         "asks for %s.%s, which is refused" % (module, name))
        if name == "_reconstruct":
            return np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's own _reconstruct
        if module == "_codecs":
            import codecs
            return codecs.encode
        return getattr(np, name)
