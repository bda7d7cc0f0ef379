"""Compiled backward passes for the eager GradientTape: the fast path beside the walker.

A training loop records the same ops on the same shapes step after step, so the backward pass
it asks for is the same every step. The first time a tape's records take a given form, this
module builds that backward pass once as a graph: a placeholder for every tensor the records
read or made, the same walker (backprop.py) and the same gradient functions building graph ops
instead of running them, and a compiled Session plan (client/plan.py) to run it. Later steps
with the same form only gather their arrays and run the plan: no dispatch, no EagerTensors, no
walk. The values are those the walker computes eagerly (the same kernels, in the same order).

The form (`_signature`) is everything the backward graph depends on: each record's op, attrs
and inputs (as positions: which earlier record made them, or which outside tensor), every
array's shape and dtype, the targets, the seeds and the sources. Integer inputs are fed like
the others (labels and indices change every step), unless the graph cannot be built without
their values (an axis given as a Python number becomes a tensor eagerly, and some gradients
need it constant): then the values of the small ones are part of the form too, and they become
graph constants.

A form is compiled the second time it is seen, so that a program whose forms never repeat
(shapes changing every step) pays nothing for building graphs. The walker runs on the first
sighting and whenever the fast path cannot serve: an outer tape is recording (second
derivatives need the backward ops on that tape), arrays live on a GPU, an attr is unhashable,
or building the graph failed for this form (then the walker raises the error, if any, itself).
DISTFLOW_COMPILED_BACKWARD=0 turns the fast path off.
"""
import collections
import os
import threading

import numpy as np

from distflow.autodiff.backprop import backprop
from distflow.framework import context
from distflow.framework.eager import EagerTensor

NOT_COMPILED = object()   # the answer when the walker must run
_UNCOMPILABLE = object()  # a cached form whose graph could not be built
_NEEDS_VALUES = object()  # a form whose graph needs its small integer inputs' values
CACHE_SIZE = 64           # forms compiled at most, kept for good: a training loop has one or
                          # two (a short last batch); a program cycling through more (a length
                          # per batch) runs the rest on the walker instead of rebuilding them
SEEN_SIZE = 4096          # forms remembered as seen once (the oldest forgotten)
SMALL_INT = 16            # integer inputs up to this many elements may become graph constants
enabled = os.environ.get("DISTFLOW_COMPILED_BACKWARD", "1") != "0"
class _Cache(dict):
    """form -> compiled entry, _UNCOMPILABLE or _NEEDS_VALUES; clearing it also forgets the
    last form served (the shortcut in _entry)."""

    def clear(self):
        global _last_hit
        _last_hit = None
        super().clear()


_cache = _Cache()
_seen = collections.OrderedDict()   # forms seen once, not compiled yet
served = collections.Counter()      # "compiled" / "walker": which path answered, for tests
_last_hit = None                    # (form, entry) of the last compiled form served
_lock = threading.Lock()


def gradients(records, targets, seeds, sources, math):
    """The gradient of sum(targets) for each source, an EagerTensor (None where unconnected),
    or NOT_COMPILED. `seeds`: one EagerTensor (or None, for ones) per target."""
    entry = _entry(records, targets, seeds, sources, math) if enabled else None
    if entry is None:
        served["walker"] += 1
        return NOT_COMPILED
    served["compiled"] += 1
    feed_slots, run, positions, n, tensors = entry
    outs = run(tuple([tensors[s]._value for s in feed_slots]))
    result = [None] * n
    for i, j, slot in positions:
        # a gradient that is a recorded tensor (a seed passed through) is that very tensor, as
        # the walker gives it: copy-on-write for variables (dispatch.py) sees it alive
        result[i] = EagerTensor(outs[j]) if slot is None else tensors[slot]
    return result


def _entry(records, targets, seeds, sources, math):
    """The compiled entry for this form, with this call's tensors; None: use the walker."""
    if context.ctx.tapes and not context.ctx.recording_paused:
        return None
    try:
        key, values, tensors = _signature(records, targets, seeds, sources)
        last = _last_hit
        if last is not None and _same_form(key, last[0]):  # a loop's form again: no hash
            return last[1] + (tensors,)
        try:
            entry = _cache.get(key)
        except TypeError:
            key = _frozen(key)
            entry = _cache.get(key)
    except _Unsupported:
        return None
    valued = entry is _NEEDS_VALUES
    if valued:
        key = (key, values)
        entry = _cache.get(key)
    if entry is None:
        with _lock:  # tapes in several threads: one bookkeeper at a time (hits need no lock)
            if key not in _seen:  # the first sighting
                _seen[key] = True
                if len(_seen) > SEEN_SIZE:
                    _seen.popitem(last=False)
                return None
            if len(_cache) >= CACHE_SIZE:  # full: the walker, rather than a build every step
                return None
            del _seen[key]
            entry = _build(records, targets, seeds, sources, tensors, math, valued)
            if entry is _UNCOMPILABLE and not valued and values:
                _cache[key] = _NEEDS_VALUES
                key = (key, values)
                entry = _build(records, targets, seeds, sources, tensors, math, True)
            _cache[key] = entry
    if entry is _UNCOMPILABLE:
        return None
    if not valued:
        _remember_hit(key, entry)
    return entry + (tensors,)


def _same_form(key, last):
    try:
        return key == last
    except (TypeError, ValueError):  # an attr holding an array: such a form has no entry
        return False


def _remember_hit(key, entry):
    global _last_hit
    _last_hit = (key, entry)


class _Unsupported(Exception):
    pass


