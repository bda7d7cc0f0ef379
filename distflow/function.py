"""df.function: runs a Python function as a graph, traced once per kind of input.

The first call with a given kind of input (the dtypes and shapes of its tensor arguments, the
values of its Python arguments) traces the function: it runs once on placeholders, building a
private Graph, exactly as TF1 code builds one. That graph is compiled into a Session plan (flat
generated Python, kernels bound once), and every later call with the same kind of input only runs
the plan: no Python of the user's function runs again, so its Python side effects (a print, a
counter) happen while tracing only.

Variables. An eager Variable used inside is captured: the graph reads its storage when it runs,
and updates inside (assign, an optimizer step) change the Variable itself. Variables created
while tracing are created eagerly, outside the graph (TF's init_scope), and only the first trace
may create them, as in TF. Like TF2's automatic control dependencies, each op sees a variable as
the program left it at that point, and every update runs in program order, fetched or not.
"""
import contextlib
import functools
import inspect
import threading

import numpy as np

from distflow import autograph, backend, config
from distflow.autodiff.gradients import gradients
from distflow.client.plan import Plan
from distflow.client.session import Session
from distflow.framework import context, errors, nest
from distflow.framework.eager import EagerTensor
from distflow.framework.graph import Graph, Operation, Tensor
from distflow.framework.tensor_spec import TensorSpec
from distflow.function_args import (_SIGNATURE_KEY, AtomicFunction, FunctionType, _Call,
                                    _flat_specs, _most_specific_match, _relax,
                                    concrete_call_tensors, function_type_text,
                                    placeholder_parameters, pretty_signature)
from distflow.ops import array_ops, dispatch, func_graph, random_ops
from distflow.ops.constant_op import Placeholder
from distflow.ops.registry import OpDef
from distflow.ops.state_ops import CapturedVariable
from distflow.ops.variables import EagerVariable, Variable

__all__ = ["function", "TensorSpec"]

_NON_FIRST_CALL = ("tf.function only supports singleton tf.Variables created on the first call. "
                   "Make sure the tf.Variable is only created once or created outside "
                   "tf.function.")


# -- df.function ------------------------------------------------------------------------------
def function(func=None, input_signature=None, autograph=True, jit_compile=None,
             reduce_retracing=False, experimental_relax_shapes=None, name=None, **unused):
    """`@df.function` or `@df.function(input_signature=[df.TensorSpec([None, 13])])`.

    input_signature fixes the one trace: calls must pass tensors compatible with it.
    reduce_retracing (TF 2.0's experimental_relax_shapes) retraces a new shape once, with the
    sizes that differ left unknown, so later shapes reuse that trace. With `autograph` (the
    default) Python `if`, `while` and `for` on tensors become cond and while_loop
    (distflow/autograph). `jit_compile` is accepted for compatibility.
    """
    relax = bool(reduce_retracing or experimental_relax_shapes)

    def decorate(fn):
        return Function(fn, input_signature=input_signature, reduce_retracing=relax, name=name,
                        autograph=autograph)
    return decorate if func is None else decorate(func)


