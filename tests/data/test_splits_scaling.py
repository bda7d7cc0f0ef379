"""Random splits, K-fold, and the Standardizer fitted on the training rows only."""
import json

import numpy as np
import pytest

from distflow.data import Standardizer, boston_housing, kfold, random_split, take


def test_random_split_is_seeded_and_partitions_rows():
    train, test = random_split(100, 0.25, seed=7)
    assert len(train) == 75 and len(test) == 25
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(100))
    again = random_split(100, 0.25, seed=7)
    np.testing.assert_array_equal(train, again[0])
    other = random_split(100, 0.25, seed=8)
    assert not np.array_equal(test, other[1])
    with pytest.raises(ValueError, match="between 0 and 1"):
        random_split(10, 1.0)


@pytest.mark.parametrize("n, k", [(10, 3), (506, 5), (7, 7), (12, 4)])
def test_kfold_covers_every_row_once(n, k):
    folds = kfold(n, k, seed=3)
    assert len(folds) == k
    vals = [v for _, v in folds]
    assert sorted(np.concatenate(vals).tolist()) == list(range(n))
    sizes = [len(v) for v in vals]
    assert max(sizes) - min(sizes) <= 1
    for train, val in folds:
        assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == n
    np.testing.assert_array_equal(kfold(n, k, seed=3)[0][1], folds[0][1])


def test_kfold_without_shuffle_is_contiguous():
    folds = kfold(10, 3, shuffle=False)
    assert [v.tolist() for _, v in folds] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    with pytest.raises(ValueError):
        kfold(3, 4)


def test_take_applies_one_split_to_several_arrays():
    x, y = np.arange(10).reshape(5, 2), np.arange(5) * 10
    xt, yt = take(np.array([4, 1]), x, y)
    np.testing.assert_array_equal(xt, [[8, 9], [2, 3]])
    np.testing.assert_array_equal(yt, [40, 10])


def test_standardizer_fits_on_training_rows_only():
    (x_train, _), (x_test, _) = boston_housing.load_data()
    s = Standardizer().fit(x_train)
    np.testing.assert_allclose(s.mean, x_train.mean(axis=0))
    np.testing.assert_allclose(s.std, x_train.std(axis=0))
    z_train, z_test = s.transform(x_train), s.transform(x_test)
    np.testing.assert_allclose(z_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z_train.std(axis=0), 1, atol=1e-12)
    # the test rows are scaled with the training statistics, so they are NOT exactly centred
    np.testing.assert_allclose(z_test, (x_test - x_train.mean(0)) / x_train.std(0))
    assert np.abs(z_test.mean(axis=0)).max() > 0.01
    np.testing.assert_allclose(s.inverse_transform(z_test), x_test, rtol=1e-12, atol=1e-12)


def test_standardizer_round_trips_through_json():
    x = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 4.0], [8.0, 5.0, 0.0]])
    s = Standardizer(feature_names=["a", "b", "c"]).fit(x)
    text = json.dumps(s.to_dict())
    s2 = Standardizer.from_dict(json.loads(text))
    assert s2.feature_names == ["a", "b", "c"]
    np.testing.assert_array_equal(s2.transform(x), s.transform(x))
    # a constant column maps to 0 rather than dividing by zero
    np.testing.assert_array_equal(s.transform(x)[:, 1], 0.0)


def test_standardizer_errors_and_dtypes():
    s = Standardizer()
    with pytest.raises(ValueError, match="not been fitted"):
        s.transform(np.zeros((2, 3)))
    s.fit(np.arange(6.0).reshape(3, 2))
    with pytest.raises(ValueError, match="fitted on 2 features"):
        s.transform(np.zeros((4, 3)))
    assert s.transform(np.zeros((1, 2), np.float32)).dtype == np.float32
    assert s.transform(np.zeros((1, 2), np.int64)).dtype == np.float64
