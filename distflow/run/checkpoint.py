"""Checkpoints: NumPy arrays in an .npz plus JSON metadata, written atomically, never unpickled.

A checkpoint holds every variable (model weights, optimizer slots and step counters) by name, the
training position (epoch, step), the data standardization and anything else JSON-able the trainer
passes as `meta`. Rank 0 writes; every rank reads the same file, so a run may resume on a different
number of ranks.
"""
import glob
import json
import os
import re

import numpy as np

from distflow.train.saver import atomic_write

_PATTERN = re.compile(r"ckpt-(\d+)\.npz$")


def save(directory, step, arrays, meta, keep=3):
    """Writes `ckpt-<step>.npz` atomically (temporary file, then rename); keeps the last `keep`."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "ckpt-%08d.npz" % step)
    payload = {"__meta__": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    for name, value in arrays.items():
        payload["var:" + name] = np.asarray(value)
    atomic_write(path, lambda f: np.savez(f, **payload))
    for old in all_checkpoints(directory)[:-keep]:
        os.unlink(old)
    return path


def all_checkpoints(directory):
    found = [p for p in glob.glob(os.path.join(directory, "ckpt-*.npz")) if _PATTERN.search(p)]
    return sorted(found, key=lambda p: int(_PATTERN.search(p).group(1)))


def latest(directory):
    found = all_checkpoints(directory)
    return found[-1] if found else None


def load(path):
    """(arrays by variable name, meta dict). Refuses pickled objects."""
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(bytes(f["__meta__"]).decode())
        arrays = {k[4:]: f[k] for k in f.files if k.startswith("var:")}
    return arrays, meta