class Function:
    """A Python function with its traces (ConcreteFunctions), one per kind of input."""

    def __init__(self, python_function, input_signature=None, reduce_retracing=False, name=None,
                 autograph=True):
        self._python_function = python_function
        self._autograph = autograph
        self._converted = None     # the AutoGraph-converted function, made at the first trace
        self._signature = inspect.signature(python_function)
        simple = all(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                     for p in self._signature.parameters.values())
        self._positional_arity = len(self._signature.parameters) if simple else -1
        self._input_signature = None if input_signature is None else tuple(input_signature)
        self._reduce_retracing = reduce_retracing
        self._name = name or getattr(python_function, "__name__", "function")
        self._by_key = {}          # exact call key -> ConcreteFunction
        self._by_kind = {}         # key without shapes -> [ConcreteFunction], newest last
        self._fast_specs = _flat_specs(self._input_signature, self._positional_arity)
        self._trace_count = 0
        self._variables = []       # created by the first trace; the graphs read them
        self._made_variables = False
        functools.update_wrapper(self, python_function, updated=())

    @property
    def python_function(self):
        return self._python_function

    @property
    def input_signature(self):
        return self._input_signature

    def experimental_get_tracing_count(self):
        return self._trace_count

    def __get__(self, instance, owner):
        """`@df.function` on a method: each instance gets its own traces (and variables)."""
        if instance is None:
            return self
        attr = "_df_function_%d" % id(self)
        bound = getattr(instance, "__dict__", {}).get(attr)
        if bound is None:
            bound = Function(self._python_function.__get__(instance, owner),
                             self._input_signature, self._reduce_retracing, self._name,
                             self._autograph)
            if hasattr(instance, "__dict__"):
                instance.__dict__[attr] = bound
        return bound

    def __call__(self, *args, **kwargs):
        if config.functions_run_eagerly():  # tf.config.run_functions_eagerly(True): debugging
            return self._python_function(*args, **kwargs)
        if not context.executing_eagerly():
            # Already building a graph (another df.function's trace, or TF1 code): the body
            # becomes part of that graph, as TF inlines a function called inside a function.
            return self._traced_function()(*args, **kwargs)
        if not kwargs and self._fast_specs is not None:
            fast = self._signature_fast_path(args)
            if fast is not None:
                return fast[0]._call_arrays(fast[1], args)
        call = self._canonicalize(args, kwargs, specs_allowed=False)
        return self._concrete_for(call)._call_with(call.tensors)

    def _traced_function(self):
        if self._converted is None:
            self._converted = autograph.convert(self._python_function) if self._autograph \
                else self._python_function
        return self._converted

    def _signature_fast_path(self, args):
        """(the trace, its arrays) for a call whose input_signature is a flat list of
        TensorSpecs and whose arguments are NumPy arrays or eager tensors that fit them as they
        are: what the general path finds, without its conversions (a step's largest cost after
        the plan's). None sends the call down the general path."""
        concrete = self._by_key.get(_SIGNATURE_KEY)
        if concrete is None or len(args) != len(self._fast_specs):
            return None
        arrays = []
        for a, (np_dtype, rank, known) in zip(args, self._fast_specs):
            kind = type(a)
            arr = a if kind is np.ndarray else a._value if kind is EagerTensor else None
            if arr is None or arr.dtype != np_dtype:
                return None
            if rank is not None:  # plain loops: a generator per argument costs more than this
                shape = arr.shape
                if len(shape) != rank:
                    return None
                for i, size in known:
                    if shape[i] != size:
                        return None
            arrays.append(arr)
        return concrete, arrays

    def get_concrete_function(self, *args, **kwargs):
        """The trace for these arguments (tensors, TensorSpecs or Python values), made if new."""
        if self._input_signature is not None and not args and not kwargs:
            args = self._input_signature
        with context.eager_mode():
            return self._concrete_for(self._canonicalize(args, kwargs, specs_allowed=True))

    def pretty_printed_concrete_signatures(self, verbose=True):
        """Every trace's parameters, output type and captures, as TF prints them."""
        seen, out = set(), []
        for concrete in self._by_key.values():
            if id(concrete) not in seen:
                seen.add(id(concrete))
                out.append(concrete.pretty_printed_signature())
        return "\n\n".join(out)

    def __repr__(self):
        return "<df.function %s>" % self._name

    # -- arguments ------------------------------------------------------------------------
    def _canonicalize(self, args, kwargs, specs_allowed):
        if not kwargs and len(args) == self._positional_arity:
            arguments = dict(zip(self._signature.parameters, args))   # the common, fast case
        else:
            try:
                bound = self._signature.bind(*args, **kwargs)
            except TypeError as e:
                raise TypeError("%s(): %s" % (self._name, e)) from None
            bound.apply_defaults()
            arguments = bound.arguments
        if self._input_signature is not None:
            return _Call.with_signature(self._name, self._signature, arguments,
                                        self._input_signature, specs_allowed)
        return _Call.from_arguments(self._signature, arguments, specs_allowed)

    def _concrete_for(self, call):
        concrete = self._by_key.get(call.key)
        if concrete is None:
            candidates = self._by_kind.setdefault(call.kind, [])
            concrete = _most_specific_match(candidates, call.specs)
            if concrete is None:
                specs = call.specs
                if self._reduce_retracing and candidates:
                    newest = candidates[-1].input_specs
                    specs = [_relax(old, new) for old, new in zip(newest, specs)]
                concrete = self._trace(call, specs)
                if self._trace_count == 1 and self._made_variables:
                    # as TF: a first trace that made variables is traced again, which must not
                    # make them again (a function creating a Variable on every call is refused)
                    concrete = self._trace(call, specs)
                    self._trace_count -= 1  # one trace as the user counts them
                candidates.append(concrete)
            self._by_key[call.key] = concrete
        return concrete

    # -- tracing --------------------------------------------------------------------------
    def _trace(self, call, specs):
        graph = Graph()
        graph.building_function = True  # TF 2's rules for its tensors: == compares elementwise
        graph.autograph = self._autograph
        graph.seed = random_ops.eager_global_seed()  # seeded programs stay reproducible traced
        tracer = _Tracer(graph, may_create_variables=self._trace_count == 0)
        with graph.as_default(), tracer.lifting_variables():
            placeholders = [dispatch.build_op(graph, Placeholder, [], {
                "dtype": s.dtype, "shape": s.shape}, name) for s, name in zip(specs, call.names)]
            args, kwargs = call.rebuild(placeholders)
            structured = self._traced_function()(*args, **kwargs)
            outputs = [_output_tensor(x) for x in nest.flatten(structured)]
        updates = _order_variable_accesses(graph, outputs)
        self._trace_count += 1
        self._variables.extend(tracer.created)
        self._made_variables = self._made_variables or tracer.created_eagerly or tracer.created
        concrete = ConcreteFunction(graph, placeholders, structured, outputs, updates, self._name)
        concrete._parameters = (self._signature, call.params, specs)
        # tf.print / tf.Print (and a cond or loop that may print or update) run on every call,
        # as TF2's automatic control dependencies make them
        concrete._prints = side_effect_ops(graph)
        return concrete


