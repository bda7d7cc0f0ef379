"""tf.data.Dataset (distflow/data/dataset.py): what TF2 course programs see of it. The expected
values, dtypes and strings are TensorFlow 2.21's (scripts/tf_parity/cases_data.py compares the
two side by side)."""
import subprocess
import sys

import numpy as np
import pytest

import distflow as tf
from distflow.framework import errors

Dataset = tf.data.Dataset


def elements(ds):
    return [np.asarray(e).tolist() if not isinstance(e, tuple) else
            tuple(np.asarray(v).tolist() for v in e) for e in ds.as_numpy_iterator()]


def test_from_tensor_slices_keeps_tf_dtypes_and_structure():
    x = np.arange(6, dtype=np.float64).reshape(3, 2)
    ds = Dataset.from_tensor_slices((x, [1.5, 2.0, 3.0]))
    assert repr(ds.element_spec) == ("(TensorSpec(shape=(2,), dtype=tf.float64, name=None), "
                                     "TensorSpec(shape=(), dtype=tf.float32, name=None))")
    first = next(iter(ds))
    assert isinstance(first, tuple) and isinstance(first[0], tf.EagerTensor)
    assert (first[0].dtype, first[1].dtype) == (tf.float64, tf.float32)
    assert first[0].numpy().tolist() == [0.0, 1.0]
    assert elements(Dataset.from_tensor_slices([[1, 2], [3, 4]])) == [[1, 2], [3, 4]]
    assert Dataset.from_tensor_slices([1, 2]).element_spec.dtype == tf.int32
    d = next(iter(Dataset.from_tensor_slices({"a": [1.0, 2.0], "b": np.array([3, 4])})))
    assert sorted(d) == ["a", "b"] and d["b"].dtype == tf.int64
    assert repr(ds) == "<_TensorSliceDataset element_spec=%r>" % (ds.element_spec,)


def test_from_tensor_slices_copies_its_input():
    x = np.zeros(3, np.float32)
    ds = Dataset.from_tensor_slices(x)
    x[:] = 7
    assert elements(ds) == [0.0, 0.0, 0.0]


def test_bad_slices_raise_as_tf_does():
    with pytest.raises(ValueError, match="rank >= 1"):
        Dataset.from_tensor_slices(3.0)
    with pytest.raises(ValueError, match="Dimensions 3 and 2 are not compatible"):
        Dataset.from_tensor_slices((np.zeros(3), np.zeros(2)))


def test_range_from_tensors_zip_enumerate():
    assert elements(Dataset.range(2, 11, 3)) == [2, 5, 8]
    assert Dataset.range(3).element_spec.dtype == tf.int64
    assert elements(Dataset.from_tensors([1.0, 2.0])) == [[1.0, 2.0]]
    assert elements(Dataset.zip((Dataset.range(3), Dataset.range(10, 20)))) == [
        (0, 10), (1, 11), (2, 12)]
    assert elements(Dataset.zip(Dataset.range(2), Dataset.range(5))) == [(0, 0), (1, 1)]
    assert elements(Dataset.range(3).enumerate(start=5)) == [(5, 0), (6, 1), (7, 2)]
    assert elements(Dataset.range(2).concatenate(Dataset.range(7, 9))) == [0, 1, 7, 8]


def test_batch_keeps_or_drops_the_short_batch_and_the_spec_says_so():
    ds = Dataset.from_tensor_slices((np.arange(10.0).reshape(5, 2), np.arange(5))).batch(2)
    assert [x.shape.as_list() for x, _ in ds] == [[2, 2], [2, 2], [1, 2]]
    assert repr(ds.element_spec[0]) == "TensorSpec(shape=(None, 2), dtype=tf.float64, name=None)"
    assert len(ds) == 3 and int(ds.cardinality()) == 3
    dropped = Dataset.range(5).batch(2, drop_remainder=True)
    assert elements(dropped) == [[0, 1], [2, 3]]
    assert dropped.element_spec.shape.as_list() == [2] and len(dropped) == 2
    assert elements(Dataset.range(5).batch(2).unbatch()) == [0, 1, 2, 3, 4]
    with pytest.raises(errors.InvalidArgumentError, match="greater than zero"):
        Dataset.range(3).batch(0)


def test_repeat_take_skip_and_their_cardinality():
    assert elements(Dataset.range(3).repeat(2)) == [0, 1, 2, 0, 1, 2]
    forever = Dataset.range(3).repeat()
    assert int(forever.cardinality()) == tf.data.INFINITE_CARDINALITY == -1
    with pytest.raises(TypeError, match="infinite"):
        len(forever)
    assert elements(forever.take(7)) == [0, 1, 2, 0, 1, 2, 0]
    assert elements(Dataset.range(0).repeat()) == []  # an empty pass ends repeat()
    assert elements(Dataset.range(10).skip(7)) == [7, 8, 9]
    assert elements(Dataset.range(3).take(-1)) == [0, 1, 2]
    assert elements(Dataset.range(3).skip(-1)) == []
    assert len(Dataset.range(10).skip(2).take(5)) == 5


