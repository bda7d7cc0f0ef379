"""Making a communicator by name (factory.create_communicator), and the members every
communicator declares, so that callers use them without asking whether they exist."""
import numpy as np
import pytest

import distflow.distribute as dd
from distflow.distribute.communicator import Communicator, DelegatingCommunicator
from distflow.distribute.factory import create_communicator, launched_by_mpi
from distflow.distribute.host_staged import HostStagedCommunicator

pytestmark = pytest.mark.skipif(launched_by_mpi(), reason="one-process tests")


def test_names_make_their_communicators():
    assert isinstance(create_communicator("single"), dd.SingleCommunicator)
    assert isinstance(create_communicator("auto"), dd.SingleCommunicator)  # no launcher here
    assert isinstance(create_communicator(None), dd.SingleCommunicator)
    staged = create_communicator("host-staged", bootstrap=dd.SingleCommunicator())
    assert isinstance(staged, HostStagedCommunicator) and staged.name == "host-staged"
    assert (staged.rank, staged.size) == (0, 1)


def test_a_gpu_communicator_makes_its_own_bootstrap():
    staged = create_communicator("host-staged")
    assert isinstance(staged.inner, dd.SingleCommunicator)


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"Unknown communicator 'gloo': use 'auto', 'single', "
                                         r"'mpi', 'nccl', 'host-staged'"):
        create_communicator("gloo")


def test_only_gpu_communicators_take_a_bootstrap():
    with pytest.raises(ValueError, match="'single' takes no bootstrap"):
        create_communicator("single", bootstrap=dd.SingleCommunicator())


def test_init_refuses_an_unknown_name_before_starting_anything():
    dd.shutdown()
    try:
        with pytest.raises(ValueError, match="Unknown communicator 'gloo'"):
            dd.init(communicator="gloo")
    finally:
        dd.shutdown()


def test_a_communicator_missing_a_primitive_cannot_be_made():
    class Half(Communicator):
        def _allreduce(self, buf, op, name):
            pass

    with pytest.raises(TypeError, match="abstract"):
        Half(0, 1)


def test_every_member_callers_use_is_declared():
    comm = dd.SingleCommunicator()
    assert comm.watchdog is None and comm.capturable is False
    assert comm.local_rank_and_size() == (0, 1)
    assert len(comm.host_names()) == 1
    for member in ("allreduce", "bound_allreduce", "broadcast", "allgather", "barrier",
                   "allgather_object", "broadcast_object", "check_same", "allocate",
                   "fused_path", "abort", "end", "close"):
        assert callable(getattr(Communicator, member)), member


class _Recording(dd.SingleCommunicator):
    """A host communicator that notes what reaches it."""

    def __init__(self):
        super().__init__()
        self.calls, self.watchdog = [], "the watchdog"

    def _allreduce(self, buf, op, name):
        self.calls.append(("allreduce", op))
        buf *= 2  # visible: the host buffer went through this communicator

    def host_names(self):
        return ["node7"]

    def close(self):
        self.calls.append(("close",))


class _Device(DelegatingCommunicator):
    name = "device"

    def _device_allreduce(self, buf, op, name):
        raise AssertionError("a host buffer reached the device path")

    _device_broadcast = _device_allgather = _device_allreduce


def test_the_delegating_base_hands_host_work_to_its_inner_communicator():
    inner = _Recording()
    comm = _Device(inner)
    buf = np.ones(3, np.float32)
    comm.allreduce(buf, "sum")
    np.testing.assert_array_equal(buf, [2, 2, 2])
    assert inner.calls == [("allreduce", "sum")]
    np.testing.assert_array_equal(comm.allgather(np.arange(2)), [[0, 1]])
    assert comm.broadcast_object({"a": 1}) == {"a": 1}
    assert comm.host_names() == ["node7"] and comm.watchdog == "the watchdog"
    comm.close()
    assert inner.calls[-1] == ("close",)
