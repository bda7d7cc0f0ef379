"""df.function's arguments: how one call's arguments become a trace's key, its placeholders'
specs and the tensors fed to them, and which existing trace (if any) a call may reuse."""
import inspect

import numpy as np

from distflow.framework import nest
from distflow.framework.eager import EagerTensor
from distflow.framework.graph import Tensor
from distflow.framework.tensor_spec import TensorSpec, v2_shape
from distflow.ops import dispatch
from distflow.ops.variables import Variable


def _flat_specs(signature, arity):
    """[(NumPy dtype, rank or None, ((axis, size) for each known size))] for an input_signature
    of one TensorSpec per positional parameter (the case the fast path serves); None otherwise."""
    if signature is None or arity != len(signature) or \
            not all(isinstance(s, TensorSpec) for s in signature):
        return None
    specs = []
    for s in signature:
        dims = s.shape.as_tuple()
        known = () if dims is None else tuple((i, d) for i, d in enumerate(dims) if d is not None)
        specs.append((np.dtype(s.dtype.as_numpy_dtype), None if dims is None else len(dims), known))
    return specs


_SIGNATURE_KEY = ("signature",)  # the one trace of a function with an input_signature


class _Call:
    """One call's arguments, split into tensors (fed to the graph) and everything else (baked in).

    `key` identifies the trace to use: the dtypes and shapes of the tensors and the Python values;
    `kind` is the key without the shapes (the traces a shape-relaxing lookup may choose from).
    """

    def __init__(self, signature, arguments, params, names, specs, tensors, key, kind):
        self.signature = signature
        self.arguments = arguments # parameter name -> value, defaults included
        self.params = params       # [(name, structure, leaves)]; a _TensorSlot marks a tensor leaf
        self.names = names         # placeholder names, one per tensor leaf
        self._specs = specs        # TensorSpec, or (NumPy dtype, shape), per tensor leaf
        self.tensors = tensors     # EagerTensor per tensor leaf (None for a TensorSpec)
        self.key = key
        self.kind = kind

    @property
    def specs(self):
        return [s if isinstance(s, TensorSpec) else TensorSpec(s[1], s[0]) for s in self._specs]

    @classmethod
    def from_arguments(cls, signature, arguments, specs_allowed):
        params, names, specs, tensors, key, kind = [], [], [], [], [], []
        for pname, value in arguments.items():
            flat = nest.flatten(value)
            key.append((pname, _structure_key(value)))
            kind.append(key[-1])
            leaves = []
            for i, leaf in enumerate(flat):
                if isinstance(leaf, (EagerTensor, np.ndarray, np.generic)):
                    tensor = leaf if isinstance(leaf, EagerTensor) else dispatch.to_eager(leaf)
                    arr = tensor._value
                    spec = (arr.dtype, arr.shape)
                    key.append(("tensor",) + spec)
                    kind.append(("tensor", arr.dtype))
                elif isinstance(leaf, TensorSpec) and specs_allowed:
                    spec, tensor = leaf, None
                    np_dtype = np.dtype(leaf.dtype.as_numpy_dtype)
                    key.append(("tensor", np_dtype, leaf.shape.as_tuple()))
                    kind.append(("tensor", np_dtype))
                else:
                    leaves.append(leaf)
                    key.append(_leaf_key(leaf))
                    kind.append(key[-1])
                    continue
                leaves.append(_TensorSlot)
                names.append(_placeholder_name(pname, i, len(flat)))
                specs.append(spec)
                tensors.append(tensor)
            params.append((pname, value, leaves))
        return cls(signature, arguments, params, names, specs, tensors, tuple(key), tuple(kind))

    @classmethod
    def with_signature(cls, fname, pysig, arguments, signature, specs_allowed):
        """Converts each argument to its TensorSpec's dtype; rejects what does not fit."""
        items = list(arguments.items())
        if len(items) < len(signature):
            raise TypeError("%s(): input_signature has %d entries but the function takes %d "
                            "arguments" % (fname, len(signature), len(items)))
        params, names, specs, tensors = [], [], [], []
        for (pname, value), spec_tree in zip(items, signature):
            flat_specs = nest.flatten(spec_tree)
            flat = _flatten_up_to(spec_tree, value)
            if flat is None:
                _signature_error(arguments, signature, pname, "does not have the nesting of its "
                                 "input_signature entry")
            for i, (leaf, spec) in enumerate(zip(flat, flat_specs)):
                if specs_allowed and isinstance(leaf, TensorSpec):
                    if leaf.dtype != spec.dtype or not _covers(spec.shape, leaf.shape):
                        _signature_error(arguments, signature, pname, "is %r" % (leaf,))
                    tensors.append(None)
                else:
                    tensors.append(_convert_for_spec(leaf, spec, arguments, signature, pname))
                names.append(_placeholder_name(pname, i, len(flat)))
                specs.append(spec)
            params.append((pname, spec_tree, [_TensorSlot] * len(flat)))
        for pname, value in items[len(signature):]:
            if value is not pysig.parameters[pname].default:
                raise TypeError("%s(): argument '%s' is not covered by input_signature"
                                % (fname, pname))
            params.append((pname, value, nest.flatten(value)))
        return cls(pysig, arguments, params, names, specs, tensors, _SIGNATURE_KEY,
                   _SIGNATURE_KEY)

    def rebuild(self, tensors):
        """(args, kwargs) with `tensors` in the tensor slots: the call the trace makes."""
        it = iter(tensors)
        arguments = dict(self.arguments)
        for pname, structure, leaves in self.params:
            flat = [next(it) if x is _TensorSlot else x for x in leaves]
            arguments[pname] = nest.pack_sequence_as(structure, flat)
        bound = inspect.BoundArguments(self.signature, arguments)
        return bound.args, bound.kwargs


