"""The MPI communicator: mpi4py's buffer calls (upper-case Allreduce, Bcast, Allgather) on NumPy
arrays, in place, with no pickling on the hot path.

mpi4py is imported here and only here, when a communicator is made: `import distflow` and
single-process runs never need it.

Around each collective the communicator notes which one it is in (`current`, also kept as
`last`) and clears `current` when it returns: a tuple and three attribute writes, which is all
the hot path pays for the watchdog (watchdog.py) that turns a collective some rank never reaches
into a clear stop. No clock is read here: the watchdog's thread times what it sees.
"""
import os
import sys
import time
import warnings

from distflow import backend
from distflow.distribute import mpich_segments, shared_memory
from distflow.distribute.communicator import Communicator, check_allreduce

ABORT_PAUSE_S = 0.5


def load_mpi(thread_level=None):
    """mpi4py's MPI module (initializing MPI), or ImportError with install advice.

    `thread_level` ('funneled' when runtime.tune_mpich gave MPICH its selection file): the level
    to start MPI at instead of mpi4py's default MULTIPLE. distflow calls MPI from the main thread
    only (the watchdog talks over side_channel.py), and under MULTIPLE MPICH drops its
    shared-memory all-reduce (runtime.py has the figures). A user's own choice wins:
    MPI4PY_RC_THREAD_LEVEL, mpi4py.rc.thread_level set to another level, or MPI already started.
    """
    try:
        import mpi4py
        if (thread_level and "mpi4py.MPI" not in sys.modules
                and "MPI4PY_RC_THREAD_LEVEL" not in os.environ
                and mpi4py.rc.thread_level == "multiple"):
            mpi4py.rc.thread_level = thread_level
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError("Running distflow on several ranks needs mpi4py and an MPI library: "
                          "pip install 'distflow[mpi]' (mpi4py and the mpich wheel). Original "
                          "error: %s" % e) from e
    return MPI


