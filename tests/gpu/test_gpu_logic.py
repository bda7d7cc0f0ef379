"""The GPU support's decisions, checked without a GPU: device names, which communicator a GPU job
gets and why, which plans may be captured into a CUDA graph, and where host values go."""
import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf
import distflow.distribute as dd
from distflow.backend import gpu
from distflow.client.cuda_graph import capture_refusal
from distflow.distribute.runtime import choose_gpu_communicator
from distflow.ops.registry import REGISTRY


@pytest.mark.parametrize("name, expected", [
    ("cpu", ("cpu", None)), ("/cpu:0", ("cpu", None)), ("gpu", ("gpu", None)),
    ("gpu:1", ("gpu", 1)), ("/GPU:0", ("gpu", 0)), ("/device:GPU:2", ("gpu", 2)),
    ("/job:localhost/replica:0/task:0/device:GPU:3", ("gpu", 3)), ("cuda:1", ("gpu", 1)),
    (None, ("cpu", None))])
def test_device_names_in_every_tf_spelling(name, expected):
    assert gpu.parse_device(name) == expected


def test_an_unknown_device_says_what_is_allowed():
    with pytest.raises(ValueError, match="Unknown device 'tpu:0': use 'cpu', 'gpu' or 'gpu:N'"):
        gpu.parse_device("tpu:0")
    with pytest.raises(ValueError, match="Unknown device"):
        tf.Session(device="npu")


def test_cpu_scopes_change_nothing():
    with df.device("/cpu:0"):
        x = df.constant([1.0, 2.0]) * 2.0
    assert type(x._value) is np.ndarray and x.device == "cpu"


# -- where host values go in an op on the device -------------------------------------------------
class _FakeXP:
    """Stands in for CuPy: records what it was asked to move."""

    def __init__(self):
        self.moved = []

    def asarray(self, a):
        self.moved.append(a)
        return ("device", a.tolist())


def test_host_values_follow_a_device_op_except_int32_shapes():
    xp = _FakeXP()
    x, shape = np.ones((2, 3), np.float32), np.array([3, -1], np.int32)
    args = gpu.device_args(xp, [x, shape], REGISTRY["Reshape"].host_inputs)
    assert args[0][0] == "device" and args[1] is shape  # Reshape reads its shape on the host
    indices, axis = np.array([1, 0], np.int32), np.array(1, np.int32)
    args = gpu.device_args(xp, [indices, axis, np.array(0.5, np.float32), 2.0],
                           REGISTRY["GatherV2"].host_inputs)
    assert args[0] == ("device", [1, 0])         # int32 data follows the op
    assert type(args[1]) is np.int32 and args[1] == 1  # a 0-d int32: a NumPy scalar
    assert args[2] == ("device", 0.5)           # a float moves
    assert args[3] == 2.0                        # Python values pass as they are
    rate = np.array(0.5, np.float32)
    assert gpu.place_constant(np, rate) is rate  # a CPU plan places nothing
    assert gpu.place_constant(xp, shape) is shape and gpu.place_constant(xp, rate)[0] == "device"


# -- which communicator a GPU job gets ------------------------------------------------------------
SHARED = [("node1", "0000:01:00.0", [0, 1])]


@pytest.mark.parametrize("wanted, size, version, shared, kind, why", [
    ("auto", 1, 21805, [], "single", "one rank"),
    (None, 4, 21805, [], "nccl", "one GPU per rank and NCCL 2.18.5"),
    ("auto", 2, None, [], "host-staged", "CuPy has no NCCL here"),
    ("auto", 2, 21805, SHARED, "host-staged", "ranks share a GPU (ranks 0, 1 on GPU "
                                               "0000:01:00.0 of node1), which NCCL 2.18.5"),
    ("mpi", 2, 21805, [], "host-staged", "staged through host memory"),
    ("host-staged", 1, 21805, [], "host-staged", "asked for"),
    ("nccl", 1, 21805, [], "nccl", "asked for in the configuration (NCCL 2.18.5)"),
])
def test_the_gpu_communicator_and_its_reason(wanted, size, version, shared, kind, why):
    got, reason = choose_gpu_communicator(wanted, size, version, shared, env={})
    assert got == kind
    assert why in reason


