"""GPUs through CuPy: device names, where arrays live, and the one rule for mixing host and device.

Nothing here imports CuPy at module load: every function that needs it calls `backend.cupy()`,
so CPU users never pay for it (and never need it installed).

Device names follow TensorFlow's spellings, case-insensitively: 'cpu', 'gpu', 'gpu:1', '/gpu:1',
'GPU:0', '/device:GPU:0', '/job:localhost/replica:0/task:0/device:GPU:0'. A plain 'gpu' means
the current CUDA device (the one the runtime pinned this rank to).

Where values live on a GPU (TensorFlow's rule, kept here for the same reason):
  * every floating, bool and 64-bit integer value lives on the device;
  * int32 values that describe shapes (the outputs of Shape, Size, Rank; graph constants such as
    the shape of a Reshape) stay on the host as NumPy arrays: a kernel reads them as Python ints,
    and keeping them on the host saves a device-to-host copy (and a stream synchronization) per
    use, which would also make a step impossible to capture into a CUDA graph;
  * an op whose inputs all live on the host runs on the host with NumPy (it is shape arithmetic);
    an op with any input on the device runs there, and its host inputs follow it (`device_args`),
    except the shape arguments it reads on the host (its OpDef's `host_inputs`).
"""
import re

import numpy as np

from distflow import backend

_NAME = re.compile(r"^(cpu|gpu|cuda)(?::(\d+))?$")


def parse_device(name):
    """('cpu', None) or ('gpu', index or None) for a device name; ValueError when unknown."""
    if name is None:
        return "cpu", None
    text = str(name).strip().lower()
    if "device:" in text:  # a full TF name: the part after the last 'device:'
        text = text.rsplit("device:", 1)[1]
    text = text.strip("/")
    m = _NAME.match(text)
    if m is None:
        raise ValueError("Unknown device %r: use 'cpu', 'gpu' or 'gpu:N' (TF spellings such as "
                         "'/GPU:0' and '/device:GPU:0' work too)" % (name,))
    kind = "cpu" if m.group(1) == "cpu" else "gpu"
    index = int(m.group(2)) if m.group(2) is not None and kind == "gpu" else None
    return kind, index


def is_gpu_name(name):
    return parse_device(name)[0] == "gpu"


# -- devices and streams ---------------------------------------------------------------------------
def device_count():
    return backend.cupy().cuda.runtime.getDeviceCount()


def current_device_index():
    return backend.cupy().cuda.runtime.getDevice()


def use_device(index):
    """Makes GPU `index` this process's current device (Horovod's 'pin a GPU per rank')."""
    backend.cupy().cuda.Device(int(index)).use()


def device_context(name):
    """A context manager that makes `name`'s GPU current while it is entered (a CuPy Device,
    which restores the previous device on exit); None for the CPU or a plain 'gpu'."""
    kind, index = parse_device(name)
    if kind == "cpu" or index is None:
        return None
    return backend.cupy().cuda.Device(index)


def current_stream():
    """The stream CuPy launches kernels on now: kernels and collectives are queued on it in
    program order, so an all-reduce placed on it waits for the gradients without a host sync."""
    return backend.cupy().cuda.get_current_stream()


def synchronize():
    """Waits until every kernel queued on the current device has finished (timing, tests)."""
    backend.cupy().cuda.Device().synchronize()


def nccl_module():
    """CuPy's NCCL module (cupy.cuda.nccl; its `available` is False without libnccl)."""
    import warnings
    backend.cupy()
    with warnings.catch_warnings():  # CuPy warns when libnccl is missing: callers say it better
        warnings.simplefilter("ignore")
        from cupy.cuda import nccl
    return nccl


def nccl_version():
    """NCCL's runtime version as CuPy reports it (21805 for 2.18.5); None without CuPy or NCCL."""
    try:
        return nccl_module().get_version()
    except Exception:  # no CuPy, no libnccl, or a CuPy without get_version
        return None


def empty_pinned(shape, dtype):
    """A NumPy array in page-locked host memory: copies to and from the GPU run at full speed."""
    backend.cupy()
    import cupyx
    return cupyx.empty_pinned(shape, dtype=dtype)


# -- moving arrays -----------------------------------------------------------------------------
def to_device(a):
    """`a` as a CuPy array on the current device (no copy when it is one already)."""
    if backend.is_cupy_array(a):
        return a
    return backend.cupy().asarray(a)


def stays_on_host(a):
    """True for the host values a GPU op leaves on the host: int32 shapes, axes and sizes."""
    return a.dtype == np.int32


def place_constant(xp, value):
    """A graph constant's value for a plan that runs on `xp`: moved to the device once, when
    the plan is compiled, unless it is an int32 (shape) value (see the module doc)."""
    if xp is np or type(value) is not np.ndarray or stays_on_host(value):
        return value
    return xp.asarray(value)


class HostValueInCapture(RuntimeError):
    """A host value had to move to the GPU while a CUDA graph was being captured."""


# True while client/cuda_graph.py captures a run: a copy from host memory then would be replayed
# from a host buffer long gone, so moving a value is refused and the capture is abandoned.
capturing = False


def for_device(xp, a, on_host=False):
    """One input of an op that runs on the device. CuPy refuses NumPy arrays as operands, so
    host values move there, except an int32 shape argument (`on_host`), which stays, and a 0-d
    int32, which becomes a NumPy scalar (CuPy passes those to its kernels as arguments)."""
    if type(a) is not np.ndarray:
        return a  # a device array, a NumPy scalar or a Python value
    if stays_on_host(a):
        if a.ndim == 0:
            return a[()]
        if on_host:
            return a
    if capturing:
        raise HostValueInCapture("a host value of shape %s (%s) would move to the GPU inside "
                                 "the step" % (a.shape, a.dtype))
    return xp.asarray(a)


def device_args(xp, arrays, host_inputs=()):
    """The inputs of an op when it runs on the device. `host_inputs` (its OpDef's field) are the
    indices (-1: the last) of the inputs it reads on the host as Python ints (TF's HostMemory:
    shapes, permutations, paddings, slice bounds): an int32 host value there stays on the host;
    anywhere else it is data and follows the op to the device."""
    host = host_inputs
    if not host:
        return [for_device(xp, a) for a in arrays]
    n = len(arrays)
    host = {i % n for i in host} if n else ()
    return [for_device(xp, a, i in host) for i, a in enumerate(arrays)]


def on_device(arrays):
    """True when any of `arrays` is a CuPy array."""
    for a in arrays:
        if type(a) is not np.ndarray and backend.is_cupy_array(a):
            return True
    return False


def device_kernel(forward, xp, attrs, host_inputs=()):
    """A plan kernel for a GPU plan: runs `forward` on the device when any input is there (its
    host inputs follow), else on the host with NumPy (shape arithmetic stays on the host)."""
    def run(*arrays):
        if arrays and not on_device(arrays):
            return forward(np, *arrays, **attrs)
        return forward(xp, *device_args(xp, arrays, host_inputs), **attrs)
    return run


def with_device_args(fn, xp):
    """`fn` (a variable update) called with its host arguments moved to the device."""
    def run(*arrays):
        return fn(*device_args(xp, arrays))
    return run
