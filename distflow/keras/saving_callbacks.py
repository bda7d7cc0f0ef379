"""The Keras callbacks that write files: ModelCheckpoint, CSVLogger and TensorBoard.

In a job of several ranks (a tf.distribute strategy, Horovod, any mpirun job) only rank 0
writes; every rank still follows the same logic (the logs are
the same on every rank under a strategy), so decisions such as save_best_only agree.
"""
import csv
import os

import numpy as np

from distflow.keras.callbacks import Callback, is_chief
from distflow.train.checkpoint import is_writer

__all__ = ["ModelCheckpoint", "CSVLogger", "TensorBoard"]


class ModelCheckpoint(Callback):
    """Saves the model (or its weights) at the end of every epoch, or every `save_freq` batches.

    filepath may hold Keras's template fields: "ckpt-{epoch:02d}-{val_loss:.2f}.h5" (epoch
    counts from 1, the other names are the logs'). `.h5` writes HDF5 (needs h5py); otherwise
    save_weights_only=True writes a distflow checkpoint at that prefix. Whole models are saved
    as `.h5` only (keras/saving.py)."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch", options=None,
                 initial_value_threshold=None, **kwargs):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor, self.verbose = monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        if save_freq != "epoch" and (not isinstance(save_freq, int) or save_freq <= 0):
            raise ValueError("Unrecognized save_freq: %r. Expected save_freq are 'epoch' or "
                             "integer values" % (save_freq,))
        self.save_freq = save_freq
        if mode not in ("auto", "min", "max"):
            mode = "auto"
        if mode == "auto":
            mode = "max" if ("acc" in monitor or monitor.startswith("fmeasure")) else "min"
        self.mode = mode
        self.best = initial_value_threshold if initial_value_threshold is not None else (
            -np.inf if mode == "max" else np.inf)
        self._batches, self._epoch = 0, 0
        if save_freq != "epoch":  # a batch hook only then: it makes every step report its loss
            self.on_train_batch_end = self._batch_end
        if not save_weights_only and not self.filepath.endswith((".h5", ".hdf5", ".keras")):
            raise ValueError("The filepath provided must end in `.keras` (Keras model format) "
                             "or `.h5` when save_weights_only=False. Received: filepath=%s"
                             % self.filepath)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def _batch_end(self, batch, logs=None):
        self._batches += 1
        if self._batches % self.save_freq == 0:
            self._save(self._epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _save(self, epoch, batch, logs):
        logs = dict(logs or {})
        path = self._path(epoch, batch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                import warnings
                warnings.warn("Can save best model only with %s available, skipping."
                              % self.monitor, stacklevel=2)
                return
            better = current > self.best if self.mode == "max" else current < self.best
            if not better:
                if self.verbose and is_chief():
                    print("\nEpoch %d: %s did not improve from %.5f"
                          % (epoch + 1, self.monitor, self.best))
                return
            if self.verbose and is_chief():
                print("\nEpoch %d: %s improved from %.5f to %.5f, saving model to %s"
                      % (epoch + 1, self.monitor, self.best, current, path))
            self.best = current
        elif self.verbose and is_chief():
            print("\nEpoch %d: saving model to %s" % (epoch + 1, path))
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)

    def _path(self, epoch, batch, logs):
        try:
            fields = dict(logs)
            fields["epoch"] = epoch + 1
            if batch is not None:
                fields["batch"] = batch + 1
            return self.filepath.format(**fields)
        except KeyError as e:
            raise KeyError("Failed to format this callback filepath: \"%s\". Reason: %r"
                           % (self.filepath, e)) from None


class CSVLogger(Callback):
    """One CSV row per epoch: "epoch" then the logs in sorted order (Keras's columns)."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep, self.append = separator, append
        self._file = self._writer = self._keys = None

    def on_train_begin(self, logs=None):
        if not is_writer():
            return
        exists = self.append and os.path.exists(self.filename) \
            and os.path.getsize(self.filename) > 0
        self._header_written = exists
        self._file = open(self.filename, "a" if self.append else "w", newline="")

    def on_epoch_end(self, epoch, logs=None):
        if self._file is None:
            return
        logs = dict(logs or {})
        if self._keys is None:
            self._keys = sorted(logs)
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self._keys,
                                          delimiter=self.sep)
            if not self._header_written:
                self._writer.writeheader()
        row = {"epoch": epoch}
        row.update((k, logs.get(k, "NA")) for k in self._keys)
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
        self._file = self._writer = self._keys = None


class TensorBoard(Callback):
    """Epoch logs as TensorBoard scalars: log_dir/train gets "epoch_loss", "epoch_<metric>";
    log_dir/validation the same names for the "val_" logs (Keras's layout)."""

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None, **kwargs):
        super().__init__()
        self.log_dir = os.fspath(log_dir)
        self._writers = {}

    def _writer(self, kind):
        if kind not in self._writers:
            from distflow import summary  # loaded on first use, as distflow does
            self._writers[kind] = summary.create_file_writer(os.path.join(self.log_dir, kind))
        return self._writers[kind]

    def on_epoch_end(self, epoch, logs=None):
        if not is_writer():
            return
        from distflow import summary
        for kind, items in (("train", [(k, v) for k, v in (logs or {}).items()
                                       if not k.startswith("val_")]),
                            ("validation", [(k[4:], v) for k, v in (logs or {}).items()
                                            if k.startswith("val_")])):
            if not items:
                continue
            writer = self._writer(kind)
            with writer.as_default():
                for name, value in items:
                    summary.scalar("epoch_" + name, float(value), step=epoch)
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
