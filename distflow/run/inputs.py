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
# keras_train: the rows before it are Keras's own training set (MNIST's 60,000), which the
# "keras" split then keeps instead of shuffling.
Dataset = collections.namedtuple("Dataset", ["x", "y", "feature_names", "target", "classes",
                                             "pixel_max", "keras_train"],
                                 defaults=(None, None, None))
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
        return Dataset(images, labels.astype(np.int64), pixel_names(images.shape[1:]), "label",
                       classes=10, pixel_max=16.0)
    if d["dataset"] == "mnist":
        return _mnist()
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


def pixel_names(shape):
    """Column names of an image's pixels, row-major: pixel_ROW_COL (pixel_ROW_COL_CHANNEL)."""
    h, w, c = shape
    if c == 1:
        return ["pixel_%d_%d" % (r, col) for r in range(h) for col in range(w)]
    return ["pixel_%d_%d_%d" % (r, col, ch) for r in range(h) for col in range(w)
            for ch in range(c)]


def _mnist():
    """Keras's MNIST (its cache, or downloaded once by distflow.keras.datasets), training rows
    first, as uint8 NHWC."""
    from distflow.keras.datasets import mnist
    try:
        (x, y), (x_test, y_test) = mnist.load_data()
    except (OSError, ValueError) as e:
        raise ConfigError("data.dataset = 'mnist' cannot be loaded: %s" % e) from None
    images = np.concatenate([x, x_test])[..., None]
    labels = np.concatenate([y, y_test]).astype(np.int64)
    if images.ndim != 4 or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise ConfigError("data.dataset = 'mnist': the file is not Keras's MNIST (images %s, "
                          "labels %d..%d)" % (images.shape, labels.min(), labels.max()))
    return Dataset(images, labels, pixel_names(images.shape[1:]), "label", classes=10,
                   pixel_max=255.0, keras_train=len(x))


def scale_pixels(x, scale):
    """float32 images, pixels times `scale` in float32: training, eval and predict all
    compute this same way, so a saved model sees exactly the values it was trained on."""
    return np.asarray(x).astype(np.float32) * np.float32(scale)


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


def splits(config, n, keras_train=None):
    """[Split] for the config's split mode: one split, K folds, or R repeated random splits;
    ConfigError when one of them would have no training or no test row. `keras_train`: the
    "keras" split is the first keras_train rows and the rest, as the dataset's Keras loader
    splits it (MNIST)."""
    if keras_train is not None and config["data"]["split"] == "keras":
        out = [Split("keras", 0, np.arange(keras_train), np.arange(keras_train, n),
                     config["seed"])]
    else:
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
        return Prepared(scale_pixels(x_train, scale), y_train.astype(y_type),
                        scale_pixels(x_test, scale), y_test.astype(y_type), None)
    if standardizer is None and standardize:
        standardizer = data.Standardizer(feature_names=dataset.feature_names).fit(x_train)
    if standardizer is not None:
        x_train = standardizer.transform(x_train)
        x_test = standardizer.transform(x_test)
    f32 = np.float32
    return Prepared(x_train.astype(f32), y_train.astype(f32), x_test.astype(f32),
                    y_test.astype(f32), standardizer)
