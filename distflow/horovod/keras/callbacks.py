"""horovod.tensorflow.keras.callbacks over distflow's Keras fit.

Two differences from Horovod's, both so that fit's compiled step sees them:
  * BroadcastGlobalVariablesCallback broadcasts at the start of training (Horovod: after the
    first batch, because TF1's variables exist only then); every rank then takes its first step
    from root_rank's weights, and ends as identical as with Horovod's.
  * The learning-rate callbacks turn a learning rate (and momentum) given as a number into a
    variable at the start of training, so that the compiled train step reads its current value
    at every step (a number would be a constant of the traced step).
"""
import numpy as np

from distflow.horovod import basics, collectives
from distflow.horovod.functions import broadcast_variables
from distflow.horovod.mpi_ops import _comm
from distflow.keras.callbacks import Callback


def _optimizer_variables(optimizer):
    found = getattr(optimizer, "variables", None)
    found = found() if callable(found) else found
    return list(found or [])


class BroadcastGlobalVariablesCallback(Callback):
    """Makes every rank's model and optimizer variables root_rank's when training starts."""

    def __init__(self, root_rank, device="", local_variables=None):
        super().__init__()
        self.root_rank = root_rank
        self.device = device
        self.broadcast_done = False
        if local_variables is None:
            local_variables = []
        elif not isinstance(local_variables, (list, tuple)):
            local_variables = [local_variables]
        self._local_vars = {id(v) for v in local_variables}

    def register_local_var(self, var):
        self._local_vars.add(id(var))

    def on_train_begin(self, logs=None):
        if self.broadcast_done:
            return
        model_vars = [v for v in self.model.variables if id(v) not in self._local_vars]
        broadcast_variables(model_vars, root_rank=self.root_rank)
        broadcast_variables(_optimizer_variables(self.model.optimizer), root_rank=self.root_rank)
        self.broadcast_done = True


class MetricAverageCallback(Callback):
    """Averages every metric of the epoch's logs over the ranks (in place, so callbacks after
    it and the History see the averages)."""

    def __init__(self, device=""):
        super().__init__()
        self.device = device

    def on_epoch_end(self, epoch, logs=None):
        if not logs:
            return
        names = sorted(logs)
        values = np.array([float(logs[k]) for k in names], np.float64)
        averaged = collectives.allreduce(_comm(), [values], collectives.AVERAGE,
                                         name="MetricAverageCallback")[0]
        for k, v in zip(names, averaged):
            logs[k] = float(v)


class LearningRateScheduleCallback(Callback):
    """lr = initial_lr * multiplier(epoch) from start_epoch to end_epoch: at the start of each
    epoch (staircase) or of each batch (epoch + batch / steps_per_epoch). A number multiplier m
    means m ** (epoch - start_epoch). With momentum_correction, the momentum is scaled by
    new_lr / old_lr for the batch where the learning rate changes."""

    def __init__(self, initial_lr, multiplier, start_epoch=0, end_epoch=None, staircase=True,
                 momentum_correction=True, steps_per_epoch=None):
        super().__init__()
        if initial_lr is None:
            raise ValueError("Parameter `initial_lr` is required")
        self.initial_lr = initial_lr
        self.start_epoch = start_epoch
        self.end_epoch = end_epoch
        self.staircase = staircase
        self.momentum_correction = momentum_correction
        self.steps_per_epoch = steps_per_epoch
        self.restore_momentum = None
        self.current_epoch = None
        if callable(multiplier):
            self.multiplier = multiplier
        else:
            self.multiplier = lambda epoch: multiplier ** (epoch - start_epoch)

    def _autodetect_steps_per_epoch(self):
        if self.params.get("steps"):
            return self.params["steps"]
        raise ValueError("Could not autodetect the number of steps per epoch. Please specify the "
                         "steps_per_epoch parameter to the %s()." % type(self).__name__)

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        changed = _make_variable(optimizer, "learning_rate")
        momentum = _hypers(optimizer).get("momentum")
        if self.momentum_correction and momentum is not None and _value(momentum) != 0:
            changed = _make_variable(optimizer, "momentum") or changed
        if changed:
            self.model.__dict__["_steps"] = {}  # traced with the numbers: trace again
        if not self.staircase and not self.steps_per_epoch:
            self.steps_per_epoch = self._autodetect_steps_per_epoch()

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self.current_epoch < self.start_epoch or \
                (self.end_epoch is not None and self.current_epoch >= self.end_epoch):
            return
        if self.staircase and batch == 0:
            self._adjust_learning_rate(self.current_epoch)
        elif not self.staircase:
            self._adjust_learning_rate(self.current_epoch + float(batch) / self.steps_per_epoch)

    def on_train_batch_end(self, batch, logs=None):
        if self.restore_momentum:
            _hypers(self.model.optimizer)["momentum"].assign(self.restore_momentum)
            self.restore_momentum = None

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = _value(_hypers(self.model.optimizer)["learning_rate"])

    def _adjust_learning_rate(self, epoch):
        hypers = _hypers(self.model.optimizer)
        old_lr = _value(hypers["learning_rate"])
        new_lr = self.initial_lr * self.multiplier(epoch)
        hypers["learning_rate"].assign(new_lr)
        if self.momentum_correction and hasattr(hypers.get("momentum"), "assign") and old_lr:
            self.restore_momentum = _value(hypers["momentum"])
            hypers["momentum"].assign(self.restore_momentum * new_lr / old_lr)


class LearningRateWarmupCallback(LearningRateScheduleCallback):
    """Goes from initial_lr / size to initial_lr over warmup_epochs, batch by batch (Goyal et
    al.'s gradual warmup): lr'(epoch) = lr / size * (epoch * (size - 1) / warmup + 1)."""

    def __init__(self, initial_lr, warmup_epochs=5, momentum_correction=True, steps_per_epoch=None,
                 verbose=0):
        def multiplier(epoch):
            epoch += 1.0 / self.steps_per_epoch
            n = basics.size()
            return 1.0 / n * (epoch * (n - 1) / warmup_epochs + 1)
        super().__init__(initial_lr, multiplier, start_epoch=0, end_epoch=warmup_epochs,
                         staircase=False, momentum_correction=momentum_correction,
                         steps_per_epoch=steps_per_epoch)
        self.verbose = verbose

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if epoch == self.end_epoch - 1 and self.verbose > 0 and basics.rank() == 0:
            print("\nEpoch %d: finished gradual learning rate warmup to %g."
                  % (epoch + 1, _value(_hypers(self.model.optimizer)["learning_rate"])))


def _hypers(optimizer):
    inner = getattr(optimizer, "optimizer", None)  # distflow.distribute's wrapper: the inner one
    return (inner if inner is not None and hasattr(inner, "_hyper") else optimizer)._hyper


def _make_variable(optimizer, name):
    """True when the hyperparameter `name` was a number and is now a variable holding it."""
    from distflow.ops.variables import Variable
    hypers = _hypers(optimizer)
    value = hypers.get(name)
    if value is None or hasattr(value, "assign"):
        return False
    if callable(value):
        raise ValueError("The %s callbacks set the optimizer's %s, which is a schedule or a "
                         "function here: give the optimizer a number" % ("learning-rate", name))
    hypers[name] = Variable(np.float32(value), trainable=False, name=name)
    return True


def _value(hyper):
    return float(np.asarray(hyper.numpy() if hasattr(hyper, "numpy") else hyper))