class MPICommunicator(Communicator):
    name = "mpi"

    def __init__(self, comm=None, collective_timeout=None, thread_level=None):
        """`comm`: an mpi4py communicator (COMM_WORLD by default). `collective_timeout`: seconds
        a rank may wait in one collective before the job is stopped (None or 0: wait forever).
        `thread_level`: see load_mpi, when this call starts MPI."""
        MPI = load_mpi(thread_level)
        self._MPI = MPI
        self._comm = comm if comm is not None else MPI.COMM_WORLD
        super().__init__(self._comm.Get_rank(), self._comm.Get_size())
        self._mpi_ops = {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}
        self._Allreduce, self._in_place = self._comm.Allreduce, MPI.IN_PLACE  # hot path
        self.seq = 0            # collectives started on this communicator
        self.current = None     # (seq, kind, name, buffer or None) while inside one
        self.last = None        # the same for the last one started
        self.watchdog = None
        # MPICH's segments of this host, recorded so that a later start can remove them if
        # this job is killed (mpich_segments.py)
        self._segment_record = mpich_segments.record() if self.size > 1 else None
        # Big fused buffers of ranks on one host are reduced through shared memory
        self._segments = shared_memory.Segments() if self.size > 1 else None
        if self.size > 1 and collective_timeout:
            from distflow.distribute.watchdog import Watchdog, WatchdogUnavailable
            try:
                self.watchdog = Watchdog(self, collective_timeout)
            except WatchdogUnavailable as e:  # the same answer on every rank
                if self.rank == 0:
                    warnings.warn("distflow: no collective watchdog (%s): a rank that never "
                                  "reaches a collective will hang the job" % e, RuntimeWarning,
                                  stacklevel=3)

    @property
    def mpi_comm(self):
        return self._comm

    # -- bookkeeping for the watchdog ------------------------------------------------------------
    def _enter(self, kind, name, buf):
        self.seq += 1
        self.last = self.current = (self.seq, kind, name, buf)

    def _leave(self):
        self.current = None

    # -- primitives ----------------------------------------------------------------------------
    def _allreduce(self, buf, op, name):
        # The fused all-reduce calls this every step, so _enter and _leave are written out here:
        # with two ranks in lockstep on a small buffer, every 0.1 us of Python shows in the step.
        seq = self.seq = self.seq + 1
        self.last = self.current = (seq, "allreduce", name, buf)
        try:
            self._Allreduce(self._in_place, buf, self._mpi_ops[op])
        finally:
            self.current = None
        if op == "mean":
            buf /= self.size

    unchecked_allreduce = _allreduce  # the base class's adds a call and nothing else here

    def _new_buffer(self, nelems, dtype, xp):
        """A buffer big enough to gain from the shared-memory all-reduce lives in a /dev/shm
        file (shared_memory.py); any other, or one whose file cannot be made, is ordinary."""
        segments = self._segments
        if (segments is not None and shared_memory.enabled()
                and segments.wanted(nelems * xp.dtype(dtype).itemsize, xp)):
            buf = segments.allocate(nelems, dtype)
            if buf is not None:
                return buf
        return xp.empty(nelems, dtype=dtype)

    def fused_path(self):
        segments = self._segments
        return "shared memory" if segments is not None and segments.connected else self.name

    def bound_allreduce(self, buf, op, name=None):
        """_allreduce of one buffer, with the MPI call, the buffer and the MPI op bound now; or,
        for a big buffer that every rank put in shared memory on one host, the shared-memory
        all-reduce (a collective to set up: every rank binds the same layout)."""
        check_allreduce(buf, op)
        segments = self._segments
        if segments is not None and segments.wanted(buf.nbytes, backend.get_array_module(buf)):
            reduce = segments.connect(self, buf, op, name)
            if reduce is not None:
                return reduce
        if op == "mean":
            return super().bound_allreduce(buf, op, name)
        Allreduce, in_place, mpi_op = self._Allreduce, self._in_place, self._mpi_ops[op]

        def allreduce():
            seq = self.seq = self.seq + 1
            self.last = self.current = (seq, "allreduce", name, buf)
            try:
                Allreduce(in_place, buf, mpi_op)
            finally:
                self.current = None
        return allreduce

    def _broadcast(self, buf, root, name):
        self._enter("broadcast", name, buf)
        try:
            self._comm.Bcast(buf, root=root)
        finally:
            self._leave()

    def _allgather(self, buf, name):
        xp = backend.get_array_module(buf)
        out = xp.empty((self.size,) + buf.shape, dtype=buf.dtype)
        self._enter("allgather", name, buf)
        try:
            self._comm.Allgather(buf, out)
        finally:
            self._leave()
        return out

    def _barrier(self, name):
        self._enter("barrier", name, None)
        try:
            self._comm.Barrier()
        finally:
            self._leave()

    def _allgather_object(self, obj):
        self._enter("allgather_object", None, None)
        try:
            return self._comm.allgather(obj)
        finally:
            self._leave()

    def _broadcast_object(self, obj, root):
        self._enter("broadcast_object", None, None)
        try:
            return self._comm.bcast(obj, root=root)
        finally:
            self._leave()

    # -- hosts ---------------------------------------------------------------------------------
    def host_name(self):
        return self._MPI.Get_processor_name()

    def host_names(self):
        """Every rank's host name (MPI's processor name), indexed by rank."""
        return self.allgather_object(self.host_name())

    def local_rank_and_size(self):
        """This rank's index among the ranks sharing its host, and how many share it."""
        try:
            local = self._comm.Split_type(self._MPI.COMM_TYPE_SHARED, key=self.rank)
        except self._MPI.Exception:  # an MPI without shared-memory split: compare host names
            from distflow.distribute.devices import local_rank_from_hosts
            return local_rank_from_hosts(self.host_names(), self.rank)
        try:
            return local.Get_rank(), local.Get_size()
        finally:
            local.Free()

    def _unlink_segments(self):
        """Unlinks the shared memory this rank maps (the job ends without MPI_Finalize)."""
        try:
            shared_memory.unlink_mapped()
            if self._segment_record:
                mpich_segments.forget_job(self._segment_record)
        except Exception:  # noqa: BLE001 - nothing may stop the job's end itself
            pass

    def abort(self, code=1):
        """Ends every rank of the job (MPI_Abort on COMM_WORLD)."""
        self._unlink_segments()
        sys.stdout.flush()
        sys.stderr.flush()
        # mpirun forwards our output through a pipe and kills the job on MPI_Abort: without a
        # pause, the message just written (the reason for the abort) is sometimes lost.
        time.sleep(ABORT_PAUSE_S)
        self._MPI.COMM_WORLD.Abort(code)

    def end(self, code):
        """Ends every rank of the job with status `code` and no word from MPI (for an
        interrupt, whose one line the caller has printed): MPI_Abort with this process's stderr
        closed first, as MPI_Abort prints a line of its own. (A rank that just exits instead
        makes mpirun kill the others with SIGKILL, and it then reports status 9, not `code`.)"""
        self._unlink_segments()
        sys.stdout.flush()
        sys.stderr.flush()
        time.sleep(ABORT_PAUSE_S)  # what was just written must pass mpirun's pipe first
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
        except OSError:
            pass
        self._MPI.COMM_WORLD.Abort(code)

    def close(self):
        if self.watchdog is not None:
            self.watchdog.close()
            self.watchdog = None
