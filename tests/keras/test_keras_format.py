"""model.save('m.keras') / tf.keras.models.load_model and save_weights / load_weights
('.weights.h5') in Keras 3's format: round trips within distflow, and the file layout against
what TF 2.21's Keras writes (pinned in data/keras3_sequential_layout.json; the check against
Keras itself, both ways, is scripts/tf_parity/keras_files.py)."""
import builtins
import json
import os
import zipfile

import numpy as np
import pytest

import distflow as tf

h5py = pytest.importorskip("h5py")
LAYOUT = os.path.join(os.path.dirname(__file__), "data", "keras3_sequential_layout.json")


def _data(n=40):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(n, 3)) * [1, 10, 100] + [0, 5, 50]).astype("float32")
    return x, (x @ np.array([1.0, 0.1, 0.01]) + 2).astype("float32")


def _tutorial_model(x):
    """The regression tutorial's DNN: Normalization adapted to the data, then Dense layers."""
    tf.keras.backend.clear_session()
    norm = tf.keras.layers.Normalization(axis=-1)
    norm.adapt(x)
    model = tf.keras.Sequential([tf.keras.Input(shape=(3,)), norm,
                                 tf.keras.layers.Dense(4, activation="relu"),
                                 tf.keras.layers.Dropout(0.2), tf.keras.layers.Dense(1)])
    model.compile(optimizer=tf.keras.optimizers.Adam(0.001), loss="mean_absolute_error",
                  metrics=["mae"])
    return model


def test_keras_file_round_trip_keeps_predictions_and_compile(tmp_path):
    x, y = _data()
    model = _tutorial_model(x)
    model.fit(x, y, epochs=2, verbose=0)
    path = str(tmp_path / "dnn_model.keras")
    model.save(path)
    reloaded = tf.keras.models.load_model(path)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))
    np.testing.assert_allclose(reloaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0),
                               rtol=1e-6)
    assert type(reloaded.optimizer).__name__ == "Adam"
    assert reloaded.optimizer.learning_rate == pytest.approx(0.001)
    assert [type(layer).__name__ for layer in reloaded.layers] == \
        ["Normalization", "Dense", "Dense".replace("Dense", "Dropout"), "Dense"]
    norm = reloaded.layers[0]
    np.testing.assert_allclose(norm.mean.numpy().ravel(), x.mean(axis=0), rtol=1e-5)
    reloaded.fit(x, y, epochs=1, verbose=0)  # compiled: trains on at once


