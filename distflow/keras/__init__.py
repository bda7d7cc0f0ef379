"""`tf.keras` for distflow: a TF2 course's Keras program runs with `import distflow as tf`.

    model = tf.keras.Sequential([tf.keras.layers.Dense(64, activation="relu", input_shape=(13,)),
                                 tf.keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=100, batch_size=32, validation_split=0.2, verbose=0)
    loss, mae = model.evaluate(x_test, y_test, verbose=0)

Mostly distflow's own pieces under Keras's names: layers (distflow.nn.layers), optimizers
(distflow.optimizers), losses (distflow.nn.losses), initializers (distflow.nn.initializers), and
metrics (distflow.nn.metrics, with Keras's default names). What Keras adds lives here: training
(compile / fit / evaluate / predict, one compiled graph per step), Sequential's Keras
constructor, callbacks (History, EarlyStopping), Input, utils.set_random_seed, datasets.

Loaded on first use (`tf.keras`), so `import distflow` stays fast.
"""
from distflow.keras import (activations, backend, callbacks, datasets, layers,  # noqa: F401
                            metrics, optimizers, regularizers, utils)
from distflow.keras.layers import Input  # noqa: F401
from distflow.keras.models import Model, Sequential  # noqa: F401
from distflow.nn import initializers, losses  # noqa: F401
from distflow.keras import models  # noqa: F401,E402

__all__ = ["Sequential", "Model", "regularizers", "Input", "layers", "models", "optimizers", "losses", "metrics",
           "initializers", "activations", "callbacks", "utils", "backend", "datasets"]
