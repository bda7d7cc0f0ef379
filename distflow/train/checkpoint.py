"""TF2's object-based checkpoints: `tf.train.Checkpoint` and `tf.train.CheckpointManager`.

    ckpt = tf.train.Checkpoint(step=tf.Variable(0), model=model, optimizer=optimizer)
    manager = tf.train.CheckpointManager(ckpt, "./tf_ckpts", max_to_keep=3)
    ckpt.restore(manager.latest_checkpoint)       # nothing yet: starts from scratch
    ...
    manager.save()                                # ./tf_ckpts/ckpt-1, the oldest deleted past 3

Objects are tracked by the names given to Checkpoint: a Variable is saved under its name, a model
(anything with `variables`: Keras models, layers, df.Module) by the position of each variable
in `variables`, an optimizer by its slots (keyed to the model variable they belong to), its
step counter and its other state, and a Checkpoint inside a Checkpoint under its name. Restoring
matches the same names, so the program must build the same objects (as in TF); an optimizer's
slots that do not exist yet are made at restore, so training goes on where it stopped.

The files are distflow's, with TF's names (`<prefix>.index`, `<prefix>.data-00000-of-00001`,
the directory's `checkpoint` state file): NumPy and JSON, written atomically and read with
allow_pickle=False (train/saver.py). In a job of several ranks only rank 0 writes (the others
return the same path), so `if hvd.rank() == 0: ckpt.save(...)` and an unguarded save both work.
"""
import os
import sys

import numpy as np

from distflow.framework import context, dtypes
from distflow.ops import variables as _variables
from distflow.train import saver as _saver
from distflow.train.optimizer import Optimizer, _init_scope

__all__ = ["Checkpoint", "CheckpointManager"]


