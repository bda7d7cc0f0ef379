"""TF1's `tf.train.Saver`, `tf.train.latest_checkpoint` and `tf.train.get_checkpoint_state`.

    saver = tf.train.Saver()                                   # every global variable
    path = saver.save(sess, "model/boston.ckpt", global_step=step)   # "model/boston.ckpt-<step>"
    saver.restore(sess, tf.train.latest_checkpoint("model/"))

What a program sees is TF's: the returned prefix (`<save_path>-<step>` with a global step), the
`checkpoint` state file in the directory (TF's text lines `model_checkpoint_path: "..."` and
`all_model_checkpoint_paths: "..."`, relative to the directory when it is given relatively),
`max_to_keep` deleting the oldest, and TF's errors on restore.

The files are NOT TensorFlow's format, only TF's names: `<prefix>.data-00000-of-00001` is a NumPy
.npz of the values and `<prefix>.index` a JSON table of names, dtypes and shapes. TensorFlow cannot
read them and distflow cannot read TF's. Both are written atomically (a temporary file, fsync,
then rename; the index last, so a checkpoint exists only once complete), and they are read with
allow_pickle=False: loading a checkpoint never runs code. No `.meta` graph file is written.
"""
import os
import re
import time

import numpy as np

from distflow.framework import context, errors
from distflow.ops import variables as _variables

__all__ = ["Saver", "latest_checkpoint", "get_checkpoint_state", "checkpoint_exists"]

_DATA = ".data-00000-of-00001"
_INDEX = ".index"
_FORMAT = "distflow.train.Saver/1 (not TensorFlow's checkpoint format)"
_STATE_FILE = "checkpoint"


# -- files ------------------------------------------------------------------------------------
def new_file_mode():
    """The permissions the user's umask gives a new file (mkstemp's temporary files are 0600,
    which a checkpoint renamed into place must not keep: TF's files follow the umask)."""
    try:  # Linux reports it without changing it (os.umask would, for every thread, briefly)
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path, write):
    """Calls write(file) on a temporary file beside `path`, fsyncs it and renames it into place:
    a reader sees the old file or the whole new one, never a part."""
    import tempfile  # here, not at the top: with shutil and the compressors it would cost
    # `import distflow` ~10 ms that users who never save pay
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path),
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fchmod(f.fileno(), new_file_mode())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _write_checkpoint(prefix, values):
    """values: {name: array}. The data file first, then the index that marks it complete."""
    import json  # loaded on first use, as tempfile is
    keys = {name: "t%d" % i for i, name in enumerate(values)}
    atomic_write(prefix + _DATA, lambda f: np.savez(f, **{keys[n]: v for n, v in values.items()}))
    index = {"format": _FORMAT, "data": os.path.basename(prefix + _DATA),
             "tensors": {n: {"key": keys[n], "dtype": v.dtype.name, "shape": list(v.shape)}
                         for n, v in values.items()}}
    atomic_write(prefix + _INDEX, lambda f: f.write(json.dumps(index, indent=1).encode()))


def _read_checkpoint(prefix):
    """{name: array} of the checkpoint at `prefix`; never unpickles."""
    import json
    try:
        with open(prefix + _INDEX, "rb") as f:
            index = json.loads(f.read().decode())
        if not isinstance(index, dict) or index.get("format") != _FORMAT:
            raise ValueError("no distflow format tag")
        with np.load(prefix + _DATA, allow_pickle=False) as data:
            return {n: data[t["key"]] for n, t in index["tensors"].items()}
    except (ValueError, KeyError, OSError, UnicodeDecodeError) as e:
        raise errors.DataLossError(
            None, None, "Unable to read checkpoint %s: not a complete distflow checkpoint (%s). "
            "distflow reads only the checkpoints it wrote, not TensorFlow's." % (prefix, e)) \
            from None


def checkpoint_exists(checkpoint_prefix):
    """True when a checkpoint was written at this prefix (its `.index` file exists)."""
    return os.path.isfile(checkpoint_prefix + _INDEX)


def _remove_checkpoint(prefix):
    for suffix in (_INDEX, _DATA):
        try:
            os.unlink(prefix + suffix)
        except FileNotFoundError:
            pass


