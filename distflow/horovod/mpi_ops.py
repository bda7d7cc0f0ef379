"""horovod.tensorflow.mpi_ops: the collectives as ops (graph and eager), with Horovod's gradients.

Each op's kernel calls collectives.py when the op runs (a Session plan, a df.function, or at once
eagerly), over the communicator of distflow.distribute.init(), so a collective that some rank
never reaches stops the job with the watchdog's message instead of hanging it. The gradients are
Horovod's: an allreduce's gradient is the same allreduce of the incoming gradient, an allgather's
is this rank's rows of the averaged gradient, a broadcast's is the averaged gradient on the root
and zeros elsewhere, an alltoall's sends the gradient back, a reducescatter's gathers it.
"""
import operator
import types
import weakref

import numpy as np

from distflow import backend
from distflow.framework import dtypes
from distflow.framework.tensor_shape import TensorShape
from distflow.horovod import collectives
from distflow.horovod.collectives import (ADASUM, AVERAGE, MAX, MIN, PRODUCT,  # noqa: F401
                                          SUM)
from distflow.ops import dispatch
from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def


def _comm():
    from distflow.distribute import runtime
    return runtime.init().communicator


def _rows_unknown(shape):
    dims = shape.as_tuple()
    return shape if dims is None or not dims else TensorShape((None,) + tuple(dims[1:]))


def _single(out):
    return out[0] if len(out) == 1 else tuple(out)


# -- allreduce and grouped_allreduce -----------------------------------------------------------
def _allreduce_infer(*xs, reduce_op, prescale_factor, postscale_factor):
    collectives.check_op(reduce_op)
    for x in xs:
        if not (x.dtype.is_floating or x.dtype.is_integer):
            raise TypeError("hvd.allreduce reduces numbers, got %s" % x.dtype.name)
    return [(x.shape, x.dtype) for x in xs]


