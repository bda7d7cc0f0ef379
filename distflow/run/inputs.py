"""The data of a run, from its config: the table, its splits, and the standardized arrays.

Every rank loads the same (small) table and computes the same splits locally: a split is a pure
function of the config's seed, so no data travels between ranks. The model sees float32 features
standardized with statistics of the training rows only; the standardizer is saved with the model.
"""
import collections

import numpy as np

from distflow import data
from distflow.nn.layers import derive_seed
from distflow.run.config import ConfigError
from distflow.run.strict_yaml import short

# Images: x is (rows, height, width, channels) and `pixel_max` scales them to [0, 1]; classes:
# y holds class indices 0..classes-1 (classes is None for a regression target).
Dataset = collections.namedtuple("Dataset", ["x", "y", "feature_names", "target", "classes",
                                             "pixel_max"], defaults=(None, None))
Split = collections.namedtuple("Split", ["name", "index", "train", "test", "seed"])
Prepared = collections.namedtuple("Prepared", ["x_train", "y_train", "x_test", "y_test",
                                               "standardizer"])

# Keras shuffles its bundled datasets with this seed; the "keras" split keeps it for any data.
KERAS_SEED = 113


def load_dataset(config):
    """The features and target the config names, as float64 arrays."""
    d = config["data"]
    if d["dataset"] == "boston":
        features = d["features"]
        if d["target"] != data.boston.TARGET_NAME:
            raise ConfigError("data.target = %r is not allowed for the Boston data: expected %r"
                              % (d["target"], data.boston.TARGET_NAME))
        try:
            x, y = data.load_boston(features=features)
        except ValueError as e:
            raise ConfigError("data.features = %s: %s" % (short(features), e)) from None
        names = list(features or data.BOSTON_FEATURES)
        return Dataset(x, y, names, d["target"])
    if d["dataset"] == "digits":
        images, labels = data.load_digits()
        h, w, c = images.shape[1:]
        names = ["pixel_%d_%d" % (r, col) for r in range(h) for col in range(w)] if c == 1 else \
            ["pixel_%d_%d_%d" % (r, col, ch) for r in range(h) for col in range(w)
             for ch in range(c)]
        return Dataset(images.astype(np.float64), labels.astype(np.int64), names, "label",
                       classes=10, pixel_max=16.0)
    if d["dataset"] == "csv":
        try:
            x, y, names = data.load_csv(d["csv"], d["target"], features=d["features"])
        except FileNotFoundError:
            raise ConfigError("data.csv = %r: no such file" % d["csv"]) from None
        except data.DataError as e:
            raise ConfigError("data.csv = %r cannot be used: %s" % (d["csv"], e)) from None
        return Dataset(x, y, names, d["target"])
    x, y = synthetic(d["synthetic_rows"], d["synthetic_features"], config["seed"])
    return Dataset(x, y, ["x%d" % i for i in range(x.shape[1])], "y")


def model_input(dataset):
    """What Replica takes as the shape of one sample: the width of a row of a table, the
    (height, width, channels) of an image."""
    return tuple(dataset.x.shape[1:]) if dataset.pixel_max is not None else dataset.x.shape[1]


def synthetic(rows, features, seed):
    """A regression problem with a known answer, for scaling runs: Gaussian features; the target
    mixes a linear part, a smooth nonlinearity of a random projection, and noise (std 0.1)."""
    rng = np.random.default_rng([int(seed), 0x5E7])
    x = rng.standard_normal((rows, features))
    w = rng.standard_normal(features) / np.sqrt(features)
    v = rng.standard_normal(features) / np.sqrt(features)
    y = x @ w + np.sin(2.0 * (x @ v)) + 0.1 * rng.standard_normal(rows)
    return x, y


def splits(config, n):
    """[Split] for the config's split mode: one split, K folds, or R repeated random splits;
    ConfigError when one of them would have no training or no test row."""
    out = _splits(config, n)
    for split in out:
        if len(split.train) == 0 or len(split.test) == 0:
            d = config["data"]
            source = ("data.csv = %r" % d["csv"]) if d["dataset"] == "csv" else \
                ("data.dataset = %r" % d["dataset"])
            raise ConfigError("%s has %d data row%s: data.split = %r leaves no %s rows; the "
                              "data needs more rows (at least 2, one to train and one to test)"
                              % (source, n, "" if n == 1 else "s", d["split"],
                                 "training" if len(split.train) == 0 else "test"))
    return out


def _splits(config, n):
    d, seed = config["data"], config["seed"]
    mode = d["split"]
    if mode == "keras":
        train, test = data.keras_split(n, d["test_fraction"], KERAS_SEED)
        return [Split("keras", 0, train, test, seed)]
    if mode == "random":
        train, test = data.random_split(n, d["test_fraction"], seed)
        return [Split("random", 0, train, test, seed)]
    if mode == "kfold":
        if d["folds"] > n:
            raise ConfigError("data.folds = %d is not allowed: the data has %d rows, so at most %d "
                              "folds" % (d["folds"], n, n))
        return [Split("fold-%d" % (i + 1), i, tr, te, derive_seed(seed, i))
                for i, (tr, te) in enumerate(data.kfold(n, d["folds"], seed=seed))]
    out = []
    for i in range(d["repeats"]):
        split_seed = derive_seed(seed, i)
        train, test = data.random_split(n, d["test_fraction"], split_seed)
        out.append(Split("split-%d" % (i + 1), i, train, test, split_seed))
    return out


def prepare(dataset, split, standardize=True, standardizer=None):
    """float32 train and test arrays of one split; features standardized with the training rows'
    statistics (or with `standardizer`, e.g. the one a checkpoint saved)."""
    x_train, y_train = dataset.x[split.train], dataset.y[split.train]
    x_test, y_test = dataset.x[split.test], dataset.y[split.test]
    if dataset.pixel_max is not None:
        # images keep their shape; a fixed scale (not statistics) so any image maps the same way
        scale = 1.0 / dataset.pixel_max if standardize else 1.0
        y_type = np.int32 if dataset.classes else np.float32
        return Prepared((x_train * scale).astype(np.float32), y_train.astype(y_type),
                        (x_test * scale).astype(np.float32), y_test.astype(y_type), None)
    if standardizer is None and standardize:
        standardizer = data.Standardizer(feature_names=dataset.feature_names).fit(x_train)
    if standardizer is not None:
        x_train = standardizer.transform(x_train)
        x_test = standardizer.transform(x_test)
    f32 = np.float32
    return Prepared(x_train.astype(f32), y_train.astype(f32), x_test.astype(f32),
                    y_test.astype(f32), standardizer)
