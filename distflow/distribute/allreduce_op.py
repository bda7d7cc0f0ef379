"""FusedAllReduce: one op that all-reduces many tensors (a step's gradients) across ranks.

Inputs are the tensors, outputs the reduced tensors, same shapes and dtypes. The kernel packs the
inputs into flat buffers, reduces each buffer with ONE collective, and returns views of the
buffers, so a step makes one collective call however many variables the model has (Horovod's
"tensor fusion", ChainerMN's packed buffer).

In a Session plan the buffers are allocated once and reused every step: the layout is static. A
big model can cut them into buckets of at most `bucket_bytes`, filled in backward order (the last
layer's gradient, which backprop computes first, goes into the first bucket), one dtype per
bucket.

Zero copy. When the shapes are known while the plan compiles (a variable's gradient always has
the variable's shape), the plan asks the bound kernel for its buffers up front
(`kernel.input_buffers(shapes, dtypes, xp, written)`) and binds each gradient's producing op (MatMul,
SumTo, BiasAddGrad, ...) with `out=` the gradient's view: backprop then writes straight into the fused
buffer, and the kernel, finding an input that IS its view, skips the copy. Any other input (one
fetched, consumed elsewhere, or produced by an op without an `out` kernel) is copied in as before.

Before the first reduction of a layout, the ranks compare a digest of it (names, shapes, dtypes,
buckets) in one 8-byte allgather: ranks that built different models get an error naming the
tensors and ranks, never a hang or a wrong sum. A plan's layout never changes, so a training step
pays for nothing but the collectives (and the copies of inputs not in place).

Eagerly (the kernel called with runtime=None, per call), each call gets fresh buffers, since the
outputs become immutable EagerTensors; the layout check is still made once per layout.

The outputs alias the buffers (`aliases=True`: a Session copies them when they are fetched). No
gradient flows through the op: it sits between backprop and the optimizer's update.
"""
import math
import operator

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

    def __init__(self, shapes, dtypes, xp, bucket_bytes, allocate=None, owner=None):
        """`allocate(nelems, dtype, xp, key)`: where a plan's buffers come from (the
        communicator's, which may put a big one in shared memory, and gives every plan of the
        same op, `owner`, the same buffers); an ordinary xp.empty without it."""
        self.shapes = tuple(tuple(s) for s in shapes)
        self.dtypes = tuple(xp.dtype(d) for d in dtypes)
        sizes = [math.prod(s) for s in self.shapes]
        self.views = [None] * len(self.shapes)
        self.buckets = []
        layout = bucket_layout([n * d.itemsize for n, d in zip(sizes, self.dtypes)], self.dtypes,
                               bucket_bytes)
        for b, indices in enumerate(layout):
            nelems, dtype = sum(sizes[i] for i in indices), self.dtypes[indices[0]]
            flat = allocate(nelems, dtype, xp, key=None if owner is None else (owner, b)) \
                if allocate else xp.empty(nelems, dtype=dtype)
            offset = 0
            for i in indices:
                self.views[i] = flat[offset:offset + sizes[i]].reshape(self.shapes[i])
                offset += sizes[i]
            self.buckets.append((flat, indices))
        self.flats = [flat for flat, _ in self.buckets]
        self.outputs = tuple(self.views) if len(self.views) != 1 else self.views[0]
        self.copies = 0  # inputs copied in so far (the zero-copy path makes none)

    @classmethod
    def for_arrays(cls, arrays, bucket_bytes, allocate=None, owner=None):
        return cls([a.shape for a in arrays], [a.dtype for a in arrays],
                   backend.get_array_module(*arrays), bucket_bytes, allocate, owner)

    def matches(self, arrays):
        """True when `arrays` fit this layout."""
        return len(arrays) == len(self.views) and all(
            a is v or (a.shape == v.shape and a.dtype == v.dtype)
            for a, v in zip(arrays, self.views))

    def pack(self, arrays):
        """Copies in the inputs not already in place; False (and the buffers' contents left
        undefined) when `arrays` do not fit this layout. An input that IS its view (computed
        in place) fits by construction: the zero-copy path costs one identity test per input."""
        if len(arrays) != len(self.views):
            return False
        if all(map(operator.is_, arrays, self.views)):  # all in place: C-level identity tests
            return True
        for a, v in zip(arrays, self.views):
            if a is not v:  # computed elsewhere: the plain, copying path
                if a.shape != v.shape or a.dtype != v.dtype:
                    return False
                v[...] = a
                self.copies += 1
        return True

    def describe(self, names, reduction):
        """(name, description) per tensor, for the cross-rank layout check."""
        items = [("reduction", reduction)]
        for b, (_, indices) in enumerate(self.buckets):
            for i in indices:
                items.append((names[i], "shape %s %s (bucket %d)"
                              % (self.shapes[i], self.dtypes[i], b)))
        return items



def _infer(*xs, communicator, reduction, bucket_bytes, names):
    if reduction not in REDUCE_OPS:
        raise ValueError("Unknown reduction %r; use one of %s" % (reduction, ", ".join(REDUCE_OPS)))
    for x in xs:
        if not (x.dtype.is_floating or x.dtype.is_integer):
            raise TypeError("FusedAllReduce reduces numbers, got %s for %s" % (x.dtype.name, x))
        if reduction == "mean" and not x.dtype.is_floating:
            raise TypeError("A mean all-reduce needs floating tensors, got %s" % x.dtype.name)
    return [(x.shape, x.dtype) for x in xs]