class _TensorSlot:
    """Marks where a tensor argument sits among the leaves of a call."""


def _placeholder_name(pname, i, n):
    name = pname.lstrip("_") or "arg"  # graph names may not start with '_'
    return name if n == 1 else "%s_%d" % (name, i)


def _flatten_up_to(spec_tree, value):
    """The parts of `value` that match the TensorSpecs of `spec_tree` (None if the nesting
    differs): a list given for a single TensorSpec is one tensor."""
    if isinstance(spec_tree, TensorSpec):
        return [value]
    if isinstance(spec_tree, dict):
        if not isinstance(value, dict) or set(value) != set(spec_tree):
            return None
        keys = nest._sorted_keys(spec_tree)
        parts = [_flatten_up_to(spec_tree[k], value[k]) for k in keys]
    elif isinstance(spec_tree, (list, tuple)):
        if not isinstance(value, (list, tuple)) or len(value) != len(spec_tree):
            return None
        parts = [_flatten_up_to(s, v) for s, v in zip(spec_tree, value)]
    else:
        raise TypeError("input_signature must hold TensorSpecs, got %r" % (spec_tree,))
    if any(p is None for p in parts):
        return None
    return [leaf for p in parts for leaf in p]


def _structure_key(value):
    """The nesting of an argument (list/tuple/dict types and dict keys), without its leaves."""
    if isinstance(value, dict):
        return (type(value).__name__, tuple((k, _structure_key(value[k]))
                                            for k in nest._sorted_keys(value)))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_structure_key(v) for v in value))
    return None


def _leaf_key(x):
    tracing_type = getattr(x, "__tf_tracing_type__", None)
    if tracing_type is not None:  # TF's protocol: the object says which calls share a trace
        return ("trace_type", tracing_type(None))
    if isinstance(x, Variable):
        return ("variable", id(x))      # a captured variable: each one has its own trace
    if isinstance(x, Tensor):
        raise TypeError("A symbolic Tensor (%s) was passed to a df.function called eagerly; "
                        "pass eager tensors or NumPy arrays" % x.name)
    try:
        hash(x)
    except TypeError:
        return ("object", id(x))
    return ("python", type(x), x)


def _convert_for_spec(leaf, spec, arguments, signature, pname):
    try:
        if isinstance(leaf, (EagerTensor, Variable)):
            tensor = dispatch.to_eager(leaf)
            if tensor.dtype != spec.dtype:
                raise TypeError("dtype %s" % tensor.dtype.name)
        else:
            tensor = EagerTensor(dispatch.to_array(leaf, spec.dtype))
    except (TypeError, ValueError) as e:
        _signature_error(arguments, signature, pname, "cannot be converted to %s (%s)"
                         % (spec.dtype.name, e))
    if not spec.shape.is_compatible_with(tensor.shape):
        _signature_error(arguments, signature, pname, "has shape %s and dtype %s, which does not "
                         "fit %r" % (v2_shape(tensor.shape), tensor.dtype.name, spec))
    return tensor


class InputSignatureError(TypeError, ValueError):
    """Arguments that do not fit a df.function's input_signature: a TypeError, as TF 2.21
    raises it, and a ValueError, as TF 2's first releases did."""


def _signature_error(arguments, signature, pname, what):
    inputs = ",\n    ".join(str(v) for v in arguments.values())
    specs = ",\n    ".join(repr(s) for s in signature)
    raise InputSignatureError("Python inputs incompatible with input_signature:\n  inputs: (\n    %s)\n"
                     "  input_signature: (\n    %s).\n  Argument '%s' %s."
                     % (inputs, specs, pname, what))


def _most_specific_match(candidates, specs):
    """The trace whose placeholders accept these shapes with the fewest unknown sizes."""
    best, best_unknown = None, None
    for c in candidates:
        if all(_covers(ph.shape, s.shape) for s, ph in zip(specs, c.input_specs)):
            unknown = sum(_unknown_dims(ph.shape) for ph in c.input_specs)
            if best is None or unknown < best_unknown:
                best, best_unknown = c, unknown
    return best


def _covers(general, specific):
    """True when every shape that fits `specific` also fits `general`."""
    g, s = general.as_tuple(), specific.as_tuple()
    if g is None:
        return True
    if s is None or len(g) != len(s):
        return False
    return all(a is None or a == b for a, b in zip(g, s))


def _unknown_dims(shape):
    dims = shape.as_tuple()
    return 1000 if dims is None else sum(d is None for d in dims)


