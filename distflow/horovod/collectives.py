"""Horovod's collectives on NumPy / CuPy arrays, over distflow's communicator (and its watchdog).

Horovod negotiates every collective before running it (its coordinator): ranks that ask for
different things get an error, and a rank that called `join()` takes part in the others'
collectives with zeros. Here every eager call, and the first call of each layout of a plan's
allreduce (mpi_ops.py; later ones run at once, see join), starts the same way: one 16-byte
allgather of a header (what this rank is calling, and a digest of the tensors' names, shapes
and dtypes). Then

  * every rank asked for the same thing: it runs;
  * some ranks are in join(): the lowest active rank sends the description (pickled, the rare
    path) and the joined ranks take part with zeros (an allreduce), no rows (an allgather) or
    a buffer to receive into (a broadcast);
  * ranks asked for different things: CollectiveMismatchError on every rank, naming what each
    rank asked for. Never a hang, never a wrong result; a rank that never arrives is the
    watchdog's (the communicator's collective timeout).

The graph and eager ops of mpi_ops.py call these functions from their kernels, so a collective
runs when the op runs, in a Session plan, a df.function or eagerly.
"""
import ast
import hashlib
import time

import numpy as np

from distflow import backend
from distflow.distribute.communicator import CollectiveMismatchError

# Horovod's ReduceOp values (horovod/common/basics.py)
AVERAGE, SUM, ADASUM, MIN, MAX, PRODUCT = 0, 1, 2, 3, 4, 5
OP_NAMES = {AVERAGE: "Average", SUM: "Sum", ADASUM: "Adasum", MIN: "Min", MAX: "Max",
            PRODUCT: "Product"}

_KINDS = {"allreduce": 1, "allgather": 2, "broadcast": 3, "alltoall": 4, "reducescatter": 5,
          "barrier": 6, "join": 7, "broadcast_variables": 8, "broadcast_object": 9,
          "allgather_object": 10}
_JOIN = _KINDS["join"]


def check_op(op):
    """The op as one of Horovod's ReduceOp values; Adasum and anything else refused."""
    if op == ADASUM:
        raise NotImplementedError(
            "distflow.horovod does not implement the Adasum reduction (its scaled, pairwise "
            "combination of gradients); use op=hvd.Average (the default) or hvd.Sum")
    if op not in OP_NAMES:
        raise ValueError("Unknown reduction op %r: use hvd.Average, hvd.Sum, hvd.Min, hvd.Max "
                         "or hvd.Product" % (op,))
    return op


def _digest(text):
    h = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(h, "little", signed=True)


def _describe(arrays):
    return tuple("%s %s" % (tuple(a.shape), a.dtype) for a in arrays)


def header(kind, desc):
    """This rank's negotiation header for a call of `kind` on tensors described by `desc`."""
    return np.array([_KINDS[kind], _digest(repr((kind, desc)))], dtype=np.int64)


def negotiate(comm, kind, desc, mine=None):
    """Every rank's header for this call; returns the ranks that are in join() (empty when all
    take part). Raises CollectiveMismatchError on every rank when the active ranks differ.
    `mine`: header(kind, desc), when the caller keeps it from one call to the next."""
    if comm.size == 1:
        return []
    if mine is None:
        mine = header(kind, desc)
    comm.hvd_mode = "negotiation"  # what a joined rank learns of it (join below)
    try:
        headers = comm.allgather(mine, name="horovod %s (negotiation)" % kind)
    finally:
        comm.hvd_mode = None
    if kind != "join" and (headers == mine).all():  # the usual case, in one comparison
        return []
    joined = [r for r in range(comm.size) if headers[r, 0] == _JOIN and kind != "join"]
    active = [r for r in range(comm.size) if headers[r, 0] != _JOIN]
    if kind == "join":
        return headers
    if any(headers[r, 0] != mine[0] or headers[r, 1] != mine[1] for r in active):
        _mismatch(comm, kind, desc)
    if joined:
        comm.broadcast_object(desc if comm.rank == active[0] else None, root=active[0])
        _joinable(kind, desc)  # the joined ranks make the same check on the same description
    return joined


