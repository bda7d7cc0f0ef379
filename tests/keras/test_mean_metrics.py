"""tf.keras.metrics.Mean and Sum (the custom-training guide's loss trackers), model.losses, and
the clear refusal of a metric update on symbolic tensors inside a tf.function."""
import numpy as np
import pytest

import distflow as tf


def test_mean_and_sum_accumulate_values():
    mean = tf.keras.metrics.Mean(name="test_loss")
    mean.update_state(tf.constant([1.0, 2.0, 3.0]))
    mean.update_state(np.array([4.0]), sample_weight=[3.0])
    assert mean.result() == pytest.approx(18.0 / 6.0)
    assert mean.name == "test_loss"
    assert mean(np.array([0.0, 0.0])) == pytest.approx(18.0 / 8.0)
    mean.reset_states()
    assert np.isnan(mean.result())
    total = tf.keras.metrics.Sum()
    total.update_state([1, 2])
    total.update_state(5.0)
    assert total.result() == 8.0


def test_model_losses_is_empty_without_regularizers():
    model = tf.keras.Sequential([tf.keras.layers.Dense(2, input_shape=(3,))])
    assert model.losses == []


def test_a_metric_update_inside_a_function_is_refused_clearly():
    accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="train_accuracy")
    mean = tf.keras.metrics.Mean()

    @tf.function
    def step(labels, scores):
        accuracy.update_state(labels, scores)
        return scores

    with pytest.raises(TypeError, match="train_accuracy.update_state got a symbolic tensor"):
        step(tf.constant([1]), tf.constant([[0.1, 0.9]]))

    @tf.function
    def loss_step(values):
        mean.update_state(values)
        return values

    with pytest.raises(TypeError, match="call update_state on them outside"):
        loss_step(tf.constant([1.0]))
    accuracy.update_state(np.array([1]), np.array([[0.1, 0.9]]))  # outside: fine
    assert accuracy.result() == 1.0
