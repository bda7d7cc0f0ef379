"""`init()`: this process's place in the job (rank, size, local rank, device) and its communicator.

A process started by mpirun / mpiexec gets the MPI communicator; any other process is rank 0 of a
job of size 1, with the `single` communicator and without importing mpi4py. Whether we run under
an MPI launcher is read from the variables launchers set (MPICH's hydra: PMI_RANK/PMI_SIZE; Open
MPI: OMPI_COMM_WORLD_SIZE; PMIx launchers: PMIX_RANK), never by importing MPI to find out.

With more than one rank, init() also makes failures end the job instead of hanging it: an
uncaught exception on any rank prints that rank's traceback once, each line prefixed with the
rank, and calls MPI_Abort; and a watchdog stops a job whose ranks wait too long in a collective
(watchdog.py).

On GPUs (device='gpu') each rank pins GPU number local_rank and the communicator is chosen for
GPU buffers (`choose_gpu_communicator`): NCCL when every rank has a GPU of its own and CuPy has
NCCL, else host-staged (MPI through host memory); one rank needs none. The choice and its reason
are kept in `DistContext.communicator_reason` and logged by rank 0.
"""
import logging
import os
import socket
import sys
import threading
import time
import traceback
import warnings

from distflow.distribute import devices
from distflow.distribute.communicator import Communicator
from distflow.distribute.factory import (GPU_COMMUNICATORS, _LAUNCHER_VARS,  # noqa: F401
                                         choose_gpu_communicator, create_communicator,
                                         launched_by_mpi)
from distflow.distribute.mpich_tuning import (MPICH_OVERSUBSCRIBED_FILE,  # noqa: F401
                                              MPICH_SELECTION_FILE, MPICH_SELECTION_VAR,
                                              OPT_OUT_VAR, _cgroup_cpu_quota,
                                              _mpi_library_version, _usable_cpus, mpich_tuning,
                                              tune_mpich)
from distflow.distribute.watchdog import parse_timeout

DEFAULT_COLLECTIVE_TIMEOUT = 300.0  # seconds: a first step may include slow imports and loading
TIMEOUT_ENV = "DISTFLOW_COLLECTIVE_TIMEOUT"
EVERY_RANK_WAIT_S = 10.0  # how long a rank lets rank 0 report an error every rank raised
_log = logging.getLogger("distflow.distribute")


def tasks_without_mpi(env=None):
    """How many tasks srun started in this step when it gave them no MPI rank (0 otherwise):
    without --mpi=pmi2 (or another PMI plugin) every task is a job of one rank, alone."""
    env = os.environ if env is None else env
    tasks = env.get("SLURM_STEP_NUM_TASKS", "")  # srun sets it; a batch script has none
    if tasks.isdigit() and int(tasks) > 1 and not launched_by_mpi(env):
        return int(tasks)
    return 0


