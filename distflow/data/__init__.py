"""`df.data`: the bundled Boston housing data and 8x8 handwritten digits, a strict CSV loader, splits, standardization,
and the seeded batching and global-batch sharding that data-parallel training relies on.

NumPy only: importing it loads no framework code, so the data side can be tested on its own.
"""
from distflow.data.batching import (Batch, batch_index_list, check_global_batch,  # noqa: F401
                                    epoch_order, iterate_batches, iterate_shards, num_batches,
                                    shard_bounds, shard_index_list)
from distflow.data.boston import (FEATURE_NAMES as BOSTON_FEATURES, boston_csv_path,  # noqa: F401
                                  load_boston)
from distflow.data import boston as boston_housing  # noqa: F401  (Keras's name: load_data())
from distflow.data.digits import load_digits  # noqa: F401  (8x8 handwritten digits, NHWC uint8)
from distflow.data import digits  # noqa: F401  (digits.load_data(): Keras's split)
from distflow.data.csv import DataError, load_csv, read_csv_columns, verify_sha256  # noqa: F401
from distflow.data.scaling import Standardizer  # noqa: F401
from distflow.data.splits import keras_split, kfold, random_split, take  # noqa: F401

# tf.data's input pipelines (dataset.py) use the framework, so they load on first use:
# `import distflow.data` stays NumPy only.
_DATASET_NAMES = ("Dataset", "AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY",
                  "experimental")


def __getattr__(name):
    if name in _DATASET_NAMES:
        from distflow.data import dataset
        return getattr(dataset, name)
    raise AttributeError("module 'distflow.data' has no attribute %r" % name)
