"""The Boston housing data, shipped inside the package (boston.csv; provenance in BOSTON.md).

506 census tracts, 13 features and the target MEDV (median home value in $1000s). The file is
checked against its sha256 before every load, and nothing is ever downloaded.

Note on column B: it encodes a non-invertible function of a town's Black population share, built on
the original authors' assumption that racial self-segregation affects prices. It is kept because
published baselines use all 13 features; `load_boston(features=...)` can leave it out. See
BOSTON.md for the full note and the data's history.
"""
import importlib.resources

import numpy as np

from distflow.data.csv import read_csv_columns, verify_sha256
from distflow.data.splits import keras_split

__all__ = ["FEATURE_NAMES", "TARGET_NAME", "SHA256", "boston_csv_path", "load_boston", "load_data"]

SHA256 = "79ac716620024011b03c0c44d2bf99069b8173649181926d9109c25475a3804c"
FEATURE_NAMES = ("CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX",
                 "PTRATIO", "B", "LSTAT")
TARGET_NAME = "MEDV"
NUM_ROWS = 506


def boston_csv_path():
    """The path of the shipped boston.csv (an installed package keeps it as a plain file)."""
    return str(importlib.resources.files("distflow.data").joinpath("boston.csv"))


def load_boston(features=None, dtype=np.float64, path=None, sha256=SHA256):
    """(x, y): features of shape (506, 13) and the target MEDV of shape (506,), rows in file order.

    `features` picks columns by name (default: all 13, in file order). `path` and `sha256` exist
    for tests and for a copy kept elsewhere; the checksum is always verified before parsing, and a
    mismatch raises distflow.data.DataError.
    """
    path = path or boston_csv_path()
    verify_sha256(path, sha256)
    names = list(FEATURE_NAMES if features is None else features)
    unknown = [n for n in names if n not in FEATURE_NAMES]
    if unknown:
        raise ValueError("Unknown Boston feature(s) %s; the features are %s"
                         % (unknown, ", ".join(FEATURE_NAMES)))
    _, table = read_csv_columns(path, names + [TARGET_NAME])
    if table.shape[0] != NUM_ROWS:
        raise ValueError("%s: expected %d rows, read %d" % (path, NUM_ROWS, table.shape[0]))
    return table[:, :-1].astype(dtype), table[:, -1].astype(dtype)


def load_data(test_split=0.2, seed=113, features=None, dtype=np.float64):
    """Keras's `boston_housing.load_data()`: ((x_train, y_train), (x_test, y_test)).

    Rows are shuffled by np.random.RandomState(seed); the first int(506 * (1 - test_split)) are
    the training set (404 with the defaults), the rest the test set (102), exactly as Keras does.
    """
    x, y = load_boston(features=features, dtype=dtype)
    train, test = keras_split(len(x), test_split=test_split, seed=seed)
    return (x[train], y[train]), (x[test], y[test])
