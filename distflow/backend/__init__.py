"""Array modules per device: NumPy for the CPU, CuPy for GPUs. The only place that imports cupy.

Kernels are written against an array module `xp`; `get_array_module` picks it from the arrays
themselves (Chainer's idea), without importing CuPy unless a CuPy array is present.
"""
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
        if is_cupy_array(a):
            return cupy()
    return numpy


def to_numpy(a):
    if is_cupy_array(a):
        return a.get()
    return a


def xp_for_device(device):
    """`cpu` gives numpy; `gpu` or `gpu:N` gives cupy."""
    if device is None or device == "cpu" or str(device).startswith("cpu"):
        return numpy
    return cupy()


def gpu_available():
    try:
        cp = cupy()
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no CuPy, no driver or no device: all mean "no GPU here"
        return False
