"""Keras's dataset cache, as keras.utils.get_file lays it out, and the one download path.

A file is looked for at <cache>/<subdir>/<name>, where <cache> is $KERAS_HOME or ~/.keras (or
/tmp/.keras when that is not writable, as Keras falls back). A file found there is used as it is
(a copy made by Keras, or one put there by hand). A missing file is downloaded from Keras's
address with a progress bar on rank 0, checked against Keras's published sha256, and moved into
place atomically, so a reader (another rank) never sees a part. Without a network the error says
where to put the file.
"""
import hashlib
import os
import sys
import time

from distflow.train.saver import atomic_write

_CHUNK = 1 << 16


def cache_dir():
    """$KERAS_HOME, else ~/.keras; /tmp/.keras when that cannot be written (Keras's rule)."""
    base = _home()
    if os.path.exists(base):
        writable = os.access(base, os.W_OK)
    else:
        writable = os.access(os.path.dirname(os.path.abspath(base)), os.W_OK)
    return base if writable else os.path.join("/tmp", ".keras")


def _home():
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def cache_dirs():
    """Where a cached file is looked for: Keras's home (even when read-only), then the
    writable fallback."""
    return list(dict.fromkeys([_home(), cache_dir()]))


def get_file(fname, origin, file_hash, cache_subdir="datasets"):
    """The path of `fname` in Keras's cache (an absolute `fname` is used as it is), downloaded
    from `origin` and checked against `file_hash` (sha256) when it is not there yet."""
    name = os.path.expanduser(str(fname))
    for base in cache_dirs():
        path = os.path.join(base, cache_subdir, name)
        if os.path.exists(path):
            return path
    path = os.path.join(cache_dir(), cache_subdir, name)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    _download(origin, path, file_hash)
    return path


def _download(origin, path, file_hash):
    import urllib.error
    import urllib.request
    chief = _is_chief()
    if chief:
        print("Downloading data from %s" % origin, file=sys.stderr)
    digest = hashlib.sha256()

    def write(f):
        with urllib.request.urlopen(origin, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0)
            done, start = 0, time.perf_counter()
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                f.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if chief:
                    _progress(done, total, time.perf_counter() - start)
        if chief:
            print(file=sys.stderr)
        if digest.hexdigest() != file_hash:
            raise ValueError("The file downloaded from %s has sha256 %s, not Keras's %s: the "
                             "transfer was corrupted or the file changed. Nothing was written to "
                             "%s; try again, or put a good copy there."
                             % (origin, digest.hexdigest(), file_hash, path))
    try:
        atomic_write(path, write)
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise OSError("Could not download %s (%s). Without a network, put the file at %s (Keras's "
                      "cache: KERAS_HOME=<dir> reads <dir>/datasets instead) and run again."
                      % (origin, reason, path)) from None


def _progress(done, total, seconds):
    if total:
        filled = int(30 * done / total)
        line = "\r%d/%d [%s%s] %.0fs" % (done, total, "=" * filled, "." * (30 - filled), seconds)
    else:
        line = "\r%d bytes %.0fs" % (done, seconds)
    sys.stderr.write(line)
    sys.stderr.flush()


def _is_chief():
    runtime = sys.modules.get("distflow.distribute.runtime")
    context = getattr(runtime, "_context", None)
    return context is None or context.rank == 0