class Checkpoint:
    def __init__(self, root=None, **kwargs):
        if root is not None:
            kwargs["root"] = root
        for name, obj in kwargs.items():
            if not _trackable(obj):
                raise ValueError("`Checkpoint` was expecting a trackable object (an object "
                                 "derived from `Trackable`), got %r. If you believe this object "
                                 "should be trackable (i.e. it is part of the TensorFlow Python "
                                 "API and manages state), please open an issue." % (obj,))
        self._objects = dict(kwargs)
        self._save_counter = None

    def __getattr__(self, name):
        objects = self.__dict__.get("_objects", {})
        if name in objects:
            return objects[name]
        raise AttributeError("'Checkpoint' object has no attribute %r" % name)

    @property
    def save_counter(self):
        """How many times save() has run (an int64 Variable, saved with the checkpoint)."""
        if self._save_counter is None:
            observers = context.ctx.variable_observers
            saved, observers[:] = list(observers), []  # 0 everywhere: no broadcast needed
            try:
                with context.eager_mode():
                    self._save_counter = _variables.Variable(np.int64(0), trainable=False,
                                                             name="save_counter")
            finally:
                observers[:] = saved
        return self._save_counter

    # -- writing ------------------------------------------------------------------------------
    def write(self, file_prefix, options=None):
        """Writes the checkpoint at exactly `file_prefix` (no counter, no state file)."""
        prefix = os.fspath(file_prefix)
        tracked = self._variables()
        values = dict(zip(tracked, _variables.read_values(list(tracked.values()))))
        if is_writer():
            directory = os.path.dirname(prefix)
            if directory:
                os.makedirs(directory, exist_ok=True)
            _saver._write_checkpoint(prefix, values)
        return prefix

    def save(self, file_prefix, options=None):
        """Writes `<file_prefix>-<n>` (n: the new save_counter) and records it as the latest in
        the directory's `checkpoint` file. Returns the path."""
        counter = self.save_counter
        counter.assign_add(1)
        path = "%s-%d" % (os.fspath(file_prefix), int(counter.numpy()))
        self.write(path)
        if is_writer():
            directory = os.path.dirname(path) or "."
            _saver._update_state(directory, path, [path], [], 0.0, None, True)
        return path

    # -- reading ------------------------------------------------------------------------------
    def read(self, save_path, options=None):
        """Restores from `save_path` (a prefix save() or write() returned)."""
        return self.restore(save_path)

    def restore(self, save_path, options=None):
        """Restores every tracked object from the checkpoint at `save_path` (None: nothing to
        restore, e.g. manager.latest_checkpoint before the first save)."""
        if save_path is None:
            return InitializationOnlyStatus()
        save_path = os.fspath(save_path)
        if os.path.isdir(save_path):
            raise ValueError("%s is a directory: restore takes a checkpoint prefix "
                             "(tf.train.latest_checkpoint(directory) finds the newest)" % save_path)
        stored = _saver._read_checkpoint(save_path)
        self._make_optimizer_state(stored)
        targets = self._variables()
        matched, arrays = [], []
        for key, value in stored.items():
            var = targets.get(key)
            if var is None:
                continue
            shape = tuple(var.shape.as_list()) if hasattr(var.shape, "as_list") \
                else tuple(var.shape)
            if tuple(value.shape) != shape:
                raise ValueError("Cannot restore %s: the checkpoint holds shape %s, the object "
                                 "now has %s. Build the model as it was when saved."
                                 % (key, tuple(value.shape), shape))
            arrays.append(value.astype(dtypes.as_dtype(var.dtype).as_numpy_dtype))
            matched.append(key)
        # every shape checked before any variable changes
        _variables.write_values([targets[k] for k in matched], arrays)
        return CheckpointLoadStatus(save_path, set(stored), set(targets), set(matched))

    # -- what is tracked ------------------------------------------------------------------------
    def _variables(self, prefix=""):
        """{checkpoint key: Variable} of every tracked object."""
        out, owners = {}, {}
        if self._save_counter is not None or not prefix:
            out[prefix + "save_counter"] = self.save_counter
        optimizers = []
        for name, obj in self._objects.items():
            key = prefix + name
            if isinstance(obj, Checkpoint):
                out.update(obj._variables(key + "/"))
            elif isinstance(obj, _variables.Variable):
                out[key] = obj
                owners[id(obj)] = key
            elif _as_optimizer(obj) is not None:
                optimizers.append((key, _as_optimizer(obj)))
            else:
                for i, v in enumerate(_model_variables(obj)):
                    out["%s/variables/%d" % (key, i)] = v
                    owners[id(v)] = "%s/variables/%d" % (key, i)
        for key, opt in optimizers:
            out.update(_optimizer_variables(key, opt, owners))
        return out

    def _make_optimizer_state(self, stored):
        """Makes the slots a checkpoint has for an optimizer that has not trained yet."""
        owners = {}
        for name, obj in self._objects.items():
            if not isinstance(obj, (Checkpoint, _variables.Variable)) \
                    and _as_optimizer(obj) is None:
                for i, v in enumerate(_model_variables(obj)):
                    owners["%s/variables/%d" % (name, i)] = v
        for name, obj in self._objects.items():
            opt = _as_optimizer(obj)
            if opt is None:
                continue
            needed = [owners[k] for k in owners
                      if any(s.startswith("%s/slots/%s/" % (name, k)) for s in stored)]
            if needed:  # makes only the slots that are missing
                with _init_scope(True):
                    opt._create_slots(needed)
            if "%s/iterations" % name in stored:
                opt.iterations  # noqa: B018  (made now, so it is restored)


class CheckpointLoadStatus:
    """What restore() returns: assertions about how well the checkpoint matched."""

    def __init__(self, path, stored, targets, matched):
        self._path, self._stored, self._targets, self._matched = path, stored, targets, matched

    def assert_consumed(self):
        unused = sorted(self._stored - self._matched - {"save_counter"})
        missing = sorted(self._targets - self._matched - {"save_counter"})
        if unused or missing:
            raise AssertionError("Unresolved object in checkpoint %s: %s; objects not restored: "
                                 "%s" % (self._path, unused or "none", missing or "none"))
        return self

    def assert_existing_objects_matched(self):
        missing = sorted(self._targets - self._matched - {"save_counter"})
        if missing:
            raise AssertionError("Some objects had no values in checkpoint %s: %s"
                                 % (self._path, missing))
        return self

    def assert_nontrivial_match(self):
        if not self._matched - {"save_counter"}:
            raise AssertionError("Nothing except the root object matched a checkpointed value "
                                 "in %s" % self._path)
        return self

    def expect_partial(self):
        return self

    def run_restore_ops(self, session=None):
        pass

    def initialize_or_restore(self, session=None):
        pass


class InitializationOnlyStatus(CheckpointLoadStatus):
    def __init__(self):
        super().__init__(None, set(), set(), set())

    def assert_consumed(self):
        raise AssertionError("No checkpoint specified (save_path=None); nothing is being "
                             "restored.")

    assert_existing_objects_matched = assert_nontrivial_match = assert_consumed


