"""fit / evaluate / predict as Keras 3 does them: history keys and lengths, the weighted epoch
loss, validation_split taking the last rows, shuffling, EarlyStopping, result shapes, output, and
Keras's errors."""
import numpy as np
import pytest

import distflow as tf


def linear_model(units=(), dropout=None, optimizer=None, metrics=("mae",), seed=0):
    tf.keras.utils.set_random_seed(seed)
    layers = [tf.keras.layers.Input(shape=(4,))]
    layers += [tf.keras.layers.Dense(u, activation="relu") for u in units]
    if dropout is not None:
        layers.append(tf.keras.layers.Dropout(dropout))
    layers.append(tf.keras.layers.Dense(1))
    model = tf.keras.Sequential(layers)
    model.compile(optimizer=optimizer or tf.keras.optimizers.SGD(0.01), loss="mse",
                  metrics=list(metrics) if metrics is not None else None)
    return model


class RecordOrder:
    """A metric function that records the targets it sees, batch by batch: the row order."""

    def __init__(self):
        self.seen = []
        self.__name__ = "order"

    def __call__(self, y_true, y_pred):
        self.seen.append(np.array(y_true))
        return np.zeros(len(y_true))

    def epochs(self, n_rows):
        flat = np.concatenate(self.seen)
        return flat.reshape(-1, n_rows)


# -- history -------------------------------------------------------------------------------------
def test_history_has_keras_keys_one_value_per_epoch(small):
    x, y = small
    history = linear_model(metrics=["mse", "mae"]).fit(x, y, epochs=3, validation_split=0.2,
                                                       verbose=0)
    # Keras 3 sorts each side's keys: loss, mae, mse, then val_
    assert list(history.history) == ["loss", "mae", "mse", "val_loss", "val_mae", "val_mse"]
    assert all(len(v) == 3 and all(isinstance(f, float) for f in v)
               for v in history.history.values())
    assert history.epoch == [0, 1, 2]
    assert history.params == {"epochs": 3, "steps": 3, "verbose": 0}  # 80 rows / 32: 3 steps


def test_epoch_loss_is_the_batch_losses_weighted_by_batch_size(small):
    """Keras's loss tracker: sum(batch loss * batch size) / rows, the short last batch counted by
    its size. With a learning rate of 0 that is the MSE over all the rows."""
    x, y = small
    model = linear_model(optimizer=tf.keras.optimizers.SGD(0.0))
    history = model.fit(x, y, epochs=2, batch_size=40, shuffle=False, verbose=0)  # 40, 40, 21
    mse = float(np.mean((model.predict(x, verbose=0)[:, 0] - y) ** 2))
    assert history.history["loss"] == pytest.approx([mse, mse], rel=1e-6)
    assert history.history["mae"][0] == pytest.approx(
        float(np.mean(np.abs(model.predict(x, verbose=0)[:, 0] - y))), rel=1e-6)


def test_validation_split_takes_the_last_rows_before_shuffling(small):
    x, y = small
    model = linear_model(optimizer=tf.keras.optimizers.SGD(0.0))
    history = model.fit(x, y, epochs=2, validation_split=0.25, shuffle=True, verbose=0)
    split_at = int(np.floor(101 * 0.75))  # 75 rows train, the last 26 validate
    pred = model.predict(x, verbose=0)[:, 0]
    assert history.history["loss"][0] == pytest.approx(
        float(np.mean((pred[:split_at] - y[:split_at]) ** 2)), rel=1e-6)
    assert history.history["val_loss"] == pytest.approx(
        [float(np.mean((pred[split_at:] - y[split_at:]) ** 2))] * 2, rel=1e-6)


def test_validation_split_equals_the_same_rows_as_validation_data(small):
    x, y = small
    a = linear_model(units=(8,)).fit(x, y, epochs=3, validation_split=0.25, shuffle=False,
                                     verbose=0)
    b = linear_model(units=(8,)).fit(x[:75], y[:75], epochs=3, shuffle=False, verbose=0,
                                     validation_data=(x[75:], y[75:]))
    for key in a.history:
        np.testing.assert_allclose(a.history[key], b.history[key], rtol=1e-6)


# -- shuffling -----------------------------------------------------------------------------------
def shuffled_orders(x, y, seed, shuffle=True, epochs=3):
    record = RecordOrder()
    model = linear_model(seed=seed, metrics=[record])
    model.fit(x, y, epochs=epochs, batch_size=32, shuffle=shuffle, verbose=0)
    return record.epochs(len(y))