class FusedKernel:
    """The kernel of one FusedAllReduce op, bound once per plan (or per eager call)."""

    def __init__(self, op, runtime):
        attrs = op.attrs
        self.comm = attrs["communicator"] or _default_communicator()
        self.reduction, self.names = attrs["reduction"], attrs["names"]
        self.bucket_bytes = attrs["bucket_bytes"]
        self.label = getattr(op, "name", None) or "FusedAllReduce"
        self.per_plan = runtime is not None  # eagerly, every call gets fresh buffers
        # Plans compiled for this op (one per feed shape) share its buffers: the op outlives
        # them, so its id names it as long as a buffer does.
        self.owner = ("FusedAllReduce", id(op))
        self.buffers = None       # the buffers in use, their layout checked across ranks
        self.preallocated = None  # buffers allocated at plan compile time, not yet checked
        self._in_place = None     # (views or None, the bound all-reduce, outputs) once checked
        self._written = 0         # inputs the plan binds to be computed into their views
        self._reducers = None     # per bucket of self.buffers: its bound all-reduce
        # The buffers are ours, contiguous and of a checked dtype, so the hot path calls the
        # communicator's collective itself, past the argument checks of comm.allreduce.
        self._allreduce = self.comm.unchecked_allreduce

    def input_buffers(self, shapes, dtypes, xp, written):
        """Allocates the buffers for inputs of these static shapes and dtypes now (at plan
        compile time) and returns one view per input, for the producing ops to write into.
        `written`: the indices of the inputs whose producers the plan binds to do so."""
        self.preallocated = FusedBuffers(shapes, dtypes, xp, self.bucket_bytes,
                                         self.comm.allocate, self.owner)
        self._written = len(set(written))
        return list(self.preallocated.views)

    def __call__(self, *arrays):
        # The hot path of a zero-copy plan: every input already IS its view of the one bucket.
        # Written out (no pack() call, no loop): with two ranks in lockstep on a small buffer,
        # every 0.1 us of Python here shows in the step. When the plan bound every producer to
        # write into its view (forward_out's contract: it returns `out`), not even the identity
        # tests are needed (views None); they were made once, on the first call.
        fast = self._in_place
        if fast is not None and (fast[0] is None or all(map(operator.is_, arrays, fast[0]))):
            fast[1]()
            return fast[2]
        return self._plain(arrays)

    def _plain(self, arrays):
        """Packs what is not in place, then one collective per bucket."""
        buffers = self.buffers
        if buffers is None or not buffers.pack(arrays):
            buffers = self._buffers_for(arrays)
            buffers.pack(arrays)
        if buffers is self.buffers and self._reducers is not None:
            for reduce in self._reducers:
                reduce()
        else:
            allreduce, reduction, label = self._allreduce, self.reduction, self.label
            for flat in buffers.flats:
                allreduce(flat, reduction, label)
        return buffers.outputs

    def _buffers_for(self, arrays):
        """The first call, or inputs of a new layout: buffers for them, the layout checked across
        ranks. The check is a collective, so it runs here, where every rank calls the op, and
        not while one rank compiles a plan."""
        buffers = self.preallocated
        if buffers is None or not buffers.matches(arrays):
            allocate = self.comm.allocate if self.per_plan else None  # eager buffers live once
            buffers = FusedBuffers.for_arrays(arrays, self.bucket_bytes, allocate, self.owner)
        self.comm.check_same("the fused all-reduce '%s'" % self.label,
                             buffers.describe(self.names, self.reduction))
        if self.per_plan:
            # Bound here, where every rank's layout is known to be the same: binding a buffer in
            # shared memory is itself a collective (shared_memory.py).
            self.buffers = buffers
            self._reducers = [self.comm.bound_allreduce(flat, self.reduction, self.label)
                              for flat in buffers.flats]
            views = tuple(buffers.views)
            if all(map(operator.is_, arrays, views)):
                trusted = buffers is self.preallocated and self._written == len(views)
                reduce = self._reducers[0] if len(self._reducers) == 1 else self._reduce_all
                self._in_place = (None if trusted else views, reduce, buffers.outputs)
        return buffers

    def in_place_path(self):
        """(inputs or None, reduce, outputs) once the first call bound the buffers with every
        input computed in place, else None: a wrapping kernel (distflow.horovod's) may take
        the hot path of __call__ itself, inputs None meaning every producer is bound to write
        into its view."""
        return self._in_place

    def _reduce_all(self):
        for reduce in self._reducers:
            reduce()


def _kernel(op, runtime):
    comm = op.attrs["communicator"] or _default_communicator()
    if comm.size == 1:
        return _single  # one rank: every reduction is the identity, no buffers, no copies
    return FusedKernel(op, runtime)


def _single(*arrays):
    return arrays if len(arrays) != 1 else arrays[0]


FusedAllReduce = op_def("FusedAllReduce", effects="collective",
                        infer=_infer, kernel=_kernel, aliases=True,
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
