"""The tf.keras surface a course meets: namespaces, Sequential built from its input shape,
weights, a custom GradientTape loop on a Keras model, and `import distflow` staying light."""
import subprocess
import sys

import numpy as np
import pytest

import distflow as tf


def test_keras_names_resolve_to_distflows_pieces():
    assert tf.keras.layers.Dense(3).units == 3
    assert isinstance(tf.keras.layers.Dense(3), tf.nn.Dense)
    assert tf.keras.optimizers.Adam is tf.optimizers.Adam
    assert tf.keras.losses.MeanSquaredError is tf.losses.MeanSquaredError
    assert tf.keras.initializers.GlorotUniform is tf.nn.initializers.GlorotUniform
    assert tf.keras.activations.get("relu") is tf.nn.relu
    assert tf.keras.metrics.MeanAbsoluteError().name == "mean_absolute_error"  # Keras's name
    assert tf.keras.models.Sequential is tf.keras.Sequential
    assert isinstance(tf.keras.optimizers.get("adam"), tf.keras.optimizers.Adam)
    assert tf.keras.optimizers.get("SGD").learning_rate == 0.01


@pytest.mark.parametrize("first", [
    lambda: [tf.keras.layers.Dense(8, activation="relu", input_shape=(13,))],
    lambda: [tf.keras.layers.Dense(8, activation="relu", input_dim=13)],
    lambda: [tf.keras.Input(shape=(13,)), tf.keras.layers.Dense(8, activation="relu")],
], ids=["input_shape", "input_dim", "Input"])
def test_a_model_with_a_known_input_has_its_weights_at_once(first):
    model = tf.keras.Sequential(first() + [tf.keras.layers.Dense(1)])
    assert [w.shape for w in model.get_weights()] == [(13, 8), (8,), (8, 1), (1,)]
    assert len(model.trainable_variables) == 4 and model.count_params() == 13 * 8 + 8 + 9
    text = model.summary(print_fn=None)
    assert "(None, 8)" in text and "Total params: 121" in text


def test_add_after_a_first_layer_with_input_shape():
    model = tf.keras.Sequential()
    model.add(tf.keras.layers.Dense(4, input_shape=(3,)))
    model.add(tf.keras.layers.Dense(1))
    assert [w.shape for w in model.weights] == [(3, 4), (4,), (4, 1), (1,)]


def test_set_weights_round_trips_and_checks_shapes():
    model = tf.keras.Sequential([tf.keras.layers.Dense(2, input_shape=(3,))])
    values = [np.arange(6, dtype=np.float32).reshape(3, 2), np.array([1.0, -1.0], np.float32)]
    model.set_weights(values)
    np.testing.assert_array_equal(model.get_weights()[0], values[0])
    np.testing.assert_allclose(model.predict(np.ones((1, 3)), verbose=0), [[7.0, 8.0]])
    with pytest.raises(ValueError, match="shape"):
        model.set_weights([np.zeros((2, 2)), np.zeros(2)])


def test_set_random_seed_fixes_the_initial_weights():
    def weights(seed):
        tf.keras.utils.set_random_seed(seed)
        return tf.keras.Sequential([tf.keras.layers.Dense(4, input_shape=(3,))]).get_weights()[0]
    np.testing.assert_array_equal(weights(1), weights(1))
    assert not np.array_equal(weights(1), weights(2))


def test_a_custom_training_loop_calls_the_model_under_a_gradient_tape():
    x = np.random.RandomState(0).randn(64, 3).astype(np.float32)
    y = x @ np.array([[2.0], [-1.0], [0.5]], np.float32)
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(3,))])
    optimizer = tf.keras.optimizers.SGD(0.1)
    loss_fn = tf.keras.losses.MeanSquaredError()

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    losses = [float(step(x, y)) for _ in range(100)]
    assert losses[-1] < 1e-4 < losses[0]
    np.testing.assert_allclose(model.get_weights()[0][:, 0], [2.0, -1.0, 0.5], atol=1e-2)


def test_compile_accepts_loss_objects_metric_objects_and_functions():
    x = np.random.RandomState(1).randn(40, 2).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(2,))])

    def max_error(y_true, y_pred):
        return np.abs(y_true - y_pred).max(axis=-1)

    model.compile(optimizer=tf.keras.optimizers.SGD(0.0), loss=tf.keras.losses.Huber(),
                  metrics=[tf.keras.metrics.RootMeanSquaredError(), max_error, "mse"])
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    pred = model.predict(x, verbose=0)
    assert sorted(logs) == ["loss", "max_error", "mse", "root_mean_squared_error"]
    assert logs["root_mean_squared_error"] == pytest.approx(np.sqrt(logs["mse"]), rel=1e-6)
    assert logs["max_error"] == pytest.approx(float(np.mean(np.abs(y - pred))), rel=1e-6)
    assert model.metrics_names == ["loss", "root_mean_squared_error", "max_error", "mse"]


def test_import_distflow_does_not_load_keras():
    code = ("import sys, distflow; assert 'distflow.keras' not in sys.modules; "
            "distflow.keras.Sequential; assert 'distflow.keras' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize("loss, outputs, labels, kind", [
    ("binary_crossentropy", 1, "float (n,)", "BinaryAccuracy"),
    ("sparse_categorical_crossentropy", 2, "int (n,)", "SparseCategoricalAccuracy"),
])
def test_accuracy_is_chosen_from_the_shapes_as_keras_chooses_it(loss, outputs, labels, kind):
    rng = np.random.RandomState(2)
    x = rng.randn(60, 3).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32 if labels.startswith("float") else np.int64)
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.layers.Dense(
        outputs, activation="sigmoid" if outputs == 1 else "softmax", input_shape=(3,))])
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05), loss=loss, metrics=["accuracy"])
    history = model.fit(x, y, epochs=40, verbose=0)
    assert list(history.history) == ["accuracy", "loss"]
    assert type(model._metric_objects[0]).__name__ == kind
    assert history.history["accuracy"][-1] > 0.9 and history.history["loss"][-1] < 0.4
