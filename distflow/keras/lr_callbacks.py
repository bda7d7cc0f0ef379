"""`tf.keras.callbacks` that steer training: LearningRateScheduler, ReduceLROnPlateau and
TerminateOnNaN, rule for rule as Keras 3 has them (keras/src/callbacks/).

fit's step is one compiled graph, so a learning rate that changes between epochs must be read
by the graph, not baked into it: the first change turns the optimizer's plain-number
learning_rate into a non-trainable Variable (and the steps trace once more); later changes
assign to it. `model.optimizer.learning_rate` then reads back as that Variable, as in Keras.
Messages (verbose=1) print on rank 0 only.
"""
import warnings

import numpy as np

from distflow.keras.callbacks import Callback, is_chief

__all__ = ["LearningRateScheduler", "ReduceLROnPlateau", "TerminateOnNaN", "get_lr", "set_lr"]


def get_lr(optimizer):
    lr = optimizer.learning_rate
    if _is_schedule(lr):
        raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                        "`learning_rate` constructor argument, hence its learning rate is not "
                        "settable.")
    return float(np.asarray(lr.numpy() if hasattr(lr, "numpy") else lr))


def set_lr(model, value):
    from distflow.ops import variables
    optimizer = model.optimizer
    get_lr(optimizer)  # refuses a schedule
    lr = optimizer.learning_rate
    if isinstance(lr, variables.EagerVariable):
        lr.assign(np.float32(value))
        return
    optimizer.learning_rate = variables.Variable(np.float32(value), trainable=False,
                                                 name="learning_rate")
    model.__dict__.get("_steps", {}).clear()  # retrace: the graph now reads the Variable


def _is_schedule(lr):
    from distflow.optimizers import schedules
    return isinstance(lr, schedules.LearningRateSchedule) or (
        callable(lr) and not hasattr(lr, "numpy"))


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of every epoch to schedule(epoch, lr) (or
    schedule(epoch) for a function of one argument)."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = get_lr(self.model.optimizer)
        try:
            lr = self.schedule(epoch, lr)
        except TypeError:  # a schedule of the epoch alone (Keras 2's API)
            lr = self.schedule(epoch)
        if hasattr(lr, "numpy"):
            lr = lr.numpy()
        if not isinstance(lr, (float, np.floating, int, np.integer)) or isinstance(lr, bool):
            raise ValueError('The output of the "schedule" function should be a float. Got: %r'
                             % (lr,))
        set_lr(self.model, float(lr))
        if self.verbose > 0 and is_chief():
            print("\nEpoch %d: LearningRateScheduler setting learning rate to %s."
                  % (epoch + 1, float(lr)))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = get_lr(self.model.optimizer)


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by `factor` when `monitor` has not improved by more than
    `min_delta` for `patience` epochs, then waits `cooldown` epochs; never below `min_lr`."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__()
        if kwargs:
            raise TypeError("Unrecognized keyword arguments for ReduceLROnPlateau: %s" % kwargs)
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0. Received "
                             "factor=%s" % factor)
        if mode not in ("auto", "min", "max"):
            warnings.warn("Learning rate reduction mode %s is unknown, fallback to auto mode."
                          % mode, stacklevel=2)
            mode = "auto"
        self.monitor, self.factor, self.patience = monitor, float(factor), patience
        self.verbose, self.mode, self.min_delta = verbose, mode, min_delta
        self.cooldown, self.min_lr = cooldown, min_lr
        self._reset()

    def _reset(self):
        if self.mode == "min" or (self.mode == "auto" and "acc" not in self.monitor):
            self.monitor_op = lambda a, b: np.less(a, b - self.min_delta)
            self.best = np.inf
        else:
            self.monitor_op = lambda a, b: np.greater(a, b + self.min_delta)
            self.best = -np.inf
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = get_lr(self.model.optimizer)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn("Learning rate reduction is conditioned on metric `%s` which is not "
                          "available. Available metrics are: %s."
                          % (self.monitor, ",".join(logs)), stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self.monitor_op(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = get_lr(self.model.optimizer)
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    set_lr(self.model, new_lr)
                    if self.verbose > 0 and is_chief():
                        print("\nEpoch %d: ReduceLROnPlateau reducing learning rate to %s."
                              % (epoch + 1, float(np.float32(new_lr))))
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class TerminateOnNaN(Callback):
    """Stops training as soon as a batch's loss is NaN or infinite."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(float(np.asarray(loss))):
            if is_chief():
                print("Batch %d: Invalid loss, terminating training" % batch)
            self.model.stop_training = True