def _joinable(kind, desc):
    if kind not in ("allreduce", "allgather", "broadcast", "barrier"):
        raise ValueError("A rank in hvd.join() cannot take part in hvd.%s (it covers allreduce, "
                         "allgather, broadcast and barrier)" % kind)
    if kind == "allreduce" and desc[0].split()[1] not in ("Sum", "Average"):
        raise ValueError("A rank in hvd.join() takes part in Sum and Average allreduces only "
                         "(with zeros), not in hvd.%s" % desc[0].split()[1])


def _mismatch(comm, kind, desc):
    everyone = comm.allgather_object((kind, desc))
    lines = ["  rank %d: %s %s" % (r, k, ", ".join(d) if isinstance(d, tuple) else d)
             for r, (k, d) in enumerate(everyone)]
    raise CollectiveMismatchError(
        "The ranks called different Horovod collectives (or the same one with different "
        "tensors); nothing was run, since it would hang or give a wrong result:\n"
        + "\n".join(lines))


# -- the collectives --------------------------------------------------------------------------
def allreduce(comm, arrays, op, prescale=1.0, postscale=1.0, name=None):
    """Reduced copies of `arrays` (one fused buffer per dtype): Horovod's allreduce and
    grouped_allreduce. Average divides by the number of ranks, joined ones included."""
    op = check_op(op)
    for a in arrays:
        if op == AVERAGE and a.dtype.kind not in "fc":
            raise TypeError("hvd.Average needs floating tensors, got %s for %s: use op=hvd.Sum "
                            "for integers" % (a.dtype, name or "the tensor"))
    negotiate(comm, "allreduce", allreduce_description(arrays, op, prescale, postscale))
    return _reduce(comm, arrays, op, prescale, postscale, name)


def allreduce_description(arrays, op, prescale, postscale):
    return ("op %s pre %r post %r" % (OP_NAMES[op], prescale, postscale),) + _describe(arrays)


def _reduce(comm, arrays, op, prescale, postscale, name):
    xp = backend.get_array_module(*arrays) if arrays else np
    groups = {}
    for i, a in enumerate(arrays):
        groups.setdefault(a.dtype.str, []).append(i)
    out = [None] * len(arrays)
    for indices in groups.values():  # insertion order: the same on every rank
        dtype = arrays[indices[0]].dtype
        # MPI has no half type: float16 travels as float32 and is rounded back (Horovod's fp16
        # compression rounds the same values)
        wire = np.float32 if dtype == np.float16 else dtype
        flat = xp.concatenate([xp.asarray(arrays[i], dtype=wire).reshape(-1)
                               for i in indices]) if indices else xp.empty(0, wire)
        if prescale != 1.0:
            flat *= flat.dtype.type(prescale)
        if op == PRODUCT:
            flat = comm.allgather(flat, name=name).prod(axis=0).astype(wire)
        else:
            comm.allreduce(flat, {SUM: "sum", AVERAGE: "sum", MIN: "min", MAX: "max"}[op],
                           name=name)
            if op == AVERAGE:
                flat /= comm.size
        if postscale != 1.0:
            flat *= flat.dtype.type(postscale)
        offset = 0
        for i in indices:
            n = arrays[i].size
            out[i] = flat[offset:offset + n].reshape(arrays[i].shape).astype(dtype, copy=False)
            offset += n
    return out


def allgather(comm, array, name=None):
    """Rank 0's rows, then rank 1's, ...: first dimensions may differ, the rest may not."""
    if array.ndim == 0:
        raise ValueError("hvd.allgather needs a tensor of rank 1 or more (it concatenates on "
                         "the first dimension), got a scalar")
    desc = ("%s %s" % (tuple(array.shape[1:]), array.dtype),)  # the first dimension may differ
    negotiate(comm, "allgather", desc)
    return _gather(comm, array, name)


def _gather(comm, array, name):
    xp = backend.get_array_module(array)
    counts = comm.allgather(np.array([array.shape[0]], np.int64), name=name)[:, 0]
    longest = int(counts.max()) if len(counts) else 0
    padded = xp.zeros((longest,) + tuple(array.shape[1:]), dtype=array.dtype)
    padded[:array.shape[0]] = array
    every = comm.allgather(padded, name=name)
    return xp.concatenate([every[r, :int(counts[r])] for r in range(comm.size)]), counts


