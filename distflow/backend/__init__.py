"""Array modules per device: NumPy for the CPU, CuPy for GPUs. The only place that imports cupy.

Kernels are written against an array module `xp`; `get_array_module` picks it from the arrays
themselves (Chainer's idea), without importing CuPy unless a CuPy array is present.
"""
import contextlib
import sys
import threading

import numpy

_cupy = None


def cupy():
    """The cupy module, imported on first use; ImportError with advice when it is missing."""
    global _cupy
    if _cupy is None:
        try:
            import cupy as cp
        except ImportError as e:
            raise ImportError("GPU support needs CuPy: pip install -e '.[gpu]' (CuPy wheels for "
                              "your CUDA version). Original error: %s" % e) from e
        _cupy = cp
    return _cupy


def is_cupy_array(a):
    return type(a).__module__.startswith("cupy")


def get_array_module(*arrays):
    for a in arrays:
        if type(a) is not numpy.ndarray and is_cupy_array(a):  # NumPy arrays: no string test
            return cupy()
    return numpy


def to_numpy(a):
    if is_cupy_array(a):
        return a.get()
    return a


def xp_for_device(device):
    """`cpu` gives numpy; `gpu` or `gpu:N` (or a TF spelling such as '/GPU:0') gives cupy."""
    if device is None or device == "cpu":
        return numpy
    from distflow.backend import gpu
    return cupy() if gpu.is_gpu_name(device) else numpy


def _no_driver():
    """True when the NVIDIA driver's library cannot load (Linux): CuPy then finds no device
    either, and importing it to learn that (about 0.3 s) is skipped. False when unsure."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    try:
        ctypes.CDLL("libcuda.so.1")  # what the CUDA runtime loads, on the same search path
    except OSError:
        return True
    return False


def gpu_available():
    if _cupy is None and _no_driver():
        return False
    try:
        cp = cupy()
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no CuPy, no driver or no device: all mean "no GPU here"
        return False


# -- the eager device scope ----------------------------------------------------------------------
class _Scope(threading.local):
    """The stack of devices entered with `device(...)`, per thread (as TF's device scopes)."""

    def __init__(self):
        self.stack = []
        self.gpu = False  # whether the innermost scope is a GPU: read on every new eager value


_scope = _Scope()


@contextlib.contextmanager
def device(name):
    """Eager values made inside (constants, variables, random numbers) live on device `name`.

    Ops follow their inputs: an op with an input on a GPU runs there. A GPU scope makes that
    GPU current while it is entered. Graphs ignore it: a Session's `device` places a graph.
    """
    from distflow.backend import gpu
    kind, _ = gpu.parse_device(name)
    if kind == "gpu":
        cupy()  # ImportError with install advice now, not at the first value
        if not gpu_available():
            raise RuntimeError("device(%r): CuPy finds no usable CUDA device here" % (name,))
    ctx = gpu.device_context(name) if kind == "gpu" else None
    _scope.stack.append(kind)
    _scope.gpu = kind == "gpu"
    try:
        if ctx is None:
            yield
        else:
            with ctx:
                yield
    finally:
        _scope.stack.pop()
        _scope.gpu = bool(_scope.stack) and _scope.stack[-1] == "gpu"


def eager_device():
    """'gpu' or 'cpu': where eager values made now live."""
    return "gpu" if _scope.gpu else "cpu"


def eager_xp():
    """The array module of the eager device scope (numpy outside any GPU scope)."""
    return cupy() if _scope.gpu else numpy


def place_eager(arr):
    """A new eager value (a NumPy array) on the scope's device: unchanged on the CPU; on a GPU,
    moved there unless it is an int32 (shape) value, which stays on the host as in TF."""
    if not _scope.gpu or arr.dtype == numpy.int32:
        return arr
    return cupy().asarray(arr)
