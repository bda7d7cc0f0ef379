"""Keras save_weights / load_weights / save and the callbacks that write files
(ModelCheckpoint, CSVLogger, TensorBoard)."""
import builtins
import csv
import os

import numpy as np
import pytest

import distflow as tf

X = np.random.RandomState(3).randn(20, 3).astype(np.float32)
Y = (X[:, :1] > 0).astype(np.float32)


def _model(seed=0):
    tf.random.set_seed(seed)
    model = tf.keras.Sequential([tf.keras.layers.Dense(4, activation="relu", input_shape=(3,)),
                                 tf.keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


def test_weights_round_trip_as_a_checkpoint(tmp_path):
    model, other = _model(0), _model(1)
    assert not _same(model, other)
    model.save_weights(str(tmp_path / "weights"))
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "weights")
    other.load_weights(str(tmp_path / "weights"))
    assert _same(model, other)


def test_weights_round_trip_as_hdf5_in_keras_layout(tmp_path):
    h5py = pytest.importorskip("h5py")
    model, other = _model(0), _model(1)
    path = str(tmp_path / "model.weights.h5")
    model.save_weights(path)
    with h5py.File(path, "r") as f:
        names = [layer.name for layer in model.layers]
        assert [n.decode() for n in f.attrs["layer_names"]] == names
        assert [n.decode() for n in f[names[0]].attrs["weight_names"]] == \
            [names[0] + "/kernel:0", names[0] + "/bias:0"]
        np.testing.assert_array_equal(f[names[0]][names[0] + "/kernel:0"][()],
                                      model.get_weights()[0])
    other.load_weights(path)
    assert _same(model, other)
    model.save(str(tmp_path / "full.h5"))
    third = _model(2)
    third.load_weights(str(tmp_path / "full.h5"))
    assert _same(model, third)
    small = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(3,))])
    with pytest.raises(ValueError, match="Layer count mismatch"):
        small.load_weights(path)


def test_hdf5_without_h5py_names_the_extra(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_h5py(name, *args, **kwargs):
        if name == "h5py":
            raise ImportError("No module named 'h5py'")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_h5py)
    with pytest.raises(ImportError, match=r"distflow\[hdf5\]"):
        _model().save_weights(str(tmp_path / "w.h5"))
    assert not os.listdir(tmp_path)


def test_whole_models_other_than_h5_are_refused(tmp_path):
    with pytest.raises(ValueError, match=".keras archives"):
        _model().save(str(tmp_path / "m.keras"))
    with pytest.raises(ValueError, match="as .h5 only"):
        _model().save(str(tmp_path / "saved_model_dir"))


def test_model_checkpoint_fills_the_epoch_template(tmp_path):
    model = _model()
    cb = tf.keras.callbacks.ModelCheckpoint(str(tmp_path / "ckpt-{epoch:02d}"),
                                            save_weights_only=True)
    model.fit(X, Y, batch_size=5, epochs=3, verbose=0, callbacks=[cb])
    assert sorted(p for p in os.listdir(tmp_path) if p.endswith(".index")) == \
        ["ckpt-01.index", "ckpt-02.index", "ckpt-03.index"]
    other = _model(5)
    other.load_weights(str(tmp_path / "ckpt-03"))
    assert _same(model, other)


def test_model_checkpoint_best_only_follows_the_monitor(tmp_path):
    pytest.importorskip("h5py")
    model = _model()
    cb = tf.keras.callbacks.ModelCheckpoint(str(tmp_path / "best-{epoch}.h5"), monitor="loss",
                                            save_best_only=True, mode="min")
    history = model.fit(X, Y, batch_size=5, epochs=4, verbose=0, callbacks=[cb])
    losses = history.history["loss"]
    improved = [i + 1 for i in range(4) if losses[i] == min(losses[:i + 1])]
    assert sorted(os.listdir(tmp_path)) == sorted("best-%d.h5" % e for e in improved)
    with pytest.raises(ValueError, match="must end in `.keras`"):
        tf.keras.callbacks.ModelCheckpoint(str(tmp_path / "x"))
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        tf.keras.callbacks.ModelCheckpoint(str(tmp_path / "x.h5"), save_freq=0)


def test_csv_logger_and_tensorboard_write_every_epoch(tmp_path):
    model = _model()
    log = str(tmp_path / "log.csv")
    board = str(tmp_path / "tb")
    history = model.fit(X, Y, batch_size=5, epochs=2, validation_split=0.25, verbose=0,
                        callbacks=[tf.keras.callbacks.CSVLogger(log),
                                   tf.keras.callbacks.TensorBoard(board)])
    with open(log) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert float(rows[1]["val_loss"]) == pytest.approx(history.history["val_loss"][1])
    assert os.listdir(os.path.join(board, "train")) and \
        os.listdir(os.path.join(board, "validation"))
