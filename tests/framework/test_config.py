"""tf.config: the CPU always, GPUs from CuPy, and the settings Horovod's and TF's examples make
at start (visible devices, memory growth, thread counts)."""
import pytest

import distflow as tf
from distflow import config


@pytest.fixture
def two_gpus(monkeypatch):
    """A machine with two GPUs as CuPy would report it (use_device recorded, not called)."""
    used = []
    monkeypatch.setattr(config._gpu, "device_count", lambda: 2)
    monkeypatch.setattr(config._gpu, "use_device", used.append)
    monkeypatch.setitem(config._state, "visible_gpus", None)
    monkeypatch.setitem(config._state, "memory_growth", {})
    return used


def test_cpu_is_always_listed():
    cpus = tf.config.list_physical_devices("CPU")
    assert cpus == [tf.config.PhysicalDevice("/physical_device:CPU:0", "CPU")]
    assert cpus[0].device_type == "CPU"
    assert tf.config.experimental.list_physical_devices("CPU") == cpus
    assert tf.config.list_logical_devices("CPU")[0].name == "/device:CPU:0"


def test_no_gpus_without_cupy_or_devices(monkeypatch):
    def missing():
        raise ImportError("GPU support needs CuPy")
    monkeypatch.setattr(config._gpu, "device_count", missing)
    assert tf.config.list_physical_devices("GPU") == []
    assert [d.device_type for d in tf.config.list_physical_devices()] == ["CPU"]


def test_horovod_pinning_makes_one_gpu_visible_and_current(two_gpus):
    gpus = tf.config.experimental.list_physical_devices("GPU")
    assert [g.name for g in gpus] == ["/physical_device:GPU:0", "/physical_device:GPU:1"]
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, True)
    assert tf.config.experimental.get_memory_growth(gpus[1]) is True
    tf.config.experimental.set_visible_devices(gpus[1], "GPU")
    assert two_gpus == [1]
    assert tf.config.get_visible_devices("GPU") == [gpus[1]]
    assert [d.name for d in tf.config.list_logical_devices("GPU")] == ["/device:GPU:0"]
    tf.config.set_visible_devices([], "GPU")
    assert tf.config.list_logical_devices("GPU") == []
    assert tf.config.list_logical_devices()[0].device_type == "CPU"


def test_bad_settings_are_refused_clearly(two_gpus):
    cpu = tf.config.list_physical_devices("CPU")[0]
    with pytest.raises(ValueError, match="non-GPU devices"):
        tf.config.experimental.set_memory_growth(cpu, True)
    with pytest.raises(ValueError, match="CPU cannot be hidden"):
        tf.config.set_visible_devices([], "CPU")
    with pytest.raises(ValueError, match="Unrecognized device"):
        tf.config.set_visible_devices([tf.config.PhysicalDevice("/physical_device:GPU:7", "GPU")],
                                      "GPU")
    with pytest.raises(ValueError, match="must be >= 0"):
        tf.config.threading.set_intra_op_parallelism_threads(-1)


def test_thread_counts_are_remembered():
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(2)
    assert tf.config.threading.get_intra_op_parallelism_threads() == 1
    assert tf.config.threading.get_inter_op_parallelism_threads() == 2
    tf.config.threading.set_intra_op_parallelism_threads(0)