class _AllreduceKernel:
    """One allreduce op's kernel. Eagerly, and for Min / Max / Product: collectives.allreduce,
    fresh arrays per call. In a plan (a Session's, a df.function's) a Sum or Average is reduced
    by distflow's fused all-reduce kernel (allreduce_op.FusedKernel): buffers allocated once,
    gradients computed straight into them, the MPI call bound once, shared memory for big
    buffers. The first call of each layout is negotiated (one 16-byte allgather: a mismatch is
    an error on every rank, as FusedAllReduce checks its layout once per plan); later calls of
    a layout bound to MPI run at once, and a rank in join() learns of them over the watchdog's
    side channel (collectives.join). With a rank in join() during a negotiation, the call
    takes the plain path, as the joined rank does."""

    def __init__(self, op, runtime):
        from distflow.distribute.allreduce_op import DEFAULT_BUCKET_BYTES, FusedKernel
        a = op.attrs
        self.op, self.pre, self.post = a["reduce_op"], a["prescale_factor"], a["postscale_factor"]
        self.name = getattr(op, "name", None) or "HorovodAllreduce"
        self.comm = _comm()
        self.scale = self.pre * self.post
        self.headers = {}  # (shapes, dtypes) -> (header, description)
        self.settled = set()  # the (shapes, dtypes) that run without negotiating (see __call__)
        self.last_settled = None  # the arrays of the last call of a settled layout
        self.fused = None
        if runtime is not None and self.comm.size > 1 and self.op in (SUM, AVERAGE):
            names = tuple(getattr(x, "name", None) or "tensor #%d" % i
                          for i, x in enumerate(op.inputs))
            self.fused = FusedKernel(_stand_in(op, {
                "communicator": self.comm, "reduction": "mean" if self.op == AVERAGE else "sum",
                "bucket_bytes": DEFAULT_BUCKET_BYTES, "names": names},
                SettledName(self.name)), runtime)
            self.input_buffers = self.fused.input_buffers  # the plan's zero-copy offer
        # (inputs or None, reduce, outputs): the fused kernel's own hot path, taken here at once
        # once this layout is settled and every input is computed in place (see __call__)
        self.fast = None

    def __call__(self, *arrays):
        # The hot path of a zero-copy plan, as FusedKernel's: a settled layout whose inputs ARE
        # the fused buffers' views (or are bound to be) is one bound MPI call. Nothing to set
        # for a joined rank: the reduction runs under a SettledName, which the watchdog reports.
        fast = self.fast
        if fast is not None and (fast[0] is None or all(map(operator.is_, arrays, fast[0]))):
            fast[1]()
            return fast[2]
        return self._call(arrays)

    def _call(self, arrays):
        if self.fused is None:
            return _single(collectives.allreduce(self.comm, list(arrays), self.op, self.pre,
                                                 self.post, self.name))
        # A zero-copy plan hands in the same arrays (its fused views) every step: then the
        # layout is the one settled last time, with no key to build and hash.
        last = self.last_settled
        if last is not None and len(arrays) == len(last) and all(map(operator.is_, arrays, last)):
            settled = True
        else:
            key = tuple([(a.shape, a.dtype) for a in arrays])
            settled = key in self.settled
            self.last_settled = arrays if settled else None
        if settled:
            # negotiated before, the fused buffers bound: no negotiation (a joined rank learns
            # of this call from the side channel, collectives.join: the fused kernel reduces
            # under a SettledName)
            out = self.fused(*arrays)
            return out if self.scale == 1.0 else self._scaled(out)
        known = self.headers.get(key)
        if known is None:
            known = self.headers[key] = self._describe(arrays)
        if collectives.negotiate(self.comm, "allreduce", known[1], known[0]):
            # a rank is in join(): the plain reduction, which the joined rank takes part in
            return _single(collectives._reduce(self.comm, list(arrays), self.op, self.pre,
                                               self.post, self.name))
        out = self._scaled(self.fused(*arrays))
        if self._can_settle():
            self.settled.add(key)
            if self.scale == 1.0:
                self.fast = self.fused.in_place_path()
        return out

    def _scaled(self, out):
        if self.scale != 1.0:
            for o in (out if isinstance(out, tuple) else (out,)):
                o *= o.dtype.type(self.scale)  # in the fused buffer: no new array
        return out

    def _can_settle(self):
        """Whether later calls of this layout may skip negotiating: the fused kernel has bound
        its buffers (its own layout check is done), each to an MPI all-reduce a joined rank can
        take part in (not the shared-memory one), and a watchdog answers a joined rank's
        questions (without one, join works by negotiation alone)."""
        comm, buffers = self.comm, self.fused.buffers
        if getattr(comm, "watchdog", None) is None or buffers is None:
            return False
        if backend.get_array_module(*buffers.flats) is not np:
            return False  # a joined rank adds host zeros: GPU buffers keep negotiating
        segments = getattr(comm, "_segments", None)
        return segments is None or not any(segments.wanted(f.nbytes) for f in buffers.flats)

    def _describe(self, arrays):
        for a in arrays:
            if self.op == AVERAGE and a.dtype.kind not in "fc":
                raise TypeError("hvd.Average needs floating tensors, got %s: use op=hvd.Sum "
                                "for integers" % a.dtype)
        desc = collectives.allreduce_description(arrays, self.op, self.pre, self.post)
        return collectives.header("allreduce", desc), desc


class SettledName(str):
    """The name a Horovod allreduce's fused buffers are reduced under. While a rank waits in a
    collective of such a name, the watchdog tells a rank in join() that it is a settled
    Horovod allreduce (mode 'fast': take part with zeros), with no flag to set and clear
    around every call. Only the calls of a negotiated layout, or of its negotiation's own
    call, reduce under it, and a joined rank takes part in every negotiation."""

    __slots__ = ()
    hvd_mode = "fast"


_stand_ins = weakref.WeakKeyDictionary()


def _stand_in(op, attrs, name):
    """What FusedKernel reads of an op (attrs, name), one per allreduce op: the plans compiled
    for one op share its buffers through it (FusedKernel keys them by its identity)."""
    try:
        found = _stand_ins.get(op)
    except TypeError:  # an op without weak references (an eager record): one per kernel
        return types.SimpleNamespace(attrs=attrs, name=name)
    if found is None:
        found = _stand_ins[op] = types.SimpleNamespace(attrs=attrs, name=name)
    return found


_allreduce_kernel = _AllreduceKernel


def _allreduce_grad(op, *dys):
    reduce_op = op.attrs["reduce_op"]
    if reduce_op not in (SUM, AVERAGE):
        raise LookupError("No gradient is defined for hvd.allreduce with op=hvd.%s (only Sum "
                          "and Average have one)" % collectives.OP_NAMES[reduce_op])
    dys = [dy if dy is not None else dispatch_zeros(x) for dy, x in zip(dys, op.inputs)]
    out = grouped_allreduce_op(dys, reduce_op, op.attrs["prescale_factor"],
                               op.attrs["postscale_factor"])
    return out