def test_file_layout_matches_keras3(tmp_path):
    want = json.load(open(LAYOUT))
    x, y = _data()
    model = _tutorial_model(x)
    model.fit(x, y, epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == want["members"]
        assert sorted(json.loads(zf.read("metadata.json"))) == want["metadata_keys"]
        config = json.loads(zf.read("config.json"))
        zf.extract("model.weights.h5", str(tmp_path))
    wc = want["config"]
    for key in ("module", "class_name", "registered_name", "build_config"):
        assert config[key] == wc[key], key
    layers = config["config"]["layers"]
    assert [entry["class_name"] for entry in layers] == [c for c, _ in wc["layers"]]
    for entry, (_, fields) in zip(layers, wc["layers"]):
        assert entry["module"] == wc["layer_modules"]
        for k, v in fields.items():
            assert entry["config"][k] == v, (entry["class_name"], k)
    dense = layers[2]["config"]
    assert {k: dense["kernel_initializer"][k] for k in ("module", "class_name")} == \
        wc["kernel_initializer"]
    assert {k: dense["dtype"][k] for k in ("module", "class_name", "config")} == \
        wc["dtype_policy"]
    cc, wcc = config["compile_config"], wc["compile_config"]
    assert cc["optimizer"]["module"] == wcc["optimizer"]["module"]
    assert cc["optimizer"]["class_name"] == wcc["optimizer"]["class_name"]
    assert cc["optimizer"]["config"]["learning_rate"] == pytest.approx(
        wcc["optimizer"]["learning_rate"])
    assert (cc["loss"], cc["metrics"]) == (wcc["loss"], wcc["metrics"])
    with h5py.File(str(tmp_path / "model.weights.h5"), "r") as f:
        groups, datasets = {}, {}
        f.visititems(lambda name, obj: (datasets if isinstance(obj, h5py.Dataset) else groups)
                     .__setitem__(name, obj))
        for name, attrs in want["h5_groups"].items():
            assert dict(groups[name].attrs) == attrs, name
        assert {n: [list(d.shape), d.dtype.name] for n, d in datasets.items()} == \
            want["h5_datasets"]
        np.testing.assert_array_equal(f["layers/dense/vars/0"][()], model.layers[1].kernel.numpy())
        assert f["layers/normalization/vars/2"][()] == len(x)


def test_functional_model_with_two_inputs_round_trips(tmp_path):
    tf.keras.backend.clear_session()
    a = tf.keras.Input(shape=(3,))
    ids = tf.keras.Input(shape=(2,), dtype="int32")
    e = tf.keras.layers.Flatten()(tf.keras.layers.Embedding(10, 2)(ids))
    c = tf.keras.layers.Concatenate()([a, e])
    out = tf.keras.layers.Dense(1)(tf.keras.layers.Add()([tf.keras.layers.Dense(4)(c),
                                                          tf.keras.layers.Dense(4)(c)]))
    model = tf.keras.Model([a, ids], out)
    x = np.random.default_rng(1).normal(size=(8, 3)).astype("float32")
    i = np.arange(16).reshape(8, 2) % 10
    model.save(str(tmp_path / "f.keras"))
    with zipfile.ZipFile(str(tmp_path / "f.keras")) as zf:
        config = json.loads(zf.read("config.json"))
    assert config["class_name"] == "Functional"
    assert [entry["class_name"] for entry in config["config"]["layers"]] == \
        ["InputLayer", "InputLayer", "Embedding", "Flatten", "Concatenate", "Dense", "Dense",
         "Add", "Dense"]
    assert config["config"]["input_layers"] == [["input_layer", 0, 0], ["input_layer_1", 0, 0]]
    reloaded = tf.keras.models.load_model(str(tmp_path / "f.keras"))
    np.testing.assert_array_equal(reloaded.predict([x, i], verbose=0),
                                  model.predict([x, i], verbose=0))
    model.save_weights(str(tmp_path / "f.weights.h5"))
    for v in reloaded.trainable_variables:
        v.assign(np.zeros(v.shape.as_list(), np.float32))
    reloaded.load_weights(str(tmp_path / "f.weights.h5"))
    np.testing.assert_array_equal(reloaded.predict([x, i], verbose=0),
                                  model.predict([x, i], verbose=0))


def test_weights_file_is_keras3_layout_and_checks_the_model(tmp_path):
    x, _ = _data()
    model = _tutorial_model(x)
    path = str(tmp_path / "m.weights.h5")
    model.save_weights(path)
    with h5py.File(path, "r") as f:
        assert "layer_names" not in f.attrs
        assert sorted(f["layers"]) == ["dense", "dense_1", "dropout", "normalization"]
    other = _tutorial_model(x * 2)
    other.load_weights(path)
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    small = tf.keras.Sequential([tf.keras.Input(shape=(3,)), tf.keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="expected 2 variables|has shape"):
        small.load_weights(path)  # layers/dense holds a (3, 4) kernel


def test_refusals_name_the_problem(tmp_path, monkeypatch):
    x, _ = _data()
    scale = tf.constant(2.0)   # a lambda's closure a .keras file cannot hold
    lam = tf.keras.Sequential([tf.keras.Input(shape=(3,)),
                               tf.keras.layers.Lambda(lambda t: t * scale)])
    with pytest.raises(ValueError, match=r"Lambda.*enclosing"):
        lam.save(str(tmp_path / "l.keras"))
    assert not os.path.exists(str(tmp_path / "l.keras"))
    with pytest.raises(ValueError, match="File not found"):
        tf.keras.models.load_model(str(tmp_path / "none.keras"))
    real_import = builtins.__import__

    def no_h5py(name, *args, **kwargs):
        if name == "h5py":
            raise ImportError("No module named 'h5py'")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_h5py)
    with pytest.raises(ImportError, match=r"distflow\[hdf5\]"):
        _tutorial_model(x).save(str(tmp_path / "m.keras"))
    assert not os.listdir(tmp_path)


def test_cnn_layers_round_trip_with_keras_argument_names(tmp_path):
    """Layers without a get_config of their own (conv, pooling, BatchNormalization) are saved
    from their constructor arguments under Keras's names."""
    tf.keras.backend.clear_session()
    images = np.random.default_rng(2).random((6, 8, 8, 1)).astype("float32")
    model = tf.keras.Sequential([tf.keras.Input(shape=(8, 8, 1)),
                                 tf.keras.layers.Conv2D(4, 3, activation="relu", padding="same"),
                                 tf.keras.layers.MaxPooling2D(), tf.keras.layers.Flatten(),
                                 tf.keras.layers.BatchNormalization(),
                                 tf.keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(images, np.arange(6) % 3, epochs=1, verbose=0)
    model.save(str(tmp_path / "cnn.keras"))
    with zipfile.ZipFile(str(tmp_path / "cnn.keras")) as zf:
        layers = json.loads(zf.read("config.json"))["config"]["layers"]
    conv = layers[1]["config"]
    assert (conv["filters"], conv["kernel_size"], conv["padding"], conv["activation"]) == \
        (4, [3, 3], "same", "relu")
    assert layers[2]["config"]["pool_size"] == [2, 2]
    reloaded = tf.keras.models.load_model(str(tmp_path / "cnn.keras"))
    np.testing.assert_array_equal(reloaded.predict(images, verbose=0),
                                  model.predict(images, verbose=0))


@pytest.mark.parametrize("make_optimizer", [lambda: tf.keras.optimizers.Adam(0.01),
                                            lambda: tf.keras.optimizers.SGD(0.01, momentum=0.9)])
def test_training_resumes_from_the_saved_optimizer_state(tmp_path, make_optimizer):
    x, y = _data()
    model = _tutorial_model(x)
    model.layers[2].rate = 0.0  # no dropout: the two runs below must agree exactly
    model.compile(optimizer=make_optimizer(), loss="mean_absolute_error")
    model.fit(x, y, epochs=2, shuffle=False, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    reloaded = tf.keras.models.load_model(path)
    assert int(reloaded.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy())
    model.fit(x, y, epochs=1, shuffle=False, verbose=0)
    reloaded.fit(x, y, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(reloaded.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_model_checkpoint_writes_loadable_keras_files(tmp_path):
    x, y = _data()
    model = _tutorial_model(x)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[
        tf.keras.callbacks.ModelCheckpoint(str(tmp_path / "ckpt-{epoch}.keras"))])
    assert sorted(os.listdir(tmp_path)) == ["ckpt-1.keras", "ckpt-2.keras"]
    reloaded = tf.keras.models.load_model(str(tmp_path / "ckpt-2.keras"))
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))


def _cube(t):
    return t ** 3


def test_lambda_saves_as_keras_3_and_loads_only_when_unsafe_is_allowed(tmp_path):
    """guide/basics saves Sequential([Lambda(lambda x: tf.stack([x, x**2], axis=1)), Dense(1)])
    to .keras: the lambda goes in as Keras 3 stores it (marshalled bytecode), and loading it
    back needs safe_mode=False, as Keras asks."""
    x = np.linspace(-1, 1, 21).astype(np.float32)
    model = tf.keras.Sequential([
        tf.keras.layers.Lambda(lambda x: tf.stack([x, x ** 2], axis=1)),
        tf.keras.layers.Dense(units=1, kernel_initializer=tf.random.normal)])
    model.compile(loss=tf.keras.losses.MSE, optimizer=tf.keras.optimizers.SGD(learning_rate=0.01))
    model.fit(x, 3 * x ** 2 - x, epochs=2, batch_size=8, verbose=0)
    path = str(tmp_path / "my_new_model.keras")
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        config = json.loads(zf.read("config.json"))
    fn, = [e["config"]["function"] for e in config["config"]["layers"]
           if e["class_name"] == "Lambda"]
    assert fn["class_name"] == "__lambda__" and set(fn["config"]) == {"code", "defaults",
                                                                      "closure"}
    with pytest.raises(ValueError, match="safe_mode=False"):
        tf.keras.models.load_model(path)
    loaded = tf.keras.models.load_model(path, safe_mode=False)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)
    named = tf.keras.Sequential([tf.keras.Input(shape=(2,)), tf.keras.layers.Lambda(_cube),
                                 tf.keras.layers.Dense(1)])
    named.save(str(tmp_path / "named.keras"))
    with pytest.raises(ValueError, match="Could not locate function '_cube'"):
        tf.keras.models.load_model(str(tmp_path / "named.keras"))
    again = tf.keras.models.load_model(str(tmp_path / "named.keras"),
                                       custom_objects={"_cube": _cube})
    z = np.array([[1.0, 2.0]], np.float32)
    np.testing.assert_allclose(again.predict(z, verbose=0), named.predict(z, verbose=0),
                               rtol=1e-6)