def test_map_runs_eagerly_with_tuple_arguments_and_tf_dtypes():
    ds = Dataset.from_tensor_slices((np.arange(4.0), np.arange(4))).map(
        lambda x, y: (x * 2.0, y + 1), num_parallel_calls=tf.data.AUTOTUNE)
    assert elements(ds) == [(0.0, 1), (2.0, 2), (4.0, 3), (6.0, 4)]
    seen = []

    def python_branch(i):  # eager: Python control flow on a value works (no AutoGraph needed)
        seen.append(type(i).__name__)
        return i * 10 if int(i) % 2 else i
    assert elements(Dataset.range(4).map(python_branch)) == [0, 10, 2, 30]
    assert seen == ["EagerTensor"] * 4
    assert Dataset.range(3).map(lambda i: 1.5).element_spec.dtype == tf.float32
    assert Dataset.range(3).map(lambda i: np.float64(1.5)).element_spec.dtype == tf.float64
    assert isinstance(Dataset.range(3).map(lambda i: [i, i]).element_spec, tuple)
    # the spec comes from tracing: the batch dimension stays unknown after a map
    assert Dataset.range(5).batch(2).map(lambda b: b * 2).element_spec.shape.as_list() == [None]


def test_map_runs_eagerly_even_inside_a_graph():
    ds = Dataset.range(3).map(lambda i: i + 1)
    with tf.Graph().as_default():
        values = [int(e) for e in ds]
    assert values == [1, 2, 3]
    assert tf.executing_eagerly()


def test_filter_is_unknown_in_size_and_checks_its_predicate():
    ds = Dataset.range(10).filter(lambda i: i % 3 == 0)
    assert elements(ds) == [0, 3, 6, 9]
    assert int(ds.cardinality()) == tf.data.UNKNOWN_CARDINALITY == -2
    with pytest.raises(TypeError, match="length is unknown"):
        len(ds)
    with pytest.raises(ValueError, match="must return a `tf.bool` scalar"):
        list(Dataset.range(3).filter(lambda i: i))


def test_shuffle_is_a_seeded_permutation_reshuffled_each_iteration():
    ds = Dataset.range(50).shuffle(50, seed=7)
    first, second = elements(ds), elements(ds)
    assert sorted(first) == sorted(second) == list(range(50))
    assert first != list(range(50)) and first != second
    assert elements(Dataset.range(50).shuffle(50, seed=7)) == first  # the same seed, same order
    fixed = Dataset.range(20).shuffle(20, seed=1, reshuffle_each_iteration=False)
    assert elements(fixed) == elements(fixed)
    assert elements(Dataset.range(6).shuffle(1)) == list(range(6))  # buffer 1: no shuffling
    # a small buffer only moves an element a little ahead: the first output is from the buffer
    assert all(elements(Dataset.range(50).shuffle(5, seed=s))[0] < 5 for s in range(10))


def test_shuffle_follows_the_global_seed_and_reshuffles_per_epoch():
    def epochs():
        tf.random.set_seed(3)
        ds = Dataset.range(8).shuffle(8).batch(4).repeat(2)
        return [v for b in ds.as_numpy_iterator() for v in b.tolist()]
    a = epochs()
    assert a == epochs()
    assert sorted(a[:8]) == sorted(a[8:]) == list(range(8)) and a[:8] != a[8:]


def test_cache_replays_the_first_pass():
    draws = iter(range(100))
    ds = Dataset.range(3).map(lambda i: i + next(draws)).cache()
    assert elements(ds) == elements(ds) == [0, 2, 4]


def test_iterators_reduce_and_numpy_iteration():
    it = iter(Dataset.range(2))
    assert int(next(it)) == 0 and int(it.get_next()) == 1
    with pytest.raises(StopIteration):
        next(it)
    with pytest.raises(errors.OutOfRangeError, match="End of sequence"):
        it.get_next()
    total = Dataset.range(5).reduce(np.int64(0), lambda s, x: s + x)
    assert int(total) == 10 and total.dtype == tf.int64
    values = list(Dataset.range(3).as_numpy_iterator())
    assert values == [0, 1, 2] and isinstance(values[0], np.int64)
    assert Dataset.range(3).prefetch(tf.data.experimental.AUTOTUNE).element_spec.dtype == tf.int64