def test_shuffle_reshuffles_every_epoch_and_keeps_every_row(small):
    x, y = small
    orders = shuffled_orders(x, y, seed=5)
    assert orders.shape == (3, 101)   # the short last batch (5 rows) is kept
    for order in orders:
        np.testing.assert_array_equal(np.sort(order), np.sort(y))
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])
    assert not np.array_equal(orders[0], y)


def test_shuffle_is_repeatable_with_a_seed_and_off_with_shuffle_false(small):
    x, y = small
    np.testing.assert_array_equal(shuffled_orders(x, y, seed=5), shuffled_orders(x, y, seed=5))
    assert not np.array_equal(shuffled_orders(x, y, seed=5), shuffled_orders(x, y, seed=6))
    np.testing.assert_array_equal(shuffled_orders(x, y, seed=5, shuffle=False),
                                  np.tile(y, (3, 1)))


def test_a_seeded_program_repeats_exactly(small):
    x, y = small
    runs = [linear_model(units=(16,), dropout=0.3, seed=11).fit(x, y, epochs=4, verbose=0).history
            for _ in range(2)]
    assert runs[0] == runs[1]


# -- EarlyStopping -------------------------------------------------------------------------------
def test_early_stopping_stops_after_patience_epochs_without_improvement(small):
    x, y = small
    model = linear_model(optimizer=tf.keras.optimizers.SGD(0.0))  # val_loss never improves
    stop = tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=2)
    history = model.fit(x, y, epochs=20, validation_split=0.2, verbose=0, callbacks=[stop])
    assert len(history.history["loss"]) == 3 and stop.stopped_epoch == 2


def test_early_stopping_restores_the_best_weights(boston):
    x, y, _, _ = boston
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.layers.Dense(64, activation="relu", input_shape=(13,)),
                                 tf.keras.layers.Dense(1)])
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05), loss="mse")
    kept = []
    record = tf.keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: kept.append(model.get_weights()))
    stop = tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=2,
                                            restore_best_weights=True)
    history = model.fit(x, y, epochs=60, validation_split=0.2, shuffle=False, verbose=0,
                        callbacks=[record, stop])
    val = history.history["val_loss"]
    assert len(val) < 60 and stop.best_epoch == int(np.argmin(val))
    assert stop.stopped_epoch == len(val) - 1 >= stop.best_epoch + 2
    for got, want in zip(model.get_weights(), kept[stop.best_epoch]):
        np.testing.assert_array_equal(got, want)


# -- evaluate and predict ------------------------------------------------------------------------
def test_evaluate_returns_the_loss_alone_or_with_the_metrics(small):
    x, y = small
    plain = linear_model(metrics=None)
    assert isinstance(plain.evaluate(x, y, verbose=0), float)
    model = linear_model(metrics=["mse", "mae"])
    loss, mse, mae = model.evaluate(x, y, verbose=0)
    pred = model.predict(x, verbose=0)[:, 0]
    assert loss == pytest.approx(mse, rel=1e-6)
    assert mse == pytest.approx(float(np.mean((pred - y) ** 2)), rel=1e-6)
    assert mae == pytest.approx(float(np.mean(np.abs(pred - y))), rel=1e-6)
    assert list(model.evaluate(x, y, verbose=0, return_dict=True)) == ["loss", "mae", "mse"]


def test_predict_gives_a_float32_array_of_the_outputs_for_any_batch_size(small):
    x, _ = small
    model = linear_model(units=(8,))
    out = model.predict(x, verbose=0)
    assert isinstance(out, np.ndarray) and out.shape == (101, 1) and out.dtype == np.float32
    np.testing.assert_allclose(model.predict(x, batch_size=7, verbose=0), out, rtol=1e-6)
    np.testing.assert_allclose(model(x).numpy(), out, rtol=1e-6)


def test_dropout_is_on_in_fit_and_off_in_evaluate_and_predict(small):
    x, y = small
    model = linear_model(units=(32,), dropout=0.5, optimizer=tf.keras.optimizers.SGD(0.0))
    history = model.fit(x, y, epochs=2, shuffle=False, verbose=0)
    clean = model.evaluate(x, y, verbose=0)[0]
    assert history.history["loss"][0] != pytest.approx(clean, rel=1e-3)
    assert history.history["loss"][0] != history.history["loss"][1]  # new masks each step
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_each_step_is_traced_once_for_every_batch_shape(small):
    x, y = small
    model = linear_model(units=(8,))
    model.fit(x, y, epochs=3, batch_size=32, validation_split=0.2, verbose=0)  # 32, 32, 16 rows
    model.evaluate(x, y, batch_size=10, verbose=0)
    kinds = sorted(key[0] for key in model._steps)
    assert kinds == ["test", "train"]
    assert all(f.experimental_get_tracing_count() == 1 for f in model._steps.values())


