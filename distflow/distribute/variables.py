"""Keeping replicas identical: broadcast variables from one rank, and compare them by checksum.

Every rank creates its variables from the same seed, then `broadcast_variables` copies rank 0's
values to every rank once (so even a rank-dependent initializer cannot make replicas differ), and
`variables_checksum` compares them across ranks: the trainer checks it once at start, anyone can
call it later. Both work on a Session's graph variables and on eager variables:

    broadcast_variables(sess)                 # a Session: all its global variables, now
    broadcast_variables(sess, var_list)
    broadcast_variables([v1, v2])             # eager variables: now
    op = broadcast_variables(var_list)        # graph variables without a session: an op to run

Values travel as one flat buffer per dtype (one Bcast each), never pickled.
"""
import hashlib

import numpy as np

from distflow import backend
from distflow.framework import errors
from distflow.framework.graph import GraphKeys, get_default_graph
from distflow.ops import dispatch
from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def


class ReplicaMismatchError(errors.FailedPreconditionError):
    """Variables that must be identical on every rank are not."""

    raised_on_every_rank = True  # found after an allgather: see CollectiveMismatchError

    def __init__(self, message):
        super().__init__(None, None, message)


# -- where a variable's value lives ------------------------------------------------------------
class _Storage:
    """Reads and writes one variable's value: an eager variable's own array, or a graph
    variable's cell in one Session."""

    __slots__ = ("var", "cell")

    def __init__(self, var, runtime):
        self.var = var
        self.cell = None if _is_eager(var) else runtime.variable_cell(var.op)

    def get(self):
        return (self.var if self.cell is None else self.cell).read_array()

    def set(self, value):
        if self.cell is None:
            self.var.assign_array(value)  # a new array: earlier eager reads stay unchanged
            return
        current = self.cell.read_array()
        if current is not None and current.shape == value.shape:
            current[...] = value  # in place: a fused update's flat view stays the array
        else:
            self.cell.assign_array(value)


def _is_eager(var):
    return hasattr(var, "assign_array")


def _resolve(first, var_list):
    """(variables, session) from the flexible first argument."""
    from distflow.client.session import Session
    if isinstance(first, Session):
        if var_list is None:
            var_list = first.graph.get_collection(GraphKeys.GLOBAL_VARIABLES)
        return list(var_list), first
    if first is None:
        first = var_list
    if first is None:
        first = get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES)
        if not first:
            raise ValueError("No variables given, and the default graph has none: pass the "
                             "variables (eager variables have no global collection).")
    return list(first), None


def _layout(variables):
    return [(v.name, "%s %s" % (v.shape, v.dtype.name)) for v in variables]


# -- broadcast ---------------------------------------------------------------------------------
def broadcast_variables(variables=None, var_list=None, root=0, communicator=None):
    """Overwrites the variables on every rank with root's values (see the module doc)."""
    variables, session = _resolve(variables, var_list)
    comm = communicator or _default_communicator()
    comm._check_root(root)
    if session is not None or all(_is_eager(v) for v in variables):
        _broadcast(comm, [_Storage(v, session) for v in variables], variables, root)
        return None
    graph = variables[0].graph
    attrs = {"variables": tuple(variables), "root": root, "communicator": comm}
    return dispatch.build_op(graph, BroadcastVariables, [], attrs, "BroadcastVariables")


