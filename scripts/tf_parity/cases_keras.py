"""Parity of tf.keras (Sequential, compile, fit, evaluate, predict, EarlyStopping) on Boston.

Each case builds the same Sequential with `distflow.keras` and with TF's Keras, copies distflow's
initial weights into the Keras model (set_weights), so both start identical, and trains with
shuffle=False on the bundled Boston data (Keras's split, standardized with the training rows'
mean and std): history.history (loss, mae, val_loss, val_mae), evaluate() and predict() must agree
to float32 summation order (rtol 1e-5), the epoch EarlyStopping stops at and the weights it
restores too.

Not compared: summary() text (Keras 3 draws a box table with optimizer parameters; distflow
prints Keras 2's table: the layer names, output shapes and parameter counts are compared
instead) and metrics_names (Keras 3 says ["loss", "compile_metrics"]).
"""
import warnings

import numpy as np
import tensorflow as tf

import distflow as df
import harness
from distflow.data import Standardizer, boston_housing
from harness import compare_arrays, same

warnings.filterwarnings("ignore")  # Keras 3 warns about input_shape= on a layer

(x_train, y_train), (x_test, y_test) = boston_housing.load_data()
scaler = Standardizer().fit(x_train)
x_train = scaler.transform(x_train).astype(np.float32)
x_test = scaler.transform(x_test).astype(np.float32)
y_train, y_test = y_train.astype(np.float32), y_test.astype(np.float32)
RTOL = 1e-5


def close(case, what, a, b, rtol=RTOL, atol=1e-6):
    harness.CHECKED[0] += 1
    compare_arrays(case, what, np.asarray(a, np.float64), np.asarray(b, np.float64), rtol, atol)


def build(m, hidden=(64,), dropout=None):
    layers = [m.keras.layers.Dense(hidden[0], activation="relu", input_shape=(13,))]
    for h in hidden[1:]:
        layers.append(m.keras.layers.Dense(h, activation="relu"))
    if dropout is not None:
        layers.append(m.keras.layers.Dropout(dropout))
    layers.append(m.keras.layers.Dense(1))
    return m.keras.Sequential(layers)


def pair(hidden=(64,), dropout=None):
    """(distflow model, Keras model) with the same initial weights (distflow's seed 0)."""
    df.keras.utils.set_random_seed(0)
    ours, theirs = build(df, hidden, dropout), build(tf, hidden, dropout)
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def both_fit(case, make_optimizer, compile_kw=None, fit_kw=None, hidden=(64,), dropout=None):
    ours, theirs = pair(hidden, dropout)
    fit_kw = dict(dict(epochs=5, batch_size=32, shuffle=False, verbose=0), **(fit_kw or {}))
    results = []
    for m, model in ((df, ours), (tf, theirs)):
        kw = dict(loss="mse", metrics=["mae"])
        kw.update(compile_kw(m) if callable(compile_kw) else compile_kw or {})
        model.compile(optimizer=make_optimizer(m), **kw)
        results.append(model.fit(x_train, y_train, **fit_kw).history)
    h_df, h_tf = results
    same(case, "history keys", list(h_df), list(h_tf))
    for key in h_tf:
        if key in h_df:
            close(case, "history[%r]" % key, h_df[key], h_tf[key])
    same(case, "history value type", type(h_df["loss"][0]), type(h_tf["loss"][0]))
    return ours, theirs


def compare_after(case, ours, theirs):
    r_df, r_tf = ours.evaluate(x_test, y_test, verbose=0), theirs.evaluate(x_test, y_test,
                                                                          verbose=0)
    same(case, "evaluate() returns", type(r_df).__name__, type(r_tf).__name__)
    close(case, "evaluate()", r_df, r_tf)
    d = ours.evaluate(x_test, y_test, verbose=0, return_dict=True)
    t = theirs.evaluate(x_test, y_test, verbose=0, return_dict=True)
    same(case, "evaluate(return_dict=True) keys", sorted(d), sorted(t))
    p_df, p_tf = ours.predict(x_test, verbose=0), theirs.predict(x_test, verbose=0)
    same(case, "predict() shape and dtype", (p_df.shape, p_df.dtype.name),
         (p_tf.shape, p_tf.dtype.name))
    close(case, "predict()", p_df, p_tf, atol=1e-4)
    close(case, "predict(batch_size=7)", ours.predict(x_test, batch_size=7, verbose=0), p_tf,
          atol=1e-4)
    for i, (a, b) in enumerate(zip(ours.get_weights(), theirs.get_weights())):
        close(case, "weight %d after training" % i, a, b, rtol=1e-4, atol=1e-5)


