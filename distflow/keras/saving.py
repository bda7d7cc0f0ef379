"""Keras's save_weights / load_weights / save for distflow models, and their file kinds.

  * `model.save("m.keras")` and a path ending in `.weights.h5` use Keras 3's format
    (keras_format.py: a .keras zip with the architecture, loadable by Keras's load_model; the
    weights HDF5 file Keras 3's save_weights writes). load_weights still reads a .weights.h5 in
    the older layout below.
  * a path ending in `.h5` or `.hdf5` is HDF5 in Keras 2's weights layout:
    the root's `layer_names` attribute, one group per layer with its `weight_names` and a dataset
    per weight. It needs h5py, an optional extra (pip install 'distflow[hdf5]'); without it the
    error says so. `save()` writes the same weights under `model_weights` with Keras's root
    attributes, and no architecture: distflow's load_weights reads the file back, Keras's
    load_model cannot rebuild the model from it.
  * any other path is a distflow checkpoint at that prefix (tf.train.Checkpoint(model=model);
    the directory's `checkpoint` file names it, so tf.train.latest_checkpoint finds it): NumPy and
    JSON, written atomically, never unpickled.

Only rank 0 writes in a job of several ranks (under mpirun: a tf.distribute strategy or
Horovod); every rank may read.
"""
import os

import numpy as np

from distflow.keras import keras_format
from distflow.ops import variables as _variables
from distflow.train import saver as _saver
from distflow.train.checkpoint import Checkpoint, is_writer

_H5 = (".h5", ".hdf5", ".keras")
_NO_H5PY = ("Saving or loading %s needs h5py for HDF5 files, which is not installed: "
            "pip install 'distflow[hdf5]' (or pip install h5py), or give a path without .h5 to "
            "write a distflow checkpoint instead.")


class Saving:
    """A mixin for Keras models (needs `layers` and `variables`)."""

    def save_weights(self, filepath, overwrite=True, save_format=None, options=None):
        path = os.fspath(filepath)
        if path.endswith(".weights.h5"):  # Keras 3's layout (keras_format.py)
            return keras_format.save_weights(self, path, overwrite)
        if _is_hdf5(path, save_format):
            h5py = _h5py(path)
            if is_writer():
                _atomic_h5(path, h5py, lambda f: _write_layers(f, self))
            return
        Checkpoint(model=self).write(path)
        if is_writer():
            directory = os.path.dirname(path) or "."
            _saver._update_state(directory, path, [path], [], 0.0, None, True)

    def load_weights(self, filepath, skip_mismatch=False, by_name=False, options=None):
        path = os.fspath(filepath)
        if path.endswith(".keras") or (path.endswith(".weights.h5")
                                       and not _is_legacy_h5(path)):
            return keras_format.load_weights(self, path)
        if _is_hdf5(path, None):
            h5py = _h5py(path)
            with h5py.File(path, "r") as f:
                _read_layers(f["model_weights"] if "model_weights" in f else f, self)
            return None
        return Checkpoint(model=self).read(path)

    def save(self, filepath, overwrite=True, save_format=None, **kwargs):
        path = os.fspath(filepath)
        if path.endswith(".keras"):  # Keras 3's zip of config and weights (keras_format.py)
            return keras_format.save_model(self, path, overwrite)
        if not _is_hdf5(path, save_format):
            raise ValueError("distflow saves whole models as .keras (Keras 3's format) or .h5 "
                             "(weights in Keras 2's layout, without the architecture), got %r; "
                             "save_weights(path) writes a checkpoint" % (path,))
        h5py = _h5py(path)
        if is_writer():
            def write(f):
                f.attrs["keras_version"] = "distflow"
                f.attrs["backend"] = "distflow"
                _write_layers(f.create_group("model_weights"), self)
            _atomic_h5(path, h5py, write)


def _is_legacy_h5(path):
    """A .weights.h5 in Keras 2's layout (the root names its layers) rather than Keras 3's."""
    h5py = _h5py(path)
    with h5py.File(path, "r") as f:
        return "layer_names" in f.attrs or "model_weights" in f


def _is_hdf5(path, save_format):
    if save_format is not None and str(save_format).lower() in ("h5", "hdf5", "keras"):
        return True
    return path.endswith(_H5)


def _h5py(path):
    try:
        import h5py
    except ImportError:
        raise ImportError(_NO_H5PY % path) from None
    return h5py


def _atomic_h5(path, h5py, fill):
    """Writes the HDF5 file beside `path` and renames it into place (readers never see a part)."""
    import tempfile
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path),
                               suffix=".tmp")
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            fill(f)
        from distflow.train.saver import new_file_mode
        os.chmod(tmp, new_file_mode())  # mkstemp's 0600 would make the weights private
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _layers_with_weights(model):
    model.variables  # noqa: B018  (builds a model whose input shape is known)
    return [layer for layer in model.layers if list(getattr(layer, "variables", []))]


def _write_layers(group, model):
    layers = _layers_with_weights(model)
    group.attrs["layer_names"] = np.array([layer.name.encode() for layer in layers])
    group.attrs["backend"] = "distflow"
    group.attrs["keras_version"] = "distflow"
    for layer in layers:
        g = group.create_group(layer.name)
        names = [v.name for v in layer.variables]
        g.attrs["weight_names"] = np.array([n.encode() for n in names])
        for name, value in zip(names, _variables.read_values(list(layer.variables))):
            g.create_dataset(name, data=value)


def _read_layers(group, model):
    """Keras's legacy rule: the file's layers with weights, in order, onto the model's."""
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs["layer_names"]]
    stored = [g for g in (group[n] for n in names) if len(g.attrs["weight_names"])]
    layers = _layers_with_weights(model)
    targets, arrays = [], []
    if len(stored) != len(layers):
        raise ValueError("Layer count mismatch when loading weights from file. Model expected "
                         "%d layers, found %d saved layers." % (len(layers), len(stored)))
    for layer, g in zip(layers, stored):
        values = [np.asarray(g[n]) for n in g.attrs["weight_names"]]
        variables = list(layer.variables)
        if len(values) != len(variables) or any(
                tuple(a.shape) != tuple(v.shape.as_list()) for a, v in zip(values, variables)):
            raise ValueError("Layer %r expects weights of shapes %s, the file has %s"
                             % (layer.name, [tuple(v.shape.as_list()) for v in variables],
                                [a.shape for a in values]))
        targets += variables
        arrays += values
    _variables.write_values(targets, arrays)  # every layer checked before any changes
