"""Horovod's process functions (horovod/common/basics.py) over distflow.distribute's runtime, and
its Compression classes (horovod/tensorflow/compression.py).

The job is mpirun's: rank and size are MPI's, the local rank is the rank among the processes on
this host. cross_rank / cross_size are Horovod's: the index of this host among the hosts, and how
many hosts there are (for a homogeneous job, the ranks with the same local rank).
"""
from distflow.distribute import runtime

_initialized = False
_cross = None  # (cross_rank, cross_size, is_homogeneous), computed at init


def init(comm=None, process_sets=None):
    """Joins the job (mpirun's ranks; one rank without mpirun). Idempotent, as Horovod's."""
    global _initialized, _cross
    if comm is not None and not isinstance(comm, list):
        from distflow.distribute.communicator import Communicator
        if not isinstance(comm, Communicator):
            raise NotImplementedError("hvd.init(comm=...) with an mpi4py communicator is not "
                                      "supported: distflow.horovod runs over all ranks of "
                                      "mpirun's job")
    if process_sets not in (None, [], ()):
        raise NotImplementedError("process sets are not supported by distflow.horovod")
    ctx = runtime.init(communicator=comm)
    if _cross is None:
        _cross = _cross_layout(ctx)
    _initialized = True


def _cross_layout(ctx):
    comm = ctx.communicator
    if comm.size == 1:
        return 0, 1, True
    hosts = comm.allgather_object((ctx.host, ctx.local_size))
    order = []
    for host, _ in hosts:
        if host not in order:
            order.append(host)
    homogeneous = len({n for _, n in hosts}) == 1
    return order.index(ctx.host), len(order), homogeneous


def shutdown():
    global _initialized, _cross
    _initialized = False
    _cross = None
    runtime.shutdown()


def is_initialized():
    return _initialized


def _ctx():
    if not _initialized:
        raise ValueError("Horovod has not been initialized; use hvd.init().")
    return runtime.init()


def rank():
    return _ctx().rank


def size():
    return _ctx().size


def local_rank():
    return _ctx().local_rank


def local_size():
    return _ctx().local_size


def cross_rank():
    _ctx()
    return _cross[0]


def cross_size():
    _ctx()
    return _cross[1]


def is_homogeneous():
    _ctx()
    return _cross[2]


def mpi_built():
    """True: distflow's collectives run over MPI (mpi4py) when launched by mpirun."""
    return True


def mpi_enabled():
    """True when this job's collectives run over MPI (launched by mpirun with several ranks)."""
    return _ctx().communicator.name in ("mpi", "host-staged", "nccl")


def mpi_threads_supported():
    """False: distflow calls MPI from one thread (MPI_THREAD_FUNNELED when it tunes MPICH)."""
    _ctx()
    try:
        from mpi4py import MPI
    except ImportError:
        return False
    return MPI.Is_initialized() and MPI.Query_thread() == MPI.THREAD_MULTIPLE


def nccl_built():
    """Whether CuPy can load NCCL here (distflow's GPU all-reduce)."""
    from distflow.backend import gpu
    try:
        return gpu.nccl_version() is not None
    except Exception:  # no CuPy or no driver
        return False


def gloo_built():
    return False


def gloo_enabled():
    return False


def cuda_built():
    from distflow.distribute.runtime import _gpu_count
    return bool(_gpu_count())


def rocm_built():
    return False


def ddl_built():
    return False


def ccl_built():
    return False


def start_timeline(file_path, mark_cycles=False):
    raise NotImplementedError("Horovod's timeline is not available in distflow.horovod")


def stop_timeline():
    raise NotImplementedError("Horovod's timeline is not available in distflow.horovod")


# -- compression -------------------------------------------------------------------------------
class Compressor:
    @staticmethod
    def compress(tensor):
        raise NotImplementedError

    @staticmethod
    def decompress(tensor, ctx):
        raise NotImplementedError


class NoneCompressor(Compressor):
    @staticmethod
    def compress(tensor):
        return tensor, None

    @staticmethod
    def decompress(tensor, ctx):
        return tensor


class FP16Compressor(Compressor):
    """Floating tensors travel as float16 (rounded) and come back in their own dtype."""

    @staticmethod
    def compress(tensor):
        from distflow.ops import dispatch, math_ops
        dtype = dispatch.dtype_of(tensor)
        if dtype is not None and dtype.is_floating:
            return math_ops.cast(tensor, "float16"), dtype
        return tensor, dtype

    @staticmethod
    def decompress(tensor, ctx):
        from distflow.ops import dispatch, math_ops
        if ctx is not None and ctx.is_floating and dispatch.dtype_of(tensor) != ctx:
            return math_ops.cast(tensor, ctx)
        return tensor


class Compression:
    none = NoneCompressor
    fp16 = FP16Compressor


# -- process sets: only the global one ----------------------------------------------------------
class ProcessSet:
    """Horovod's ProcessSet; distflow.horovod has only the global one (every rank)."""

    process_set_id = 0

    def __init__(self, ranks=None):
        if ranks is not None:
            raise NotImplementedError("process sets are not supported by distflow.horovod")

    def size(self):
        return size()

    def rank(self):
        return rank()

    def included(self):
        return True


global_process_set = ProcessSet()