def dispatch_zeros(x):
    from distflow.ops.array_ops import zeros_like
    return zeros_like(x)


HorovodAllreduce = op_def("HorovodAllreduce", effects="collective",
                          infer=_allreduce_infer, kernel=_allreduce_kernel,
                          grad=_allreduce_grad)
HorovodGroupedAllreduce = op_def("HorovodGroupedAllreduce", effects="collective",
                                 infer=_allreduce_infer,
                                 kernel=_allreduce_kernel, grad=_allreduce_grad)


def allreduce_op(tensor, reduce_op=SUM, prescale_factor=1.0, postscale_factor=1.0, name=None):
    """Horovod's `_allreduce`: the raw op (the default op Sum, as Horovod's)."""
    attrs = {"reduce_op": reduce_op, "prescale_factor": float(prescale_factor),
             "postscale_factor": float(postscale_factor)}
    return dispatch.apply(HorovodAllreduce, [tensor], attrs, name=name)


def grouped_allreduce_op(tensors, reduce_op=SUM, prescale_factor=1.0, postscale_factor=1.0,
                         name=None):
    tensors = list(tensors)
    if not tensors:
        return []
    attrs = {"reduce_op": reduce_op, "prescale_factor": float(prescale_factor),
             "postscale_factor": float(postscale_factor)}
    out = dispatch.apply(HorovodGroupedAllreduce, tensors, attrs, name=name)
    return list(out) if isinstance(out, (tuple, list)) else [out]


# -- allgather ---------------------------------------------------------------------------------
def _allgather_infer(x):
    if x.shape.rank == 0:
        raise ValueError("hvd.allgather needs a tensor of rank 1 or more, got a scalar")
    return [(_rows_unknown(x.shape), x.dtype)]


def _allgather_kernel(op, runtime):
    name = getattr(op, "name", None) or "HorovodAllgather"
    return lambda array: collectives.allgather(_comm(), array, name)[0]


def _allgather_grad(op, dy):
    from distflow.ops import array_ops, math_ops
    reduced = allreduce_op(dy, AVERAGE)
    x = op.inputs[0]
    rows = array_ops.reshape(array_ops.shape(x)[0], [1])
    every = allgather(rows)
    comm = _comm()
    start = math_ops.reduce_sum(every[:comm.rank]) if comm.rank else 0
    return [reduced[start:start + rows[0]]]


HorovodAllgather = op_def("HorovodAllgather", effects="collective",
                          infer=_allgather_infer, kernel=_allgather_kernel,
                          grad=_allgather_grad)


def allgather(tensor, name=None, ignore_name_scope=False, process_set=None):
    """Rank 0's rows, then rank 1's, ... (first dimensions may differ between ranks)."""
    _global_only(process_set)
    return dispatch.apply(HorovodAllgather, [tensor], {}, name=name)


# -- broadcast ---------------------------------------------------------------------------------
def _broadcast_kernel(op, runtime):
    root = op.attrs["root_rank"]
    name = getattr(op, "name", None) or "HorovodBroadcast"
    return lambda array: collectives.broadcast(_comm(), array, root, name)


def _broadcast_grad(op, dy):
    reduced = allreduce_op(dy, AVERAGE)
    if _comm().rank != op.attrs["root_rank"]:
        return [reduced * 0]
    return [reduced]


HorovodBroadcast = op_def("HorovodBroadcast", effects="collective",
                          infer=lambda x, root_rank: [(x.shape, x.dtype)],
                          kernel=_broadcast_kernel, grad=_broadcast_grad)


def broadcast(tensor, root_rank, name=None, ignore_name_scope=False, process_set=None):
    """root_rank's value of `tensor` on every rank."""
    _global_only(process_set)
    _check_rank(root_rank)
    return dispatch.apply(HorovodBroadcast, [tensor], {"root_rank": int(root_rank)}, name=name)


# -- alltoall ----------------------------------------------------------------------------------
def _alltoall_infer(x, splits):
    if x.shape.rank == 0:
        raise ValueError("hvd.alltoall needs a tensor of rank 1 or more, got a scalar")
    return [(_rows_unknown(x.shape), x.dtype), (TensorShape([None]), dtypes.int32)]


def _alltoall_kernel(op, runtime):
    name = getattr(op, "name", None) or "HorovodAlltoall"

    def run(array, splits):
        return collectives.alltoall(_comm(), array, splits if splits.size else None, name)
    return run