def _broadcast(comm, storages, variables, root):
    if comm.size == 1:
        return
    comm.check_same("broadcast_variables", _layout(variables))
    values = [s.get() for s in storages]
    meta = None
    if comm.rank == root:
        meta = [None if v is None else (tuple(v.shape), str(v.dtype)) for v in values]
    meta = comm.broadcast_object(meta, root)
    missing = [v.name for v, m in zip(variables, meta) if m is None]
    if missing:
        raise errors.FailedPreconditionError(
            None, None, "Attempting to use uninitialized value %s: broadcast_variables sends "
            "rank %d's values, so run the initializer first." % (missing[0], root))
    present = [v for v in values if v is not None]
    xp = backend.get_array_module(*present) if present else np
    groups = {}
    for i, (_, dtype) in enumerate(meta):
        groups.setdefault(dtype, []).append(i)
    for dtype, indices in groups.items():  # dict order: the same on every rank
        flat = xp.empty(sum(int(np.prod(meta[i][0])) for i in indices), dtype=dtype)
        offset = 0
        spans = []
        for i in indices:
            n = int(np.prod(meta[i][0]))
            spans.append((i, offset, n))
            if comm.rank == root:
                flat[offset:offset + n] = values[i].reshape(-1)
            offset += n
        comm.broadcast(flat, root, name="broadcast_variables")
        if comm.rank != root:
            for i, offset, n in spans:
                storages[i].set(flat[offset:offset + n].reshape(meta[i][0]).copy())


def _broadcast_kernel(op, runtime):
    attrs = op.attrs
    variables, root, comm = attrs["variables"], attrs["root"], attrs["communicator"]

    def run():
        _broadcast(comm, [_Storage(v, runtime) for v in variables], variables, root)
    return run


BroadcastVariables = op_def("BroadcastVariables", effects="collective",
                            infer=lambda variables, root, communicator: [],
                            kernel=_broadcast_kernel, grad=NOT_DIFFERENTIABLE)


def broadcast_global_variables(root=0, communicator=None):
    """An op broadcasting every global variable of the default graph from `root` (Horovod's
    name), to run once after the initializer."""
    return broadcast_variables(None, root=root, communicator=communicator)


# -- checksum ----------------------------------------------------------------------------------
def variables_checksum(variables=None, var_list=None, compare=True, communicator=None):
    """A hex digest of the variables' names, shapes, dtypes and values.

    With compare=True (default) the ranks compare their digests (one small allgather) and a
    ReplicaMismatchError names every variable that differs from rank 0 and the ranks where it
    does; the returned digest is then the same on every rank.
    """
    variables, session = _resolve(variables, var_list)
    storages = [_Storage(v, session) if (session is not None or _is_eager(v)) else None
                for v in variables]
    if any(s is None for s in storages):
        raise ValueError("variables_checksum needs a Session for graph variables: "
                         "variables_checksum(sess) or variables_checksum(sess, var_list)")
    digests = np.array([_digest(v, s.get()) for v, s in zip(variables, storages)], dtype=np.int64)
    total = hashlib.blake2b(digests.tobytes(), digest_size=16).hexdigest()
    comm = communicator or _default_communicator()
    if compare and comm.size > 1:
        comm.check_same("variables_checksum", _layout(variables))
        everyone = comm.allgather(digests, name="variables_checksum")
        lines = []
        for j, v in enumerate(variables):
            differ = [r for r in range(comm.size) if everyone[r, j] != everyone[0, j]]
            if differ:
                lines.append("  '%s' differs from rank 0's on %s" % (v.name, _ranks(differ)))
        if lines:
            raise ReplicaMismatchError(
                "The replicas differ: %d of %d variables are not the same on every rank (run "
                "broadcast_variables after initializing, and give every rank the same seed "
                "and the same gradients):\n%s" % (len(lines), len(variables),
                                                  "\n".join(lines[:20])))
    return total


def _digest(var, value):
    h = hashlib.blake2b(digest_size=8)
    h.update(("%s|%s|%s|" % (var.name, var.shape, var.dtype.name)).encode())
    if value is None:
        h.update(b"<uninitialized>")
    else:
        h.update(np.ascontiguousarray(backend.to_numpy(value)).tobytes())
    return int.from_bytes(h.digest(), "little", signed=True)


def _ranks(rs):
    return ("rank %d" % rs[0]) if len(rs) == 1 else "ranks " + ", ".join(str(r) for r in rs)


def _default_communicator():
    from distflow.distribute import runtime
    return runtime.init().communicator
