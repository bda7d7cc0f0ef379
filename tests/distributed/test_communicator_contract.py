"""One contract, every communicator: the same cases run in-process on `single` and, launched by
the last tests here, on `mpi` under `mpirun -n 2` and `-n 3` (pytest-mpi's --with-mpi).

Expected values come from NumPy formulas over what every rank contributes (rank r contributes
(r + 1) * base, ...), so the cases are the same for any number of ranks.
"""
import os
import re

import numpy as np
import pytest

import distflow.distribute as dd
from distflow.distribute.runtime import launched_by_mpi
from mpi_launch import assert_ok, launches_mpi, run_pytest_under_mpi

UNDER_MPI = launched_by_mpi()


@pytest.fixture(scope="module")
def comm():
    if UNDER_MPI:
        return dd.init().communicator
    return dd.SingleCommunicator()


def base(shape, dtype):
    return (np.arange(int(np.prod(shape))).reshape(shape) % 7 + 1).astype(dtype)


def test_communicator_kind(comm):
    assert comm.name == ("mpi" if UNDER_MPI else "single")
    assert 0 <= comm.rank < comm.size


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
def test_allreduce_sum_in_place(comm, dtype):
    buf = base((5, 3), dtype) * (comm.rank + 1)
    out = comm.allreduce(buf, "sum")
    assert out is buf
    np.testing.assert_array_equal(buf, base((5, 3), dtype) * (comm.size * (comm.size + 1) // 2))
    assert buf.dtype == dtype


def test_allreduce_mean(comm):
    buf = base((7,), np.float64) * (comm.rank + 1)
    comm.allreduce(buf, "mean")
    np.testing.assert_allclose(buf, base((7,), np.float64) * (comm.size + 1) / 2.0, rtol=1e-12)


def test_allreduce_max_and_min(comm):
    hi = base((6,), np.float32) + comm.rank
    lo = base((6,), np.float32) - comm.rank
    comm.allreduce(hi, "max")
    comm.allreduce(lo, "min")
    np.testing.assert_array_equal(hi, base((6,), np.float32) + comm.size - 1)
    np.testing.assert_array_equal(lo, base((6,), np.float32) - (comm.size - 1))


def test_allreduce_of_an_empty_and_a_scalar_buffer(comm):
    empty = np.zeros((0,), np.float32)
    comm.allreduce(empty, "sum")
    scalar = np.array(2.5 * (comm.rank + 1))
    comm.allreduce(scalar, "sum")
    assert float(scalar) == 2.5 * comm.size * (comm.size + 1) / 2


def test_allreduce_rejects_bad_calls(comm):
    with pytest.raises(ValueError, match="Unknown reduction 'prod'"):
        comm.allreduce(np.ones(3), "prod")
    with pytest.raises(TypeError, match="floating buffer"):
        comm.allreduce(np.ones(3, np.int32), "mean")
    with pytest.raises(ValueError, match="C-contiguous"):
        comm.allreduce(np.ones((4, 4))[:, 1], "sum")
    with pytest.raises(TypeError, match="in place"):
        comm.allreduce([1.0, 2.0], "sum")


@pytest.mark.parametrize("root", [0, -1])
def test_broadcast_from_each_root(comm, root):
    root = root % comm.size  # -1: the last rank
    buf = np.full((2, 3), float(comm.rank), np.float64)
    assert comm.broadcast(buf, root=root) is buf
    np.testing.assert_array_equal(buf, np.full((2, 3), float(root)))


def test_broadcast_rejects_a_root_outside_the_job(comm):
    with pytest.raises(ValueError, match="root must be a rank"):
        comm.broadcast(np.zeros(2), root=comm.size)


def test_allgather_gives_every_rank_every_row(comm):
    mine = np.array([comm.rank, 10 * comm.rank + 1], np.int64)
    rows = comm.allgather(mine)
    assert rows.shape == (comm.size, 2)
    np.testing.assert_array_equal(rows, [[r, 10 * r + 1] for r in range(comm.size)])
    np.testing.assert_array_equal(mine, [comm.rank, 10 * comm.rank + 1])  # input untouched


def test_objects(comm):
    assert comm.allgather_object({"rank": comm.rank}) == [{"rank": r} for r in range(comm.size)]
    assert comm.broadcast_object("from %d" % comm.rank, root=0) == "from 0"


def test_barrier(comm):
    comm.barrier()


def test_check_same_passes_equal_layouts(comm):
    comm.check_same("a test collective", [("w:0", "(3, 4) float32"), ("b:0", "(4,) float32")])


@pytest.mark.mpi(min_size=2)
def test_barrier_waits_for_every_rank(comm, mpi_tmp_path):
    marker = os.path.join(str(mpi_tmp_path), "written-before-the-barrier")
    if comm.rank == comm.size - 1:
        import time
        time.sleep(0.3)
        open(marker, "w").close()
    comm.barrier()
    assert os.path.exists(marker)


@pytest.mark.mpi(min_size=2)
def test_check_same_names_the_tensor_and_the_ranks(comm):
    shape = "(4,)" if comm.rank == 1 else "(3,)"
    with pytest.raises(dd.CollectiveMismatchError) as err:
        comm.check_same("the fused all-reduce 'x'", [("w:0", "(3, 4) float32"),
                                                     ("b:0", shape + " float32")])
    msg = str(err.value)
    assert "the fused all-reduce 'x'" in msg
    assert "'b:0'" in msg and "'w:0'" not in msg
    others = [r for r in range(comm.size) if r != 1]
    assert "(3,) float32 on %s" % _ranks(others) in msg
    assert "(4,) float32 on rank 1" in msg


@pytest.mark.mpi(min_size=2)
def test_check_same_notices_a_different_number_of_tensors(comm):
    items = [("w:0", "(3,) float32")] + ([("extra:0", "(1,) float32")] if comm.rank == 0 else [])
    with pytest.raises(dd.CollectiveMismatchError, match="the number of tensors differs: 1 on"):
        comm.check_same("a test collective", items)


def _ranks(rs):
    return "rank %d" % rs[0] if len(rs) == 1 else "ranks " + ", ".join(map(str, rs))


@launches_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_the_contract_holds_for_mpi(ranks):
    proc = run_pytest_under_mpi(ranks, "test_communicator_contract.py")
    assert_ok(proc)
    # Every rank ran every case, the mpi-only ones included: only the 2 launchers skip there.
    summaries = re.findall(r"(\d+) passed, (\d+) skipped", proc.stdout)
    assert len(summaries) == ranks, proc.stdout
    assert all(skipped == "2" for _, skipped in summaries), proc.stdout
