"""A model saved by distflow loads in TensorFlow's Keras with the same predictions, and the
reverse: the .keras (Keras 3) and .weights.h5 files, outside the test suite (it needs
TensorFlow in a second Python).

    python scripts/tf_parity/keras_files.py --tf-python /tmp/tfenv2/bin/python

(/tmp/tfenv2: python -m venv /tmp/tfenv2 && /tmp/tfenv2/bin/pip install tensorflow-cpu h5py)

Run with distflow's Python, it builds and trains four models (a Sequential with Normalization,
Dense and Dropout as the regression tutorial has it; one Normalization(axis=None) on a 1-D
column; a functional model with two inputs, Embedding, Flatten, Concatenate and Add; a small
CNN with Conv2D, MaxPooling2D, Flatten, BatchNormalization and a softmax Dense), saves
them and their predictions, then runs itself under the TensorFlow Python, which loads them with
keras.models.load_model, compares, builds the same models in Keras and saves those; distflow
then loads Keras's files and compares. Exit status 1 on any mismatch.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

TOL = 1e-5
KINDS = ("seq", "column", "functional", "cnn")


def data():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(64, 3)) * [1, 10, 100] + [0, 5, 50]).astype("float32")
    y = (x @ np.array([1.0, 0.1, 0.01]) + 2).astype("float32")
    ids = rng.integers(0, 10, size=(64, 3)).astype("int32")
    return x, y, ids


def build(tf, kind):
    """The same three models with either library as `tf`."""
    keras = tf.keras
    x, y, ids = data()
    if kind == "seq":
        norm = keras.layers.Normalization(axis=-1)
        norm.adapt(x)
        m = keras.Sequential([keras.Input(shape=(3,)), norm,
                              keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dropout(0.2), keras.layers.Dense(1)])
        m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mean_absolute_error",
                  metrics=["mae"])
        m.fit(x, y, epochs=2, verbose=0)
        return m, [x]
    if kind == "column":
        norm = keras.layers.Normalization(input_shape=[1], axis=None)
        norm.adapt(x[:, 1])
        m = keras.Sequential([norm, keras.layers.Dense(1)])
        m.compile(optimizer=keras.optimizers.Adam(learning_rate=0.1), loss="mean_absolute_error")
        m.fit(x[:, 1], y, epochs=2, verbose=0)
        return m, [x[:, 1:2]]
    if kind == "cnn":
        images = np.random.default_rng(2).random((16, 8, 8, 1)).astype("float32")
        m = keras.Sequential([keras.Input(shape=(8, 8, 1)),
                              keras.layers.Conv2D(4, 3, activation="relu", padding="same"),
                              keras.layers.MaxPooling2D(), keras.layers.Flatten(),
                              keras.layers.BatchNormalization(),
                              keras.layers.Dense(3, activation="softmax")])
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
        m.fit(images, np.arange(16) % 3, epochs=2, verbose=0)
        return m, [images]
    a = keras.Input(shape=(3,))
    b = keras.Input(shape=(3,), dtype="int32")
    e = keras.layers.Flatten()(keras.layers.Embedding(10, 2)(b))
    c = keras.layers.Concatenate()([a, e])
    d = keras.layers.Dense(4, activation="tanh")(c)
    out = keras.layers.Dense(1)(keras.layers.Add()([d, keras.layers.Dense(4)(c)]))
    m = keras.Model([a, b], out)
    m.compile(optimizer="sgd", loss="mse")
    return m, [x / 100.0, ids]


def predict(m, inputs):
    return np.asarray(m.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0))


def save_all(tf, directory, prefix):
    for kind in KINDS:
        m, inputs = build(tf, kind)
        m.save(os.path.join(directory, "%s_%s.keras" % (prefix, kind)))
        m.save_weights(os.path.join(directory, "%s_%s.weights.h5" % (prefix, kind)))
        np.save(os.path.join(directory, "%s_%s.npy" % (prefix, kind)), predict(m, inputs))


def load_all(tf, directory, prefix):
    """Loads the other side's files: load_model, and load_weights into a model built here."""
    results = {}
    for kind in KINDS:
        want = np.load(os.path.join(directory, "%s_%s.npy" % (prefix, kind)))
        _, inputs = build(tf, kind)
        try:
            m = tf.keras.models.load_model(os.path.join(directory, "%s_%s.keras" % (prefix, kind)))
            got = predict(m, inputs)
            fresh, _ = build(tf, kind)
            fresh.load_weights(os.path.join(directory, "%s_%s.weights.h5" % (prefix, kind)))
            got_w = predict(fresh, inputs)
            results[kind] = [float(np.abs(got - want).max()), float(np.abs(got_w - want).max())]
        except Exception as e:  # noqa: BLE001 (reported, and the run fails)
            results[kind] = "%s: %s" % (type(e).__name__, e)
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tf-python", default="/tmp/tfenv2/bin/python")
    p.add_argument("--keras-side", help=argparse.SUPPRESS)  # the run under TensorFlow
    args = p.parse_args()
    if args.keras_side:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow as tf
        tf.keras.utils.set_random_seed(1)
        print(json.dumps(load_all(tf, args.keras_side, "df")))
        save_all(tf, args.keras_side, "k")
        return 0
    import distflow as df
    df.keras.utils.set_random_seed(1)
    directory = tempfile.mkdtemp(prefix="keras_files_")
    save_all(df, directory, "df")
    run = subprocess.run([args.tf_python, os.path.abspath(__file__), "--keras-side", directory],
                         capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stderr[-3000:])
        return 1
    in_keras = json.loads(run.stdout.strip().splitlines()[-1])
    in_distflow = load_all(df, directory, "k")
    ok = True
    print("%-12s %-34s %-34s" % ("model", "distflow file -> Keras (.keras, .weights.h5)",
                                 "Keras file -> distflow"))
    for kind in KINDS:
        row = []
        for res in (in_keras[kind], in_distflow[kind]):
            if isinstance(res, str):
                ok = False
                row.append(res[:200])
            else:
                ok &= max(res) < TOL
                row.append("max |diff| %.2g, %.2g" % tuple(res))
        print("%-12s %-34s %-34s" % (kind, row[0], row[1]))
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
