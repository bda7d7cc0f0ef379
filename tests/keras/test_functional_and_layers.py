"""The Keras pieces tutorials use: Normalization (adapt), Lambda, Embedding, Concatenate / Add,
the functional API, Model subclassing, 1-D x, a Sequential refusing another input shape,
regularizers, to_categorical and top-k accuracy. Values are checked against NumPy."""
import numpy as np
import pytest

import distflow as tf

keras = tf.keras


def _xy(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, 3)) * [1, 10, 100] + [0, 5, 50]).astype("float32")
    return x, (x @ np.array([1.0, 0.1, 0.01]) + 2).astype("float32")


def test_normalization_adapt_sets_mean_variance_as_non_trainable_weights():
    x, _ = _xy()
    norm = keras.layers.Normalization(axis=-1)
    norm.adapt(x)
    np.testing.assert_allclose(norm.mean.numpy(), x.mean(axis=0, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(norm.variance.numpy(), x.var(axis=0, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(norm(x[:2]).numpy(), (x[:2] - x.mean(0)) / x.std(0), rtol=1e-4)
    assert [w.name.split("/")[-1] for w in norm.non_trainable_weights] == \
        ["mean:0", "variance:0", "count:0"]
    assert norm.trainable_weights == []
    model = keras.Sequential([norm, keras.layers.Dense(1)])
    model.build((None, 3))
    assert len(model.trainable_variables) == 2 and len(model.non_trainable_variables) == 3
    inv = keras.layers.Normalization(mean=2.0, variance=4.0, invert=True, input_shape=(1,))
    np.testing.assert_allclose(inv(np.array([[1.0]], np.float32)).numpy(), [[4.0]])


def test_normalization_axis_none_on_a_column_and_1d_x(capsys):
    """The regression tutorial's one-variable model: Normalization(input_shape=[1], axis=None)
    adapted on a 1-D column, fit / predict / evaluate on 1-D data (Keras feeds it as (N, 1))."""
    x, y = _xy()
    hp = x[:, 1]
    norm = keras.layers.Normalization(input_shape=[1], axis=None)
    norm.adapt(hp)
    assert norm.mean.numpy().shape == (1, 1)
    np.testing.assert_allclose(norm.mean.numpy()[0, 0], hp.mean(), rtol=1e-5)
    model = keras.Sequential([norm, keras.layers.Dense(units=1)])
    text = model.summary(print_fn=None)
    assert "Total params: 5" in text and "Trainable params: 2" in text \
        and "Non-trainable params: 3" in text  # as the tutorial's summary shows
    assert model.predict(hp[:10], verbose=0).shape == (10, 1)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.1), loss="mean_absolute_error")
    history = model.fit(hp, y, epochs=20, verbose=0, validation_split=0.2)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert sorted(history.history) == ["loss", "val_loss"]
    assert model.predict(tf.linspace(0.0, 250, 251), verbose=0).shape == (251, 1)
    assert np.isfinite(model.evaluate(hp, y, verbose=0))


def test_sequential_built_for_one_shape_refuses_another():
    x, y = _xy()
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    model.predict(x, verbose=0)
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 3, "
                                         r"but received input with shape \(\w+, 1\)"):
        model.predict(x[:, :1], verbose=0)
    with pytest.raises(ValueError, match="expected axis -1"):
        model(x[:, :2])


def test_functional_api_concatenate_add_lambda_embedding():
    keras.backend.clear_session()
    a = keras.Input(shape=(3,), name="features")
    ids = keras.Input(shape=(2,), dtype="int32")
    emb = keras.layers.Embedding(5, 2)
    e = keras.layers.Flatten()(emb(ids))
    assert tuple(e.shape.as_list()) == (None, 4)
    c = keras.layers.Concatenate()([a, e])
    doubled = keras.layers.Lambda(lambda t: t * 2.0)(c)
    s = keras.layers.Add()([c, doubled])
    model = keras.Model(inputs=[a, ids], outputs=s)
    assert [type(layer).__name__ for layer in model.layers] == \
        ["InputLayer", "InputLayer", "Embedding", "Flatten", "Concatenate", "Lambda", "Add"]
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    i = np.array([[0, 4], [3, 3]])
    table = emb.get_weights()[0]
    want = 3 * np.concatenate([x, table[i].reshape(2, 4)], axis=1)
    np.testing.assert_allclose(model.predict([x, i], verbose=0), want, rtol=1e-6)
    np.testing.assert_allclose(model([x, i]).numpy(), want, rtol=1e-6)
    with pytest.raises(ValueError, match="expects 2 input"):
        model.predict(x, verbose=0)
    with pytest.raises(ValueError, match="merge layer should be called on a list"):
        keras.layers.Add()(a)


def test_functional_model_trains():
    keras.utils.set_random_seed(0)
    x, y = _xy()
    inputs = keras.Input(shape=(3,))
    norm = keras.layers.Normalization()
    norm.adapt(x)
    h = keras.layers.Dense(16, activation="relu")(norm(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(h))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    assert len(model.trainable_variables) == 4 and len(model.non_trainable_variables) == 3
    text = model.summary(print_fn=None)
    assert text.count("(Dense)") == 2 and "(None, 16)" in text
    assert "Total params: 88" in text and "Non-trainable params: 7" in text  # 3+3+1 statistics


def test_subclassed_model_with_call_trains():
    class TwoLayers(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = keras.layers.Dense(8, activation="relu")
            self.out = keras.layers.Dense(1)

        def call(self, inputs, training=False):
            return self.out(self.hidden(inputs))

    keras.utils.set_random_seed(0)
    x, y = _xy()
    x = x / x.std(0)
    model = TwoLayers()
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    history = model.fit(x, y, epochs=30, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    assert [v.name for v in model.trainable_variables][0].endswith("kernel:0")
    assert len(model.trainable_variables) == 4 and model.layers == [model.hidden, model.out]
    assert model.predict(x[:5], verbose=0).shape == (5, 1)


def test_regularizers_add_their_penalty_to_the_loss():
    x, y = _xy()
    model = keras.Sequential([keras.Input(shape=(3,)),
                              keras.layers.Dense(2, kernel_regularizer=keras.regularizers.l2(0.5),
                                                 bias_regularizer=keras.regularizers.L1(0.25))])
    assert len(model.weights) == 2  # built: its input shape is known
    model.layers[0].bias.assign(np.array([1.0, -2.0], np.float32))
    kernel = model.layers[0].kernel.numpy()
    penalty = 0.5 * np.sum(kernel ** 2) + 0.25 * 3.0
    np.testing.assert_allclose(sum(float(t.numpy()) for t in model.losses), penalty, rtol=1e-5)
    model.compile(optimizer="sgd", loss="mse")
    y2 = np.stack([y, -y], axis=1)
    pred = model.predict(x, verbose=0)
    plain = np.mean((pred - y2) ** 2)
    np.testing.assert_allclose(model.evaluate(x, y2, verbose=0), plain + penalty, rtol=1e-4)
    with pytest.raises(ValueError, match="non-negative"):
        keras.regularizers.l1(-1)


def test_to_categorical_and_top_k_accuracy():
    np.testing.assert_array_equal(keras.utils.to_categorical([0, 2, 1], 3),
                                  [[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    assert keras.utils.to_categorical(np.array([[1], [2]])).shape == (2, 3)
    with pytest.raises(ValueError, match="num_classes=2"):
        keras.utils.to_categorical([0, 3], 2)
    m = keras.metrics.TopKCategoricalAccuracy(k=2)
    m.update_state(np.array([[0, 0, 1], [0, 1, 0]]), np.array([[.1, .5, .4], [.5, .1, .4]]))
    assert m.name == "top_k_categorical_accuracy" and m.result() == 0.5
    s = keras.metrics.SparseTopKCategoricalAccuracy(k=1)
    s.update_state(np.array([[2], [0]]), np.array([[.1, .5, .4], [.5, .1, .4]]))
    assert s.result() == 0.5


def test_add_loss_in_call_joins_the_training_loss():
    class Penalized(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, inputs, training=False):
            out = self.dense(inputs)
            self.add_loss(10.0 * tf.reduce_mean(tf.square(out)))
            return out

    x, y = _xy(16)
    x = x / x.std(0)
    model = Penalized()
    model.compile(optimizer="sgd", loss="mse")
    model.build((None, 3))
    pred = model.predict(x, verbose=0)
    want = np.mean((pred - y[:, None]) ** 2) + 10.0 * np.mean(pred ** 2)
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=16, verbose=0), want, rtol=1e-4)
    model(x[:2])
    assert len(model.losses) == 1  # each call starts afresh


def test_lambda_first_gets_a_1d_x_as_it_is():
    """guide/basics: Sequential([Lambda(stack [x, x**2] on axis 1), Dense(1)]) fit on a 1-D x;
    Keras 3 hands the Lambda (batch,), infers its output (batch, 2) and builds Dense on it."""
    x = np.linspace(-2, 2, 41).astype(np.float32)
    y = x ** 2 + 2 * x - 5
    model = keras.Sequential([
        keras.layers.Lambda(lambda x: tf.stack([x, x ** 2], axis=1)),
        keras.layers.Dense(units=1, kernel_initializer=tf.random.normal)])
    model.compile(loss=keras.losses.MSE, optimizer=keras.optimizers.SGD(learning_rate=0.05))
    history = model.fit(x, y, epochs=60, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]
    assert model.layers[1].kernel.shape.as_list() == [2, 1]
    assert model(x).shape.as_list() == [41, 1]          # called on the 1-D x, as plot_preds does
    np.testing.assert_allclose(model.predict(x, verbose=0)[:, 0], y, atol=1.0)
    lam = keras.layers.Lambda(lambda t: tf.concat([t, t], axis=-1))
    assert lam.compute_output_shape((None, 3)).as_list() == [None, 6]
    assert keras.layers.Lambda(lambda t: t, output_shape=(4,)).compute_output_shape(
        (None, 4)).as_list() == [None, 4]


def test_a_model_for_one_feature_called_on_a_column():
    """Keras 3 adjusts the rank: Sequential([Normalization(input_shape=[1], axis=None), Dense])
    called on a 1-D column gives one row per value, before and after it is built."""
    x, _ = _xy()
    hp = x[:, 1]
    norm = keras.layers.Normalization(input_shape=[1], axis=None)
    norm.adapt(hp)
    model = keras.Sequential([norm, keras.layers.Dense(units=1)])
    out = model(hp[:4])
    assert out.shape.as_list() == [4, 1]
    np.testing.assert_allclose(out.numpy(), model.predict(hp[:4], verbose=0), rtol=1e-6)
    np.testing.assert_allclose(model(hp[:4].reshape(4, 1)).numpy(), out.numpy(), rtol=1e-6)


def test_functional_summary_counts_as_keras_prints_them():
    inputs = tf.keras.Input(shape=(3,))
    outputs = tf.keras.layers.Dense(1)(tf.keras.layers.Dense(4, activation="relu")(inputs))
    text = tf.keras.Model(inputs, outputs).summary(print_fn=None)
    assert "Total params: 21" in text and "Trainable params: 21" in text   # 3*4+4 + 4*1+1
    assert "Non-trainable params: 0" in text and text.endswith("_" * 65)
