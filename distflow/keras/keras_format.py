"""`model.save('m.keras')`, `tf.keras.models.load_model`, `save_weights` / `load_weights`, in
Keras 3's file format, so a model saved here loads in Keras and the reverse.

A `.keras` file is a zip of three members (keras/src/saving/saving_lib.py):

  * metadata.json: {"keras_version": ..., "date_saved": ...};
  * config.json: the model as Keras's serialized objects ({"module", "class_name", "config",
    "registered_name", "build_config", "compile_config"}); the layers' configs carry Keras's
    argument names, so Keras's `from_config` rebuilds them (layers_config.py holds the
    per-layer translation);
  * model.weights.h5: an HDF5 file with one group per layer, `layers/<name>/vars/<i>` for the
    layer's i-th weight in Keras's order, and an empty `vars` group for the model. `<name>` is
    the layer class in snake case, numbered in layer order when repeated (dense, dense_1, ...),
    as Keras names them, whatever the layer's own name is.

A `.weights.h5` file (save_weights) is that HDF5 file alone. compile()'s optimizer, loss and
metrics are saved, so a loaded model evaluates and trains at once; the optimizer's state
(`optimizer/vars`: iterations, learning_rate, then each trainable variable's slots) is saved
and restored for Adam, AdamW and SGD, so training resumes where it stopped, in distflow and in
Keras. Other optimizers start afresh (Keras warns that it skips their variables).

HDF5 needs h5py, an optional extra: `pip install 'distflow[hdf5]'`.
"""
import datetime
import io
import json
import os
import zipfile

import numpy as np

from distflow.keras import layers_config

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "KERAS_VERSION"]

# The Keras 3 release whose format this writes (read by Keras 3.0 and later).
KERAS_VERSION = "3.15.1"
_MEMBERS = ("metadata.json", "config.json", "model.weights.h5")


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("Saving and loading Keras files (.keras, .weights.h5) needs h5py: "
                          "pip install 'distflow[hdf5]' (or pip install h5py)") from None
    return h5py


