"""`tf.keras.callbacks`: Callback, History, EarlyStopping, LambdaCallback, and the progress
lines fit / evaluate / predict print (ProgbarLogger), as Keras 3 has them.

fit calls on_train_begin / on_epoch_begin / on_epoch_end / on_train_end with Keras's logs
({"loss": ..., "mae": ..., "val_loss": ...}, Python floats). Batch hooks (on_train_batch_begin /
_end) run only for callbacks that define them, since their logs make every step wait for its
loss.
"""
import sys
import time
import warnings

import numpy as np

__all__ = ["Callback", "CallbackList", "History", "EarlyStopping", "LambdaCallback",
           "ProgbarLogger", "ModelCheckpoint", "CSVLogger", "TensorBoard"]


class Callback:
    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass


class History(Callback):
    """`model.fit` returns it: `history.history["loss"]` is the loss of every epoch."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        self.model.history = self


class EarlyStopping(Callback):
    """Stops training when `monitor` has not improved by more than `min_delta` for `patience`
    epochs; with restore_best_weights, the model ends with the weights of its best epoch (Keras 3:
    keras/src/callbacks/early_stopping.py, rule for rule)."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn("EarlyStopping mode '%s' is unknown, fallback to auto mode." % mode,
                          stacklevel=2)
            mode = "auto"
        self.monitor, self.mode, self.baseline = monitor, mode, baseline
        self.min_delta = abs(min_delta)
        self.patience, self.verbose = patience, verbose
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best = self.best_weights = None

    def _maximize(self):
        if self.mode != "auto":
            return self.mode == "max"
        name = self.monitor[4:] if self.monitor.startswith("val_") else self.monitor
        return "acc" in name or name in ("r2_score", "r2")

    def _is_improvement(self, value, reference):
        if reference is None:
            return True
        if self._maximize():
            return value - self.min_delta > reference
        return value + self.min_delta < reference

    def on_train_begin(self, logs=None):
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best = self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn("Early stopping conditioned on metric `%s` which is not available. "
                          "Available metrics are: %s" % (self.monitor, ",".join(logs or {})),
                          stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print("Epoch %d: early stopping" % (self.stopped_epoch + 1))
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print("Restoring model weights from the end of the best epoch: %d."
                      % (self.best_epoch + 1))
            self.model.set_weights(self.best_weights)


class LambdaCallback(Callback):
    """Callbacks from functions: on_epoch_end=lambda epoch, logs: ..., and so on."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None):
        super().__init__()
        for name, fn in (("on_epoch_begin", on_epoch_begin), ("on_epoch_end", on_epoch_end),
                         ("on_train_begin", on_train_begin), ("on_train_end", on_train_end),
                         ("on_train_batch_begin", on_train_batch_begin),
                         ("on_train_batch_end", on_train_batch_end)):
            if fn is not None:
                setattr(self, name, fn)


class ProgbarLogger(Callback):
    """fit's progress: "Epoch 3/10" and, when the epoch ends, one line with the step count, the
    time and every log (Keras 3's final progress-bar line for verbose=1, its verbose=2 line for 2).
    Printed only at epoch ends, so it costs nothing per step."""

    def __init__(self, verbose=1):
        super().__init__()
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        if is_chief():
            print("Epoch %d/%d" % (epoch + 1, self.params.get("epochs", 0)))

    def on_epoch_end(self, epoch, logs=None):
        steps = self.params.get("steps") or 0
        print_progress(steps, time.perf_counter() - self._start, logs, self.verbose)


def print_progress(steps, seconds, logs, verbose, file=None):
    """One Keras progress line: `13/13 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - loss: 12.3456`."""
    if not is_chief():
        return
    per_step = seconds / max(1, steps)
    if per_step >= 1 or per_step == 0:
        unit = "%.0fs/step" % per_step
    elif per_step >= 1e-3:
        unit = "%.0fms/step" % (per_step * 1e3)
    else:
        unit = "%.0fus/step" % (per_step * 1e6)
    count = "%d/%d" % (steps, steps)
    if verbose == 2:
        line = "%s - %.0fs - %s" % (count, seconds, unit)
    else:
        line = "%s %s %.0fs %s" % (count, "\u2501" * 20, seconds, unit)
    for k, v in (logs or {}).items():
        line += " - %s: %s" % (k, _format(v))
    print(line, file=file or sys.stdout)


def is_chief():
    """False only on the ranks other than 0 of a distributed job that has started (rank 0
    speaks); never starts one itself, so a plain program never loads MPI for it."""
    runtime = sys.modules.get("distflow.distribute.runtime")
    context = getattr(runtime, "_context", None)
    return context is None or context.rank == 0


def _format(value):
    value = float(np.asarray(value))
    return "%.4f" % value if abs(value) > 1e-3 else "%.4e" % value


class CallbackList:
    """The callbacks of one fit, in Keras's order: the progress printer if verbose, the user's
    in order, then History, which so records the logs as the user's callbacks left them
    (Horovod's MetricAverageCallback averages them over the ranks in place)."""

    def __init__(self, callbacks, model, params, verbose):
        self.history = History()
        self.callbacks = [ProgbarLogger(verbose)] if verbose else []
        self.callbacks += list(callbacks or []) + [self.history]
        for cb in self.callbacks:
            if not isinstance(cb, Callback) and not hasattr(cb, "on_epoch_end"):
                raise TypeError("callbacks must be Callback objects, got %r" % (cb,))
            cb.set_model(model)
            cb.set_params(params)
        self.batch_hooks = [cb for cb in self.callbacks if _defines_batch_hooks(cb)]

    def call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)


def _defines_batch_hooks(cb):
    own = ("on_train_batch_begin", "on_train_batch_end")
    return any(name in vars(cb) or getattr(type(cb), name, None) is not getattr(Callback, name)
               for name in own)


# The callbacks that write files (rank 0 only) live beside this module.
from distflow.keras.saving_callbacks import (CSVLogger, ModelCheckpoint,  # noqa: E402,F401
                                             TensorBoard)
