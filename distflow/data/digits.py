"""The 8x8 handwritten digits, shipped inside the package (digits.csv.gz; credit in DIGITS.md).

1,797 images (the UCI "Optical Recognition of Handwritten Digits" test set, CC BY 4.0), pixels
0..16, classes 0..9. The file is checked against its sha256 before every load; nothing is
downloaded. Images come back as NHWC uint8 (1797, 8, 8, 1), ready for Conv2D.
"""
import gzip
import importlib.resources

import numpy as np

from distflow.data.csv import DataError, verify_sha256
from distflow.data.splits import keras_split

__all__ = ["SHA256", "NUM_IMAGES", "digits_path", "load_digits", "load_data"]

SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
NUM_IMAGES = 1797


def digits_path():
    """The path of the shipped digits.csv.gz."""
    return str(importlib.resources.files("distflow.data").joinpath("digits.csv.gz"))


def load_digits(path=None, sha256=SHA256):
    """(images, labels): uint8 images of shape (1797, 8, 8, 1) with pixels 0..16, and uint8
    labels 0..9 of shape (1797,), in file order. A file whose checksum differs raises
    distflow.data.DataError before anything is parsed."""
    path = path or digits_path()
    verify_sha256(path, sha256)
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64, ndmin=2)
    if table.shape != (NUM_IMAGES, 65):
        raise DataError("%s: expected %d rows of 65 values, read %s"
                        % (path, NUM_IMAGES, table.shape))
    if table[:, :64].min() < 0 or table[:, :64].max() > 16 or table[:, 64].max() > 9:
        raise DataError("%s: pixels must be 0..16 and labels 0..9" % path)
    images = table[:, :64].astype(np.uint8).reshape(-1, 8, 8, 1)
    return images, table[:, 64].astype(np.uint8)


def load_data(test_split=0.2, seed=113):
    """((x_train, y_train), (x_test, y_test)), as Keras's bundled datasets split: the images
    shuffled by np.random.RandomState(seed), the first int(1797 * (1 - test_split)) for training
    (1,437 with the defaults) and the rest (360) for testing."""
    x, y = load_digits()
    train, test = keras_split(len(x), test_split=test_split, seed=seed)
    return (x[train], y[train]), (x[test], y[test])
