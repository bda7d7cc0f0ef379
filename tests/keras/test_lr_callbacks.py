"""LearningRateScheduler, ReduceLROnPlateau and TerminateOnNaN as Keras 3 runs them; the new
learning rate must reach the compiled train step, not only the optimizer's attribute."""
import numpy as np
import pytest

import distflow as tf

keras = tf.keras


def _model(lr=0.1):
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    m.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    return m


def _xy():
    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    return x, x.sum(axis=1)


def test_scheduler_sets_the_rate_each_epoch_and_the_step_uses_it(capsys):
    x, y = _xy()
    m = _model()
    h = m.fit(x, y, epochs=3, verbose=0, callbacks=[
        keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5 ** epoch, verbose=1)])
    np.testing.assert_allclose(h.history["learning_rate"], [0.1, 0.05, 0.025], rtol=1e-6)
    printed = capsys.readouterr().out
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.05." in printed
    before = m.get_weights()
    m.fit(x, y, epochs=2, verbose=0,
          callbacks=[keras.callbacks.LearningRateScheduler(lambda epoch: 0.0)])
    for a, b in zip(before, m.get_weights()):  # a zero rate: the step really reads the rate
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="should be a float"):
        m.fit(x, y, epochs=1, verbose=0,
              callbacks=[keras.callbacks.LearningRateScheduler(lambda epoch: "fast")])


def test_reduce_lr_on_plateau_waits_patience_then_cools_down():
    x, y = _xy()
    m = _model(1e-6)  # hardly learns: the loss never improves by min_delta
    h = m.fit(x, y, epochs=6, verbose=0, callbacks=[keras.callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=2, min_delta=10.0, cooldown=1, min_lr=2e-7)])
    np.testing.assert_allclose(h.history["learning_rate"],
                               [1e-6, 1e-6, 1e-6, 5e-7, 5e-7, 2.5e-7], rtol=1e-6)
    assert m.optimizer.learning_rate.numpy() == pytest.approx(2.5e-7)
    with pytest.raises(ValueError, match="factor >= 1.0"):
        keras.callbacks.ReduceLROnPlateau(factor=1.5)
    with pytest.warns(UserWarning, match="`val_loss` which is not available"):
        m.fit(x, y, epochs=1, verbose=0, callbacks=[keras.callbacks.ReduceLROnPlateau()])


def test_terminate_on_nan_stops_at_the_first_bad_batch(capsys):
    x, y = _xy()
    m = _model(1e30)
    with np.errstate(all="ignore"):
        h = m.fit(x, y, epochs=5, batch_size=4, verbose=0,
                  callbacks=[keras.callbacks.TerminateOnNaN()])
    assert len(h.history["loss"]) == 1
    assert "Invalid loss, terminating training" in capsys.readouterr().out
