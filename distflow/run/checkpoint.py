"""Checkpoints: NumPy arrays in an .npz plus JSON metadata, written atomically, never unpickled.

A checkpoint holds every variable (model weights, optimizer slots and step counters) by name, the
training position (epoch, step), the data standardization and anything else JSON-able the trainer
passes as `meta`. Rank 0 writes; every rank reads the same file, so a run may resume on a different
number of ranks.

Each checkpoint carries a SHA-256 of its own contents (every entry's name, dtype, shape and
bytes), checked on every load: a file cut short by a full disk, zeroed by a crash of the file
system or damaged later is found before its numbers are used, and readers fall back to the
newest checkpoint that is whole (`newest_valid`). Files get the permissions the user's umask
gives new files, as any other file the run writes.
"""
import glob
import hashlib
import json
import os
import re

import numpy as np

from distflow.train.saver import atomic_write

_PATTERN = re.compile(r"ckpt-(\d+)\.npz$")
# What atomic writes leave behind when a process dies between creating and renaming them.
_TEMPORARY = re.compile(r"^\.ckpt-\d+\.npz\..*\.tmp$")
_CHECKSUM = "__sha256__"
_META = "__meta__"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, incomplete, or not what it says it is."""


def save(directory, step, arrays, meta, keep=3):
    """Writes `ckpt-<step>.npz` atomically (temporary file, then rename); keeps the last `keep`."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "ckpt-%08d.npz" % step)
    payload = {_META: np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    for name, value in arrays.items():
        payload["var:" + name] = np.asarray(value)
    payload[_CHECKSUM] = np.frombuffer(_digest(payload).encode(), dtype=np.uint8)
    atomic_write(path, lambda f: np.savez(f, **payload))
    for old in all_checkpoints(directory)[:-keep]:
        os.unlink(old)
    return path


def _digest(entries):
    h = hashlib.sha256()
    for key in sorted(k for k in entries if k != _CHECKSUM):
        a = np.ascontiguousarray(entries[key])
        h.update(("%s|%s|%s\n" % (key, a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def remove_temporaries(directory):
    """Deletes the partial files of checkpoint writes that never finished (the writer was
    killed); returns their paths. Only for a directory no live process writes to."""
    removed = []
    if os.path.isdir(directory):
        for name in sorted(os.listdir(directory)):
            if _TEMPORARY.match(name):
                os.unlink(os.path.join(directory, name))
                removed.append(os.path.join(directory, name))
    return removed


def all_checkpoints(directory):
    found = [p for p in glob.glob(os.path.join(directory, "ckpt-*.npz")) if _PATTERN.search(p)]
    return sorted(found, key=lambda p: int(_PATTERN.search(p).group(1)))


def latest(directory):
    found = all_checkpoints(directory)
    return found[-1] if found else None


def load(path):
    """(arrays by variable name, meta dict), after checking the checksum. Refuses pickled
    objects. CheckpointError says what is wrong with a file that cannot be used."""
    try:
        if os.path.getsize(path) == 0:
            raise CheckpointError("the file is empty (0 bytes)")
        with np.load(path, allow_pickle=False) as f:
            entries = {k: f[k] for k in f.files}
    except CheckpointError:
        raise
    except OSError as e:
        raise CheckpointError("cannot be read: %s" % (e.strerror or e)) from None
    except Exception as e:  # noqa: BLE001 (zipfile, NumPy and EOF errors of a damaged file)
        raise CheckpointError("not a complete .npz file (%s: %s)"
                              % (type(e).__name__, e)) from None
    if _META not in entries:
        raise CheckpointError("no distflow metadata in it")
    if _CHECKSUM in entries:
        expected = bytes(entries[_CHECKSUM]).decode("ascii", "replace")
        if _digest(entries) != expected:
            raise CheckpointError("its contents do not match the checksum written inside it")
    elif json_meta(entries).get("format", 1) >= 2:
        raise CheckpointError("the checksum written inside it is missing")
    meta = json_meta(entries)
    arrays = {k[4:]: v for k, v in entries.items() if k.startswith("var:")}
    return arrays, meta


def json_meta(entries):
    try:
        meta = json.loads(bytes(entries[_META]).decode())
    except (UnicodeDecodeError, ValueError):
        raise CheckpointError("its metadata is not JSON") from None
    if not isinstance(meta, dict):
        raise CheckpointError("its metadata is not a JSON object")
    return meta


def newest_valid(directory):
    """(path, arrays, meta, skipped) of the newest checkpoint in `directory` that loads and
    matches its checksum; skipped lists (path, reason) of the newer ones that did not. (None,
    None, None, []) when there is no checkpoint; CheckpointError listing every checkpoint and
    why when none is usable."""
    skipped = []
    for path in reversed(all_checkpoints(directory)):
        try:
            arrays, meta = load(path)
        except CheckpointError as e:
            skipped.append((path, str(e)))
            continue
        return path, arrays, meta, skipped
    if skipped:
        raise CheckpointError("no usable checkpoint in %s: %s" % (directory, "; ".join(
            "%s: %s" % (os.path.basename(p), why) for p, why in skipped)))
    return None, None, None, []


def skipped_text(skipped, used):
    """Lines that say which newer checkpoints were passed over for `used`, and why."""
    return ["skipped %s: %s; using %s instead" % (p, why, os.path.basename(used))
            for p, why in skipped]
