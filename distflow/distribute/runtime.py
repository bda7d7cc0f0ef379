"""`init()`: this process's place in the job (rank, size, local rank, device) and its communicator.

A process started by mpirun / mpiexec gets the MPI communicator; any other process is rank 0 of a
job of size 1, with the `single` communicator and without importing mpi4py. Whether we run under
an MPI launcher is read from the variables launchers set (MPICH's hydra: PMI_RANK/PMI_SIZE; Open
MPI: OMPI_COMM_WORLD_SIZE; PMIx launchers: PMIX_RANK), never by importing MPI to find out.

With more than one rank, init() also makes failures end the job instead of hanging it: an
uncaught exception on any rank prints that rank's traceback once, each line prefixed with the
rank, and calls MPI_Abort; and a watchdog stops a job whose ranks wait too long in a collective
(watchdog.py).
"""
import os
import socket
import sys
import threading
import traceback
import warnings

from distflow.distribute import devices
from distflow.distribute.communicator import Communicator
from distflow.distribute.single import SingleCommunicator
from distflow.distribute.watchdog import parse_timeout

DEFAULT_COLLECTIVE_TIMEOUT = 300.0  # seconds: a first step may include slow imports and loading
TIMEOUT_ENV = "DISTFLOW_COLLECTIVE_TIMEOUT"
_LAUNCHER_VARS = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK",
                  "PMIX_RANK")


def launched_by_mpi(env=None):
    """True when an MPI launcher started this process (read from its environment variables)."""
    env = os.environ if env is None else env
    return any(v in env for v in _LAUNCHER_VARS)


class DistContext:
    """Where this process sits in the job. `device` is 'cpu' or 'gpu:<local_rank>'."""

    def __init__(self, communicator, local_rank, local_size, host, device, collective_timeout):
        self.communicator = communicator
        self.rank = communicator.rank
        self.size = communicator.size
        self.local_rank = local_rank
        self.local_size = local_size
        self.host = host
        self.device = device
        self.collective_timeout = collective_timeout

    @property
    def is_chief(self):
        return self.rank == 0

    def __repr__(self):
        return ("<DistContext rank %d of %d (local %d of %d on %s), device %s, %s communicator>"
                % (self.rank, self.size, self.local_rank, self.local_size, self.host, self.device,
                   self.communicator.name))


_context = None
_lock = threading.Lock()
_saved_excepthook = None


def init(collective_timeout=None, device=None, communicator=None, abort_on_exception=True):
    """Joins the job (idempotent: later calls return the first call's context unchanged).

    collective_timeout  seconds a rank may wait in one collective before the job is stopped with
                        a message naming the missing ranks; 0 waits forever. Default: the
                        DISTFLOW_COLLECTIVE_TIMEOUT variable, else 300.
    device              'cpu' (default) or 'gpu': this rank's device is then gpu:<local_rank>,
                        and ranks that would share one GPU are detected.
    communicator        'single', 'mpi', or a Communicator; default 'mpi' under an MPI launcher,
                        else 'single'.
    abort_on_exception  with more than one rank, an uncaught exception ends the whole job.
    """
    global _context
    with _lock:
        if _context is not None:
            return _context
        devices.device_name(device, 0)  # rejects an unknown kind before MPI starts
        if collective_timeout is None:
            collective_timeout = os.environ.get(TIMEOUT_ENV, DEFAULT_COLLECTIVE_TIMEOUT)
        timeout = parse_timeout(collective_timeout)
        comm = _make_communicator(communicator, timeout)
        host = socket.gethostname()
        local_rank, local_size = 0, 1
        if comm.size > 1 and hasattr(comm, "local_rank_and_size"):
            local_rank, local_size = comm.local_rank_and_size()
        if comm.size > 1 and abort_on_exception:
            install_abort_hook(comm)
        name = _pick_device(device, comm, host, local_rank)
        _context = DistContext(comm, local_rank, local_size, host, name, timeout)
        return _context


def _make_communicator(kind, timeout):
    if isinstance(kind, Communicator):
        return kind
    if kind is None:
        kind = "mpi" if launched_by_mpi() else "single"
    if kind == "single":
        return SingleCommunicator()
    if kind == "mpi":
        from distflow.distribute.mpi import MPICommunicator
        return MPICommunicator(collective_timeout=timeout)
    raise ValueError("Unknown communicator %r: use 'single' or 'mpi' ('nccl' and 'host-staged' "
                     "come with GPU support)" % (kind,))


def _pick_device(kind, comm, host, local_rank):
    if kind in (None, "cpu"):
        return "cpu"
    count = _gpu_count() if kind == "gpu" else None
    index = devices.gpu_index(local_rank, count)
    name = devices.device_name(kind, index)
    if comm.size > 1:
        entries = comm.allgather_object((comm.rank, host, _gpu_identity(index, count)))
        advice = devices.check_gpu_sharing(entries, comm.name, _nccl_version())
        if advice and comm.rank == 0:
            warnings.warn(advice, RuntimeWarning, stacklevel=3)
    return name


def _gpu_count():
    try:
        from distflow import backend
        return backend.cupy().cuda.runtime.getDeviceCount()
    except Exception:  # no CuPy or no driver: the count is unknown
        return None


def _gpu_identity(index, count):
    """The PCI bus id of GPU `index` when CuPy can tell (robust to CUDA_VISIBLE_DEVICES)."""
    if count:
        try:
            from distflow import backend
            return backend.cupy().cuda.Device(index).pci_bus_id
        except Exception:  # an old CuPy: fall back to the index
            pass
    return "cuda:%d" % index


def _nccl_version():
    try:
        from cupy.cuda import nccl
        return nccl.get_version()
    except Exception:  # no CuPy or no NCCL
        return None


# -- failures end the job ---------------------------------------------------------------------
def install_abort_hook(comm):
    """sys.excepthook: print the traceback once, each line prefixed '[rank r] ', then end every
    rank (MPI_Abort). Without it, the other ranks would wait forever in their next collective."""
    global _saved_excepthook
    if _saved_excepthook is None:
        _saved_excepthook = sys.excepthook
    rank, size = comm.rank, comm.size

    def hook(etype, value, tb):
        try:
            text = "".join(traceback.format_exception(etype, value, tb)).rstrip("\n")
            text += ("\ndistflow: uncaught exception on rank %d: stopping all %d ranks"
                     % (rank, size))
            sys.stdout.flush()
            sys.stderr.write("".join("[rank %d] %s\n" % (rank, line) for line in text.split("\n")))
            sys.stderr.flush()
        finally:
            comm.abort(1)
    sys.excepthook = hook
    # A worker thread's exception ends the job too; the main thread would otherwise hang in its
    # next collective waiting for data the thread will never produce.
    threading.excepthook = lambda a: a.exc_type is SystemExit or hook(a.exc_type, a.exc_value,
                                                                       a.exc_traceback)


def shutdown():
    """Forgets the context and stops the watchdog; MPI itself stays up until the process exits
    (mpi4py finalizes it then). For tests and notebooks that re-initialize."""
    global _context, _saved_excepthook
    with _lock:
        if _context is not None:
            _context.communicator.close()
        _context = None
        if _saved_excepthook is not None:
            sys.excepthook = _saved_excepthook
            threading.excepthook = threading.__excepthook__
            _saved_excepthook = None


# -- module-level conveniences (each initializes on first use) ----------------------------------
def get_context():
    return init()


def rank():
    return init().rank


def size():
    return init().size


def local_rank():
    return init().local_rank


def local_size():
    return init().local_size


def is_chief():
    return init().is_chief


def device():
    return init().device


def communicator():
    return init().communicator
