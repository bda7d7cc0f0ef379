"""GradientTape: records eager ops on watched tensors, then runs the shared walker over the record.

Inside a graph (a traced df.function, or `with Graph().as_default()`), the tape only remembers
what it watches and differentiates symbolically with `gradients()`: one walker for both.
"""
from distflow.autodiff.backprop import backprop
from distflow.autodiff.gradients import MATH, _fill_unconnected, gradients
from distflow.framework import context, nest
from distflow.framework.eager import EagerTensor
from distflow.ops import array_ops, dispatch
from distflow.ops.registry import NOT_DIFFERENTIABLE


class GradientTape:
    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = persistent
        self._watch_accessed = watch_accessed_variables
        self._watched = {}          # id(tensor) -> tensor
        self._var_reads = {}        # id(variable) -> (variable, [read tensors])
        self._producers = {}        # id(output tensor) -> EagerRecord
        self._records = []          # keeps recorded tensors alive while the tape lives
        self._recording = False
        self._used = False
        self._graph = None

    # -- context manager ----------------------------------------------------------------------
    def __enter__(self):
        self._graph = None if context.executing_eagerly() else True
        context.ctx.tapes.append(self)
        self._recording = True
        return self

    def __exit__(self, *exc):
        self._stop()
        return False

    def _stop(self):
        if self._recording:
            context.ctx.tapes.remove(self)
            self._recording = False

    def stop_recording(self):
        tape = self

        class _Paused:
            def __enter__(self):
                context.ctx.tapes.remove(tape)

            def __exit__(self, *exc):
                context.ctx.tapes.append(tape)
                return False
        if not self._recording:
            raise ValueError("Tape.stop_recording() can only be called while the tape is recording.")
        return _Paused()

    def reset(self):
        self._watched.clear()
        self._var_reads.clear()
        self._producers.clear()
        self._records.clear()

    # -- watching ---------------------------------------------------------------------------
    def watch(self, tensor):
        for t in nest.flatten(tensor):
            if hasattr(t, "_eager_read") and hasattr(t, "_value"):  # an eager Variable
                self._var_reads.setdefault(id(t), (t, []))
            elif isinstance(t, EagerTensor):
                self._watched[id(t)] = t
            else:
                self._watched[id(t)] = t  # a graph tensor inside a traced function

    def watched_variables(self):
        return [v for v, _ in self._var_reads.values()]

    def _variable_read(self, var, tensor):
        entry = self._var_reads.get(id(var))
        if entry is None:
            if not self._watch_accessed:
                return
            entry = self._var_reads[id(var)] = (var, [])
        entry[1].append(tensor)
        self._watched[id(tensor)] = tensor

    def _record(self, opdef, inputs, outputs, attrs):
        if opdef.grad is NOT_DIFFERENTIABLE:
            return
        for x in inputs:
            if id(x) in self._watched or id(x) in self._producers:
                record = dispatch.EagerRecord(opdef, inputs, outputs, attrs)
                for o in outputs:
                    self._producers[id(o)] = record
                self._records.append(record)
                return

    # -- differentiation ----------------------------------------------------------------------
    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        if self._used and not self._persistent:
            raise RuntimeError("GradientTape.gradient can only be called once on non-persistent "
                               "tapes.")
        if self._recording and not self._persistent:
            self._stop()
        self._used = True
        targets = nest.flatten(target)
        flat_sources = nest.flatten(sources)
        if self._graph is not None or any(not isinstance(t, EagerTensor) for t in targets
                                          if not hasattr(t, "_eager_read")):
            grads = gradients(targets, flat_sources, grad_ys=self._grad_ys(output_gradients, targets),
                              unconnected_gradients=unconnected_gradients)
            return nest.pack_sequence_as(sources, grads)
        targets = [dispatch.to_eager(t) if hasattr(t, "_eager_read") else t for t in targets]
        grad_ys = self._grad_ys(output_gradients, targets)
        grad_ys = [array_ops.ones_like(t) if g is None else dispatch.to_eager(g, t.dtype)
                   for t, g in zip(targets, grad_ys)]
        # A variable source stands for all of its reads; each read is its own source tensor.
        expanded, spans = [], []
        for s in flat_sources:
            if hasattr(s, "_eager_read"):
                reads = self._var_reads.get(id(s), (s, []))[1]
                spans.append((len(expanded), len(reads)))
                expanded.extend(reads)
            else:
                spans.append((len(expanded), 1))
                expanded.append(s)
        producers = self._producers
        raw = backprop(targets, grad_ys, expanded, producer=lambda t: producers.get(id(t)),
                       math=MATH)
        result = []
        for s, (start, n) in zip(flat_sources, spans):
            parts = [g for g in raw[start:start + n] if g is not None]
            if not parts:
                result.append(None)
            else:
                result.append(parts[0] if len(parts) == 1 else MATH.add_n(parts))
        result = _fill_unconnected(result, flat_sources, unconnected_gradients)
        if not self._persistent:
            self.reset()
        return nest.pack_sequence_as(sources, result)

    def _grad_ys(self, output_gradients, targets):
        if output_gradients is None:
            return [None] * len(targets)
        return nest.flatten(output_gradients)
