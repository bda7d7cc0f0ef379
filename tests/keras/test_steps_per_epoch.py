"""fit(dataset, steps_per_epoch=n), as TF's tutorials use it with a repeated dataset: every epoch
takes the next n batches of one iterator, and a finite dataset that runs out ends training."""
import numpy as np
import pytest

import distflow as tf

X = np.arange(60, dtype=np.float32).reshape(20, 3) / 60.0
Y = X[:, :1] * 2.0


def _model():
    tf.random.set_seed(0)
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(3,))])
    model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss="mse")
    return model


def test_epochs_continue_one_iterator_over_a_repeated_dataset():
    repeated = tf.data.Dataset.from_tensor_slices((X, Y)).repeat().batch(4)
    a = _model()
    history = a.fit(repeated, epochs=3, steps_per_epoch=7, verbose=0)
    assert len(history.history["loss"]) == 3
    # the same 21 batches in one epoch give the same weights: epochs did not restart the data
    b = _model()
    b.fit(tf.data.Dataset.from_tensor_slices((X, Y)).repeat().batch(4).take(21), epochs=1,
          verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)


def test_a_finite_dataset_that_runs_out_stops_training():
    finite = tf.data.Dataset.from_tensor_slices((X, Y)).batch(4)  # 5 batches
    with pytest.warns(UserWarning, match="ran out of data"):
        history = _model().fit(finite, epochs=4, steps_per_epoch=3, verbose=0)
    assert history.epoch == [0, 1]


def test_steps_per_epoch_must_be_positive():
    data = tf.data.Dataset.from_tensor_slices((X, Y)).batch(4)
    with pytest.raises(ValueError, match="`steps_per_epoch` must be a positive integer"):
        _model().fit(data, steps_per_epoch=0, verbose=0)