# -- the `checkpoint` state file ----------------------------------------------------------------
class CheckpointState:
    """What `get_checkpoint_state` returns (TF's CheckpointState proto, as plain attributes)."""

    def __init__(self, model_checkpoint_path="", all_model_checkpoint_paths=(),
                 all_model_checkpoint_timestamps=(), last_preserved_timestamp=0.0):
        self.model_checkpoint_path = model_checkpoint_path
        self.all_model_checkpoint_paths = list(all_model_checkpoint_paths)
        self.all_model_checkpoint_timestamps = list(all_model_checkpoint_timestamps)
        self.last_preserved_timestamp = last_preserved_timestamp

    def __repr__(self):
        return _state_text(self)


def _quote(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _unquote(s):
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), s[1:-1])


def _state_text(state):
    lines = ["model_checkpoint_path: " + _quote(state.model_checkpoint_path)]
    lines += ["all_model_checkpoint_paths: " + _quote(p) for p in state.all_model_checkpoint_paths]
    lines += ["all_model_checkpoint_timestamps: %r" % float(t)
              for t in state.all_model_checkpoint_timestamps]
    if state.last_preserved_timestamp:
        lines.append("last_preserved_timestamp: %r" % float(state.last_preserved_timestamp))
    return "\n".join(lines) + "\n"


def _parse_state(text):
    state = CheckpointState()
    for line in text.splitlines():
        key, _, value = line.strip().partition(": ")
        if key == "model_checkpoint_path":
            state.model_checkpoint_path = _unquote(value)
        elif key == "all_model_checkpoint_paths":
            state.all_model_checkpoint_paths.append(_unquote(value))
        elif key == "all_model_checkpoint_timestamps":
            state.all_model_checkpoint_timestamps.append(float(value))
        elif key == "last_preserved_timestamp":
            state.last_preserved_timestamp = float(value)
    return state


def _update_state(save_dir, model_checkpoint_path, all_paths, timestamps, last_preserved,
                  latest_filename, save_relative_paths):
    """Writes the state file as TF's update_checkpoint_state_internal does: the latest path last
    in the list, and paths relative to `save_dir` when `save_dir` is itself relative (or with
    save_relative_paths)."""
    all_paths = list(all_paths)
    if not all_paths or all_paths[-1] != model_checkpoint_path:
        all_paths.append(model_checkpoint_path)
    if save_relative_paths or not os.path.isabs(save_dir):
        def rel(p):
            if save_relative_paths or not os.path.isabs(p):
                return os.path.relpath(p, save_dir)
            return p
        model_checkpoint_path = rel(model_checkpoint_path)
        all_paths = [rel(p) for p in all_paths]
    state = CheckpointState(model_checkpoint_path, all_paths, timestamps, last_preserved)
    path = os.path.join(save_dir, latest_filename or _STATE_FILE)
    if path == model_checkpoint_path:
        raise RuntimeError("Save path '%s' conflicts with path used for checkpoint state.  Please "
                           "use a different save path." % model_checkpoint_path)
    atomic_write(path, lambda f: f.write(_state_text(state).encode()))


def get_checkpoint_state(checkpoint_dir, latest_filename=None):
    """The directory's `checkpoint` state (paths joined to the directory), or None without one."""
    path = os.path.join(checkpoint_dir, latest_filename or _STATE_FILE)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        state = _parse_state(f.read())
    if not state.model_checkpoint_path:
        raise ValueError("Invalid checkpoint state loaded from %s" % checkpoint_dir)

    def full(p):
        return p if os.path.isabs(p) else os.path.join(checkpoint_dir, p)
    state.model_checkpoint_path = full(state.model_checkpoint_path)
    state.all_model_checkpoint_paths = [full(p) for p in state.all_model_checkpoint_paths]
    return state


def latest_checkpoint(checkpoint_dir, latest_filename=None):
    """The prefix of the newest checkpoint named by the directory's `checkpoint` file, or None
    (no state file, or its checkpoint's files are gone)."""
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state is not None and checkpoint_exists(state.model_checkpoint_path):
        return state.model_checkpoint_path
    return None