def _signature(records, targets, seeds, sources):
    """(hashable form, the small integer inputs' values, [tensor per slot]). A slot is a tensor
    the backward graph may read: each outside input, each record output, each seed."""
    slots, tensors, form, values = {}, [], [], []
    ndarray = np.ndarray
    for r in records:
        ins = []
        for x in r.inputs:
            s = slots.get(id(x))
            if s is None:
                v = x._value
                if type(v) is not ndarray and not isinstance(v, np.generic):
                    raise _Unsupported  # a GPU array: the walker's path
                s = slots[id(x)] = len(tensors)
                tensors.append(x)
                dtype = v.dtype  # (the dtype itself: hashed and compared as its character)
                ins.append((s, v.shape, dtype))
                if dtype.kind in "iub" and v.size <= SMALL_INT:
                    values.append(v.tobytes())
            else:
                ins.append(s)
        outs = r.outputs
        if len(outs) == 1:
            o = outs[0]
            slots[id(o)] = len(tensors)
            tensors.append(o)
            v = o._value
            outs = (v.shape, v.dtype)
        else:
            shapes = []
            for o in outs:
                slots[id(o)] = len(tensors)
                tensors.append(o)
                v = o._value
                shapes.append((v.shape, v.dtype))
            outs = tuple(shapes)
        attrs = r.attrs
        form.append((r.opdef, tuple(attrs.items()) if attrs else (), tuple(ins), outs))
    ends = []
    for t, seed in zip(targets, seeds):
        s = slots.get(id(t))
        if s is None:  # a target no record read or made
            raise _Unsupported
        if seed is None:
            ends.append((s, None))
        else:
            v = seed._value
            if type(v) is not np.ndarray and not isinstance(v, np.generic):
                raise _Unsupported
            ends.append((s, v.shape, v.dtype, len(tensors)))
            tensors.append(seed)
    starts = tuple(slots.get(id(x), -1) for x in sources)
    # (hashed once, by the cache's lookup: _entry freezes a key it cannot hash)
    return (tuple(form), tuple(ends), starts), tuple(values), tensors


def _fixed_shapes(run):
    """The plan's run for feeds whose shapes the form fixes: a specializing plan's function for
    those shapes is looked up on the first call only, not per step."""
    from distflow.client.specialize import SpecializingRunner
    if not isinstance(run, SpecializingRunner):
        return run
    found = []

    def fixed(feeds):
        if not found:
            found.append(run.function_for(feeds))
        return found[0](feeds)
    return fixed


def _frozen(key):
    """`key` with an attr holding a list (squeeze's dims) frozen: the form is the same."""
    form, ends, starts = key
    key = (tuple((op, _freeze(attrs), ins, outs) for op, attrs, ins, outs in form), ends, starts)
    try:
        hash(key)
    except TypeError:  # an array, a dict...: no form to key a cache with
        raise _Unsupported from None
    return key


def _freeze(value):
    if isinstance(value, (list, tuple)):
        return (type(value).__name__,) + tuple(_freeze(v) for v in value)
    return value


def _build(records, targets, seeds, sources, tensors, math, constants):
    """(feed slots, plan run, [(source index, fetch index, slot if a fed tensor)], sources), or
    _UNCOMPILABLE. `constants`: small integer inputs become graph constants."""
    from distflow.client.plan import Plan, prune
    from distflow.client.session import Session
    from distflow.framework.graph import Graph
    from distflow.ops import array_ops, constant_op, dispatch

    graph = Graph()
    try:
        with graph.as_default(), graph.name_scope("backward"):
            index = {id(t): i for i, t in enumerate(tensors)}
            stand_in = [None] * len(tensors)
            made = set()
            for r in records:
                for o in r.outputs:
                    made.add(id(o))
            for i, t in enumerate(tensors):
                v = t._value
                if constants and id(t) not in made and v.dtype.kind in "iub" \
                        and v.size <= SMALL_INT:
                    stand_in[i] = constant_op.constant(v)  # its value is in the form
                else:
                    stand_in[i] = constant_op.placeholder(v.dtype, v.shape, name="s%d" % i)
            producers, pseudo = {}, []
            for r in records:
                rec = dispatch.EagerRecord(r.opdef, [stand_in[index[id(x)]] for x in r.inputs],
                                           tuple(stand_in[index[id(o)]] for o in r.outputs),
                                           r.attrs)
                for o in rec.outputs:
                    producers[id(o)] = rec
                pseudo.append(rec)
            ys = [stand_in[index[id(t)]] for t in targets]
            seeds_g = [array_ops.ones_like(y) if s is None else stand_in[index[id(s)]]
                       for y, s in zip(ys, seeds)]
            xs = [stand_in[index[id(s)]] if id(s) in index else
                  constant_op.placeholder(s._value.dtype, s._value.shape) for s in sources]
            grads = backprop(ys, seeds_g, xs, producer=lambda t: producers.get(id(t)),
                             math=math, ops=pseudo, mark_skipped=True)
        fetches = [g for g in grads if g is not None]
        ops = prune(fetches, [])
        feeds = [op.outputs[0] for op in ops if op.opdef is constant_op.Placeholder]
        if any(op.opdef.kernel is not None or op.opdef.effects for op in ops
               if op.opdef is not constant_op.Placeholder):
            return _UNCOMPILABLE  # a stateful op: only plain kernels run here
        placeholders = {id(stand_in[i]): i for i in range(len(tensors))}
        if any(id(f) not in placeholders for f in feeds):
            return _UNCOMPILABLE  # a gradient reads a source that is no recorded tensor
        plan = Plan(Session(graph=graph), fetches, feeds, np)
    except Exception:  # the walker, run eagerly, raises the error (if any) with its own message
        return _UNCOMPILABLE
    positions, j = [], 0
    for i, g in enumerate(grads):
        if g is not None:
            positions.append((i, j, placeholders.get(id(g))))
            j += 1
    return [placeholders[id(f)] for f in feeds], _fixed_shapes(plan.run), positions, len(sources)
