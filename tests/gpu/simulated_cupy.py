"""A stand-in for CuPy on machines without a GPU, strict where CuPy is strict.

It lets the GPU code paths (placement of host values, feeds moved to the device, fetches brought
back, eager device scopes) run on the CPU. "Device" arrays are NumPy arrays of a subclass whose
module name starts with 'cupy', so distflow's backend takes them for CuPy arrays; like CuPy, the
simulated module and the device arrays' operators refuse plain NumPy arrays as operands (CuPy
raises TypeError for them: a kernel cannot read host memory), and `float()` or `.get()` are the
only ways back to the host. It is an approximation: it cannot find a CuPy function that behaves
differently from NumPy's, only host/device mix-ups. The real check is tests/gpu on a GPU.

Where the real CuPy package imports (CI installs cupy-cuda12x; it imports without a GPU), the
stand-in is also held to its API: a name real CuPy lacks (cupy.errstate, ndarray.resize) raises
AttributeError, and a call that real CuPy's signature refuses (a NumPy-only keyword such as
`where=`, a ufunc's `order=`) raises TypeError, as CuPy would, before NumPy runs it. What it
cannot catch: NumPy's own functions given a device array (`np.asarray(device_array)` works here,
CuPy refuses it), since SimArray is a NumPy array underneath.
"""
import contextlib
import functools
import types

import numpy as np

from cupy_reference import check_call, real_cupy

REAL = real_cupy()  # None without CuPy: then only host/device mix-ups are refused


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
    def __init__(self, device=None):  # CuPy's Device(device=None): None is the current one
        index = 0 if device is None else getattr(device, "id", device)
        self.id = int(index)
        self.pci_bus_id = "0000:00:%02d.0" % self.id

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def use(self):
        pass

    def synchronize(self):
        pass


def _strict_call(f, real_obj, what):
    """`f` refusing, as CuPy does, a call that CuPy's `real_obj` does not take."""
    if real_obj is None:
        return f

    @functools.wraps(f)
    def call(*args, **kwargs):
        check_call(real_obj, args, kwargs, what)
        return f(*args, **kwargs)
    return call


class _Ufunc:
    """A NumPy ufunc that takes what CuPy's ufunc of the same name takes (out, dtype, casting;
    not where, order or subok) and offers only CuPy's methods (at, reduce, outer, ...)."""

    def __init__(self, ufunc, real):
        self._ufunc, self._real = ufunc, real
        self.__name__ = ufunc.__name__

    def __call__(self, *args, **kwargs):
        check_call(self._real, args, kwargs, "cupy.%s" % self.__name__)
        return self._ufunc(*args, **kwargs)

    def __getattr__(self, name):
        if not hasattr(self._real, name):
            raise AttributeError("CuPy's ufunc %s has no attribute %r (simulated CuPy)"
                                 % (self.__name__, name))
        value = getattr(self._ufunc, name)
        real = getattr(self._real, name)
        return _strict_call(value, real, "cupy.%s.%s" % (self.__name__, name)) \
            if callable(value) else value


class _Proxy(types.ModuleType):
    """A CuPy module (cupy, cupy.linalg, ...) made of NumPy's functions, each refusing host
    operands and, where real CuPy is installed, what real CuPy would refuse."""

    def __init__(self, name, numpy_module, real_module):
        super().__init__(name)
        self._np, self._real = numpy_module, real_module

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if self._real is not None and not hasattr(self._real, name):
            raise AttributeError("module %r has no attribute %r (simulated CuPy: real CuPy %s "
                                 "has no such name)" % (self._real.__name__, name,
                                                        REAL.__version__))
        value = self._wrapped(name)
        setattr(self, name, value)
        return value

    def _wrapped(self, name):
        f = getattr(self._np, name)
        real = getattr(self._real, name, None)
        what = "%s.%s" % (getattr(self._real, "__name__", "cupy"), name)
        if isinstance(f, types.ModuleType):
            return _Proxy(what, f, real)
        if isinstance(f, np.ufunc):  # a ufunc checks its operands in SimArray.__array_ufunc__
            return f if real is None else _Ufunc(f, real)
        if isinstance(f, type) or not callable(f):
            return f

        def call(*args, **kwargs):
            if real is not None:
                check_call(real, args, kwargs, what)
            args = _unwrap_nested(args, name)
            kwargs = {k: _unwrap_nested(v, name) for k, v in kwargs.items()}
            return _wrap(f(*args, **kwargs))
        call.__name__ = name
        return call


def _strict_method(name):
    method, real = getattr(np.ndarray, name), getattr(REAL.ndarray, name)

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        check_call(real, args, kwargs, "cupy.ndarray.%s" % name)
        return method(self, *args, **kwargs)
    return call


def _hold_arrays_to_cupy():
    """SimArray without the NumPy array attributes cupy.ndarray lacks, and its methods taking
    only what cupy.ndarray's take."""
    def missing(name):
        def refuse(self):
            raise AttributeError("'cupy.ndarray' object has no attribute %r (simulated CuPy)"
                                 % name)
        return property(refuse)

    for name in dir(np.ndarray):
        if name.startswith("_") or name in SimArray.__dict__:
            continue
        if not hasattr(REAL.ndarray, name):
            setattr(SimArray, name, missing(name))
        elif callable(getattr(np.ndarray, name)) and not isinstance(getattr(np.ndarray, name),
                                                                    type):
            setattr(SimArray, name, _strict_method(name))
    SimArray.__index__ = None  # cupy.ndarray has none: range(a) or lst[a] raise TypeError


if REAL is not None:
    _hold_arrays_to_cupy()
    # SimArray.get and set are the stand-in's own: the API audit compares them with CuPy's


def make_module():
    """A module object that stands in for `cupy`."""
    mod = _Proxy("cupy_simulated", np, REAL)
    mod.__version__ = "simulated"
    mod.ndarray = SimArray
    mod.asarray = lambda a, dtype=None: _to_device(a, dtype)
    mod.array = lambda obj, dtype=None, copy=True: _to_device(obj, dtype, copy=True)
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