# -- Saver ------------------------------------------------------------------------------------
_TF_DTYPE_NAMES = {"float32": "float", "float64": "double", "float16": "half"}


def _restore_error(cls, why, original):
    return cls(None, None, "Restoring from checkpoint failed. This is most likely due to %s from "
               "the checkpoint. Please ensure that you have not altered the graph expected based "
               "on the checkpoint. Original error:\n\n%s" % (why, original))


def _var_key(v):
    name = v.op.name if isinstance(v, _variables.GraphVariable) else v.name
    return name[:-2] if name.endswith(":0") else name


def _names_to_variables(var_list):
    """TF's op_list_to_dict: a dict is taken as given, a list is keyed by variable names."""
    if isinstance(var_list, dict):
        for name, v in var_list.items():
            if not isinstance(name, str) or not isinstance(v, _variables.Variable):
                raise TypeError("names_to_saveables must be a dict mapping string names to "
                                "Tensors/Variables. Not a variable: %s" % (v,))
        return dict(var_list)
    if not isinstance(var_list, (list, tuple, set)):
        raise TypeError("Variables to save should be passed in a dict or a list: %s" % (var_list,))
    named = {}
    for v in var_list:
        if not isinstance(v, _variables.Variable):
            raise TypeError("Saver's var_list holds %r, which is not a Variable" % (v,))
        key = _var_key(v)
        if key in named:
            raise ValueError("At least two variables have the same name: %s" % key)
        named[key] = v
    return named


