"""`tf.config`: the devices this process sees, and the few settings TF programs make at start.

    gpus = tf.config.list_physical_devices("GPU")        # from CuPy; [] without CuPy or GPUs
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, True)
    if gpus:
        tf.config.set_visible_devices(gpus[hvd.local_rank()], "GPU")   # Horovod's pinning

The CPU is always there. GPUs are CuPy's (so CUDA_VISIBLE_DEVICES applies). Making one GPU the
only visible one makes it CuPy's current device, where `with tf.device("gpu")` and a rank of a
GPU job (dd.init(device="gpu")) compute; hiding all GPUs leaves the CPU. Memory growth is what
CuPy's memory pool does anyway (it grows on demand), so set_memory_growth is checked and
remembered. Thread counts apply to NumPy's BLAS through threadpoolctl when it is installed;
without it they are remembered only (set OMP_NUM_THREADS before starting Python instead).
"""
import collections
import types

from distflow.backend import gpu as _gpu

__all__ = ["PhysicalDevice", "LogicalDevice", "list_physical_devices", "list_logical_devices",
           "get_visible_devices", "set_visible_devices", "experimental", "threading",
           "get_logical_device_configuration", "set_logical_device_configuration",
           "run_functions_eagerly", "functions_run_eagerly"]

PhysicalDevice = collections.namedtuple("PhysicalDevice", ["name", "device_type"])
LogicalDevice = collections.namedtuple("LogicalDevice", ["name", "device_type"])

_state = {"visible_gpus": None, "memory_growth": {}, "intra": 0, "inter": 0,
          "logical": {}, "eager_functions": False}


def _gpu_count():
    try:
        return int(_gpu.device_count())
    except Exception:  # no CuPy, no driver, no device: a CPU-only machine  # noqa: BLE001
        return 0


def list_physical_devices(device_type=None):
    """[PhysicalDevice('/physical_device:CPU:0', 'CPU'), ...GPUs]; device_type filters."""
    devices = [PhysicalDevice("/physical_device:CPU:0", "CPU")]
    devices += [PhysicalDevice("/physical_device:GPU:%d" % i, "GPU") for i in range(_gpu_count())]
    return _filter(devices, device_type)


def _filter(devices, device_type):
    if device_type is None:
        return devices
    return [d for d in devices if d.device_type == str(device_type).upper()]


def get_visible_devices(device_type=None):
    devices = list_physical_devices()
    visible = _state["visible_gpus"]
    if visible is not None:
        devices = [d for d in devices if d.device_type != "GPU" or d.name in visible]
    return _filter(devices, device_type)


def set_visible_devices(devices, device_type=None):
    """Makes only `devices` (a PhysicalDevice or a list) visible among those of `device_type`.
    The CPU cannot be hidden. One visible GPU becomes CuPy's current device."""
    if isinstance(devices, PhysicalDevice):
        devices = [devices]
    devices = list(devices or [])
    known = {d.name: d for d in list_physical_devices()}
    for d in devices:
        if not isinstance(d, PhysicalDevice) or d.name not in known:
            raise ValueError("Unrecognized device: %r (expected one of "
                             "tf.config.list_physical_devices())" % (d,))
    kind = str(device_type).upper() if device_type is not None else None
    if kind not in (None, "GPU", "CPU"):
        raise ValueError("Unrecognized device type %r: expected 'CPU' or 'GPU'" % (device_type,))
    if kind in ("CPU", None) and not any(d.device_type == "CPU" for d in devices):
        raise ValueError("The CPU cannot be hidden: pass it among the visible devices, or "
                         "device_type='GPU' to choose GPUs only")
    gpus = [d.name for d in devices if d.device_type == "GPU"]
    if kind in (None, "GPU"):
        _state["visible_gpus"] = gpus
        if len(gpus) == 1:
            _gpu.use_device(int(gpus[0].rsplit(":", 1)[1]))


def list_logical_devices(device_type=None):
    """The visible devices as the runtime names them: '/device:CPU:0', '/device:GPU:0', ...
    (GPUs numbered among the visible ones, as TF does)."""
    devices = [LogicalDevice("/device:CPU:0", "CPU")]
    visible = [d for d in get_visible_devices("GPU")]
    devices += [LogicalDevice("/device:GPU:%d" % i, "GPU") for i in range(len(visible))]
    return _filter(devices, device_type)


def set_memory_growth(device, enable):
    if not isinstance(device, PhysicalDevice) or device.device_type != "GPU":
        raise ValueError("Cannot set memory growth on non-GPU devices: %r" % (device,))
    if device.name not in {d.name for d in list_physical_devices("GPU")}:
        raise ValueError("Unrecognized device: %r" % (device,))
    _state["memory_growth"][device.name] = bool(enable)


def get_memory_growth(device):
    if not isinstance(device, PhysicalDevice) or device.device_type != "GPU":
        raise ValueError("Cannot get memory growth on non-GPU devices: %r" % (device,))
    return _state["memory_growth"].get(device.name, False)


def set_logical_device_configuration(device, logical_devices):
    """Accepted for one logical device per physical one (distflow runs one device per process);
    more is refused."""
    if logical_devices is not None and len(logical_devices) > 1:
        raise ValueError("distflow runs one device per process: splitting %s into %d logical "
                         "devices is not supported (start one process per device with mpirun)"
                         % (device.name, len(logical_devices)))
    _state["logical"][device.name] = list(logical_devices or [])


def get_logical_device_configuration(device):
    return _state["logical"].get(device.name)


class LogicalDeviceConfiguration:
    def __init__(self, memory_limit=None, experimental_priority=None,
                 experimental_device_ordinal=None):
        self.memory_limit = memory_limit


VirtualDeviceConfiguration = LogicalDeviceConfiguration


def _set_threads(kind, n):
    n = int(n)
    if n < 0:
        raise ValueError("The number of threads must be >= 0 (0: the system picks), got %d" % n)
    _state[kind] = n
    if kind == "intra" and n > 0:
        try:
            import threadpoolctl
        except ImportError:
            return
        threadpoolctl.threadpool_limits(n)


threading = types.SimpleNamespace(
    set_intra_op_parallelism_threads=lambda num_threads: _set_threads("intra", num_threads),
    get_intra_op_parallelism_threads=lambda: _state["intra"],
    set_inter_op_parallelism_threads=lambda num_threads: _set_threads("inter", num_threads),
    get_inter_op_parallelism_threads=lambda: _state["inter"])

experimental = types.SimpleNamespace(
    list_physical_devices=list_physical_devices, list_logical_devices=list_logical_devices,
    get_visible_devices=get_visible_devices, set_visible_devices=set_visible_devices,
    set_memory_growth=set_memory_growth, get_memory_growth=get_memory_growth,
    set_virtual_device_configuration=set_logical_device_configuration,
    get_virtual_device_configuration=get_logical_device_configuration,
    VirtualDeviceConfiguration=VirtualDeviceConfiguration)


def run_functions_eagerly(run_eagerly):
    """With True, every df.function runs its Python function eagerly (for debugging)."""
    _state["eager_functions"] = bool(run_eagerly)


def functions_run_eagerly():
    return _state["eager_functions"]
