"""Train/test splits and K-fold cross-validation, as index arrays: pure functions of their seeds.

Splits return indices rather than copies of the data so that the same split can be applied to
features, targets and anything else that rows belong to, and so that a config can record how a
split was made (a seed) instead of which rows it holds.
"""
import numpy as np

__all__ = ["keras_split", "random_split", "kfold", "take"]


def keras_split(n, test_split=0.2, seed=113):
    """(train, test) indices by Keras's convention for its bundled datasets.

    np.random.RandomState(seed) shuffles arange(n); the first int(n * (1 - test_split)) indices
    are the training set. For Boston (n=506) that is 404 train and 102 test rows, the split that
    `keras.datasets.boston_housing.load_data()` and F. Chollet's book use.
    """
    _check_fraction(test_split)
    indices = np.arange(n)
    np.random.RandomState(seed).shuffle(indices)
    n_train = int(n * (1 - test_split))
    return indices[:n_train], indices[n_train:]


def random_split(n, test_fraction=0.2, seed=0):
    """(train, test) indices from a seeded permutation; round(n * test_fraction) test rows."""
    _check_fraction(test_fraction)
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def kfold(n, k, seed=None, shuffle=True):
    """K (train, validation) index pairs. Every row is in exactly one validation fold; fold
    sizes differ by at most one (the first n % k folds take one extra row). With shuffle, rows
    are permuted by a generator seeded with `seed` first; without it, folds are contiguous."""
    if not 2 <= k <= n:
        raise ValueError("kfold needs 2 <= k <= n, got k=%d for n=%d" % (k, n))
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    sizes = np.full(k, n // k)
    sizes[:n % k] += 1
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    folds = []
    for i in range(k):
        val = order[bounds[i]:bounds[i + 1]]
        train = np.concatenate([order[:bounds[i]], order[bounds[i + 1]:]])
        folds.append((np.sort(train), np.sort(val)))
    return folds


def take(indices, *arrays):
    """The rows `indices` of each array: `take(train, x, y)` gives (x[train], y[train])."""
    out = tuple(np.asarray(a)[indices] for a in arrays)
    return out[0] if len(out) == 1 else out


def _check_fraction(f):
    if not 0.0 < f < 1.0:
        raise ValueError("The test fraction must be between 0 and 1 (exclusive), got %r" % (f,))