# -- the course's program: Adam, SGD, validation_split or validation_data ----------------------
ours, theirs = both_fit("keras adam validation_split", lambda m: m.keras.optimizers.Adam(1e-3),
                        fit_kw=dict(validation_split=0.2))
compare_after("keras adam validation_split", ours, theirs)
same("keras model", "count_params", ours.count_params(), theirs.count_params())
same("keras model", "layer names", [l.name for l in ours.layers], [l.name for l in theirs.layers])
same("keras model", "trainable_variables shapes",
     [tuple(v.shape) for v in ours.trainable_variables],
     [tuple(v.shape) for v in theirs.trainable_variables])

ours, theirs = both_fit("keras sgd validation_data", lambda m: m.keras.optimizers.SGD(1e-3),
                        fit_kw=dict(validation_data=(x_test, y_test), batch_size=50),
                        hidden=(64, 64))
compare_after("keras sgd validation_data", ours, theirs)

ours, theirs = both_fit("keras 'adam' string, two metrics", lambda m: "adam",
                        compile_kw=dict(metrics=["mse", "mae"]), fit_kw=dict(epochs=3))
compare_after("keras 'adam' string, two metrics", ours, theirs)

ours, theirs = both_fit("keras rmsprop, loss object, RMSE metric",
                        lambda m: m.keras.optimizers.RMSprop(1e-3),
                        compile_kw=lambda m: dict(
                            loss=m.keras.losses.MeanSquaredError(),
                            metrics=[m.keras.metrics.RootMeanSquaredError(), "mae"]),
                        fit_kw=dict(epochs=3, batch_size=16, validation_split=0.1))
compare_after("keras rmsprop", ours, theirs)

# Dropout passes inputs through at evaluation and prediction: only those are compared
ours, theirs = pair(dropout=0.5)
for m, model in ((df, ours), (tf, theirs)):
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
close("keras dropout", "evaluate() before training", ours.evaluate(x_test, y_test, verbose=0),
      theirs.evaluate(x_test, y_test, verbose=0))
close("keras dropout", "predict()", ours.predict(x_test, verbose=0),
      theirs.predict(x_test, verbose=0), atol=1e-4)

# -- EarlyStopping: the same stopping epoch and the same restored weights ------------------------
for restore in (False, True):
    case = "keras EarlyStopping restore_best_weights=%s" % restore
    ours, theirs = pair()
    hist = []
    for m, model in ((df, ours), (tf, theirs)):
        model.compile(optimizer=m.keras.optimizers.Adam(0.05), loss="mse", metrics=["mae"])
        stop = m.keras.callbacks.EarlyStopping(monitor="val_loss", patience=2,
                                               restore_best_weights=restore)
        hist.append(model.fit(x_train, y_train, epochs=60, batch_size=32, shuffle=False,
                              validation_split=0.2, verbose=0, callbacks=[stop]).history)
        hist.append(stop.stopped_epoch)
    same(case, "epochs run", len(hist[0]["loss"]), len(hist[2]["loss"]))
    same(case, "stopped_epoch", hist[1], hist[3])
    n = min(len(hist[0]["val_loss"]), len(hist[2]["val_loss"]))
    close(case, "val_loss", hist[0]["val_loss"][:n], hist[2]["val_loss"][:n], rtol=1e-4)
    for i, (a, b) in enumerate(zip(ours.get_weights(), theirs.get_weights())):
        close(case, "weight %d at the end" % i, a, b, rtol=1e-3, atol=1e-4)


# -- errors --------------------------------------------------------------------------------------
def error_of(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 (the error is what is compared)
        return type(e).__name__, str(e).splitlines()[0]
    return None


for name, fn in [
        ("fit before compile", lambda m: build(m).fit(x_train, y_train, verbose=0)),
        ("evaluate before compile", lambda m: build(m).evaluate(x_train, y_train, verbose=0)),
]:
    same("keras error", name, error_of(lambda: fn(df)), error_of(lambda: fn(tf)))


def mismatched(m):
    model = build(m)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x_train, y_train[:100], verbose=0)


e_df, e_tf = error_of(lambda: mismatched(df)), error_of(lambda: mismatched(tf))
same("keras error", "x and y of different lengths",
     e_df and e_df[0], e_tf and e_tf[0])
same("keras error", "x and y of different lengths (message)", e_df and e_df[1][:40],
     e_tf and e_tf[1][:40])


def bad_optimizer(m):
    build(m).compile(optimizer="nonesuch", loss="mse")


same("keras error", "unknown optimizer name", error_of(lambda: bad_optimizer(df)),
     error_of(lambda: bad_optimizer(tf)))