# -- what fit prints -----------------------------------------------------------------------------
def test_verbose_0_prints_nothing_and_1_and_2_print_a_line_per_epoch(small, capsys):
    x, y = small
    model = linear_model()
    model.fit(x, y, epochs=2, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(x, y, epochs=2, validation_split=0.2)   # verbose="auto" is 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert lines[1].startswith("3/3 \u2501") and " - loss: " in lines[1]
    assert lines[1].index(" - mae: ") < lines[1].index(" - val_loss: ")
    model.fit(x, y, epochs=1, verbose=2)
    assert capsys.readouterr().out.splitlines()[1].startswith("4/4 - ")


# -- errors --------------------------------------------------------------------------------------
def test_fit_and_evaluate_before_compile_raise_keras_error(small):
    x, y = small
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(4,))])
    for call in (lambda: model.fit(x, y), lambda: model.evaluate(x, y)):
        with pytest.raises(ValueError, match=r"You must call `compile\(\)` before using the"):
            call()
    assert model.predict(x, verbose=0).shape == (101, 1)  # predict needs no compile


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(y="short"), ValueError, "Data cardinality is ambiguous"),
    (dict(validation_split=1.0), ValueError, "validation_split"),
    (dict(validation_split=-0.1), ValueError, "validation_split"),
    (dict(validation_split=0.995), ValueError, "not sufficient to split"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=2.5), ValueError, "batch_size"),
    (dict(verbose=3), ValueError, "verbose"),
    (dict(validation_data=(1, 2, 3, 4)), ValueError, "validation_data"),
    (dict(sample_weight=np.ones(101)), NotImplementedError, "sample_weight"),
    (dict(epochs_typo=3), TypeError, "epochs_typo"),
])
def test_bad_fit_arguments_raise(small, kwargs, error, match):
    x, y = small
    if kwargs.get("y") == "short":
        kwargs["y"] = y[:50]
    kwargs = dict(dict(y=y, epochs=1, verbose=0), **kwargs)
    with pytest.raises(error, match=match):
        linear_model().fit(x, **kwargs)


def test_bad_compile_arguments_raise(small):
    x, y = small
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(4,))])
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier: nonesuch"):
        model.compile(optimizer="nonesuch", loss="mse")
    with pytest.raises(ValueError, match="loss identifier"):
        model.compile(optimizer="sgd", loss="nonesuch")
    with pytest.raises(TypeError, match="metrics"):
        model.compile(optimizer="sgd", loss="mse", metrics="mae")
    model.compile(optimizer="sgd", loss="mse", metrics=["nonesuch"])
    with pytest.raises(ValueError, match="Could not interpret metric identifier: nonesuch"):
        model.fit(x, y, verbose=0)
    model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="No loss to compute"):
        model.fit(x, y, verbose=0)


class _SignGate(tf.keras.layers.Layer):
    """A user's layer with Python control flow on a tensor, as Keras's guides write them."""

    def call(self, x, training=None):
        if tf.reduce_sum(x) > 0:
            return x * 2.0
        return -x


def test_fit_converts_the_control_flow_of_a_users_layer():
    # Keras's Layer.__call__ converts `call` inside a tf.function; fit's step traced it as-is
    model = tf.keras.Sequential([tf.keras.layers.Input((2,)), _SignGate(),
                                 tf.keras.layers.Dense(1, kernel_initializer="ones",
                                                       use_bias=False)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32), epochs=1, verbose=0)
    x = np.array([[1.0, 2.0], [-1.0, -3.0]], np.float32)
    w = model.get_weights()[0][:, 0]
    out = model.predict(x, verbose=0)[:, 0]
    # one batch per predict step: each row decides its own branch when predicted alone
    np.testing.assert_allclose(model.predict(x[:1], verbose=0)[0, 0], 2 * x[0] @ w, rtol=1e-6)
    np.testing.assert_allclose(model.predict(x[1:], verbose=0)[0, 0], -x[1] @ w, rtol=1e-6)
    assert out.shape == (2,)


def test_a_function_traced_without_autograph_leaves_a_users_layer_as_it_is():
    layer = _SignGate()

    @tf.function(autograph=False)
    def f(x):
        return layer(x)
    with pytest.raises(TypeError, match="as a Python `bool` is not allowed"):
        f(tf.ones((1, 2)))
