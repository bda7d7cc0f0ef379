"""The GPU code paths on a simulated CuPy (simulated_cupy.py), so that a machine without a GPU
still checks that host and device values meet correctly: every op-table case run on a "GPU"
Session and eagerly in a "GPU" scope equals the CPU result, a training step's state stays on
the device, and fetches come back as NumPy arrays."""
import json
import os

import numpy as np
import pytest

import distflow as df
from distflow import backend
from mpi_launch import assert_ok, launches_mpi, run_mpi
from simulated_cupy import SimArray, simulated_gpu
from test_gpu_ops import CASES, _eager, _graph_grads, _graph_values, _same

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def sim():
    with simulated_gpu() as mod:
        yield mod


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_graph_forward_and_gradients_on_the_simulated_gpu(sim, case):
    for known in (True, False):
        want = _graph_values(case, "cpu", known)
        got = _graph_values(case, "gpu", known)
        for i, (g, w) in enumerate(zip(got, want)):
            assert not isinstance(g, SimArray), "%s: fetched a device array" % case.name
            _same(g, w, case, "graph output %d" % i)
    if case.grad:
        for i, (g, w) in enumerate(zip(_graph_grads(case, "gpu"), _graph_grads(case, "cpu"))):
            assert (g is None) == (w is None)
            if g is not None:
                _same(g, w, case, "gradient of input %d" % i)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_eager_in_a_simulated_gpu_scope(sim, case):
    want_outs, want_grads = _eager(case)
    with df.device("gpu"):
        outs, grads = _eager(case)
    uses_device = any(np.asarray(a).dtype != np.int32 for a in case.inputs)
    for i, (g, w) in enumerate(zip(outs, want_outs)):
        if uses_device and g.dtype != df.int32:
            assert isinstance(g._value, SimArray), "%s: output %d left the device" % (case.name, i)
        _same(g.numpy(), w.numpy(), case, "eager output %d" % i)
    for i, (g, w) in enumerate(zip(grads, want_grads)):
        assert (g is None) == (w is None)
        if g is not None:
            _same(g.numpy(), w.numpy(), case, "tape gradient %d" % i)


def test_a_training_session_keeps_its_state_on_the_simulated_gpu(sim):
    from test_gpu_session import _mlp_training
    want_losses, want_vars, _ = _mlp_training("cpu")
    losses, values, storage = _mlp_training("gpu")
    assert isinstance(storage, SimArray)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-6)
    for g, w in zip(values, want_vars):
        assert type(g) is np.ndarray
        np.testing.assert_allclose(g, w, rtol=1e-6)


def test_eager_values_in_a_simulated_gpu_scope(sim):
    with df.device("gpu"):
        f, i = df.constant([1.0, 2.0]), df.constant([1, 2])
        r = df.random.normal([3], seed=1)
        v = df.Variable([1.0, 2.0])
        v.assign_add(f)
    assert backend.is_cupy_array(f._value) and backend.is_cupy_array(r._value)
    assert backend.is_cupy_array(v.read_array()) and type(i._value) is np.ndarray
    np.testing.assert_array_equal(v.numpy(), [2.0, 4.0])


def test_the_simulation_refuses_host_operands_like_cupy(sim):
    with pytest.raises(TypeError, match="Unsupported type"):
        sim.add(sim.asarray([1.0]), np.array([1.0]))


def test_distflow_train_on_the_simulated_gpu_equals_the_cpu_run(sim, tmp_path):
    import distflow.distribute as dd
    from test_gpu_training import _train
    cpu = _train(tmp_path, "cpu", "cpu", "train.epochs=2")
    gpu = _train(tmp_path, "gpu", "gpu", "train.epochs=2", "cuda_graphs=false")
    assert gpu["devices"] == ["gpu:0"]
    for key in ("test_rmse", "test_mae", "train_rmse"):
        assert gpu[key] == pytest.approx(cpu[key], rel=1e-9), key  # NumPy underneath: the same
    dd.shutdown()


def test_the_host_staged_contract_on_one_simulated_rank(sim):
    import distflow.distribute as dd
    from distflow.distribute.host_staged import HostStagedCommunicator
    comm = HostStagedCommunicator(dd.SingleCommunicator())
    buf = sim.asarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert comm.allreduce(buf, "sum") is buf and isinstance(buf, SimArray)
    np.testing.assert_array_equal(buf.get(), np.arange(6).reshape(2, 3))
    comm.broadcast(buf, root=0)
    rows = comm.allgather(sim.asarray(np.array([4, 5], np.int64)))
    assert isinstance(rows, SimArray) and rows.get().tolist() == [[4, 5]]


@launches_mpi
def test_two_simulated_gpu_ranks_train_as_one_process(tmp_path):
    """The multi-rank GPU path on real MPI: device binding, the communicator chosen for ranks that
    share a GPU (host-staged, said on stdout), staged all-reduces and broadcasts, N = 1."""
    from test_gpu_training import BOSTON, QUIET, _train
    one = _train(tmp_path, "one", "cpu", "train.epochs=2")
    out = tmp_path / "two"
    args = [os.path.join(HERE, "simulated_cupy.py"), "train", BOSTON, "--device", "gpu",
            "--output", str(out), "--no-progress"] + \
        [a for o in QUIET + ["train.epochs=2"] for a in ("--set", o)]
    proc = run_mpi(2, args, timeout=240)
    assert_ok(proc)
    assert "2 ranks on GPUs, host-staged communicator: ranks share a GPU" in proc.stdout
    with open(out / "summary.json") as f:
        two = json.load(f)
    assert two["devices"] == ["gpu:0", "gpu:0"]
    for key in ("test_rmse", "test_mae", "train_rmse"):
        assert two[key] == pytest.approx(one[key], rel=1e-5), key
