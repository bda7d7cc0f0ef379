"""Shape specialization: the fast path of a compiled plan, for one set of fed shapes.

A graph is built for any batch size (a placeholder of shape (?, 13)), so its gradient part
computes shapes at run time: `Shape`, `Size` and `Cast` feed `SumTo`, `BroadcastTo` and
`Reshape`, which undo broadcasting and spread a mean's gradient over its inputs. Once the fed
arrays' shapes are known, all of that is fixed. TensorFlow's graph optimizer (grappler) folds it
away, and so does this module, once per distinct tuple of fed shapes:

1. Shape inference runs again over the plan's ops, each op's own `infer` rule now seeing the
   concrete fed shapes (and the values of what was folded before it), so every tensor whose shape
   follows from the fed shapes gets a concrete shape. Tensors whose shapes depend on data (the
   result of `setdiff1d`, `unique`, ...) stay unknown, and nothing downstream of them is folded.
2. Folding: an op whose output depends only on its inputs' shapes (Shape, Size, Rank, OnesLike,
   ZerosLike) with a concrete input shape, or a pure op (no kernel with state, no variable
   input) whose inputs are all known values, is computed now, once, by its own forward kernel.
3. Pass-throughs: Identity and StopGradient, and a SumTo, BroadcastTo or Reshape whose input
   already has the output's concrete shape, become a plain renaming in the generated code.
4. Pure ops that then feed nothing still needed (and are not fetched) are left out.

The plan then compiles a second straight-line function with these constants and renamings; the
plain one stays and runs whenever specialization does not apply. For the Boston MLP's training
step this removes about half of the ops (the whole gradient of the mean, and every Shape/SumTo
pair of the bias additions).
"""
from distflow.framework.eager import EagerTensor
from distflow.framework.graph import Operation
from distflow.framework.tensor_shape import TensorShape
from distflow.ops.registry import ALWAYS, REGISTRY, SAME_SHAPE

MAX_SPECIALIZATIONS = 8  # distinct fed shapes per plan; past that the plain plan runs