def _output_tensor(x):
    """A returned value as a graph tensor (None for None and for Operations)."""
    if x is None or isinstance(x, Operation):
        return None
    if isinstance(x, Tensor):
        return x
    if isinstance(x, Variable):
        return array_ops.identity(x)   # its value as the function leaves it
    try:
        return dispatch.convert_to_tensor(x)
    except (TypeError, ValueError):
        raise TypeError("A df.function can return tensors, variables, Python numbers, NumPy "
                        "arrays, None and nested lists, tuples and dicts of them; got %r" % (x,)) \
            from None


# -- variables while tracing --------------------------------------------------------------------
class _Tracer:
    """What one trace needs while the user's function runs: its graph and its new variables."""

    _stack = threading.local()

    def __init__(self, graph, may_create_variables):
        self.graph = graph
        self.may_create_variables = may_create_variables
        self.created = []
        self.created_eagerly = False  # variables made under init_scope (not this trace's own)

    @classmethod
    def current(cls):
        return cls._stack.tracers[-1]

    @contextlib.contextmanager
    def lifting_variables(self):
        """While the user's function runs, `Variable(...)` makes a _LiftedVariable."""
        tracers = _Tracer._stack.__dict__.setdefault("tracers", [])
        tracers.append(self)
        context.ctx.variable_creators.append(_LiftedVariable)
        try:
            yield
        finally:
            context.ctx.variable_creators.pop()
            tracers.pop()

    def evaluate(self, tensor):
        """The value of a tensor built in this trace that needs no argument (a Variable's
        initial value such as df.zeros([3]))."""
        try:
            plan = Plan(Session(graph=self.graph), [tensor], [], np)
        except errors.InvalidArgumentError as e:
            raise ValueError("The initial value of a Variable created inside a df.function cannot "
                             "depend on the function's arguments (%s). Create the Variable "
                             "outside, or give it a value that does not." % e.message) from None
        return plan.run(())[0]


