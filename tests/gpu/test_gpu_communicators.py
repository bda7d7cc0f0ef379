"""The communicator contract on GPU buffers, for `nccl` and `host-staged`.

In-process (one rank) each GPU communicator is built over the single communicator. The launch
tests at the end run this file again under `mpirun -n N` (plain pytest on every rank, no
pytest-mpi needed): NCCL with one rank per GPU, host-staged with two ranks sharing the one GPU.
DISTFLOW_TEST_COMMUNICATOR names the communicator the ranks test.

Expected values are NumPy formulas over what every rank contributes (rank r contributes
(r + 1) * base), the same for any number of ranks.
"""
import os
import re

import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf
import distflow.distribute as dd
from distflow import backend
from distflow.distribute.runtime import launched_by_mpi
from mpi_launch import assert_ok, launches_mpi, run_mpi

pytestmark = pytest.mark.gpu

UNDER_MPI = launched_by_mpi()
KINDS = ("nccl", "host-staged")
ENV = "DISTFLOW_TEST_COMMUNICATOR"


def _make(kind):
    if UNDER_MPI:
        return dd.init(device="gpu", communicator=kind).communicator
    if kind == "nccl":
        from distflow.distribute.nccl import NCCLCommunicator
        return NCCLCommunicator(dd.SingleCommunicator())
    from distflow.distribute.host_staged import HostStagedCommunicator
    return HostStagedCommunicator(dd.SingleCommunicator())


@pytest.fixture(scope="module", params=[os.environ.get(ENV, "nccl")] if UNDER_MPI else KINDS)
def comm(request):
    c = _make(request.param)
    yield c
    if not UNDER_MPI:
        c.close()


def base(shape, dtype):
    return (np.arange(int(np.prod(shape))).reshape(shape) % 7 + 1).astype(dtype)


