"""The all-reduce of a big fused buffer between ranks on one host, through shared memory.

MPI's all-reduce moves a buffer between the processes of one host through MPICH's small
shared-memory cells: every element is copied into a cell and out again, several times, and under
the collective's own pipeline. When every rank's gradient buffer is a file in /dev/shm that all
ranks map, a rank can read the others' gradients where they lie. Each rank then owns 1/N of the
buffer and the all-reduce is three steps between barriers:

    barrier        every rank's gradients are in its buffer
    reduce         rank r adds the other ranks' slice r to its own slice r (and divides for a mean)
    barrier        every slice is reduced, each in its owner's buffer
    gather         rank r copies slice q from rank q's buffer, for every q != r
    barrier        nobody writes its buffer again (the next step's gradients) before all copies

Each rank reads (N-1)/N of the buffer twice and writes it twice, with no cells in between (the
README's Speed section has the times against MPI_Allreduce; benchmarks/allreduce_distflow.py
measures both). Slice r is summed by its owner only, so every rank ends with the same bits.

The buffers must exist before the first step, because backprop writes the gradients straight into
them (allreduce_op.py's zero copy), so `allocate` makes them while a plan compiles, with no
collective: each rank creates its own file. The ranks meet in `connect`, at the first reduction,
after the fused all-reduce has checked that every rank has the same layout: they exchange file
names, map each other's files and unlink them. From then on the memory lives only as long as the
mappings, and nothing is left in /dev/shm, whatever happens to the job; a file not yet connected
is unlinked when its buffer is freed or the process exits normally, and one left by a killed
process is removed by the next distflow process that allocates (`sweep_stale`).

The barriers are MPI's (MPI_Barrier on shared memory orders the stores before it for the loads
after it), made inside the communicator's bookkeeping, so the watchdog still names a rank that
never arrives. Any step that cannot be taken (no /dev/shm, not enough space in it, ranks on
several hosts, a GPU buffer) leaves the buffer an ordinary one for MPI_Allreduce: `connect`
answers None on every rank alike.
"""
import functools
import mmap
import os
import uuid
import weakref

import numpy as np

DIRECTORY = "/dev/shm"
ENV = "DISTFLOW_SHARED_MEMORY"  # 0: never; MPI_Allreduce reduces every buffer
# Below this size MPI's own shared-memory all-reduce (release_gather) is as fast or faster: it
# needs one synchronization, this three barriers (the README's Speed section has the times).
MIN_BYTES = 32 * 1024
_PREFIX = "distflow-allreduce-"