class _LiftedVariable(EagerVariable):
    """A Variable created while tracing: made now, eagerly, outside the function's graph, so it
    keeps its value from call to call; the graph captures it like any eager Variable."""

    def __init__(self, initial_value=None, trainable=True, name=None, dtype=None, **unused):
        tracer = _Tracer.current()
        if not tracer.may_create_variables:
            raise ValueError(_NON_FIRST_CALL)
        if callable(initial_value):
            with context.eager_mode():
                initial_value = initial_value()
        if isinstance(initial_value, Tensor):
            initial_value = tracer.evaluate(initial_value)
        with context.eager_mode():
            EagerVariable.__init__(self, initial_value, trainable=trainable, name=name, dtype=dtype)
        tracer.created.append(self)

    @staticmethod
    def note_eager_creation():
        tracer = _Tracer.current()
        if not tracer.may_create_variables:
            raise ValueError(_NON_FIRST_CALL)
        tracer.created_eagerly = True


def _order_variable_accesses(graph, outputs):
    """TF2's automatic control dependencies, for the eager variables the graph captured.

    Within a trace every read of a variable is one cached tensor (`read`). Walking the ops in the
    order they were built: an op built after an update of the variable is given a fresh read that
    runs after that update; an update runs after the read it replaces and after the previous
    update. A read aliases the variable's storage, which updates change in place, so a use of
    the read that need not finish before the update (a print, a returned value, an alias such
    as read_value()) is given a copy taken before it (`_protect_readers`); uses the update
    depends on anyway, such as a forward pass before its optimizer step, keep the alias.
    `outputs` (the function's result tensors) may be replaced by such copies in place. Returns
    every update, in program order (the plan runs them all).
    """
    captures = graph.__dict__.get("_variable_captures", {})
    state = {id(handle): _VariableVersions(var, read) for handle, read, var in captures.values()}
    first_reads = {id(read): state[id(handle)] for handle, read, _ in captures.values()}
    ops = list(graph._ops)
    position = {id(op): i for i, op in enumerate(ops)}
    consumers = {}  # id(tensor) -> the ops reading it, kept up to date as inputs are rewritten
    for op in ops:
        for x in op.inputs:
            consumers.setdefault(id(x), []).append(op)
    returned = {id(t) for t in outputs if t is not None}
    updates, waits = [], []
    for op in ops:
        refs = op.opdef.ref_inputs
        for i, x in enumerate(op.inputs):
            versions = first_reads.get(id(x))
            if i not in refs and versions is not None and versions.last_update is not None:
                fresh = versions.current_read(graph)
                op.inputs = op.inputs[:i] + (fresh,) + op.inputs[i + 1:]
                consumers.setdefault(id(fresh), []).append(op)
        # a cond or while_loop whose sub-graphs update variables counts as an update of them
        handles = [op.inputs[i] for i in refs] or func_graph.updated_variables(op)
        if handles:
            updates.append(op)
            for h in handles:
                versions = state.get(id(h))
                if versions is not None:
                    waits.extend((op, use) for use in _protect_readers(
                        graph, versions.read, op, outputs, consumers, position, returned))
                    versions.updated_by(op)
    # an update waits only for uses that run anyway: a gradient nobody fetches (the input
    # batch's, say) must not be computed just to be waited for
    needed = _ancestors([t.op for t in outputs if t is not None] + updates
                        + side_effect_ops(graph))
    for update, use in waits:
        if id(use) in needed and use not in update.control_inputs:
            update.control_inputs.append(use)
    return updates


def side_effect_ops(graph):
    """The ops a function runs on every call besides its outputs and updates: prints, and a
    cond or loop that may print or update (TF2's automatic control dependencies)."""
    return [op for op in graph._ops if op.opdef.runs_unread and not op.opdef.ref_inputs]