# -- .keras --------------------------------------------------------------------------------------
def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    filepath = os.fspath(filepath)
    if not filepath.endswith(".keras"):
        raise ValueError("Invalid filepath extension for saving. Please add either a `.keras` "
                         "extension for the native Keras format (recommended) or a `.h5` "
                         "extension. Received: filepath=%s." % filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError("%s exists and overwrite=False" % filepath)
    if not _is_chief():
        return
    config = layers_config.serialize_model(model)
    metadata = {"keras_version": KERAS_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    weights = io.BytesIO()
    _write_h5(model, weights)
    tmp = filepath + ".tmp"
    with zipfile.ZipFile(tmp, "w") as zf:
        zf.writestr("metadata.json", json.dumps(metadata))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", weights.getvalue())
    os.replace(tmp, filepath)  # a failed save leaves the previous file as it was


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002
    filepath = os.fspath(filepath)
    if not filepath.endswith(".keras"):
        raise ValueError("File format not supported: filepath=%s. distflow loads the Keras 3 "
                         "format (.keras); a SavedModel directory loads with "
                         "tf.saved_model.load." % filepath)
    if not os.path.exists(filepath):
        raise ValueError("File not found: filepath=%s. Please ensure the file is an accessible "
                         "`.keras` zip file." % filepath)
    with zipfile.ZipFile(filepath) as zf:
        names = zf.namelist()
        missing = [m for m in ("config.json", "model.weights.h5") if m not in names]
        if missing:
            raise ValueError("%s is not a Keras 3 file: it lacks %s (has %s)"
                             % (filepath, ", ".join(missing), ", ".join(names)))
        config = json.loads(zf.read("config.json"))
        weights = io.BytesIO(zf.read("model.weights.h5"))
    model = layers_config.deserialize_model(config, custom_objects or {}, safe_mode)
    if compile and config.get("compile_config"):
        layers_config.compile_from_config(model, config["compile_config"])
    _read_h5(model, weights, filepath, optimizer=True)
    return model


# -- .weights.h5 ---------------------------------------------------------------------------------
def save_weights(model, filepath, overwrite=True):
    filepath = os.fspath(filepath)
    if not filepath.endswith(".weights.h5"):
        raise ValueError("The filename must end in `.weights.h5`. Received: filepath=%s"
                         % filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError("%s exists and overwrite=False" % filepath)
    if _is_chief():
        tmp = filepath + ".tmp"
        _write_h5(model, tmp)
        os.replace(tmp, filepath)


def load_weights(model, filepath, skip_mismatch=False):
    filepath = os.fspath(filepath)
    if filepath.endswith(".keras"):
        with zipfile.ZipFile(filepath) as zf:
            return _read_h5(model, io.BytesIO(zf.read("model.weights.h5")), filepath,
                            optimizer=True)
    if not filepath.endswith(".weights.h5"):
        raise ValueError("File format not supported: filepath=%s. load_weights reads "
                         "`.weights.h5` and `.keras` files." % filepath)
    _read_h5(model, filepath, filepath, optimizer=True)


# -- the HDF5 layout -----------------------------------------------------------------------------
def weight_paths(model):
    """[(group path, layer)] in Keras's order and naming: layers/dense, layers/dense_1, ..."""
    out, counts = [], {}
    for layer in layers_config.saved_layers(model):
        base = layers_config.snake(type(layer).__name__)
        base = layers_config.KERAS_CLASS.get(base, base)
        n = counts.get(base, 0)
        counts[base] = n + 1
        out.append(("layers/%s" % (base if n == 0 else "%s_%d" % (base, n)), layer))
    return out


# Keras 3's optimizer variables, after `iterations` and `learning_rate`: for each trainable
# variable in order, these slots (distflow's slot names), as Keras's Adam and SGD build them.
_SLOTS = {"Adam": ("m", "v"), "AdamW": ("m", "v"), "SGD": ("momentum",)}


def _optimizer_state(model):
    """(name, [iterations, learning_rate, slots...]) for an optimizer that has stepped and whose
    variables Keras lays out alike (Adam, AdamW, SGD; not amsgrad); None otherwise."""
    opt = getattr(model, "optimizer", None) if getattr(model, "compiled", False) else None
    slots = _SLOTS.get(type(opt).__name__) if opt is not None else None
    if slots is None or getattr(opt, "amsgrad", False) or opt._iterations is None:
        return None
    from distflow.keras.lr_callbacks import get_lr
    try:
        lr = get_lr(opt)
    except TypeError:  # a schedule: Keras saves no learning_rate variable for it
        return None
    values = [np.int64(opt.iterations.numpy()), np.float32(lr)]
    if getattr(opt, "_plain", False):  # SGD without momentum: no slots
        slots = ()
    for var in model.trainable_variables:
        for name in slots:
            slot = opt.get_slot(var, name)
            if slot is None:
                return None
            values.append(np.asarray(slot.numpy()))
    return type(opt).__name__.lower(), values


def _load_optimizer_state(model, group, filepath):
    """Restores what _optimizer_state saved (or Keras wrote alike); warns and skips, as Keras
    does, when the counts differ."""
    import warnings
    opt = model.optimizer
    slots = _SLOTS.get(type(opt).__name__)
    if slots is None or getattr(opt, "amsgrad", False):
        return
    if getattr(opt, "_plain", False):  # SGD without momentum: no slots
        slots = ()
    variables = model.trainable_variables
    expected = 2 + len(slots) * len(variables)
    if len(group) != expected:
        warnings.warn("Skipping variable loading for optimizer '%s', because it has %d variables "
                      "whereas the saved optimizer has %d variables (%s)."
                      % (layers_config.snake(type(opt).__name__), expected, len(group), filepath),
                      stacklevel=3)
        return
    from distflow.framework import context
    with context.eager_mode():
        opt._create_slots(variables)
        opt.iterations.assign(np.int64(group["0"][()]))
        opt.learning_rate = float(group["1"][()])
        i = 2
        for var in variables:
            for name in slots:
                opt.get_slot(var, name).assign(np.asarray(group[str(i)], var.dtype.as_numpy_dtype))
                i += 1


def _write_h5(model, target, optimizer=True):
    h5py = _h5py()
    _built(model)
    with h5py.File(target, "w") as f:
        f.create_group("vars").attrs["name"] = model.name
        f.create_group("layers")
        for path, layer in weight_paths(model):
            group = f.create_group(path + "/vars")
            group.attrs["name"] = layer.name
            for i, value in enumerate(layers_config.weights_to_save(layer)):
                group.create_dataset(str(i), data=value)
        state = _optimizer_state(model) if optimizer else None
        if state is not None:
            group = f.create_group("optimizer/vars")
            group.attrs["name"] = state[0]
            for i, value in enumerate(state[1]):
                group.create_dataset(str(i), data=value)


def _read_h5(model, source, filepath, optimizer=False):
    h5py = _h5py()
    _built(model)
    with h5py.File(source, "r") as f:
        if optimizer and getattr(model, "compiled", False) and "optimizer/vars" in f:
            _load_optimizer_state(model, f["optimizer/vars"], filepath)
        for path, layer in weight_paths(model):
            expected = len(getattr(layer, "variables", []))
            group = f.get(path + "/vars")
            found = 0 if group is None else len(group)
            if found != expected:
                raise ValueError("Layer '%s' expected %d variables, but received %d variables "
                                 "during loading from %s (group %s). Expected: %s"
                                 % (layer.name, expected, found, filepath, path,
                                    [v.name for v in layer.variables]))
            if expected:
                values = [np.asarray(group[str(i)]) for i in range(expected)]
                layers_config.load_weights_into(layer, values)


def _built(model):
    """A model whose input shape is known has its weights before any data went through."""
    if hasattr(model, "_ensure_built"):
        model._ensure_built()
    if not getattr(model, "built", True):
        raise ValueError("Model %s has not been built yet: call it on data (or give it an "
                         "Input) before saving or loading its weights" % model.name)


def _is_chief():
    from distflow.train.checkpoint import is_writer  # rank 0 of a job of several writes
    return is_writer()
