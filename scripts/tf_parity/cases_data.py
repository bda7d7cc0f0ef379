"""Parity of tf.data.Dataset (distflow/data/dataset.py) with TensorFlow 2.21.

Each pipeline is built with `distflow` and with `tensorflow` from the same text; compared: the
elements (as_numpy_iterator and plain iteration: structure, dtypes, shapes, values),
element_spec and repr strings, cardinality(), len() or its error, and the errors of bad calls.
shuffle's order cannot be TF's (other random numbers): it is compared for being a permutation
of the same elements, repeatable with a seed, reshuffled per iteration, and for buffer_size 1
(no shuffling at all). Keras fit / evaluate / predict on a Dataset are compared with TF's Keras
from the same initial weights.
"""
import warnings

import numpy as np
import tensorflow as tf

import distflow as df
import harness
from distflow.data import Standardizer, boston_housing
from harness import compare_arrays, same

warnings.filterwarnings("ignore")
tf.get_logger().setLevel("ERROR")
tf.autograph.set_verbosity(0)

X = np.arange(24, dtype=np.float64).reshape(8, 3)     # float64 stays float64, as in TF
Y = np.arange(8, dtype=np.int64) % 3
F32 = np.linspace(-1, 1, 10).astype(np.float32)


def norm(value):
    """An element (NumPy or tensors) as comparable Python: structure, dtype, shape, values."""
    if isinstance(value, dict):
        return {k: norm(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(norm(v) for v in value)
    a = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
    values = np.round(a, 5).tolist() if a.dtype.kind == "f" else a.tolist()
    return (a.dtype.name, a.shape, values)


def outcome(fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 (the error class is what is compared)
        return "raises " + type(e).__name__


def length(ds):
    return outcome(lambda: len(ds))


PIPELINES = {
    "slices x": lambda m: m.data.Dataset.from_tensor_slices(X),
    "slices (x, y)": lambda m: m.data.Dataset.from_tensor_slices((X, Y)),
    "slices dict": lambda m: m.data.Dataset.from_tensor_slices({"b": Y, "a": F32[:8]}),
    "slices python floats": lambda m: m.data.Dataset.from_tensor_slices([1.5, 2.0, -3.0]),
    "slices python ints": lambda m: m.data.Dataset.from_tensor_slices([[1, 2], [3, 4]]),
    "slices tensor": lambda m: m.data.Dataset.from_tensor_slices(m.constant(F32)),
    "from_tensors": lambda m: m.data.Dataset.from_tensors((X, 2.5)),
    "range": lambda m: m.data.Dataset.range(5),
    "range start stop step": lambda m: m.data.Dataset.range(2, 11, 3),
    "range negative step": lambda m: m.data.Dataset.range(5, 0, -2),
    "range empty": lambda m: m.data.Dataset.range(0),
    "zip tuple": lambda m: m.data.Dataset.zip((m.data.Dataset.range(3),
                                               m.data.Dataset.from_tensor_slices(F32))),
    "zip varargs": lambda m: m.data.Dataset.zip(m.data.Dataset.range(4),
                                                m.data.Dataset.range(10, 20)),
    "zip dict": lambda m: m.data.Dataset.zip({"i": m.data.Dataset.range(3),
                                              "x": m.data.Dataset.from_tensor_slices(X)}),
    "batch": lambda m: m.data.Dataset.from_tensor_slices((X, Y)).batch(3),
    "batch drop_remainder": lambda m: m.data.Dataset.from_tensor_slices((X, Y)).batch(
        3, drop_remainder=True),
    "batch exact": lambda m: m.data.Dataset.range(6).batch(2),
    "batch of batches": lambda m: m.data.Dataset.range(10).batch(2).batch(2),
    "batch dict": lambda m: m.data.Dataset.from_tensor_slices({"b": Y, "a": F32[:8]}).batch(5),
    "unbatch": lambda m: m.data.Dataset.range(7).batch(3).unbatch(),
    "unbatch drop_remainder": lambda m: m.data.Dataset.range(7).batch(3, True).unbatch(),
    "repeat 3": lambda m: m.data.Dataset.range(3).repeat(3),
    "repeat 0": lambda m: m.data.Dataset.range(3).repeat(0),
    "repeat forever take": lambda m: m.data.Dataset.range(3).repeat().take(7),
    "repeat then batch": lambda m: m.data.Dataset.range(5).repeat(2).batch(4),
    "batch then repeat": lambda m: m.data.Dataset.range(5).batch(4).repeat(2),
    "map unpacks tuple": lambda m: m.data.Dataset.from_tensor_slices((X, Y)).map(
        lambda x, y: (x * 2.0, y + 1)),
    "map python float": lambda m: m.data.Dataset.range(3).map(lambda i: 1.5),
    "map numpy float64": lambda m: m.data.Dataset.range(3).map(lambda i: np.float64(0.5)),
    "map cast": lambda m: m.data.Dataset.range(4).map(lambda i: m.cast(i, m.float32) / 2),
    "map list to tuple": lambda m: m.data.Dataset.range(3).map(lambda i: [i, i * i]),
    "map to dict": lambda m: m.data.Dataset.range(3).map(lambda i: {"v": i, "sq": i * i}),
    "map dict element": lambda m: m.data.Dataset.from_tensor_slices({"b": Y, "a": F32[:8]}).map(
        lambda d: d["a"] + 1.0),
    "map after batch": lambda m: m.data.Dataset.from_tensor_slices((X, Y)).batch(3).map(
        lambda x, y: (m.reduce_sum(x, axis=1), y)),
    "map num_parallel_calls": lambda m: m.data.Dataset.range(4).map(
        lambda i: i + 1, num_parallel_calls=m.data.AUTOTUNE),
    "map standardize": lambda m: m.data.Dataset.from_tensor_slices(X).map(
        lambda x: (x - X.mean(0)) / X.std(0)),
    "filter": lambda m: m.data.Dataset.range(10).filter(lambda i: i % 3 == 0),
    "filter tuple": lambda m: m.data.Dataset.from_tensor_slices((X, Y)).filter(
        lambda x, y: y > 0),
    "filter then batch": lambda m: m.data.Dataset.range(10).filter(lambda i: i > 3).batch(4),
    "take": lambda m: m.data.Dataset.range(10).take(3),
    "take more": lambda m: m.data.Dataset.range(3).take(10),
    "take -1": lambda m: m.data.Dataset.range(3).take(-1),
    "skip": lambda m: m.data.Dataset.range(10).skip(7),
    "skip more": lambda m: m.data.Dataset.range(3).skip(5),
    "skip -1": lambda m: m.data.Dataset.range(3).skip(-1),
    "skip take": lambda m: m.data.Dataset.range(10).skip(2).take(5),
    "take after filter": lambda m: m.data.Dataset.range(10).filter(lambda i: i > 2).take(2),
    "skip after repeat": lambda m: m.data.Dataset.range(3).repeat().skip(2).take(4),
    "enumerate": lambda m: m.data.Dataset.from_tensor_slices(F32[:4]).enumerate(),
    "enumerate start": lambda m: m.data.Dataset.range(3).enumerate(start=5),
    "prefetch": lambda m: m.data.Dataset.range(4).batch(2).prefetch(1),
    "prefetch autotune": lambda m: m.data.Dataset.range(4).prefetch(
        m.data.experimental.AUTOTUNE),
    "cache": lambda m: m.data.Dataset.range(4).map(lambda i: i * 2).cache().repeat(2),
    "concatenate": lambda m: m.data.Dataset.range(3).concatenate(m.data.Dataset.range(5, 7)),
    "shuffle buffer 1": lambda m: m.data.Dataset.range(6).shuffle(1),
    "boston pipeline": lambda m: m.data.Dataset.from_tensor_slices(
        (X.astype(np.float32), Y.astype(np.float32)[:, None])).batch(3).prefetch(
        m.data.AUTOTUNE),
}

for name, make in PIPELINES.items():
    case = "data/" + name
    d, t = make(df), make(tf)
    same(case, "elements", outcome(lambda: [norm(e) for e in d.as_numpy_iterator()]),
         outcome(lambda: [norm(e) for e in t.as_numpy_iterator()]))
    same(case, "iteration", outcome(lambda: [norm(e) for e in d]),
         outcome(lambda: [norm(e) for e in t]))
    same(case, "element_spec", repr(d.element_spec), repr(t.element_spec))
    same(case, "cardinality", (int(d.cardinality()), d.cardinality().dtype.name),
         (int(t.cardinality()), t.cardinality().dtype.name))
    same(case, "len", length(d), length(t))
    same(case, "repr", repr(d), repr(t))

# infinite and unknown sizes: nothing is iterated
for name, make in {
        "repeat forever": lambda m: m.data.Dataset.range(3).repeat(),
        "repeat -1": lambda m: m.data.Dataset.range(3).repeat(-1),
        "repeat forever of empty": lambda m: m.data.Dataset.range(0).repeat(),
        "filter repeat": lambda m: m.data.Dataset.range(3).filter(lambda i: i > 0).repeat(),
        "filter repeat 2": lambda m: m.data.Dataset.range(3).filter(lambda i: i > 0).repeat(2),
        "repeat batch": lambda m: m.data.Dataset.range(3).repeat().batch(2),
        "zip finite and infinite": lambda m: m.data.Dataset.zip(
            (m.data.Dataset.range(3), m.data.Dataset.range(2).repeat())),
        "zip unknown": lambda m: m.data.Dataset.zip(
            (m.data.Dataset.range(3).filter(lambda i: i > 0), m.data.Dataset.range(2))),
        "concatenate infinite": lambda m: m.data.Dataset.range(3).concatenate(
            m.data.Dataset.range(2).repeat()),
        "shuffle repeat": lambda m: m.data.Dataset.range(3).shuffle(3).repeat(),
}.items():
    case = "data/" + name
    d, t = make(df), make(tf)
    same(case, "cardinality", int(d.cardinality()), int(t.cardinality()))
    same(case, "experimental.cardinality", int(df.data.experimental.cardinality(d)),
         int(tf.data.experimental.cardinality(t)))
    same(case, "len", length(d), length(t))
    same(case, "element_spec", repr(d.element_spec), repr(t.element_spec))
    first = sorted if "shuffle" in name else list  # shuffled: compared as a set
    same(case, "first 3", first(norm(e) for e in d.take(3)), first(norm(e) for e in t.take(3)))

same("data/constants", "AUTOTUNE, INFINITE, UNKNOWN",
     (df.data.AUTOTUNE, df.data.experimental.AUTOTUNE, df.data.INFINITE_CARDINALITY,
      df.data.UNKNOWN_CARDINALITY, df.data.experimental.INFINITE_CARDINALITY,
      df.data.experimental.UNKNOWN_CARDINALITY),
     (tf.data.AUTOTUNE, tf.data.experimental.AUTOTUNE, tf.data.INFINITE_CARDINALITY,
      tf.data.UNKNOWN_CARDINALITY, tf.data.experimental.INFINITE_CARDINALITY,
      tf.data.experimental.UNKNOWN_CARDINALITY))


# -- iterators, reduce, errors ------------------------------------------------------------------
def iterate(m):
    it = iter(m.data.Dataset.range(2))
    first = next(it)
    rest = [int(e) for e in it]
    end = outcome(lambda: next(it))
    it2 = iter(m.data.Dataset.range(1))
    return (norm(first), rest, end, repr(it2.element_spec), norm(it2.get_next()),
            outcome(lambda: it2.get_next()))


same("data/iterator", "next, get_next, the end", iterate(df), iterate(tf))
for name, fn in {
        "reduce sum": lambda m: m.data.Dataset.range(5).reduce(np.int64(0), lambda s, x: s + x),
        "reduce float": lambda m: m.data.Dataset.from_tensor_slices(F32).reduce(
            0.0, lambda s, x: s + x * x),
        "reduce tuple state": lambda m: m.data.Dataset.range(4).reduce(
            (np.int64(0), np.int64(1)), lambda s, x: (s[0] + x, s[1] * (x + 1))),
        "reduce batches": lambda m: m.data.Dataset.from_tensor_slices((X, Y)).batch(3).reduce(
            np.float64(0), lambda s, b: s + m.reduce_sum(b[0])),
}.items():
    same("data/" + name, "result", norm(fn(df)), norm(fn(tf)))

for name, fn in {
        "slices of a scalar": lambda m: m.data.Dataset.from_tensor_slices(3.0),
        "slices of unequal lengths": lambda m: m.data.Dataset.from_tensor_slices(
            (np.zeros(3), np.zeros(2))),
        "slices of None": lambda m: m.data.Dataset.from_tensor_slices(None),
        "batch 0": lambda m: m.data.Dataset.range(3).batch(0),
        "filter not bool": lambda m: list(m.data.Dataset.range(3).filter(lambda i: i)),
        "batch of unequal shapes": lambda m: list(m.data.Dataset.from_tensor_slices(
            [1, 2, 3]).map(lambda n: m.range(n)).batch(2)),
}.items():
    same("data/error " + name, "error class", outcome(lambda: fn(df) and "no error"),
         outcome(lambda: fn(tf) and "no error"))


# -- shuffle: properties only (the order is not TF's) ------------------------------------------
def shuffle_properties(m, n, buffer_size, reshuffle=True, seed=7):
    ds = m.data.Dataset.range(n).shuffle(buffer_size, seed=seed,
                                         reshuffle_each_iteration=reshuffle)
    first, second = [list(ds.as_numpy_iterator()) for _ in range(2)]
    again = list(m.data.Dataset.range(n).shuffle(buffer_size, seed=seed,
                                                 reshuffle_each_iteration=reshuffle)
                 .as_numpy_iterator())
    return dict(permutation=sorted(first) == list(range(n)), moved=first != list(range(n)),
                reshuffled=first != second, seeded=first == again,
                spec=repr(ds.element_spec), cardinality=int(ds.cardinality()))


for n, buffer_size in ((50, 50), (50, 1000), (50, 10)):
    same("data/shuffle n=%d buffer=%d" % (n, buffer_size), "properties",
         shuffle_properties(df, n, buffer_size), shuffle_properties(tf, n, buffer_size))
same("data/shuffle reshuffle_each_iteration=False", "properties",
     shuffle_properties(df, 30, 30, reshuffle=False), shuffle_properties(tf, 30, 30, False))


def shuffled_epochs(m):
    m.random.set_seed(3)
    ds = m.data.Dataset.from_tensor_slices((X, Y)).shuffle(8).batch(3).repeat(2)
    rows = [tuple(r) for x, _ in ds for r in x.numpy().tolist()]
    return dict(rows=len(rows), same_rows=sorted(rows[:8]) == sorted(map(tuple, X.tolist())),
                spec=repr(ds.element_spec), epochs_differ=rows[:8] != rows[8:])


same("data/shuffle global seed, batch, repeat", "properties", shuffled_epochs(df),
     shuffled_epochs(tf))
same("data/shuffle global seed", "repeatable",
     [shuffled_epochs(df) == shuffled_epochs(df)], [True])

# -- Keras on datasets ---------------------------------------------------------------------------
(x_train, y_train), (x_test, y_test) = boston_housing.load_data()
scaler = Standardizer().fit(x_train)
x_train = scaler.transform(x_train).astype(np.float32)
x_test = scaler.transform(x_test).astype(np.float32)
y_train, y_test = y_train.astype(np.float32), y_test.astype(np.float32)


def close(case, what, a, b, rtol=1e-5, atol=1e-6):
    harness.CHECKED[0] += 1
    compare_arrays(case, what, np.asarray(a, np.float64), np.asarray(b, np.float64), rtol, atol)


df.keras.utils.set_random_seed(0)
models = [m.keras.Sequential([m.keras.layers.Dense(16, activation="relu", input_shape=(13,)),
                              m.keras.layers.Dense(1)]) for m in (df, tf)]
models[1].set_weights(models[0].get_weights())
results = []
for m, model in zip((df, tf), models):
    train_ds = m.data.Dataset.from_tensor_slices((x_train, y_train)).batch(32)
    test_ds = m.data.Dataset.from_tensor_slices((x_test, y_test)).batch(50)
    model.compile(optimizer=m.keras.optimizers.Adam(1e-2), loss="mse", metrics=["mae"])
    history = model.fit(train_ds, epochs=4, validation_data=test_ds, verbose=0).history
    results.append((history, model.evaluate(test_ds, verbose=0), model.predict(test_ds, verbose=0),
                    model.predict(test_ds.map(lambda x, y: x), verbose=0),
                    outcome(lambda: model.fit(train_ds, y_train, verbose=0)),
                    outcome(lambda: model.fit(train_ds, validation_split=0.1, verbose=0))))
(h_df, e_df, p_df, px_df, y_df, vs_df), (h_tf, e_tf, p_tf, px_tf, y_tf, vs_tf) = results
case = "keras fit(dataset)"
same(case, "history keys", sorted(h_df), sorted(h_tf))
for key in h_tf:
    close(case, "history[%r]" % key, h_df.get(key), h_tf[key], rtol=1e-4)
close(case, "evaluate(dataset)", e_df, e_tf, rtol=1e-4)
same(case, "predict(dataset) shape", p_df.shape, p_tf.shape)
close(case, "predict(dataset)", p_df, p_tf, rtol=1e-4, atol=1e-4)
close(case, "predict(dataset of x)", px_df, px_tf, rtol=1e-4, atol=1e-4)
same(case, "fit(dataset, y)", y_df, y_tf)
same(case, "fit(dataset, validation_split=0.1)", vs_df, vs_tf)
