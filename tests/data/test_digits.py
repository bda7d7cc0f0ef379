"""The bundled 8x8 digits: checksum, shapes and dtypes, Keras's split, and the tutorial CNN
reaching 97% test accuracy on a random 80/20 split."""
import gzip
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from distflow.data import DataError, digits, load_digits


def test_loads_nhwc_uint8_with_every_class():
    x, y = load_digits()
    assert x.shape == (1797, 8, 8, 1) and x.dtype == np.uint8
    assert y.shape == (1797,) and y.dtype == np.uint8
    assert x.max() == 16 and x.min() == 0
    np.testing.assert_array_equal(np.bincount(y), [178, 182, 177, 183, 181, 182, 181, 179, 174,
                                                   180])
    # the first image is a 0 (a ring of ink around an empty middle)
    assert y[0] == 0 and x[0, 3:5, 3:5].sum() == 0 and x[0, 0, 2:5, 0].tolist() == [5, 13, 9]


def test_keras_style_split():
    (a, b), (c, d) = digits.load_data()
    assert a.shape == (1437, 8, 8, 1) and c.shape == (360, 8, 8, 1)
    assert len(b) == 1437 and len(d) == 360


def test_a_changed_file_is_refused(tmp_path):
    path = tmp_path / "digits.csv.gz"
    with gzip.open(digits.digits_path(), "rb") as src, gzip.open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)  # same rows, other bytes
    with pytest.raises(DataError, match="sha256 mismatch"):
        load_digits(path=str(path))


# Run in a child with BLAS pinned to one thread: on a loaded machine, OpenBLAS's threads make
# this small model's matmuls ~30x slower (as the CLI tests pin them too).
_TRAIN = """
import numpy as np
import distflow as tf
from distflow.data import load_digits
tf.keras.utils.set_random_seed(0)
x, y = load_digits()
order = np.random.RandomState(0).permutation(len(x))
train, test = order[:1437], order[1437:]
model = tf.keras.Sequential([
    tf.keras.layers.Input(shape=(8, 8, 1)),
    tf.keras.layers.Rescaling(1 / 16.0),
    tf.keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
    tf.keras.layers.MaxPooling2D(),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(64, activation="relu"),
    tf.keras.layers.Dense(10)])
model.compile(optimizer=tf.keras.optimizers.Adam(0.002),
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
model.fit(x[train], y[train], epochs=12, batch_size=32, verbose=0)
print("ACCURACY", model.evaluate(x[test], y[test], verbose=0)[1])
"""


def test_tutorial_cnn_reaches_97_percent():
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", _TRAIN], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    accuracy = float(out.stdout.split("ACCURACY")[-1])
    assert accuracy >= 0.97, accuracy