def _protect_readers(graph, read, update, outputs, consumers, position, returned):
    """The uses of `read` built before `update` that must run ahead of its in-place write (the
    caller makes the update wait for those that run at all: a control dependency, no copy).
    Where the read's storage itself outlives the update (an alias such as read_value() that is
    returned or used after it) the use is given a copy taken before the update instead;
    `outputs` that are the read itself are replaced by such a copy."""
    if read is None:
        return []
    limit = position[id(update)]
    copy, waits = None, []
    for op in list(consumers.get(id(read), ())):
        if position.get(id(op), limit) >= limit:
            continue  # built after the update: the walk gives it a fresh read of the new value
        if _alias_uses(op, consumers, position, limit, returned, waits):
            if copy is None:
                copy = _snapshot_before(graph, read, update)
            op.inputs = tuple(copy if x is read else x for x in op.inputs)
            consumers.setdefault(id(copy), []).append(op)
    for i, t in enumerate(outputs):
        if t is read:
            outputs[i] = copy if copy is not None else _snapshot_before(graph, read, update)
    return waits


def _alias_uses(op, consumers, position, limit, returned, waits):
    """Adds to `waits` the ops reading the storage through `op` that must run before the update
    (built before position `limit`); True when the storage escapes it instead: `op` passes it on
    (an alias) to a use built after the update, or to the function's result."""
    if not op.opdef.aliases:
        waits.append(op)
        return False
    for t in op.outputs:
        if id(t) in returned:
            return True
        for c in consumers.get(id(t), ()):
            if position.get(id(c), limit) >= limit or _alias_uses(c, consumers, position, limit,
                                                                   returned, waits):
                return True
    return False


def _snapshot_before(graph, tensor, update):
    with graph.control_dependencies(None):
        copy = dispatch.build_op(graph, array_ops.Snapshot, [tensor], {}, None)
    update.control_inputs.append(copy.op)
    return copy


def _ancestors(roots):
    """The ids of `roots` and of every op they wait for, through inputs and control inputs."""
    seen, stack = {id(op) for op in roots}, list(roots)
    while stack:
        current = stack.pop()
        for parent in [x.op for x in current.inputs] + list(current.control_inputs):
            if id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    return seen


class _VariableVersions:
    __slots__ = ("variable", "read", "last_update")

    def __init__(self, variable, read):
        self.variable = variable
        self.read = read            # the read of the current version, if built
        self.last_update = None

    def current_read(self, graph):
        if self.read is None:  # a new read of the storage, once the update has replaced it
            with graph.control_dependencies([self.last_update]):
                self.read = dispatch.build_op(graph, CapturedVariable, [], {
                    "variable": self.variable}, "ReadVariable")
        return self.read

    def updated_by(self, op):
        extra = [x for x in (self.read.op if self.read is not None else None, self.last_update)
                 if x is not None and x not in op.control_inputs]
        op.control_inputs.extend(extra)
        self.last_update = op
        self.read = None