def _alltoall_grad(op, dy, _dsplits):
    back, _ = alltoall(dy, splits=op.outputs[1])
    return [back, None]


HorovodAlltoall = op_def("HorovodAlltoall", effects="collective",
                         infer=_alltoall_infer, kernel=_alltoall_kernel,
                         grad=_alltoall_grad)


def alltoall(tensor, splits=None, name=None, ignore_name_scope=False, process_set=None):
    """Sends splits[k] rows of `tensor` to rank k (equal parts without splits); returns the rows
    received, in rank order, and (when splits are given) how many came from each rank."""
    _global_only(process_set)
    given = splits is not None
    if given and isinstance(splits, (list, tuple, np.ndarray)) and len(splits) != _comm().size:
        raise ValueError("hvd.alltoall: splits must give one row count per rank (%d), got %r"
                         % (_comm().size, list(splits)))
    splits = dispatch.convert_to_tensor(splits if given else np.zeros(0, np.int32), dtypes.int32)
    out, received = dispatch.apply(HorovodAlltoall, [tensor, splits], {}, name=name)
    return (out, received) if given else out


# -- reducescatter -----------------------------------------------------------------------------
def _reducescatter_infer(x, reduce_op, prescale_factor, postscale_factor):
    if x.shape.rank == 0:
        raise ValueError("hvd.reducescatter needs a tensor of rank 1 or more, got a scalar")
    return [(_rows_unknown(x.shape), x.dtype)]


def _reducescatter_kernel(op, runtime):
    a = op.attrs
    name = getattr(op, "name", None) or "HorovodReducescatter"
    return lambda array: collectives.reducescatter(
        _comm(), array, a["reduce_op"], a["prescale_factor"], a["postscale_factor"], name)


def _reducescatter_grad(op, dy):
    a = op.attrs
    scale = a["prescale_factor"] * a["postscale_factor"]
    if a["reduce_op"] == SUM:
        scale *= _comm().size
    return [allgather(dy * scale if scale != 1.0 else dy)]


HorovodReducescatter = op_def("HorovodReducescatter", effects="collective",
                              infer=_reducescatter_infer,
                              kernel=_reducescatter_kernel, grad=_reducescatter_grad)


def reducescatter_op(tensor, reduce_op=SUM, prescale_factor=1.0, postscale_factor=1.0,
                     name=None):
    if reduce_op not in (SUM, AVERAGE):
        collectives.check_op(reduce_op)
        raise ValueError("hvd.reducescatter supports op=hvd.Sum and hvd.Average, got hvd.%s"
                         % collectives.OP_NAMES[reduce_op])
    attrs = {"reduce_op": reduce_op, "prescale_factor": float(prescale_factor),
             "postscale_factor": float(postscale_factor)}
    return dispatch.apply(HorovodReducescatter, [tensor], attrs, name=name)


# -- join and barrier --------------------------------------------------------------------------
def _join_kernel(op, runtime):
    return lambda: np.int32(collectives.join(_comm()))


HorovodJoin = op_def("HorovodJoin", effects="collective",
                     infer=lambda: [(TensorShape([]), dtypes.int32)],
                     kernel=_join_kernel, grad=NOT_DIFFERENTIABLE)


def join():
    """Takes part in the other ranks' allreduces (with zeros), allgathers and broadcasts until
    every rank has called join(); returns the rank that joined last."""
    return dispatch.apply(HorovodJoin, [], {})


def _barrier_kernel(op, runtime):
    def run():
        collectives.barrier(_comm())
    return run


HorovodBarrier = op_def("HorovodBarrier", effects="collective",
                        infer=lambda: [], kernel=_barrier_kernel,
                        grad=NOT_DIFFERENTIABLE)


def barrier(process_set=None):
    """Returns once every rank has called barrier()."""
    _global_only(process_set)
    return dispatch.apply(HorovodBarrier, [], {})


# -- helpers -----------------------------------------------------------------------------------
def _global_only(process_set):
    if process_set is not None and getattr(process_set, "process_set_id", 0) != 0:
        raise NotImplementedError("distflow.horovod runs every collective over all ranks "
                                  "(the global process set); process sets are not supported")


def _check_rank(root_rank):
    n = _comm().size
    if isinstance(root_rank, bool) or not isinstance(root_rank, (int, np.integer)) \
            or not 0 <= root_rank < n:
        raise ValueError("root_rank must be a rank in [0, %d), got %r" % (n, root_rank))