def _relax(old, new):
    """A spec both shapes fit: sizes that differ become None, a different rank an unknown one."""
    a, b = old.shape.as_tuple(), new.shape.as_tuple()
    if a is None or b is None or len(a) != len(b):
        return TensorSpec(None, new.dtype)
    return TensorSpec([x if x == y else None for x, y in zip(a, b)], new.dtype)


def pretty_signature(pysig, params, specs, structured_outputs, captured):
    """One trace as TF's pretty_printed_concrete_signatures shows it: each parameter with its
    TensorSpec (or the Python value it was traced with), the output type and the captures."""
    lines = ["Input Parameters:"]
    for pname, kind, text in _parameter_texts(pysig, params, specs):
        lines.append("  %s (%s): %s" % (pname, kind, text))
    lines.append("Output Type:")
    lines.append("  %s" % (_output_text(structured_outputs),))
    lines.append("Captures:")
    lines.extend(["  %d: %r" % (id(v), TensorSpec(v.shape, v.dtype)) for v in captured]
                 or ["  None"])
    return "\n".join(lines)


def function_type_text(pysig, params, specs, structured_outputs):
    """A trace's `function_type` as TF prints it: `(a: TensorSpec(...), b: Literal[2]) ->
    TensorSpec(...)`."""
    return "(%s) -> %s" % (", ".join("%s: %s" % (pname, text) for pname, _, text in
                                     _parameter_texts(pysig, params, specs)),
                           _output_text(structured_outputs))


def _parameter_texts(pysig, params, specs):
    it = iter(specs)
    for pname, structure, leaves in params:
        flat = [_unnamed(next(it)) if x is _TensorSlot else _Literal(x) for x in leaves]
        yield pname, pysig.parameters[pname].kind.name, \
            nest.pack_sequence_as(structure, flat) if nest.is_nested(structure) else flat[0]


def _output_text(structured_outputs):
    return nest.map_structure(
        lambda t: TensorSpec(t.shape, t.dtype) if isinstance(t, Tensor) else t,
        structured_outputs)


def _unnamed(spec):
    return TensorSpec(spec.shape, spec.dtype)


class _Literal:
    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return "Literal[%r]" % (self.value,)


class FunctionType:
    """A ConcreteFunction's `function_type`: str is TF's one-line form, repr the full one."""

    def __init__(self, line, full):
        self._line, self._full = line, full

    def __str__(self):
        return self._line

    def __repr__(self):
        return self._full


class AtomicFunction:
    """A trace as one callable of its flat tensor inputs (TF's `inference_fn`)."""

    def __init__(self, concrete):
        self._concrete = concrete
        self.name = "__inference_%s" % concrete._name

    def __call__(self, *args):
        return self._concrete(*args)

    def __repr__(self):
        return "<AtomicFunction> %s%s" % (self.name, self._concrete.function_type)


def concrete_call_tensors(concrete, args, kwargs):
    """A ConcreteFunction call's arguments as the eager tensors of its placeholders: positional
    in order or by name; a dtype that differs is TF's InvalidArgumentError."""
    from distflow.framework import errors
    names = [ph.op.name for ph in concrete.inputs]
    if kwargs:
        unknown = sorted(set(kwargs) - set(names[len(args):]))
        if unknown:
            raise TypeError("%s(%s) got unexpected keyword arguments: %s."
                            % (concrete._name, ", ".join(names), ", ".join(unknown)))
        args = list(args) + [kwargs[n] for n in names[len(args):] if n in kwargs]
    if len(args) != len(concrete.inputs):
        raise TypeError("%s: this ConcreteFunction takes %d tensor arguments (%s), got %d"
                        % (concrete._name, len(concrete.inputs), ", ".join(names), len(args)))
    tensors = []
    for i, (ph, a) in enumerate(zip(concrete.inputs, args)):
        t = dispatch.to_eager(a, None if isinstance(a, (EagerTensor, Variable)) else ph.dtype)
        if t.dtype != ph.dtype:   # TF's runtime check of the call's inputs
            raise errors.InvalidArgumentError(
                None, None, "cannot compute __inference_%s as input #%d(zero-based) was "
                "expected to be a %s tensor but is a %s tensor [Op:__inference_%s]"
                % (concrete._name, i, ph.dtype.name, t.dtype.name, concrete._name))
        if not ph.shape.is_compatible_with(t.shape):
            raise ValueError("%s: argument for '%s' must be %s with shape %s, got %s with "
                             "shape %s" % (concrete._name, ph.op.name, ph.dtype.name,
                                           v2_shape(ph.shape), t.dtype.name,
                                           v2_shape(t.shape)))
        tensors.append(t)
    return tensors


def placeholder_parameters(concrete):
    """(signature, params, specs) of a trace known only by its placeholders (one rebuilt by
    tf.saved_model.load), for its printed signature."""
    names = [ph.op.name for ph in concrete.inputs]
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    pysig = inspect.Signature([inspect.Parameter(n, kind) for n in names])
    return pysig, [(n, None, [_TensorSlot]) for n in names], concrete.input_specs