# -- ConcreteFunction ---------------------------------------------------------------------------
class ConcreteFunction:
    """One trace: its graph, placeholders and outputs, run as a compiled Session plan."""

    _prints = ()  # side-effect ops the plan runs besides the outputs and updates

    def __init__(self, graph, inputs, structured_outputs, outputs, updates, name):
        self.graph = graph
        self.inputs = list(inputs)
        self.structured_outputs = structured_outputs
        self.outputs = [t for t in outputs if t is not None]
        self._output_slots = outputs     # one per flattened output leaf, None where no tensor
        # the function returns one tensor, not a structure: calls skip nest's rebuilding
        self._single_output = not nest.is_nested(structured_outputs) and len(self.outputs) == 1
        self._updates = updates
        self._name = name
        self._runtime = Session(graph=graph)
        self._plans = {}                 # array module -> Plan
        captures = graph.__dict__.get("_variable_captures", {})
        self.captured_variables = [var for _, _, var in captures.values()]
        self._backward = None

    def pretty_printed_signature(self, verbose=True):
        pysig, params, specs = self._signature_parts()
        outputs = nest.pack_sequence_as(self.structured_outputs, self._output_slots)
        return pretty_signature(pysig, params, specs, outputs, self.captured_variables)

    def _signature_parts(self):
        return getattr(self, "_parameters", None) or placeholder_parameters(self)

    @property
    def function_type(self):
        """Printed `(a: TensorSpec(...)) -> TensorSpec(...)`, as TF's."""
        pysig, params, specs = self._signature_parts()
        outputs = nest.pack_sequence_as(self.structured_outputs, self._output_slots)
        return FunctionType(function_type_text(pysig, params, specs, outputs),
                             self.pretty_printed_signature())

    inference_fn = property(AtomicFunction, doc="The trace as a callable of its flat tensors")

    def __str__(self):
        return "ConcreteFunction " + self.pretty_printed_signature()

    def __repr__(self):
        return "<ConcreteFunction %s at 0x%X>" % (self.function_type, id(self))

    @property
    def input_specs(self):
        return [TensorSpec(ph.shape, ph.dtype, ph.op.name) for ph in self.inputs]

    @property
    def structured_input_signature(self):
        return tuple(self.input_specs)

    @property
    def variables(self):
        return list(self.captured_variables)

    @property
    def trainable_variables(self):
        return [v for v in self.captured_variables if v.trainable]

    def __call__(self, *args, **kwargs):
        """Calls this trace with tensors for its placeholders (in order, or by name)."""
        tensors = concrete_call_tensors(self, args, kwargs)
        return self._call_with(tensors)

    def _call_with(self, tensors):
        return self._call_arrays([t._value for t in tensors], tensors)

    def _call_arrays(self, arrays, args):
        """Runs the plan on the placeholders' arrays. `args`, the EagerTensors (or NumPy arrays)
        the caller passed, matter only to a tape recording the call: it differentiates with
        respect to those very tensors."""
        tapes = context.ctx.tapes if not context.ctx.recording_paused else ()
        if tapes:
            tensors = [a if type(a) is EagerTensor else EagerTensor(arr)
                       for a, arr in zip(args, arrays)]
            reads = [v._eager_read() for v in self.captured_variables]
        plan = self._plans.get(backend.get_array_module(*arrays))
        if plan is None:
            plan = self._plan_for(arrays)
        values = plan.run(arrays)
        if self._single_output and not tapes:  # one tensor returned: no list, no nest
            return EagerTensor(values[0])
        results = [EagerTensor(v) for v in values[:len(self.outputs)]]
        if tapes:
            record_inputs = list(tensors) + list(reads)
            attrs = {"function": self}
            for tape in list(tapes):
                tape._record(_FUNCTION_CALL, record_inputs, results, attrs)
        it = iter(results)
        flat = [None if slot is None else next(it) for slot in self._output_slots]
        return nest.pack_sequence_as(self.structured_outputs, flat)

    def _plan_for(self, arrays):
        xp = backend.get_array_module(*arrays)
        plan = Plan(self._runtime, self.outputs + self._updates + list(self._prints), self.inputs,
                    xp)
        self._plans[xp] = plan
        return plan

    # -- differentiating a call under an eager tape ----------------------------------------------
    def _backward_function(self):
        """A ConcreteFunction of (inputs, output gradients) -> gradients for the inputs and the
        captured variables, built in the same graph from the ops' gradient functions."""
        if self._backward is None:
            if self._updates:
                raise NotImplementedError(
                    "Differentiating through a call of df.function %r, which updates variables, is "
                    "not supported: compute the gradient inside the function (a GradientTape "
                    "inside it)." % self._name)
            g = self.graph
            with g.as_default(), g.name_scope("backward"):
                dys = [dispatch.build_op(g, Placeholder, [], {"dtype": t.dtype,
                                                                   "shape": t.shape}, "dy")
                       for t in self.outputs]
                sources = self.inputs + [dispatch.to_graph_tensor(v, g)
                                         for v in self.captured_variables]
                grads = gradients(self.outputs, sources, grad_ys=dys)
            self._backward = ConcreteFunction(g, self.inputs + dys, grads, grads, [],
                                              self._name + "_backward")
        return self._backward


def _function_call_grad(op, *output_grads):
    concrete = op.attrs["function"]
    backward = concrete._backward_function()
    n = len(concrete.inputs)
    dys = [dispatch.to_eager(g) for g in output_grads]
    return backward._call_with(list(op.inputs[:n]) + dys)


# What an eager tape records for a df.function call: one op whose gradient runs the backward graph
# (itself a traced function, so an outer tape records it too: second derivatives work).
_FUNCTION_CALL = OpDef("PartitionedCall", infer=None, grad=_function_call_grad)