class _Spec:
    """What an infer rule sees of a tensor whose value is not known: its shape and dtype."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = shape
        self.dtype = dtype

    def get_shape(self):
        return self.shape


def worth_specializing(ops):
    """True when some op could fold or pass through (otherwise the plain plan is as fast)."""
    return any(op.opdef.shape_only or op.opdef.pass_through for op in ops)


def _is_pure(opdef):
    return opdef.kernel is None and not opdef.effects and opdef.forward is not None


def specialize(ops, fetches, feed_tensors, feed_shapes, xp, shapes=None):
    """(constants, renames, dead) for the plan's `ops` when the feeds have `feed_shapes`:
    constants maps id(op) -> tuple of its output values; renames maps id(op) -> the input tensor
    its single output stands for; dead holds the ids of ops no longer needed. A dict passed as
    `shapes` receives id(tensor) -> the shape found for each tensor not folded (the plan
    allocates the fused all-reduce buffer from them)."""
    known = {}   # id(tensor) -> an EagerTensor (a known value) or a _Spec (shape and dtype)
    for t, shape in zip(feed_tensors, feed_shapes):
        known[id(t)] = _Spec(TensorShape(shape), t.dtype)
    constants, renames = {}, {}
    const_def = REGISTRY["Const"]
    for op in ops:
        opdef = op.opdef
        if opdef is const_def:
            known[id(op.outputs[0])] = EagerTensor(op.attrs["value"])
            continue
        inputs = [known.get(id(x)) for x in op.inputs]
        inputs = [_Spec(x.shape, x.dtype) if k is None else k for x, k in zip(op.inputs, inputs)]
        specs = _infer(op, inputs)
        values = None
        if _is_pure(opdef) and op.outputs:
            values = _fold(op, inputs, xp)
        if values is not None:
            constants[id(op)] = values
            for t, v in zip(op.outputs, values):
                known[id(t)] = EagerTensor(v)
            continue
        for t, spec in zip(op.outputs, specs):
            known[id(t)] = spec
        if len(op.outputs) == 1 and op.inputs and _passes_through(op, inputs, specs[0]):
            renames[id(op)] = op.inputs[0]
    if shapes is not None:
        shapes.update((k, v.shape) for k, v in known.items() if isinstance(v, _Spec))
    return constants, renames, _dead_ops(ops, fetches, constants, renames)


def _dead_ops(ops, fetches, constants, renames):
    """ids of the pure ops nothing needs any more: they only fed shape computations that were
    folded (the loss a training step computes but does not fetch, for instance)."""
    live_tensors = {id(el) for el in fetches if not isinstance(el, Operation)}
    live_ops = {id(el) for el in fetches if isinstance(el, Operation)}
    dead = set()
    for op in reversed(ops):
        if id(op) in constants or not op.inputs:  # folded, or a Const: never run anyway
            continue
        if _is_pure(op.opdef) and id(op) not in live_ops \
                and not any(id(t) in live_tensors for t in op.outputs):
            dead.add(id(op))
            continue
        if id(op) in renames:
            live_tensors.add(id(renames[id(op)]))
        else:
            live_tensors.update(id(x) for x in op.inputs)
        live_ops.update(id(c) for c in op.control_inputs)
    return dead


def _infer(op, inputs):
    """The op's output specs from its inputs' (now more concrete) shapes; the graph's static
    specs when the rule cannot be run on them."""
    try:
        specs = op.opdef.infer(*inputs, **op.attrs)
        return [_Spec(TensorShape(s), d) for s, d in specs]
    except Exception:  # a rule that needs more than shapes: keep what graph building found
        return [_Spec(t.shape, t.dtype) for t in op.outputs]


def _fold(op, inputs, xp):
    """The op's output values, when they are fixed by now; else None."""
    opdef = op.opdef
    if opdef.shape_only:
        shape = inputs[0].shape
        if not shape.is_fully_defined():
            return None
        args = [xp.empty(tuple(shape.as_list()), dtype=inputs[0].dtype.as_numpy_dtype)]
    elif all(isinstance(x, EagerTensor) for x in inputs):
        args = [x._value for x in inputs]
    else:
        return None
    try:
        out = opdef.forward(xp, *args, **op.attrs)
    except Exception:  # let the error happen at run time, where it names the op
        return None
    return tuple(out) if isinstance(out, tuple) else (out,)


def _passes_through(op, inputs, out_spec):
    through = op.opdef.pass_through
    if through == ALWAYS:
        return True
    if through != SAME_SHAPE:
        return False
    shape_in, shape_out = inputs[0].shape, out_spec.shape
    return (shape_in.is_fully_defined() and shape_out.is_fully_defined()
            and shape_in.as_list() == shape_out.as_list())


class SpecializingRunner:
    """Plan.run's fast path: one compiled function per distinct tuple of fed shapes."""

    def __init__(self, plan, runtime, xp):
        self.plan, self.runtime, self.xp = plan, runtime, xp
        self.generic = plan.run
        self.by_shapes = {}
        self.sources = {}  # fed shapes -> the specialized function's source, to read

    def __call__(self, feeds):
        return self.function_for(feeds)(feeds)

    def function_for(self, feeds):
        """The function that runs feeds of these shapes (compiled if new): a caller whose fed
        shapes never change (a compiled backward pass, whose form fixes them) keeps it."""
        key = tuple([f.shape for f in feeds])
        fast = self.by_shapes.get(key)
        if fast is None:
            fast = self._make(key)
        return fast

    def _make(self, key):
        plan = self.plan
        if len(self.by_shapes) >= MAX_SPECIALIZATIONS:
            return self.generic
        shapes = {}
        try:
            found = specialize(plan.ops, plan.fetch_elements, plan.feed_tensors, key, self.xp,
                               shapes)
        except Exception:  # an analysis failure must never break a run: the plain plan runs
            found, shapes = ({}, {}, set()), {}
        fast = self.generic
        if any(found):
            fast, self.sources[key], _ = plan.compile_function(self.runtime, self.xp, *found,
                                                               shapes=shapes)
        self.by_shapes[key] = fast
        return fast
