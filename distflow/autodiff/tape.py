"""GradientTape: records the ops run on watched tensors, then runs the shared walker over them.

Eagerly, each op that has a watched input (or an input made by a recorded op) is recorded as it
runs; `gradient()` walks those records backwards with `backprop`, the same walker graph
`gradients()` uses, calling each op's one gradient function. The gradient ops run eagerly too, so a
second tape that is still recording records them: that is how second derivatives work.

Inside a graph (a df.function being traced) ops are graph nodes and nothing is recorded while they
are built. The tape remembers which stretches of the graph's op list were built while it recorded
and, when asked for a gradient, applies the same rule to those ops (an op counts when one of its
inputs is watched or made by a counted op) and walks the graph backwards over them.
"""
import contextlib
import enum

from distflow import backend
from distflow.autodiff import compiled_backward
from distflow.autodiff.backprop import backprop
from distflow.autodiff.gradients import MATH, _fill_unconnected, gradients
from distflow.framework import context, nest
from distflow.framework.eager import EagerTensor
from distflow.framework.graph import GraphKeys, Tensor, get_default_graph
from distflow.ops import array_ops, dispatch
from distflow.ops.registry import NOT_DIFFERENTIABLE
from distflow.ops.variables import Variable


class UnconnectedGradients(enum.Enum):
    """What gradient() gives for a source the target does not depend on: None, or zeros."""

    NONE = "none"
    ZERO = "zero"


