"""A stand-in for CuPy on machines without a GPU, strict where CuPy is strict.

It lets the GPU code paths (placement of host values, feeds moved to the device, fetches brought
back, eager device scopes) run on the CPU. "Device" arrays are NumPy arrays of a subclass whose
module name starts with 'cupy', so distflow's backend takes them for CuPy arrays; like CuPy, the
simulated module and the device arrays' operators refuse plain NumPy arrays as operands (CuPy
raises TypeError for them: a kernel cannot read host memory), and `float()` or `.get()` are the
only ways back to the host. It is an approximation: it cannot find a CuPy function that behaves
differently from NumPy's, only host/device mix-ups. The real check is tests/gpu on a GPU.
"""
import contextlib
import types

import numpy as np


class SimArray(np.ndarray):
    """A simulated device array."""

    def get(self, stream=None, order="C", out=None, blocking=True):
        host = np.array(self.view(np.ndarray), copy=True)
        if out is not None:
            out[...] = host
            return out
        return host

    def set(self, arr, stream=None):
        self.view(np.ndarray)[...] = arr

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        args = [_unwrap(a, ufunc.__name__) for a in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(_unwrap(o, ufunc.__name__) for o in kwargs["out"])
        result = getattr(ufunc, method)(*args, **kwargs)
        return _wrap(result)

    def __array_function__(self, func, types_, args, kwargs):
        args = _unwrap_nested(args, func.__name__)
        kwargs = {k: _unwrap_nested(v, func.__name__) for k, v in kwargs.items()}
        return _wrap(func(*args, **kwargs))


SimArray.__module__ = "cupy_simulated"


def _unwrap(a, what):
    # 0-d host arrays pass: NumPy turns its scalars into them before a ufunc sees them
    if type(a) is np.ndarray and a.ndim:
        raise TypeError("Unsupported type <class 'numpy.ndarray'> in %s (simulated CuPy: a "
                        "host array used as a device operand)" % what)
    if isinstance(a, SimArray):
        return a.view(np.ndarray)
    return a


def _unwrap_nested(a, what):
    if isinstance(a, (list, tuple)):
        return type(a)(_unwrap_nested(x, what) for x in a)
    return _unwrap(a, what)


def _wrap(result):
    if isinstance(result, tuple):
        return tuple(_wrap(r) for r in result)
    if isinstance(result, list):
        return [_wrap(r) for r in result]
    if type(result) is np.ndarray:
        return result.view(SimArray)
    if isinstance(result, np.generic):  # CuPy reductions give 0-d device arrays
        return np.asarray(result).view(SimArray)
    return result


def _to_device(a, dtype=None, copy=False):
    if isinstance(a, SimArray):
        out = a.view(np.ndarray)
    else:
        out = np.asarray(a)
    out = np.array(out, dtype=dtype, copy=True) if copy or dtype is not None else out.copy()
    return out.view(SimArray)


class _Device:
    def __init__(self, index=0):
        self.id = index
        self.pci_bus_id = "0000:00:%02d.0" % index

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def use(self):
        pass

    def synchronize(self):
        pass


def make_module():
    """A module object that stands in for `cupy`."""
    def _wrapped(name):
        f = getattr(np, name)
        if isinstance(f, (type, np.ufunc)) or not callable(f):
            return f  # a ufunc checks its operands in SimArray.__array_ufunc__

        def call(*args, **kwargs):
            args = _unwrap_nested(args, name)
            kwargs = {k: _unwrap_nested(v, name) for k, v in kwargs.items()}
            return _wrap(f(*args, **kwargs))
        call.__name__ = name
        return call

    class _Proxy(types.ModuleType):
        def __getattr__(self, name):
            value = _wrapped(name)
            setattr(self, name, value)
            return value

    mod = _Proxy("cupy_simulated")
    mod.__version__ = "simulated"
    mod.ndarray = SimArray
    mod.asarray = lambda a, dtype=None: _to_device(a, dtype)
    mod.array = lambda a, dtype=None, copy=True: _to_device(a, dtype, copy=True)
    mod.ascontiguousarray = lambda a, dtype=None: _to_device(a, dtype)
    # cupy.lib.stride_tricks.as_strided(x, shape, strides): a device view of x's memory
    mod.lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace(
        as_strided=lambda x, shape=None, strides=None: _wrap(np.lib.stride_tricks.as_strided(
            _unwrap(x, "as_strided"), shape, strides))))
    cuda = types.SimpleNamespace()
    cuda.Device = _Device
    cuda.runtime = types.SimpleNamespace(getDeviceCount=lambda: 1, getDevice=lambda: 0)
    cuda.get_current_stream = lambda: types.SimpleNamespace(ptr=0, synchronize=lambda: None)
    mod.cuda = cuda
    return mod


@contextlib.contextmanager
def simulated_gpu():
    """distflow's backend uses the simulated CuPy while the context is entered."""
    from distflow import backend
    from distflow.backend import gpu
    saved = backend._cupy, gpu.empty_pinned, gpu.nccl_version
    backend._cupy = make_module()
    gpu.empty_pinned = lambda shape, dtype: np.empty(shape, dtype)  # pinned: only faster
    # an old NCCL: every simulated rank has GPU 0, which NCCL 2.18 refuses to share, so a job
    # of several ranks goes host-staged (the simulation has no NCCL to run)
    gpu.nccl_version = lambda: 21805
    try:
        yield backend._cupy
    finally:
        backend._cupy, gpu.empty_pinned, gpu.nccl_version = saved


if __name__ == "__main__":  # `python simulated_cupy.py ARGS`: `distflow ARGS` on a simulated GPU
    import sys
    from distflow import cli
    with simulated_gpu():
        code = cli.main(sys.argv[1:])
    sys.exit(code)