def tasks_without_mpi_message(tasks):
    return ("srun started %d tasks without telling them they are ranks of one job, so each would "
            "run alone: start them with srun --mpi=pmi2 (launch/slurm.sbatch does), or with "
            "another MPI plugin of the cluster (srun --mpi=list)" % tasks)


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
        self.communicator_reason = None  # why this communicator (GPU jobs), for the logs

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
    device              'cpu' (default) or 'gpu': this rank's device is then gpu:<local_rank>
                        (made CUDA's current device when there is one), and ranks that would
                        share one GPU are detected.
    communicator        'auto' (default), 'single', 'mpi', 'nccl', 'host-staged', or a
                        Communicator. 'auto': 'mpi' under an MPI launcher, else 'single'; on
                        GPUs, see choose_gpu_communicator. 'nccl' and 'host-staged' need GPUs.
    abort_on_exception  with more than one rank, an uncaught exception ends the whole job.
    """
    global _context
    with _lock:
        if _context is not None:
            return _context
        devices.device_name(device, 0)  # rejects an unknown kind before MPI starts
        if communicator in GPU_COMMUNICATORS and device != "gpu":
            raise ValueError("communicator %r moves GPU buffers: it needs device='gpu' (on the "
                             "CPU use 'single' or 'mpi')" % communicator)
        if collective_timeout is None:
            collective_timeout = os.environ.get(TIMEOUT_ENV, DEFAULT_COLLECTIVE_TIMEOUT)
        timeout = parse_timeout(collective_timeout)
        _sweep_stale_segments()
        if isinstance(communicator, Communicator):
            comm = communicator
        else:  # a GPU communicator's bootstrap first: the GPUs are chosen through it
            comm = create_communicator("auto" if communicator in GPU_COMMUNICATORS
                                       else communicator, collective_timeout=timeout)
        host = socket.gethostname()
        if comm.size > 1:
            _check_one_device_kind(comm, device or "cpu", host)
        local_rank, local_size = 0, 1
        if comm.size > 1:
            local_rank, local_size = comm.local_rank_and_size()
        if comm.size > 1 and abort_on_exception:
            install_abort_hook(comm)
        name, entries = _pick_device(device, comm, host, local_rank)
        reason = None
        if name != "cpu" and not isinstance(communicator, Communicator):
            comm, reason = _gpu_communicator(communicator, comm, entries)
        _context = DistContext(comm, local_rank, local_size, host, name, timeout)
        _context.communicator_reason = reason
        if reason and comm.rank == 0:
            _log.info("distflow: %s communicator: %s", comm.name, reason)
        return _context


class DeviceMismatchError(ValueError):
    """The ranks of one job chose different kinds of device (each resolves 'auto' alone)."""


def _check_one_device_kind(comm, kind, host):
    """Raises DeviceMismatchError on every rank unless all ranks chose `kind`: GPU ranks gather
    their GPUs' identities and pick a GPU communicator, CPU ranks do neither, and the job would
    hang in its first collective (`auto` on nodes with and without GPUs does this)."""
    # init's own check, not a collective of the program's: on MPI the raw mpi4py call (as the
    # side channel's setup), so that the watchdog's messages number the program's collectives
    # from #1, as its author counts them
    raw = getattr(comm, "mpi_comm", None)
    everyone = raw.allgather((kind, host)) if raw is not None else \
        comm.allgather_object((kind, host))
    if len({k for k, _ in everyone}) == 1:
        return
    where = {}  # kind -> host -> ranks
    for rank, (k, h) in enumerate(everyone):
        where.setdefault(k, {}).setdefault(h, []).append(str(rank))
    found = "; ".join("%s for %s" % (k, ", ".join(
        "rank%s %s on %s" % ("s" if len(ranks) > 1 else "", ", ".join(ranks), h)
        for h, ranks in hosts.items())) for k, hosts in sorted(where.items()))
    raise DeviceMismatchError(
        "the ranks of one job must all use the CPU or all use GPUs, but they chose %s. Give every "
        "node the same kind of device, or choose one for all ranks (--device cpu, or device: cpu "
        "in the config)" % found)


def _sweep_stale_segments():
    """Removes the MPICH segments that killed distflow jobs left in /dev/shm (only those
    recorded by processes that have all ended: mpich_segments.py)."""
    from distflow.distribute import mpich_segments
    try:
        removed = mpich_segments.sweep()
    except Exception as e:  # noqa: BLE001 - a sweep must never stop a start
        _log.debug("distflow: no sweep of stale MPICH segments: %s", e)
        return
    if removed:
        _log.info("distflow: removed %d MPICH segment(s) of ended jobs from %s: %s",
                  len(removed), mpich_segments.DIRECTORY, ", ".join(removed))


def _pick_device(kind, comm, host, local_rank):
    """(device name, [(rank, host, GPU identity)] of every rank, or None on the CPU); makes the
    GPU current when CuPy finds one."""
    if kind in (None, "cpu"):
        return "cpu", None
    count = _gpu_count() if kind == "gpu" else None
    index = devices.gpu_index(local_rank, count)
    name = devices.device_name(kind, index)
    mine = (comm.rank, host, _gpu_identity(index, count))
    entries = comm.allgather_object(mine) if comm.size > 1 else [mine]
    if count:
        from distflow.backend import gpu
        gpu.use_device(index)  # every kernel and buffer of this rank goes to its own GPU
    return name, entries


def _gpu_communicator(wanted, comm, entries):
    """The communicator for GPU buffers over `comm` (MPI or single), and why it was chosen."""
    shared = devices.find_shared_gpus(entries) if comm.size > 1 else []
    version = _nccl_version()
    kind, reason = choose_gpu_communicator(wanted, comm.size, version, shared)
    if shared and kind == "nccl" and comm.rank == 0:  # allowed (new NCCL and its flag): advise
        warnings.warn(devices.shared_gpu_message(shared, version), RuntimeWarning, stacklevel=4)
    if kind in GPU_COMMUNICATORS:
        return create_communicator(kind, bootstrap=comm), reason
    return comm, reason


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
    from distflow.backend import gpu
    return gpu.nccl_version()


# -- failures end the job ---------------------------------------------------------------------
def install_abort_hook(comm):
    """sys.excepthook: print the traceback once, each line prefixed '[rank r] ', then end every
    rank (MPI_Abort). Without it, the other ranks would wait forever in their next collective.

    An error every rank raises alike (`raised_on_every_rank`: found after an allgather, such as
    a model that differs across ranks) is printed by rank 0 alone, which ends the job; the
    others wait for that. KeyboardInterrupt ends the job with status 130 and one line."""
    global _saved_excepthook
    if _saved_excepthook is None:
        _saved_excepthook = sys.excepthook
    rank, size = comm.rank, comm.size

    def hook(etype, value, tb):
        if issubclass(etype, KeyboardInterrupt):
            interrupted(end=True)
        everyone = getattr(value, "raised_on_every_rank", False)
        try:
            if everyone and rank != 0:
                return
            text = "".join(traceback.format_exception(etype, value, tb)).rstrip("\n")
            text += ("\ndistflow: %s: stopping all %d ranks"
                     % ("every rank raised this error" if everyone else
                        "uncaught exception on rank %d" % rank, size))
            sys.stdout.flush()
            sys.stderr.write("".join("[rank %d] %s\n" % (rank, line) for line in text.split("\n")))
            sys.stderr.flush()
        finally:
            if everyone and rank != 0:
                time.sleep(EVERY_RANK_WAIT_S)  # rank 0 prints it and aborts the job meanwhile
            comm.abort(1)
    sys.excepthook = hook
    # A worker thread's exception ends the job too; the main thread would otherwise hang in its
    # next collective waiting for data the thread will never produce.
    threading.excepthook = lambda a: a.exc_type is SystemExit or hook(a.exc_type, a.exc_value,
                                                                       a.exc_traceback)


def interrupted(end=False):
    """For a program ending on KeyboardInterrupt: rank 0 prints "distflow: interrupted" (the
    whole job's one line), and the watchdog tells the other ranks it was an interrupt, so that
    a rank still waiting in a collective ends with status 130 too instead of diagnosing a
    missing rank. end=True: ends this process now, with status 130."""
    from distflow.distribute import watchdog
    ctx = _context
    comm = ctx.communicator if ctx is not None else None
    dog = comm.watchdog if comm is not None else None
    rank = ctx.rank if ctx is not None else next(
        (int(os.environ[v]) for v in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
         if os.environ.get(v, "").isdigit()), 0)
    if rank == 0:
        watchdog.say_interrupted()
    if dog is not None:
        if end:
            dog.end_interrupted()
        dog.note_interrupt()
    if end:
        if comm is not None:
            comm.end(watchdog.INTERRUPTED_EXIT)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(watchdog.INTERRUPTED_EXIT)


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