class CheckpointManager:
    """Numbered checkpoints in one directory, the newest `max_to_keep` kept (None: all)."""

    def __init__(self, checkpoint, directory, max_to_keep, keep_checkpoint_every_n_hours=None,
                 checkpoint_name="ckpt", step_counter=None, checkpoint_interval=None,
                 init_fn=None):
        if not isinstance(checkpoint, Checkpoint):
            raise TypeError("CheckpointManager manages a tf.train.Checkpoint, got %r"
                            % (checkpoint,))
        if max_to_keep is not None and max_to_keep <= 0:
            raise ValueError("Expected a positive integer or `None` for `max_to_keep`, got %d."
                             % max_to_keep)
        self._checkpoint = checkpoint
        self._directory = os.fspath(directory)
        self._max_to_keep = max_to_keep
        self._prefix = os.path.join(self._directory, checkpoint_name)
        self._init_fn = init_fn
        state = _saver.get_checkpoint_state(self._directory) \
            if os.path.isdir(self._directory) else None
        self._checkpoints = [p for p in (state.all_model_checkpoint_paths if state else [])
                             if _saver.checkpoint_exists(p)]

    @property
    def directory(self):
        return self._directory

    @property
    def checkpoints(self):
        return list(self._checkpoints)

    @property
    def latest_checkpoint(self):
        return self._checkpoints[-1] if self._checkpoints else None

    def save(self, checkpoint_number=None, check_interval=True, options=None):
        """Writes `<directory>/<checkpoint_name>-<n>` (n: checkpoint_number, else the
        checkpoint's save_counter after counting this save) and deletes the oldest beyond
        max_to_keep. Returns the path."""
        counter = self._checkpoint.save_counter
        counter.assign_add(1)
        number = int(counter.numpy()) if checkpoint_number is None else int(
            checkpoint_number.numpy() if hasattr(checkpoint_number, "numpy")
            else checkpoint_number)
        path = "%s-%d" % (self._prefix, number)
        self._checkpoint.write(path)
        if path in self._checkpoints:
            self._checkpoints.remove(path)
        self._checkpoints.append(path)
        if self._max_to_keep is not None:
            while len(self._checkpoints) > self._max_to_keep:
                old = self._checkpoints.pop(0)
                if is_writer():
                    _saver._remove_checkpoint(old)
        if is_writer():
            _saver._update_state(self._directory, path, self._checkpoints, [], 0.0, None, True)
        return path

    def restore_or_initialize(self):
        if self.latest_checkpoint is not None:
            self._checkpoint.restore(self.latest_checkpoint)
            return self.latest_checkpoint
        if self._init_fn is not None:
            self._init_fn()
        return None


def _trackable(obj):
    return isinstance(obj, (Checkpoint, _variables.Variable)) or _as_optimizer(obj) is not None \
        or hasattr(obj, "variables")


def _as_optimizer(obj):
    """The optimizer that holds the state (a distributed wrapper's inner one), or None."""
    for _ in range(3):
        if isinstance(obj, Optimizer) and not hasattr(obj, "_optimizer"):
            return obj
        inner = getattr(obj, "_optimizer", None)
        if inner is None:
            return obj if isinstance(obj, Optimizer) else None
        obj = inner
    return obj if isinstance(obj, Optimizer) else None


def _model_variables(obj):
    found = obj.variables
    found = found() if callable(found) else found
    return [v for v in found if isinstance(v, _variables.Variable)]


def _optimizer_variables(key, opt, owners):
    out = {}
    if opt._iterations is not None:
        out[key + "/iterations"] = opt._iterations
    for name, var in sorted(opt._non_slots.items()):
        out["%s/state/%s" % (key, name)] = var
    for slot_name, slots in sorted(opt._slots.items()):
        for var, slot in slots.values():
            owner = owners.get(id(var))
            if owner is not None:  # a slot of a variable this checkpoint does not track: skipped
                out["%s/slots/%s/%s" % (key, owner, slot_name)] = slot
    return out


_LAUNCHER_RANKS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")


def is_writer():
    """Whether this process writes files: rank 0 of a distflow job, or of any mpirun job (read
    from the launcher's variables when distflow's runtime has not started), else True."""
    runtime = sys.modules.get("distflow.distribute.runtime")
    ctx = getattr(runtime, "_context", None)
    if ctx is not None:
        return ctx.rank == 0
    for name in _LAUNCHER_RANKS:
        if os.environ.get(name, "").strip().isdigit():
            return int(os.environ[name]) == 0
    return True