def enabled(env=None):
    env = os.environ if env is None else env
    return env.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def describe(env=None, directory=DIRECTORY):
    """One line for `distflow info`: what reduces a plan's big fused buffers here."""
    if not enabled(env):
        return "MPI_Allreduce only (%s=0)" % ENV
    try:
        stat = os.statvfs(directory)
    except OSError:
        return "MPI_Allreduce only (no %s)" % directory
    free = stat.f_bavail * stat.f_frsize
    return ("shared memory for fused buffers of %d KiB or more when every rank is on one host "
            "(%s: %.1f GiB free)" % (MIN_BYTES // 1024, directory, free / 2**30))


class Segments:
    """The /dev/shm files of one rank's fused buffers, by the buffers' ids."""

    def __init__(self, directory=DIRECTORY, min_bytes=None):
        self.directory = directory
        self.min_bytes = MIN_BYTES if min_bytes is None else min_bytes
        self._paths = {}  # id(buffer) -> (weak reference to the buffer, its file's path)
        self.connected = 0  # buffers reduced through shared memory so far
        self._swept = False
        self._bound = {}    # id(buffer) -> (weak reference to it, its connect() answer)

    def wanted(self, nbytes, xp=np):
        """Whether a buffer of this size and array module is worth a shared file. A function of
        the layout only, so that every rank answers alike (connect is collective on it)."""
        return xp is np and nbytes >= self.min_bytes

    def allocate(self, nelems, dtype):
        """A NumPy array of `nelems` elements in a new file of its own, or None when the file
        cannot be made (the caller then allocates an ordinary array)."""
        if not self._swept:
            self._swept = True
            sweep_stale(self.directory)
        dtype = np.dtype(dtype)
        nbytes = max(1, nelems * dtype.itemsize)
        path = os.path.join(self.directory, "%s%d-%s" % (_PREFIX, os.getpid(), uuid.uuid4().hex))
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            return None
        try:
            # Reserve the pages now: a sparse file on a full tmpfs gives SIGBUS on first touch.
            os.posix_fallocate(fd, 0, nbytes)
            mapping = mmap.mmap(fd, nbytes)
        except (OSError, ValueError):
            os.close(fd)
            _unlink(path)
            return None
        os.close(fd)  # the mapping keeps the memory; the path is for the other ranks to open
        buf = np.frombuffer(mapping, dtype=dtype, count=nelems)
        self._paths[id(buf)] = (weakref.ref(buf), path)
        weakref.finalize(buf, self._forget, id(buf), path)  # also runs at a normal exit
        return buf

    def _forget(self, key, path):
        """A buffer never connected is gone (its plan was dropped, or the process exits)."""
        entry = self._paths.get(key)
        if entry is not None and entry[1] == path:
            del self._paths[key]
        _unlink(path)

    def path_of(self, buf):
        entry = self._paths.get(id(buf))
        if entry is None or entry[0]() is not buf:
            return None
        return entry[1]

    def connect(self, comm, buf, op, name):
        """Collective over `comm` (an MPICommunicator): the shared-memory all-reduce of `buf`,
        a function of no arguments, or None on every rank when some rank cannot take part.
        Once per buffer: a buffer bound again (by another plan of the same op, which some
        ranks may compile and others not) gets the first answer, with no collective."""
        entry = self._bound.get(id(buf))
        if entry is not None and entry[0]() is buf:
            return entry[1]
        reduce = self._connect(comm, buf, op, name)
        self._bound[id(buf)] = (weakref.ref(buf, functools.partial(self._unbind, id(buf))), reduce)
        return reduce

    def _unbind(self, key, ref):
        if self._bound.get(key, (None,))[0] is ref:
            del self._bound[key]

    def _connect(self, comm, buf, op, name):
        path = self.path_of(buf)
        mine = (comm.host_name(), path, buf.size, buf.dtype.str)
        everyone = comm.allgather_object(mine)
        usable = (all(p is not None for _, p, _, _ in everyone)
                  and len({(h, n, d) for h, _, n, d in everyone}) == 1)
        peers, failed = [], not usable
        for rank, (_, peer_path, _, _) in enumerate(everyone):
            if failed:
                break
            peer = buf if rank == comm.rank else _map(peer_path, buf.size, buf.dtype)
            failed = peer is None
            peers.append(peer)
        if usable:  # every rank must have mapped every file before any is unlinked
            failed = not all(comm.allgather_object(not failed))
        if path is not None:  # whatever the outcome: the buffer stays, the name goes
            self._paths.pop(id(buf), None)
            _unlink(path)
        if failed:
            return None
        self.connected += 1
        return _reducer(comm, peers, comm.rank, op, name)


def sweep_stale(directory=DIRECTORY):
    """Unlinks the files of distflow processes that no longer run: a rank killed (SIGKILL, the
    OOM killer) between compiling a plan and its first step leaves its file, and the next
    distflow process on the host that allocates one removes it. A pid that runs again, or
    belongs to another user, keeps its files."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not name.startswith(_PREFIX):
            continue
        try:
            pid = int(name[len(_PREFIX):].split("-", 1)[0])
            os.kill(pid, 0)
        except ValueError:
            continue
        except ProcessLookupError:
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:  # gone already, or another user's file in a sticky /dev/shm
                pass
        except OSError:  # PermissionError: alive, another user's
            continue


def unlink_mapped(directory=DIRECTORY, prefixes=("mpich_shm_", _PREFIX)):
    """Unlinks the shared-memory files this process maps: ours not yet connected, and MPICH's
    own segments, which MPICH unlinks only in MPI_Finalize. For the abort path: MPI_Abort kills
    every rank, and without this each aborted job leaves megabytes in /dev/shm for good. The
    ranks still running keep their mappings; the memory goes when the last of them exits."""
    try:
        with open("/proc/self/maps") as maps:
            lines = maps.read().splitlines()
    except OSError:  # not Linux
        return
    for line in lines:
        fields = line.split(None, 5)
        path = fields[5] if len(fields) == 6 else ""
        if (os.path.dirname(path) == directory
                and os.path.basename(path).startswith(prefixes)):
            try:
                os.unlink(path)
            except OSError:  # gone already (unlinked by another rank), or not ours to unlink
                pass


def _map(path, nelems, dtype):
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        mapping = mmap.mmap(fd, nelems * dtype.itemsize)
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    return np.frombuffer(mapping, dtype=dtype, count=nelems)


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


_REDUCE = {"sum": np.add, "mean": np.add, "max": np.maximum, "min": np.minimum}


def _reducer(comm, buffers, rank, op, name):
    """The all-reduce of buffers[rank] with the others (every rank's buffer, mapped here)."""
    size = len(buffers)
    n = buffers[rank].size
    bounds = [n * r // size for r in range(size + 1)]
    own = slice(bounds[rank], bounds[rank + 1])
    mine = buffers[rank][own]
    theirs = [b[own] for r, b in enumerate(buffers) if r != rank]
    # Slice q of my buffer <- slice q of rank q's buffer, which rank q reduced.
    gather = [(buffers[rank][bounds[q]:bounds[q + 1]], buffers[q][bounds[q]:bounds[q + 1]])
              for q in range(size) if q != rank]
    ufunc, mean = _REDUCE[op], op == "mean"
    barrier, copyto, divide = comm.mpi_comm.Barrier, np.copyto, np.true_divide
    errstate = np.errstate
    scale = mine.dtype.type(size) if mean else None

    def allreduce():
        seq = comm.seq = comm.seq + 1
        comm.last = comm.current = (seq, "allreduce", name, buffers[rank])
        try:
            barrier()
            with errstate(all="ignore"):  # as silent as MPI_Allreduce about inf and nan
                for other in theirs:
                    ufunc(mine, other, out=mine)
                if mean:
                    divide(mine, scale, out=mine)
            barrier()
            for dst, src in gather:
                copyto(dst, src)
            barrier()
        finally:
            comm.current = None
    allreduce.via = "shared memory"  # for distflow bench's table
    return allreduce