def test_new_nccl_with_its_flag_may_share_a_gpu():
    kind, _ = choose_gpu_communicator("auto", 2, 23001, SHARED,
                                      env={"NCCL_MULTI_RANK_GPU_ENABLE": "1"})
    assert kind == "nccl"


def test_asking_for_nccl_where_it_cannot_work_says_what_to_do():
    with pytest.raises(RuntimeError, match="cannot load NCCL.*'host-staged'"):
        choose_gpu_communicator("nccl", 2, None, [], env={})
    with pytest.raises(dd.SharedGPUError, match="communicator='host-staged'"):
        choose_gpu_communicator("nccl", 2, 21805, SHARED, env={})


# -- which plans may become CUDA graphs --------------------------------------------------------
class _Comm:
    def __init__(self, name, size, capturable=False):
        self.name, self.size, self.capturable = name, size, capturable
        self.rank = 0

    def check_same(self, *args):
        pass

    def unchecked_allreduce(self, buf, op, name=None):
        pass


def _training_plan(communicator=None, dropout_op=False):
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        w = tf.Variable(tf.ones([3, 1]))
        h = tf.matmul(x, w)
        if dropout_op:
            h = h * tf.random_uniform([1])
        loss = tf.reduce_mean(tf.square(h))
        opt = tf.train.AdamOptimizer(0.1)
        grads = [gr for gr, _ in opt.compute_gradients(loss, [w])]
        if communicator is not None:
            grads = dd.allreduce(grads, communicator=communicator)
        train = opt.apply_gradients(zip(grads, [w]))
        s = tf.Session(graph=g)
        s.run(tf.global_variables_initializer())
        plan = s._prepare([train, loss], {x: None})[0]
    return plan


def test_a_training_step_with_in_place_updates_may_be_captured():
    assert capture_refusal(_training_plan()) is None
    assert capture_refusal(_training_plan(_Comm("single", 1))) is None
    assert capture_refusal(_training_plan(_Comm("nccl", 2, capturable=True))) is None


def test_steps_with_host_work_are_not_captured_and_say_why():
    reason = capture_refusal(_training_plan(_Comm("host-staged", 2)))
    assert "goes through the host-staged communicator, which uses host memory" in reason
    reason = capture_refusal(_training_plan(dropout_op=True))
    assert "(RandomUniform) runs host code in each step" in reason


def test_make_callable_refuses_a_cuda_graph_on_the_cpu():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [2])
        with tf.Session(graph=g) as s:
            with pytest.raises(ValueError, match="cuda_graph=True needs a Session on a GPU"):
                s.make_callable(x * 2.0, [x], cuda_graph=True)


def test_no_host_value_moves_to_the_gpu_while_a_cuda_graph_is_captured(monkeypatch):
    xp = _FakeXP()
    monkeypatch.setattr(gpu, "capturing", True)
    shape = np.array([3, -1], np.int32)
    on_device = object()  # stands for a device array: passed as it is
    assert gpu.device_args(xp, [on_device, shape], REGISTRY["Reshape"].host_inputs) == [on_device, shape]
    with pytest.raises(gpu.HostValueInCapture, match=r"shape \(2,\) \(float32\) would move"):
        gpu.device_args(xp, [np.ones(2, np.float32)])
    assert xp.moved == []


def test_without_the_driver_library_no_gpu_is_found_and_cupy_is_not_imported(monkeypatch):
    import ctypes
    import sys
    from distflow import backend
    imported = []
    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setattr(backend, "cupy", lambda: imported.append(1))
    monkeypatch.setattr(sys, "platform", "linux")

    def no_driver(name, *args, **kwargs):
        raise OSError("%s: cannot open shared object file" % name)
    monkeypatch.setattr(ctypes, "CDLL", no_driver)
    assert backend.gpu_available() is False and imported == []  # CuPy installed or not
