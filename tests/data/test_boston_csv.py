"""The shipped Boston data (checksum, shape, Keras split) and the strict CSV loader's errors."""
import hashlib
import os

import numpy as np
import pytest

from distflow import data
from distflow.data import DataError, boston_housing, keras_split, load_boston, load_csv

SHARED_CSV = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data",
                          "boston.csv")


def test_shipped_file_is_the_documented_one():
    path = data.boston_csv_path()
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert digest == "79ac716620024011b03c0c44d2bf99069b8173649181926d9109c25475a3804c"
    assert os.path.exists(os.path.join(os.path.dirname(path), "BOSTON.md"))


def test_load_boston_shape_values_and_names():
    x, y = load_boston()
    assert x.shape == (506, 13) and y.shape == (506,)
    assert x.dtype == np.float64 and y.dtype == np.float64
    # the first and last rows of the file, and row 445 whose CRIM old scikit-learn had wrong
    np.testing.assert_array_equal(x[0], [0.00632, 18, 2.31, 0, 0.538, 6.575, 65.2, 4.09, 1, 296,
                                         15.3, 396.9, 4.98])
    assert y[0] == 24.0 and y[-1] == 11.9
    assert x[445, 0] == 10.6718
    assert y.min() == 5.0 and y.max() == 50.0 and np.sum(y == 50.0) == 16
    assert len(data.BOSTON_FEATURES) == 13 and "MEDV" not in data.BOSTON_FEATURES


def test_load_boston_can_leave_out_b():
    x_all, _ = load_boston()
    names = [n for n in data.BOSTON_FEATURES if n != "B"]
    x, y = load_boston(features=names)
    assert x.shape == (506, 12)
    np.testing.assert_array_equal(x, np.delete(x_all, data.BOSTON_FEATURES.index("B"), axis=1))
    with pytest.raises(ValueError, match="Unknown Boston feature"):
        load_boston(features=["CRIM", "ROOMS"])


def test_checksum_mismatch_is_an_error(tmp_path):
    changed = tmp_path / "boston.csv"
    text = open(data.boston_csv_path()).read().replace("0.00632,18,", "0.00633,18,", 1)
    changed.write_text(text)
    with pytest.raises(DataError, match="sha256 mismatch"):
        load_boston(path=str(changed))


def test_keras_split_matches_keras_and_the_book():
    train, test = keras_split(506)
    assert len(train) == 404 and len(test) == 102
    expected = np.arange(506)
    np.random.RandomState(113).shuffle(expected)
    np.testing.assert_array_equal(np.concatenate([train, test]), expected)
    (x_train, y_train), (x_test, y_test) = boston_housing.load_data()
    # values printed in F. Chollet's "Deep Learning with Python" for the Keras Boston split
    np.testing.assert_array_equal(y_train[:10], [15.2, 42.3, 50., 21.1, 17.7, 18.5, 11.3, 15.6,
                                                 15.6, 14.4])
    np.testing.assert_array_equal(y_test[:5], [7.2, 18.8, 19., 27., 22.2])
    np.testing.assert_array_equal(x_train[0], [1.23247, 0., 8.14, 0., 0.538, 6.142, 91.7, 3.9769,
                                               4., 307., 21., 396.9, 18.72])
    assert x_train.shape == (404, 13) and x_test.shape == (102, 13)


@pytest.mark.skipif(not os.path.exists(SHARED_CSV), reason="shared data folder not present")
def test_shipped_copy_equals_the_shared_file():
    with open(SHARED_CSV, "rb") as a, open(data.boston_csv_path(), "rb") as b:
        assert a.read() == b.read()


# -- the general CSV loader ---------------------------------------------------------------------
def write(tmp_path, text, name="t.csv"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_load_csv_target_and_features(tmp_path):
    path = write(tmp_path, "a,b,y,c\n1,2,3,4\n5,6,7,8\n\n")
    x, y, names = load_csv(path, target="y")
    assert names == ["a", "b", "c"]
    np.testing.assert_array_equal(x, [[1, 2, 4], [5, 6, 8]])
    np.testing.assert_array_equal(y, [3, 7])
    x, y, names = load_csv(path, target="a", features=["c", "b"], dtype=np.float32)
    assert names == ["c", "b"] and x.dtype == np.float32
    np.testing.assert_array_equal(x, [[4, 2], [8, 6]])
    np.testing.assert_array_equal(y, [1, 5])


def test_boston_through_the_general_loader():
    x, y, names = load_csv(data.boston_csv_path(), target="MEDV")
    xb, yb = load_boston()
    assert tuple(names) == data.BOSTON_FEATURES
    np.testing.assert_array_equal(x, xb)
    np.testing.assert_array_equal(y, yb)


@pytest.mark.parametrize("text, kwargs, pattern", [
    ("a,b\n1,2\n", {"target": "y"}, r"t\.csv: no column 'y'"),
    ("a,y\n1,2\n", {"target": "y", "features": ["a", "z"]}, r"t\.csv: no column 'z'"),
    ("a,y\n1,2\n3,x7\n", {"target": "y"},
     r"t\.csv, row 2 \(line 3\), column 'y': 'x7' is not a number"),
    ("a,y\n1,2\nnan,4\n", {"target": "y"}, r"t\.csv, row 2 \(line 3\), column 'a': NaN"),
    ("a,y\n1,\n", {"target": "y"}, r"t\.csv, row 1 \(line 2\), column 'y': empty value"),
    ("a,y\n1,inf\n", {"target": "y"}, r"column 'y': infinite"),
    ("a,y\n1,2\n1,2,3\n", {"target": "y"},
     r"t\.csv, row 2 \(line 3\): 3 fields where the header has 2"),
    ("a,a,y\n1,2,3\n", {"target": "y"}, r"column 'a' appears twice"),
    ("a,y\n", {"target": "y"}, r"no data rows"),
    ("a,y\n1,2\n", {"target": "y", "features": ["y"]}, r"also listed as a feature"),
])
def test_load_csv_errors_name_file_row_and_column(tmp_path, text, kwargs, pattern):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=pattern):
        load_csv(path, **kwargs)