def test_keras_fit_on_a_dataset_matches_fit_on_the_arrays():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.1).astype(np.float32)
    results = []
    for use_dataset in (False, True):
        model = tf.keras.Sequential([tf.keras.layers.Dense(1, kernel_initializer="zeros",
                                                           input_shape=(3,))])
        model.compile(optimizer=tf.keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
        if use_dataset:
            train = Dataset.from_tensor_slices((x, y)).batch(16)
            history = model.fit(train, epochs=3, validation_data=train, verbose=0).history
            evaluated = model.evaluate(train, verbose=0)
            predicted = model.predict(train.map(lambda a, b: a), verbose=0)
        else:
            history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False,
                                validation_data=(x, y), verbose=0).history
            evaluated = model.evaluate(x, y, batch_size=16, verbose=0)
            predicted = model.predict(x, verbose=0)
        results.append((history, evaluated, predicted))
    (h_arrays, e_arrays, p_arrays), (h_ds, e_ds, p_ds) = results
    assert sorted(h_ds) == ["loss", "mae", "val_loss", "val_mae"]
    for key in h_arrays:
        np.testing.assert_allclose(h_ds[key], h_arrays[key], rtol=1e-6)
    np.testing.assert_allclose(e_ds, e_arrays, rtol=1e-6)
    np.testing.assert_allclose(p_ds, p_arrays, rtol=1e-6)


def test_keras_refuses_what_keras_refuses_with_a_dataset():
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse")
    ds = Dataset.from_tensor_slices((np.zeros((4, 2), np.float32), np.zeros(4))).batch(2)
    with pytest.raises(ValueError, match="`y` should not be passed"):
        model.fit(ds, np.zeros(4), verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(ds, validation_split=0.5, verbose=0)
    with pytest.raises(ValueError, match="infinite dataset"):
        model.fit(ds.repeat(), verbose=0)


def test_import_distflow_does_not_load_the_dataset_module():
    code = ("import sys, distflow as tf; assert 'distflow.data.dataset' not in sys.modules; "
            "import distflow.data; assert 'distflow.data.dataset' not in sys.modules; "
            "tf.data.Dataset; assert 'distflow.data.dataset' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_reading_a_mapped_datasets_element_spec_does_not_change_its_shuffle_order():
    def make():  # the map needs values (int(x)), so its spec is read off a first element
        return tf.data.Dataset.range(6).shuffle(6, seed=3).map(
            lambda x: x * 2 if int(x) > 2 else x)

    untouched, inspected = make(), make()
    inspected.element_spec
    assert list(inspected.as_numpy_iterator()) == list(untouched.as_numpy_iterator())


def test_from_generator_with_output_types_or_a_signature():
    small = [(1, 2)] * 3
    ds = tf.data.Dataset.from_generator(lambda: small, (tf.int32, tf.int32))
    assert [(int(a), int(b)) for a, b in ds] == small
    assert [s.dtype for s in ds.element_spec] == [tf.int32, tf.int32]
    rows = tf.data.Dataset.from_generator(
        lambda: ([i, i] for i in range(3)),
        output_signature=tf.TensorSpec([2], tf.float32)).batch(2)
    assert [b.shape for b in rows] == [(2, 2), (1, 2)]   # each iter() calls the generator again
    assert [b.shape for b in rows] == [(2, 2), (1, 2)]
    bad = tf.data.Dataset.from_generator(lambda: [[1, 2, 3]],
                                         output_signature=tf.TensorSpec([2], tf.float32))
    with pytest.raises(TypeError, match="yielded an element of shape \\(3,\\)"):
        list(bad)


def test_shard_takes_every_nth_element_from_index():
    # Horovod's programs split the data by ds.shard(hvd.size(), hvd.rank())
    ds = Dataset.range(10)
    parts = [elements(ds.shard(3, i)) for i in range(3)]
    assert parts == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert [len(ds.shard(3, i)) for i in range(3)] == [4, 3, 3]
    assert int(ds.repeat().shard(2, 1).cardinality()) == tf.data.INFINITE_CARDINALITY
    assert elements(ds.repeat().shard(4, 1).take(3)) == [1, 5, 9]
    pairs = Dataset.from_tensor_slices((np.arange(4), np.arange(4) * 10)).shard(2, 1)
    assert elements(pairs) == [(1, 10), (3, 30)]


@pytest.mark.parametrize("n, i, message", [
    (0, 0, "Number of shards must be greater than zero (currently num_shards = 0)."),
    (2, 2, "Index must be between 0 and 1 (currently index = 2)."),
    (2, -1, "Index must be between 0 and 1 (currently index = -1)."),
])
def test_shard_refuses_a_bad_index(n, i, message):
    with pytest.raises(errors.InvalidArgumentError) as e:
        Dataset.range(4).shard(n, i)
    assert message in str(e.value)
