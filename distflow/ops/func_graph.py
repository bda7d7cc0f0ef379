"""Sub-graphs for control flow: a cond's branches and a while_loop's cond and body.

A FuncGraph is a Graph traced from a Python function (TF's FuncGraph). While it is the default
graph, an op on a tensor of an enclosing graph is built here, and that tensor is *captured*: it
becomes a Placeholder of this graph, and the op that runs the sub-graph (If, While) takes the
outer tensor as an input (dispatch.graph_of / to_graph_tensor ask `outer_graph` and `capture`).
A variable read inside is captured the same way (its value when the cond or loop starts, so
gradients flow to it through the op's inputs); a variable update inside names the variable's
storage in its own graph, which the sub-graph's plan binds through the enclosing Session.

A Branch is what an If or While op runs: a FuncGraph with its inputs (placeholders, in the
order of the op's inputs) and outputs, run through a compiled plan (client/plan.py, imported
lazily: plans live a layer above ops) bound to the enclosing plan's runtime.
"""
import numpy as np

from distflow import backend
from distflow.framework import nest
from distflow.framework.graph import Graph, Operation, Tensor
from distflow.framework.tensor_shape import TensorShape
from distflow.ops import dispatch
from distflow.ops.constant_op import Placeholder


class FuncGraph(Graph):
    def __init__(self, name, outer_graph):
        Graph.__init__(self)
        self.name = name
        self.outer_graph = outer_graph
        self.building_function = outer_graph.building_function
        self.autograph = outer_graph.autograph
        self.seed = outer_graph.seed
        self.captures = {}      # id(tensor of outer_graph) -> (that tensor, its placeholder)

    def encloses(self, graph):
        g = self.outer_graph
        while g is not None:
            if g is graph:
                return True
            g = getattr(g, "outer_graph", None)
        return False

    def capture(self, t):
        """The placeholder standing for `t` (a tensor of an enclosing graph) in this graph."""
        if t.op.graph is self:
            return t
        if not self.encloses(t.op.graph):
            out_of_scope(t, self)
        outer = t if t.op.graph is self.outer_graph else self.outer_graph.capture(t)
        entry = self.captures.get(id(outer))
        if entry is None:
            with self.name_scope(None):
                ph = dispatch.build_op(self, Placeholder, [], {
                    "dtype": outer.dtype, "shape": outer.shape}, "input")
            entry = self.captures[id(outer)] = (outer, ph)
        return entry[1]

    def capture_variable(self, variable, ref):
        """A variable used here: an update names its storage in its own graph (ref); a read is
        a capture of the enclosing graph's read, except after an update built here, where it
        reads the storage once that update has run (TF2's automatic control dependencies
        inside a branch: `v.assign_add(1); return v * 10` sees the new value)."""
        outer = dispatch.to_graph_tensor(variable, self.outer_graph, ref=ref)
        if ref:
            return outer
        last_update = self._last_update_of(variable)
        if last_update is not None:
            from distflow.ops.state_ops import CapturedVariable
            with self.control_dependencies([last_update]):
                return dispatch.build_op(self, CapturedVariable, [],
                                             {"variable": variable}, "ReadVariable")
        return self.capture(outer)

    def _last_update_of(self, variable):
        """The last op built here that updates an eager Variable (a df.function capture);
        None for none, and for a Session's variables, whose storage a sub-graph reaches only
        through the enclosing graph."""
        if not hasattr(variable, "_eager_read"):
            return None
        storage = dispatch.to_graph_tensor(variable, self.outer_graph, ref=True)
        for op in reversed(self._ops):
            if any(op.inputs[i] is storage for i in op.opdef.ref_inputs) or \
                    any(t is storage for t in updated_variables(op)):
                return op
        return None

    def captured_outer_tensors(self):
        return [outer for outer, _ in self.captures.values()]


def read_updated_variables_live(graphs, body):
    """In a while_loop whose body updates an eager Variable (a df.function's), every read of it
    that the cond or body captured from outside becomes a read of its storage at each
    iteration, copied before the body's update runs: a read before the body's own assign sees
    the previous iteration's value, as in TF. (Such a read no longer passes a gradient to the
    variable through the loop. Loops nested in a cond or loop keep the captured value.)"""
    from distflow.ops.array_ops import Snapshot  # lazily: array_ops builds on dispatch
    from distflow.ops.state_ops import CapturedVariable
    updated = {}
    for op in _ops_within(body):
        for i in op.opdef.ref_inputs:
            t = op.inputs[i]
            if t.op.opdef.variable == "eager":
                updated[id(t.op.attrs["variable"])] = t.op.attrs["variable"]
    if not updated:
        return
    for g in graphs:
        for key, (outer, ph) in list(g.captures.items()):
            table = outer.op.graph.__dict__.get("_variable_captures", {})
            entry = next((e for e in table.values() if e[1] is outer), None)
            if entry is None or id(entry[2]) not in updated:
                continue
            var = entry[2]
            with g.control_dependencies(None):
                handle = dispatch.build_op(g, CapturedVariable, [], {"variable": var},
                                               "ReadVariable")
                copy = dispatch.build_op(g, Snapshot, [handle], {}, None)
            for op in g._ops:
                if op is not copy.op and any(x is ph for x in op.inputs):
                    op.inputs = tuple(copy if x is ph else x for x in op.inputs)
                if any(op.inputs[i] is handle_of(var, outer) for i in op.opdef.ref_inputs):
                    op.control_inputs.append(copy.op)


def handle_of(var, outer_read):
    """The storage tensor of `var` in the graph holding `outer_read`."""
    table = outer_read.op.graph.__dict__.get("_variable_captures", {})
    entry = table.get(id(var))
    return entry[0] if entry is not None else None