class Saver:
    """Saves and restores variables (TF1's tf.train.Saver; see the module docstring for the
    files). `var_list`: None (every global variable of the default graph), a list (saved under
    the variables' names) or a dict {name in the checkpoint: variable}."""

    def __init__(self, var_list=None, reshape=False, sharded=False, max_to_keep=5,
                 keep_checkpoint_every_n_hours=10000.0, name=None, restore_sequentially=False,
                 saver_def=None, builder=None, defer_build=False, allow_empty=False,
                 write_version=2, pad_step_number=False, save_relative_paths=False,
                 filename=None):
        if reshape or saver_def is not None or builder is not None:
            raise NotImplementedError("distflow's Saver has no reshape, saver_def or builder")
        if var_list is None:
            with context.graph_mode():  # TF1 programs call this outside any graph-building call
                var_list = _variables.global_variables()
        self._vars = _names_to_variables(var_list)
        if not self._vars and not allow_empty:
            raise ValueError("No variables to save")
        self._max_to_keep = max_to_keep or 0
        self._keep_every = keep_checkpoint_every_n_hours * 3600
        self._next_keep_time = time.time() + self._keep_every
        self._last_preserved = time.time()
        self._pad_step_number = pad_step_number
        self._save_relative_paths = save_relative_paths
        self._filename = filename
        self._last_checkpoints = []  # [(prefix, time written)], oldest first
        self._to_delete = []  # dropped from _last_checkpoints, files not yet deleted

    @property
    def last_checkpoints(self):
        """The prefixes of the checkpoints not yet deleted, oldest first."""
        return [p for p, _ in self._last_checkpoints]

    def set_last_checkpoints_with_time(self, last_checkpoints_with_time):
        self._last_checkpoints = list(last_checkpoints_with_time)

    def recover_last_checkpoints(self, checkpoint_paths):
        """Takes over older checkpoints (those that still exist), e.g. after a restart."""
        self._last_checkpoints = [(p, os.path.getmtime(p + _INDEX)) for p in checkpoint_paths
                                  if checkpoint_exists(p)]

    # -- save ----------------------------------------------------------------------------------
    def save(self, sess, save_path, global_step=None, latest_filename=None,
             meta_graph_suffix="meta", write_meta_graph=True, write_state=True,
             strip_default_attrs=False, save_debug_info=False):
        """Writes the variables' values from `sess`; returns the checkpoint's prefix: save_path,
        or `save_path-<global_step>` (global_step an int, or a tensor/variable read in `sess`).
        The parent directory is created when missing. Keeps the newest `max_to_keep`."""
        latest_filename = latest_filename or _STATE_FILE
        if global_step is not None:
            if not isinstance(global_step, (int, np.integer)):
                global_step = self._session(sess).run(global_step)
            prefix = ("%s-%08d" if self._pad_step_number else "%s-%d") % (save_path,
                                                                          int(global_step))
        else:
            prefix = save_path
            if os.path.basename(save_path) == latest_filename:
                raise ValueError("'latest_filename' collides with 'save_path': '%s' and '%s'"
                                 % (latest_filename, save_path))
        values = self._read_values(sess)
        save_dir = os.path.dirname(save_path)
        if save_dir:
            os.makedirs(save_dir, exist_ok=True)
        _write_checkpoint(prefix, values)
        self._record(prefix)
        if write_state:
            _update_state(save_dir, prefix, self.last_checkpoints,
                          [t for _, t in self._last_checkpoints], self._last_preserved,
                          latest_filename, self._save_relative_paths)
        self._delete_old()
        return prefix

    def _session(self, sess):
        if sess is None or not hasattr(sess, "run"):
            raise TypeError("'sess' must be a Session; %s" % (sess,))
        return sess

    def _read_values(self, sess):
        names = list(self._vars)
        var_list = [self._vars[n] for n in names]
        needs_session = any(isinstance(v, _variables.GraphVariable) for v in var_list)
        values = _variables.read_values(var_list, self._session(sess) if needs_session else None)
        return dict(zip(names, values))

    def _record(self, prefix):
        if not self._max_to_keep:
            return
        self._last_checkpoints = [(p, t) for p, t in self._last_checkpoints if p != prefix]
        self._last_checkpoints.append((prefix, time.time()))
        while len(self._last_checkpoints) > self._max_to_keep:  # out of the state file at once
            self._to_delete.append(self._last_checkpoints.pop(0))

    def _delete_old(self):
        while self._to_delete:
            prefix, written = self._to_delete.pop(0)
            if written > self._next_keep_time:  # keep_checkpoint_every_n_hours keeps this one
                self._next_keep_time += self._keep_every
                self._last_preserved = written
                continue
            _remove_checkpoint(prefix)

    # -- restore -------------------------------------------------------------------------------
    def restore(self, sess, save_path):
        """Sets every variable of this Saver from the checkpoint at `save_path` (a prefix), all or
        none: a missing name raises NotFoundError, a dtype or shape that differs
        InvalidArgumentError, before any variable is changed."""
        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        if not checkpoint_exists(save_path):
            raise ValueError("The passed save_path is not a valid checkpoint: %s" % save_path)
        stored = _read_checkpoint(save_path)
        mismatch = "a mismatch between the current graph and the graph"
        for name, v in self._vars.items():
            if isinstance(v, _variables.GraphVariable) and v.graph is not \
                    getattr(self._session(sess), "graph", None):
                raise ValueError("Variable %s is not in the graph of the session given to "
                                 "restore" % v.name)
            if name not in stored:
                raise _restore_error(errors.NotFoundError,
                                     "a Variable name or other graph key that is missing",
                                     "Key %s not found in checkpoint" % name)
            value, want = stored[name], np.dtype(v.dtype.as_numpy_dtype)
            if value.dtype != want:
                raise _restore_error(
                    errors.InvalidArgumentError, mismatch,
                    "tensor_name = %s; expected dtype %s does not equal original dtype %s"
                    % (name, _TF_DTYPE_NAMES.get(want.name, want.name),
                       _TF_DTYPE_NAMES.get(value.dtype.name, value.dtype.name)))
            if not v.shape.is_compatible_with(value.shape):
                raise _restore_error(
                    errors.InvalidArgumentError, mismatch,
                    "Assign requires shapes of both tensors to match. lhs shape= %s rhs shape= %s"
                    % (list(v.shape.as_tuple() or ()), list(value.shape)))
        var_list = list(self._vars.values())
        needs_session = any(isinstance(v, _variables.GraphVariable) for v in var_list)
        _variables.write_values(var_list, [stored[n] for n in self._vars],
                                self._session(sess) if needs_session else None)