class GradientTape:
    """`with GradientTape() as tape:` records; `tape.gradient(target, sources)` differentiates."""

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = persistent
        self._watch_accessed = watch_accessed_variables
        self._watched = {}          # id(tensor) -> tensor
        self._var_reads = {}        # id(variable) -> (variable, [its read tensors])
        self._producers = {}        # id(output tensor) -> EagerRecord
        self._records = []          # keeps recorded tensors alive (their ids stay unique)
        self._recording = False
        self._used = False
        self._graph = None          # the graph being built when the tape was entered, if any
        self._spans = []            # [first op index, end op index or None] recorded in _graph

    # -- recording on and off -----------------------------------------------------------------
    def __enter__(self):
        if not context.executing_eagerly():
            graph = get_default_graph()
            if self._graph is not None and self._graph is not graph:
                raise ValueError("A GradientTape can record in one graph only.")
            self._graph = graph
        self._start()
        return self

    def __exit__(self, *exc):
        self._stop()
        return False

    def _start(self):
        if self._recording:
            raise ValueError("The tape is already recording.")
        context.ctx.tapes.append(self)
        self._recording = True
        if self._graph is not None:
            self._spans.append([len(self._graph._ops), None])

    def _stop(self):
        if self._recording:
            context.ctx.tapes.remove(self)
            self._recording = False
            if self._graph is not None:
                self._spans[-1][1] = len(self._graph._ops)

    @contextlib.contextmanager
    def stop_recording(self):
        """Ops run (or built) inside this block are not recorded."""
        if not self._recording:
            raise ValueError("Tape.stop_recording() can only be called while the tape is "
                             "recording.")
        self._stop()
        try:
            yield
        finally:
            self._start()

    def reset(self):
        """Forgets everything recorded so far (the tape keeps recording if it was)."""
        self._watched.clear()
        self._var_reads.clear()
        self._producers.clear()
        self._records.clear()
        if self._graph is not None:
            self._spans = [[len(self._graph._ops), None]] if self._recording else []

    # -- watching -----------------------------------------------------------------------------
    def watch(self, tensor):
        """Records the ops run on `tensor` (any nested structure of tensors and variables)."""
        for t in nest.flatten(tensor):
            if isinstance(t, Variable):
                self._var_reads.setdefault(id(t), (t, []))
            elif isinstance(t, (EagerTensor, Tensor)):
                self._watched[id(t)] = t
            else:
                raise ValueError("Passed in object %r of type %r, not tf.Tensor or tf.Variable."
                                 % (t, type(t).__name__))

    def watched_variables(self):
        """The variables this tape watches, explicitly or because they were read while recording."""
        found = {id(v): v for v, _ in self._var_reads.values()}
        if self._graph is not None and self._watch_accessed:
            for v in self._graph_variable_reads().values():
                found.setdefault(id(v), v)
        return list(found.values())

    def _variable_read(self, var, tensor):
        """Called by an eager Variable each time it is read while this tape records."""
        entry = self._var_reads.get(id(var))
        if entry is None:
            if not (self._watch_accessed and var.trainable):
                return
            entry = self._var_reads[id(var)] = (var, [])
        entry[1].append(tensor)
        self._watched[id(tensor)] = tensor

    def _record(self, opdef, inputs, outputs, attrs):
        """Called by dispatch after each eager op: keep it if one of its inputs is watched."""
        if opdef.grad is NOT_DIFFERENTIABLE:
            return
        producers, watched = self._producers, self._watched
        for x in inputs:
            i = id(x)
            if i in producers or i in watched:
                record = dispatch.EagerRecord(opdef, inputs, outputs, attrs)
                for o in outputs:
                    producers[id(o)] = record
                self._records.append(record)
                return

    # -- differentiation ----------------------------------------------------------------------
    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients=UnconnectedGradients.NONE):
        """d(sum of target)/d(source) for each source, in the nesting of `sources`.

        `target` and `sources` may be nested lists, tuples and dicts; a non-scalar target (or
        several targets) is summed. `output_gradients` weights each target instead of ones.
        """
        if self._used and not self._persistent:
            raise RuntimeError("GradientTape.gradient can only be called once on non-persistent "
                               "tapes.")
        _check_unconnected(unconnected_gradients)
        targets = nest.flatten(target)
        flat_sources = nest.flatten(sources)
        for s in flat_sources:
            if not isinstance(s, (EagerTensor, Tensor, Variable)):
                raise ValueError("GradientTape.gradient: a source must be a tensor or a Variable, "
                                 "got %r" % (s,))
        if self._recording and not self._persistent:
            self._stop()
        self._used = True
        if output_gradients is None:
            grad_ys = [None] * len(targets)
        else:  # a single target's gradient may be a plain nested list of numbers
            grad_ys = nest.flatten(output_gradients) if nest.is_nested(target) \
                else [output_gradients]
        if len(grad_ys) != len(targets):
            raise ValueError("output_gradients has %d tensors for %d targets"
                             % (len(grad_ys), len(targets)))
        # A watched Variable as a target is its own value: d v / d v is ones (TF's answer), and
        # nothing else depends on it; its seeds go straight to the sources that are that Variable.
        direct = [(t, g) for t, g in zip(targets, grad_ys)
                  if isinstance(t, Variable) and self._watches_variable(t)]
        if direct:
            kept = [(t, g) for t, g in zip(targets, grad_ys)
                    if not any(t is d for d, _ in direct)]
            targets, grad_ys = [t for t, _ in kept], [g for _, g in kept]
        if not targets:
            result = [None] * len(flat_sources)
        elif self._graph is not None:
            result = self._graph_gradient(targets, flat_sources, grad_ys, unconnected_gradients)
        elif any(isinstance(t, Tensor) for t in targets):
            # Symbolic targets under a tape entered eagerly (a graph built inside its block).
            result = gradients(targets, flat_sources, grad_ys=grad_ys,
                               unconnected_gradients=unconnected_gradients)
        else:
            result = self._eager_gradient(targets, flat_sources, grad_ys, unconnected_gradients)
        if direct:
            result = _add_direct(result, flat_sources, direct, self._graph, unconnected_gradients)
        if not self._persistent:
            # the records go (their arrays are the memory a tape holds), the variables stay:
            # TF's watched_variables() still lists them after the one gradient() call
            if self._graph is None:  # eagerly those are the variables of _var_reads
                for _, reads in self._var_reads.values():
                    reads.clear()
                self._watched.clear()
                self._producers.clear()
                self._records.clear()
            else:
                watched = self.watched_variables()
                self.reset()
                self._var_reads.update((id(v), (v, [])) for v in watched)
        return nest.pack_sequence_as(sources, result)

    def _eager_gradient(self, targets, sources, grad_ys, unconnected):
        targets = [dispatch.to_eager(t) for t in targets]
        seeds = [None if g is None else dispatch.to_eager(g, t.dtype)
                 for t, g in zip(targets, grad_ys)]
        # A variable stands for all of its reads while recording; each read is its own source.
        expanded, spans = [], []
        for s in sources:
            reads = self._var_reads.get(id(s), (s, []))[1] if isinstance(s, Variable) else [s]
            spans.append((len(expanded), len(reads)))
            expanded.extend(reads)
        # The fast path: this form of backward pass compiled once into a plan.
        raw = compiled_backward.gradients(self._records, targets, seeds, expanded, MATH)
        if raw is compiled_backward.NOT_COMPILED:
            # The seed of ones is made directly: OnesLike is not differentiable, so no tape
            # records it, and the op's dispatch would cost as much as a small gradient op.
            seeds = [_ones_like(t) if g is None else g for t, g in zip(targets, seeds)]
            producers = self._producers
            # The records are in the order the ops ran, so the walker needs no search of its own.
            raw = backprop(targets, seeds, expanded, producer=lambda t: producers.get(id(t)),
                           math=MATH, ops=self._records, mark_skipped=True)
        result = []
        missing = False
        for start, n in spans:
            if n == 1:  # one read of a variable, or a tensor: its gradient as it is
                g = raw[start]
            else:
                parts = [g for g in raw[start:start + n] if g is not None]
                g = None if not parts else parts[0] if len(parts) == 1 else MATH.add_n(parts)
            missing = missing or g is None
            result.append(g)
        if missing:  # else there is nothing to fill
            result = _fill_unconnected(result, sources, unconnected)
        return result

    def _graph_gradient(self, targets, sources, grad_ys, unconnected):
        graph = self._graph
        ys = [dispatch.to_graph_tensor(t, graph) for t in targets]
        xs = [dispatch.to_graph_tensor(s, graph) for s in sources]
        recorded = self._recorded_graph_ops()
        with graph.as_default(), graph.name_scope("gradients"):
            grad_ys = [array_ops.ones_like(y) if g is None
                       else dispatch.convert_to_tensor(g, y.dtype) for y, g in zip(ys, grad_ys)]
            result = backprop(ys, grad_ys, xs,
                              producer=lambda t: t.op if id(t.op) in recorded else None,
                              scope=lambda op: graph.name_scope(op.name + "_grad"), math=MATH)
            # As eagerly, a variable's gradient comes only from the reads this tape watched.
            result = [g if not isinstance(s, Variable) or self._watches_variable(s) else None
                      for g, s in zip(result, sources)]
            return _fill_unconnected(result, xs, unconnected)

    def _watches_variable(self, var):
        return id(var) in self._var_reads or (self._watch_accessed and var.trainable)

    def _recorded_graph_ops(self):
        """ids of the graph ops this tape would have recorded, had they run eagerly."""
        graph = self._graph
        reach = {id(t) for t in self._watched.values()}
        for var, _ in self._var_reads.values():
            reach.add(id(dispatch.to_graph_tensor(var, graph)))
        if self._watch_accessed:
            reach.update(self._graph_variable_reads())
        recorded = set()
        for start, end in self._spans:
            for op in graph._ops[start:end]:
                if op.opdef.grad is NOT_DIFFERENTIABLE:
                    continue
                if any(id(x) in reach for x in op.inputs):
                    recorded.add(id(op))
                    reach.update(id(o) for o in op.outputs)
        return recorded

    def _graph_variable_reads(self):
        """{id(read tensor): variable}: trainable variables read by ops built while recording."""
        graph = self._graph
        trainable = None
        found = {}
        for start, end in self._spans:
            for op in graph._ops[start:end]:
                for x in op.inputs:
                    # a variable's read is an Identity of its storage (ops/variables.py), the
                    # one op whose identity this walk needs: no OpDef field says "a read"
                    if id(x) in found or x.op.type != "Identity" or not x.op.inputs:
                        continue
                    source = x.op.inputs[0].op
                    var = None
                    if source.opdef.variable == "eager":   # an eager Variable in a df.function
                        var = source.attrs["variable"]
                    elif source.opdef.variable == "session":  # a TF1 graph Variable
                        if trainable is None:
                            trainable = graph.get_collection(GraphKeys.TRAINABLE_VARIABLES)
                        var = next((v for v in trainable if v.op is source), None)
                    if var is not None and var.trainable:
                        found[id(x)] = var
        return found


def _add_direct(result, sources, direct, graph, unconnected):
    """Adds each Variable target's seed (ones by default) to the sources that are that Variable."""
    out = list(result)
    for i, s in enumerate(sources):
        for var, seed in direct:
            if s is not var:
                continue
            value = dispatch.to_graph_tensor(var, graph) if graph is not None \
                else dispatch.to_eager(var)
            with (graph.as_default() if graph is not None else contextlib.nullcontext()):
                g = array_ops.ones_like(value) if seed is None \
                    else dispatch.convert_to_tensor(seed, value.dtype)
                out[i] = g if out[i] is None else MATH.add_n([out[i], g])
    if any(g is None for g in out):
        out = _fill_unconnected(out, sources, unconnected)
    return out


def _ones_like(t):
    return EagerTensor(backend.get_array_module(t._value).ones_like(t._value))


def _check_unconnected(value):
    if value is UnconnectedGradients.NONE or value is UnconnectedGradients.ZERO:
        return
    mode = getattr(value, "value", value)
    if str(mode).lower() not in ("none", "zero"):
        raise ValueError("Unknown value for unconnected_gradients: %r" % (value,))