def _ops_within(g):
    """The ops of `g` and of every cond branch and loop body inside it."""
    for op in g._ops:
        yield op
        for b in op.attrs.values():  # the sub-graphs of a cond or loop
            if isinstance(b, Branch):
                yield from _ops_within(b.graph)


def out_of_scope(t, graph):
    """Raises TF's error for a tensor of another graph: in a df.function, a tensor that leaked
    from another function's trace (TypeError), else TF1's ValueError."""
    if graph.building_function and t.op.graph.building_function:
        raise TypeError("%r is out of scope and cannot be used here. Use return values, explicit "
                        "Python locals or TensorFlow collections to access it." % (t,))
    raise ValueError("Tensor %s must be from the same graph as the other inputs." % t)


def trace(fn, outer_graph, name, arg_specs=(), structure=None):
    """(FuncGraph, its argument placeholders, fn's result) for `fn` called on placeholders of
    `arg_specs` [(shape, dtype)], packed as `structure` (a list of top-level arguments)."""
    g = FuncGraph(name, outer_graph)
    with g.as_default():
        args = [dispatch.build_op(g, Placeholder, [], {"dtype": d, "shape": s}, "arg")
                for s, d in arg_specs]
        if structure is None:
            result = fn(*args)
        else:
            result = fn(*nest.pack_sequence_as(structure, args))
    return g, args, result


def output_tensors(g, flat):
    """The leaves of a traced function's result as tensors of `g` (captured, converted): None
    where a leaf is None or an Operation (those run as side effects)."""
    out = []
    with g.as_default():
        for x in flat:
            if x is None or isinstance(x, Operation):
                out.append(None)
            elif isinstance(x, Tensor) or hasattr(x, "_graph_tensor"):
                out.append(dispatch.to_graph_tensor(x, g))
            else:
                out.append(dispatch.convert_to_tensor(x))
    return out


def is_stateful(g):
    """True when an op of `g` has effects (its OpDef's `effects`): a cond or loop over it is
    then an If / While, which runs even when nothing reads its outputs and is never pruned."""
    return any(op.opdef.effects for op in g._ops)


def updated_variables(op):
    """The variable storage tensors (of the enclosing graphs) that the sub-graphs of an If or
    While op update, nested ones included: df.function orders the op as their update."""
    found = []
    for b in op.attrs.values() if "control" in op.opdef.effects else ():
        if isinstance(b, Branch):
            for inner in b.graph._ops:
                found.extend(inner.inputs[i] for i in inner.opdef.ref_inputs)
                found.extend(updated_variables(inner))
    return [t for t in found if t.op.graph is op.graph]


class Branch:
    """A sub-graph as the If / While kernel runs it: `inputs` fed from the op's inputs (in
    order), `outputs` returned; with `side_effects`, the graph's updates and prints run too."""

    def __init__(self, graph, inputs, outputs, side_effects=True):
        self.graph = graph
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        extra = [op for op in graph._ops if op.opdef.runs_unread]
        self.fetches = [t for t in self.outputs if t is not None] + (extra if side_effects else [])

    def run(self, runtime, arrays, plans):
        """The outputs' arrays (None where an output is None), computed by a plan compiled once
        per array module and cached in `plans` (one dict per bound kernel)."""
        xp = backend.get_array_module(*arrays) if arrays else np
        plan = plans.get((id(self), xp))
        if plan is None:
            from distflow.client.plan import Plan  # lazily: the execution layer sits above ops
            plan = plans[(id(self), xp)] = Plan(runtime, self.fetches, self.inputs, xp)
        values = iter(plan.run(arrays))
        return [None if t is None else next(values) for t in self.outputs]


def branch_inputs(graphs, leading):
    """Gives every graph a placeholder for every tensor any of them captured. Returns (the
    outer tensors, in one order, [inputs of each graph]) where a graph's inputs are its
    `leading[i]` placeholders followed by the captures in that order."""
    outer = []
    seen = set()
    for g in graphs:
        for t in g.captured_outer_tensors():
            if id(t) not in seen:
                seen.add(id(t))
                outer.append(t)
    inputs = [list(lead) + [g.capture(t) for t in outer] for g, lead in zip(graphs, leading)]
    return outer, inputs


def relaxed_shape(a, b):
    """The most specific shape both fit (TF's most_specific_compatible_shape)."""
    da, db = TensorShape(a).as_tuple(), TensorShape(b).as_tuple()
    if da is None or db is None or len(da) != len(db):
        return TensorShape(None)
    return TensorShape([x if x == y else None for x, y in zip(da, db)])


def structure_difference(a, b, check_types=False):
    """None when `a` and `b` nest alike (with `check_types`, lists and tuples differ, as for
    tf.cond); else TF's explanation."""
    different = "The two structures don't have the same nested structure."
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)):
            return different
        if set(a) != set(b):
            return different + ("\n\nMore specifically: The two dictionaries don't have the "
                                "same set of keys.")
        return next((d for d in (structure_difference(a[k], b[k], check_types) for k in a)
                     if d), None)
    seq_a, seq_b = isinstance(a, (list, tuple)), isinstance(b, (list, tuple))
    if seq_a != seq_b:
        return different
    if not seq_a:
        return None
    if check_types and type(a) is not type(b):
        return different + ("\n\nMore specifically: The two namedtuples don't have the same "
                            "sequence type. First structure type=%s str=%s has type %s, while "
                            "second structure type=%s str=%s has type %s" % (
                                type(a).__name__, a, type(a).__name__, type(b).__name__, b,
                                type(b).__name__))
    if len(a) != len(b):
        return different + ("\n\nMore specifically: The two structures don't have the same "
                            "number of elements.")
    return next((d for d in (structure_difference(x, y, check_types) for x, y in zip(a, b))
                 if d), None)
