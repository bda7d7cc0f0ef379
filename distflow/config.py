"""`tf.config`: the devices distflow sees, and running df.functions eagerly for debugging.

The device list is the CPU and, with CuPy and a CUDA device, each GPU (`/physical_device:GPU:0`,
...). Memory growth and visible-device settings are accepted and kept: CuPy's memory pool
already grows as needed, and a process picks its GPU with `df.device` or Session(device=...).
"""
import collections

PhysicalDevice = collections.namedtuple("PhysicalDevice", ["name", "device_type"])
LogicalDevice = collections.namedtuple("LogicalDevice", ["name", "device_type"])

_state = {"eager_functions": False, "memory_growth": {}, "visible": None}


def _gpu_count():
    from distflow import backend
    if not backend.gpu_available():
        return 0
    return backend.cupy().cuda.runtime.getDeviceCount()


def list_physical_devices(device_type=None):
    devices = [PhysicalDevice("/physical_device:CPU:0", "CPU")] + [
        PhysicalDevice("/physical_device:GPU:%d" % i, "GPU") for i in range(_gpu_count())]
    return [d for d in devices if device_type is None or d.device_type == device_type.upper()]


def list_logical_devices(device_type=None):
    return [LogicalDevice(d.name.replace("/physical_device:", "/device:"), d.device_type)
            for d in list_physical_devices(device_type)]


def get_visible_devices(device_type=None):
    visible = _state["visible"]
    devices = list_physical_devices(device_type)
    return devices if visible is None else [d for d in devices if d in visible]


def set_visible_devices(devices, device_type=None):
    _state["visible"] = list(devices) if isinstance(devices, (list, tuple)) else [devices]


def run_functions_eagerly(run_eagerly):
    """With True, every df.function runs its Python function eagerly (for debugging)."""
    _state["eager_functions"] = bool(run_eagerly)


def functions_run_eagerly():
    return _state["eager_functions"]


def _set_memory_growth(device, enable):
    _state["memory_growth"][device] = bool(enable)


def _get_memory_growth(device):
    return _state["memory_growth"].get(device, False)


class experimental:  # noqa: N801  (TF's namespace name)
    set_memory_growth = staticmethod(_set_memory_growth)
    get_memory_growth = staticmethod(_get_memory_growth)
    list_physical_devices = staticmethod(list_physical_devices)
    set_visible_devices = staticmethod(set_visible_devices)
    get_visible_devices = staticmethod(get_visible_devices)