def test_the_communicator_is_the_one_asked_for(comm):
    if UNDER_MPI:
        assert comm.name == os.environ.get(ENV, "nccl")
    assert comm.name in KINDS and 0 <= comm.rank < comm.size


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.int64])
def test_allreduce_sum_in_place_on_the_device(comm, cp, dtype):
    if dtype == np.float16 and comm.name != "nccl":
        pytest.skip("MPI has no float16 type: host-staged reduces float16 only through NCCL")
    buf = cp.asarray(base((5, 3), dtype) * (comm.rank + 1))
    assert comm.allreduce(buf, "sum") is buf
    assert backend.is_cupy_array(buf) and buf.dtype == dtype
    np.testing.assert_array_equal(buf.get(), base((5, 3), dtype) * (comm.size * (comm.size + 1)
                                                                    // 2))


def test_allreduce_follows_the_kernels_that_computed_the_buffer(comm, cp):
    # no synchronization between computing and reducing: the stream orders them
    x = cp.arange(1 << 20, dtype=cp.float32)
    buf = cp.sin(x) * 0 + (comm.rank + 1)
    comm.allreduce(buf, "sum")
    assert float(buf.min()) == float(buf.max()) == comm.size * (comm.size + 1) / 2


def test_allreduce_mean_max_min(comm, cp):
    buf = cp.asarray(base((7,), np.float64) * (comm.rank + 1))
    comm.allreduce(buf, "mean")
    np.testing.assert_allclose(buf.get(), base((7,), np.float64) * (comm.size + 1) / 2.0,
                               rtol=1e-12)
    hi = cp.asarray(base((6,), np.float32) + comm.rank)
    lo = cp.asarray(base((6,), np.float32) - comm.rank)
    comm.allreduce(hi, "max")
    comm.allreduce(lo, "min")
    np.testing.assert_array_equal(hi.get(), base((6,), np.float32) + comm.size - 1)
    np.testing.assert_array_equal(lo.get(), base((6,), np.float32) - (comm.size - 1))


def test_empty_scalar_and_complex_buffers(comm, cp):
    comm.allreduce(cp.zeros((0,), cp.float32), "sum")
    scalar = cp.asarray(2.5 * (comm.rank + 1))
    comm.allreduce(scalar, "sum")
    assert float(scalar) == 2.5 * comm.size * (comm.size + 1) / 2
    z = cp.asarray(np.array([1 + 2j, 3 - 1j], np.complex64) * (comm.rank + 1))
    comm.allreduce(z, "sum")
    np.testing.assert_allclose(z.get(), np.array([1 + 2j, 3 - 1j]) * comm.size * (comm.size + 1)
                               / 2)


def test_host_buffers_still_work(comm):
    buf = base((4,), np.float64) * (comm.rank + 1)
    comm.allreduce(buf, "sum")
    np.testing.assert_array_equal(buf, base((4,), np.float64) * comm.size * (comm.size + 1) / 2)
    rows = comm.allgather(np.array([comm.rank], np.int64))
    assert type(rows) is np.ndarray and rows.ravel().tolist() == list(range(comm.size))


@pytest.mark.parametrize("root", [0, -1])
def test_broadcast_from_each_root(comm, cp, root):
    root = root % comm.size
    buf = cp.full((2, 3), float(comm.rank), cp.float64)
    assert comm.broadcast(buf, root=root) is buf
    np.testing.assert_array_equal(buf.get(), np.full((2, 3), float(root)))
    flags = cp.asarray(np.array([comm.rank == root, True]))  # bool buffers travel as bytes
    comm.broadcast(flags, root=root)
    assert flags.get().tolist() == [True, True]


def test_allgather_on_the_device(comm, cp):
    mine = cp.asarray(np.array([comm.rank, 10 * comm.rank + 1], np.int64))
    rows = comm.allgather(mine)
    assert backend.is_cupy_array(rows) and rows.shape == (comm.size, 2)
    np.testing.assert_array_equal(rows.get(), [[r, 10 * r + 1] for r in range(comm.size)])


def test_objects_barrier_and_layout_checks(comm):
    assert comm.allgather_object(comm.rank) == list(range(comm.size))
    assert comm.broadcast_object("from %d" % comm.rank, root=0) == "from 0"
    comm.barrier()
    comm.check_same("a test collective", [("w:0", "(3, 4) float32")])


def test_the_fused_allreduce_op_reduces_gpu_tensors(comm):
    with df.device("gpu"):
        a = df.constant(np.ones((3, 2), np.float32) * (comm.rank + 1))
        b = df.constant(np.arange(4, dtype=np.float32))
        ra, rb = dd.allreduce([a, b], communicator=comm)
    assert backend.is_cupy_array(ra._value)
    total = comm.size * (comm.size + 1) / 2
    np.testing.assert_array_equal(ra.numpy(), np.full((3, 2), total))
    np.testing.assert_array_equal(rb.numpy(), np.arange(4) * comm.size)


def test_broadcast_variables_of_a_gpu_session(comm):
    g = tf.Graph()
    with g.as_default():
        v = tf.Variable(tf.fill([3], float(comm.rank + 5)))
        with tf.Session(graph=g, device="gpu") as s:
            s.run(v.initializer)
            dd.broadcast_variables(s, communicator=comm)
            np.testing.assert_array_equal(s.run(v), [5.0, 5.0, 5.0])
            assert backend.is_cupy_array(s.variable_cell(v.op).read_array())
            dd.variables_checksum(s, communicator=comm)


# -- launched from the suite ---------------------------------------------------------------------
def _launch(ranks, kind):
    proc = run_mpi(ranks, ["-m", "pytest", "-q", "-p", "no:cacheprovider", __file__],
                   timeout=300, env={ENV: kind})
    assert_ok(proc)
    summaries = re.findall(r"(\d+) passed(?:, (\d+) skipped)?", proc.stdout)
    assert len(summaries) == ranks, proc.stdout  # every rank ran its tests and passed
    return proc


@launches_mpi
def test_nccl_contract_with_one_rank_under_mpirun():
    _launch(1, "nccl")


@launches_mpi
def test_host_staged_contract_with_two_ranks_on_one_gpu():
    proc = _launch(2, "host-staged")
    assert "failed" not in proc.stdout