def broadcast(comm, array, root, name=None):
    comm._check_root(root)
    negotiate(comm, "broadcast", ("root %d" % root,) + _describe([array]))
    buf = backend.get_array_module(array).array(array, copy=True, order="C")
    return comm.broadcast(buf, root, name=name)


def alltoall(comm, array, splits, name=None):
    """(the rows every rank sent this one, in rank order; how many came from each rank)."""
    n = comm.size
    if splits is None:
        if array.shape[0] % n:
            raise ValueError("hvd.alltoall without splits divides the first dimension evenly "
                             "among %d ranks, got %d rows: pass splits" % (n, array.shape[0]))
        splits = np.full(n, array.shape[0] // n, np.int64)
    splits = np.asarray(backend.to_numpy(splits), np.int64).reshape(-1)
    if len(splits) != n or (splits < 0).any() or splits.sum() != array.shape[0]:
        raise ValueError("hvd.alltoall: splits must give one non-negative row count per rank "
                         "(%d), summing to the first dimension %d; got %s"
                         % (n, array.shape[0], splits.tolist()))
    negotiate(comm, "alltoall", ("%s %s" % (tuple(array.shape[1:]), array.dtype),))
    every, counts = _gather(comm, array, name)   # every rank's rows, then pick ours
    all_splits = comm.allgather(splits, name=name)  # (n, n): rank r sends all_splits[r, k] to k
    xp = backend.get_array_module(array)
    starts = np.concatenate([[0], np.cumsum(counts)])
    parts = []
    for r in range(n):
        offset = starts[r] + all_splits[r, :comm.rank].sum()
        parts.append(every[offset:offset + all_splits[r, comm.rank]])
    received = np.ascontiguousarray(all_splits[:, comm.rank]).astype(np.int32)
    return xp.concatenate(parts) if parts else every[:0], received


def reducescatter(comm, array, op, prescale=1.0, postscale=1.0, name=None):
    """This rank's rows of the reduced tensor: the first dimension divided as Horovod divides
    it (the first d % size ranks get one row more)."""
    if op not in (SUM, AVERAGE):
        check_op(op)
        raise ValueError("hvd.reducescatter supports op=hvd.Sum and hvd.Average, got hvd.%s"
                         % OP_NAMES[op])
    if array.ndim == 0:
        raise ValueError("hvd.reducescatter needs a tensor of rank 1 or more, got a scalar")
    desc = ("op %s pre %r post %r" % (OP_NAMES[op], prescale, postscale),) + _describe([array])
    negotiate(comm, "reducescatter", desc)
    reduced = _reduce(comm, [array], op, prescale, postscale, name)[0]
    start, stop = scatter_bounds(array.shape[0], comm.size, comm.rank)
    return reduced[start:stop].copy()


def scatter_bounds(rows, size, rank):
    base, extra = divmod(rows, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def barrier(comm):
    negotiate(comm, "barrier", ())
    comm.barrier(name="hvd.barrier")


def join(comm):
    """Takes part in the other ranks' collectives with zeros until every rank has joined;
    returns the rank that joined last (the highest of those that joined together).

    Two kinds of collective come from the ranks still running: negotiated ones (every call
    of an eager collective, and the first call of each layout of a plan's allreduce), whose
    16-byte header allgather a joined rank takes part in with a "joined" header; and a plan's
    allreduce of a layout negotiated before, which runs at once (no per-step negotiation). For
    the latter a joined rank asks the others where they are, over the watchdog's side channel
    (the collective cannot end without it, so the answer holds), and adds zeros of the size and
    dtype the answer names. Without a watchdog, plans negotiate every call (mpi_ops.py) and
    only the first kind exists."""
    if comm.size == 1:
        return 0
    if getattr(comm, "watchdog", None) is None:
        return _join_negotiated(comm)
    comm.hvd_joined = True
    try:
        return _join_asking(comm, comm.watchdog)
    finally:
        comm.hvd_joined = False


def _check_alive(comm, watchdog, states, heard):
    """A joined rank waits outside any collective, where the watchdog does not time it: it
    stops here when a rank's program ended, or a rank has not answered for the collective
    timeout, with what the watchdog would say."""
    now = time.monotonic()
    for r in states:
        heard[r] = now
    ended = sorted(watchdog._exited)
    silent = [r for r, t in heard.items() if now - t > watchdog.timeout]
    if ended or silent:
        raise RuntimeError(
            "hvd.join() on rank %d cannot finish: %s" % (comm.rank, "; ".join(
                ["rank %d's program ended" % r for r in ended]
                + ["rank %d has not answered for %g s (the collective timeout)"
                   % (r, watchdog.timeout) for r in silent])))


def _join_negotiated(comm):
    served = 0
    while True:
        headers = _join_round(comm, served)
        if headers is not None:
            return _last_joined(headers)
        served += 1


def _join_round(comm, served):
    """One negotiation allgather of the joined ranks with the others: the headers when every
    rank has joined, else None after serving the collective the others negotiated."""
    mine = np.array([_JOIN, served], dtype=np.int64)
    headers = comm.allgather(mine, name="hvd.join")
    active = [r for r in range(comm.size) if headers[r, 0] != _JOIN]
    if not active:
        return headers
    first = headers[active[0]]
    if any(headers[r, 0] != first[0] or headers[r, 1] != first[1] for r in active):
        _mismatch(comm, "join", ())
    desc = comm.broadcast_object(None, root=active[0])
    _serve(comm, int(first[0]), desc)
    return None


def _last_joined(headers):
    least = headers[:, 1].min()
    return int(max(r for r in range(len(headers)) if headers[r, 1] == least))


def _join_asking(comm, watchdog):
    others = [r for r in range(comm.size) if r != comm.rank]
    served, pause, heard = 0, 0.0005, {r: time.monotonic() for r in others}
    while True:
        states = watchdog.ask_where(others)
        _check_alive(comm, watchdog, states, heard)
        nxt = comm.seq + 1  # the collective the others need this rank in, if any
        waiting = [s for r, s in sorted(states.items())
                   if s[0] == "waiting" and s[1] == nxt and not s[5]]
        if waiting:
            mode, size, dtype = waiting[0][2], waiting[0][3], waiting[0][4]
            if mode == "negotiation":
                headers = _join_round(comm, served)
                if headers is not None:  # cannot be: a rank was running
                    return _last_joined(headers)
            elif mode == "fast":
                # the others' allreduce of a negotiated layout: zeros, summed
                comm.allreduce(np.zeros(size, dtype=np.dtype(dtype)), "sum", name="hvd.join")
            else:
                raise RuntimeError(
                    "A rank in hvd.join() cannot take part in collective #%d of the others: it "
                    "is not one of distflow.horovod's (join covers hvd.allreduce, allgather, "
                    "broadcast and barrier)" % nxt)
            served, pause = served + 1, 0.0005
            continue
        if len(states) == len(others) and all(
                s[5] and ((s[0] == "running" and s[1] == comm.seq)
                          or (s[0] == "waiting" and s[1] == nxt)) for s in states.values()):
            # every rank has joined (none serves: nobody runs), some may be in the last round
            # already: the last round, negotiated as before
            headers = _join_round(comm, served)
            if headers is not None:
                return _last_joined(headers)
            served += 1
            continue
        time.sleep(pause)  # the others compute: ask again soon, less often while they do
        pause = min(pause * 2, 0.02)


def _serve(comm, kind, desc):
    """A joined rank's part in a collective the active ranks run, from their description."""
    name = {v: k for k, v in _KINDS.items()}[kind]
    _joinable(name, desc)

    def arrays(entries):
        out = []
        for entry in entries:
            shape, dtype = entry.rsplit(" ", 1)
            out.append(np.zeros(ast.literal_eval(shape), dtype=dtype))
        return out
    if kind == _KINDS["allreduce"]:
        op_text = desc[0].split()
        op = {v: k for k, v in OP_NAMES.items()}[op_text[1]]
        _reduce(comm, arrays(desc[1:]), op, float(op_text[3]), float(op_text[5]), "hvd.join")
    elif kind == _KINDS["allgather"]:
        shape, dtype = desc[0].rsplit(" ", 1)
        _gather(comm, np.zeros((0,) + ast.literal_eval(shape), dtype=dtype), "hvd.join")
    elif kind == _KINDS["broadcast"]:
        root = int(desc[0].split()[1])
        comm.broadcast(arrays(desc[1:])[0], root, name="hvd.join")
    else:  # barrier
        comm.barrier(name="hvd.join")
