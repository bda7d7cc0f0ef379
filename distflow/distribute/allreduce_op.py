"""FusedAllReduce: one op that all-reduces many tensors (a step's gradients) across ranks.

Inputs are the tensors, outputs the reduced tensors, same shapes and dtypes. The kernel copies the
inputs into flat buffers, reduces each buffer with ONE collective, and returns views of the
buffers, so a step makes one collective call however many variables the model has (Horovod's
"tensor fusion", ChainerMN's packed buffer).

In a Session plan the buffers are allocated once, when the plan binds the kernel, and reused every
step: the layout is static. A big model can cut them into buckets of at most `bucket_bytes`,
filled in backward order (the last layer's gradient, which backprop computes first, goes into the
first bucket), one dtype per bucket.

Before the first reduction of a layout, the ranks compare a digest of it (names, shapes, dtypes,
buckets) in one 8-byte allgather: ranks that built different models get an error naming the
tensors and ranks, never a hang or a wrong sum. A plan's layout never changes, so a training step
pays for nothing but the copies and the collectives.

Eagerly (the kernel called with runtime=None, per call), each call gets fresh buffers, since the
outputs become immutable EagerTensors; the layout check is still made once per layout.

The outputs alias the buffers (`aliases=True`: a Session copies them when they are fetched). No
gradient flows through the op: it sits between backprop and the optimizer's update.
"""
from distflow import backend
from distflow.distribute.communicator import REDUCE_OPS
from distflow.ops import dispatch
from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def

DEFAULT_BUCKET_BYTES = 32 * 2**20  # one bucket for models below 32 MiB of gradients


def bucket_layout(nbytes, dtypes, bucket_bytes):
    """Index lists, one per bucket, in the order the buckets are reduced.

    Tensors are taken last first; a bucket holds one dtype and is closed when the next tensor
    would take it past `bucket_bytes` (a larger tensor gets a bucket of its own). With
    bucket_bytes=None, every dtype gets a single bucket.
    """
    open_by_dtype = {}
    buckets = []
    for i in reversed(range(len(nbytes))):
        bucket = open_by_dtype.get(dtypes[i])
        if bucket is not None and bucket_bytes is not None and bucket[1] + nbytes[i] > bucket_bytes:
            bucket = None
        if bucket is None:
            bucket = open_by_dtype[dtypes[i]] = [[], 0]
            buckets.append(bucket)
        bucket[0].append(i)
        bucket[1] += nbytes[i]
    return [indices for indices, _ in buckets]


class FusedBuffers:
    """The flat buffers of one layout and the views that unpack them."""

    def __init__(self, arrays, xp, bucket_bytes):
        self.shapes = tuple(a.shape for a in arrays)
        self.dtypes = tuple(a.dtype for a in arrays)
        self.views = [None] * len(arrays)
        self.buckets = []
        layout = bucket_layout([a.nbytes for a in arrays], self.dtypes, bucket_bytes)
        for indices in layout:
            flat = xp.empty(sum(arrays[i].size for i in indices), dtype=self.dtypes[indices[0]])
            offset = 0
            for i in indices:
                n = arrays[i].size
                self.views[i] = flat[offset:offset + n].reshape(self.shapes[i])
                offset += n
            self.buckets.append((flat, indices))

    def matches(self, arrays):
        return (len(arrays) == len(self.shapes)
                and all(a.shape == s and a.dtype == d
                        for a, s, d in zip(arrays, self.shapes, self.dtypes)))

    def describe(self, names, reduction):
        """(name, description) per tensor, for the cross-rank layout check."""
        items = [("reduction", reduction)]
        for b, (_, indices) in enumerate(self.buckets):
            for i in indices:
                items.append((names[i], "shape %s %s (bucket %d)"
                              % (self.shapes[i], self.dtypes[i], b)))
        return items

    def reduce(self, comm, arrays, reduction, name):
        views = self.views
        for flat, indices in self.buckets:
            for i in indices:
                views[i][...] = arrays[i]
            comm.allreduce(flat, reduction, name)
        return views


def _infer(*xs, communicator, reduction, bucket_bytes, names):
    if reduction not in REDUCE_OPS:
        raise ValueError("Unknown reduction %r; use one of %s" % (reduction, ", ".join(REDUCE_OPS)))
    for x in xs:
        if not (x.dtype.is_floating or x.dtype.is_integer):
            raise TypeError("FusedAllReduce reduces numbers, got %s for %s" % (x.dtype.name, x))
        if reduction == "mean" and not x.dtype.is_floating:
            raise TypeError("A mean all-reduce needs floating tensors, got %s" % x.dtype.name)
    return [(x.shape, x.dtype) for x in xs]


def _kernel(op, runtime):
    attrs = op.attrs
    comm = attrs["communicator"] or _default_communicator()
    reduction, bucket_bytes, names = attrs["reduction"], attrs["bucket_bytes"], attrs["names"]
    label = getattr(op, "name", None) or "FusedAllReduce"
    what = "the fused all-reduce '%s'" % label
    per_plan = runtime is not None
    state = [None]

    def single(*arrays):  # one rank: every reduction is the identity, no copies
        return arrays if len(arrays) != 1 else arrays[0]

    def fused(*arrays):
        buffers = state[0]
        if buffers is None or not buffers.matches(arrays):
            buffers = FusedBuffers(arrays, backend.get_array_module(*arrays), bucket_bytes)
            comm.check_same(what, buffers.describe(names, reduction))
            if per_plan:
                state[0] = buffers
        outs = buffers.reduce(comm, arrays, reduction, label)
        return tuple(outs) if len(outs) != 1 else outs[0]
    return single if comm.size == 1 else fused


FusedAllReduce = op_def("FusedAllReduce", infer=_infer, kernel=_kernel, aliases=True,
                        grad=NOT_DIFFERENTIABLE)


def _default_communicator():
    from distflow.distribute import runtime
    return runtime.init().communicator


def allreduce(tensors, op="sum", communicator=None, bucket_bytes=DEFAULT_BUCKET_BYTES,
              names=None, name=None):
    """All-reduces `tensors` (a tensor or a list) across ranks with one fused op.

    op: 'sum' (default: with losses divided by the global batch, sums make N ranks compute what
    one process computes), 'mean', 'max' or 'min'. Works in graph mode (returns symbolic tensors)
    and eagerly (returns EagerTensors). Returns a tensor for a tensor, a list for a list.
    """
    single = not isinstance(tensors, (list, tuple))
    inputs = [tensors] if single else list(tensors)
    if not inputs:
        raise ValueError("allreduce needs at least one tensor")
    if names is None:
        names = tuple(_label(t, i) for i, t in enumerate(inputs))
    attrs = {"communicator": communicator or _default_communicator(), "reduction": op,
             "bucket_bytes": bucket_bytes, "names": tuple(names)}
    out = dispatch.apply(FusedAllReduce, inputs, attrs, name=name)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return outs[0] if single else outs


def _label(t, i):
    try:
        return t.name
    except (AttributeError, ValueError):  # eager tensors have no names
        return "tensor #%d" % i
