"""`apply`: the one entry point of every op, sending the call to graph building or eager execution.

Graph mode runs the op's shape rule and adds an Operation. Eager mode runs the op's kernel now on
the arrays' own module (NumPy or CuPy) and records the call on any GradientTape that watches an
input. The mode comes from the inputs (a graph Tensor builds into its graph), else from the context.
"""
import numpy as np

from distflow import backend
from distflow.backend import gpu
from distflow.framework import context, dtypes, errors
from distflow.framework.eager import EagerTensor
from distflow.framework.graph import Operation, Tensor, get_default_graph
from distflow.ops.registry import may_update_in_place

_ctx = context.ctx


def graph_of(inputs):
    """The graph the first graph tensor (or graph Variable) of `inputs` builds into (a cond
    branch or loop body being traced inside it, if any); None when all are eager values."""
    for t in inputs:
        if type(t) is EagerTensor or type(t) in EAGER_VARIABLE_TYPES:  # the eager hot path
            continue
        if isinstance(t, Tensor):
            return _building_into(t.op.graph)
        g = getattr(t, "_graph_variable_graph", None)
        if g is not None:
            return _building_into(g)
    return None


def _building_into(graph):
    """`graph`, or the cond branch / loop body being traced inside it (ops/func_graph.py), which
    then captures the tensors of `graph` that its ops use (the hook for control flow)."""
    graphs = _ctx.graphs
    if graphs:
        top = graphs[-1]
        if top is not graph and getattr(top, "outer_graph", None) is not None \
                and top.encloses(graph):
            return top
    return graph


def apply(opdef, inputs, attrs=None, name=None):
    """Runs or builds `opdef` on `inputs`. Returns a tensor, a tuple of tensors, or an Operation
    (graph mode) / None (eager mode) for ops without outputs."""
    if attrs is None:
        attrs = {}
    for t in inputs:  # graph_of's eager hot path, inlined: every eager op passes here
        if type(t) is not EagerTensor:
            graph = graph_of(inputs)
            break
    else:
        graph = None
    if graph is None and _ctx.modes[-1] == "eager":
        return _apply_eager(opdef, inputs, attrs)
    return build_op(graph or get_default_graph(), opdef, inputs, attrs, name)


# -- graph building --------------------------------------------------------------------------
def build_op(graph, opdef, inputs, attrs, name):
    """Adds `opdef` on `inputs` (converted to tensors of `graph`; a ref input to a variable's
    storage) to `graph`, its outputs' specs from the op's shape rule. Returns what `apply`
    returns in graph mode."""
    tensors = [to_graph_tensor(x, graph, ref=(i in opdef.ref_inputs)) for i, x in enumerate(inputs)]
    specs = opdef.infer(*tensors, **attrs)
    op = graph.create_op(opdef, tensors, attrs, name, specs)
    outs = op.outputs
    if not outs:
        return op
    return outs[0] if len(outs) == 1 else outs


def to_graph_tensor(x, graph, dtype=None, ref=False):
    if isinstance(x, Tensor):
        if x.op.graph is not graph:
            if getattr(graph, "outer_graph", None) is not None:  # a cond branch or loop body
                return graph.capture(x)
            if graph.building_function and x.op.graph.building_function:
                raise TypeError("%r is out of scope and cannot be used here. Use return values, "
                                "explicit Python locals or TensorFlow collections to access it."
                                % (x,))
            raise ValueError("Tensor %s must be from the same graph as the other inputs." % x)
        return x
    as_graph = getattr(x, "_graph_tensor", None)
    if as_graph is not None:  # a Variable: its read tensor, or its storage for ref inputs
        if getattr(graph, "outer_graph", None) is not None:  # used in a cond branch or loop body
            return graph.capture_variable(x, ref)
        return as_graph(graph, ref)
    if isinstance(x, EagerTensor):
        x = backend.to_numpy(x._value)
    from distflow.ops.constant_op import const_in_graph
    return const_in_graph(graph, to_array(x, dtype), None)


# -- eager execution ---------------------------------------------------------------------------
def _apply_eager(opdef, inputs, attrs):
    ref = opdef.ref_input
    if ref is not None:
        return _apply_eager_ref(opdef, inputs, attrs)
    tensors, arrays, on_host = [], [], True
    for x in inputs:
        if type(x) is not EagerTensor:
            x = to_eager(x)
        tensors.append(x)
        a = x._value
        arrays.append(a)
        if type(a) is not np.ndarray:  # backend.get_array_module, inlined: it costs as much
            on_host = False              # as a small op
    try:
        if opdef.kernel is not None:
            out = opdef.kernel(EagerRecord(opdef, tensors, (), attrs), None)(*arrays)
        elif on_host:
            out = opdef.forward(np, *arrays, **attrs)
        else:
            xp = backend.get_array_module(*arrays)
            if xp is not np:  # an input lives on a GPU: the op runs there (backend/gpu.py's rule)
                arrays = gpu.device_args(xp, arrays, opdef.host_inputs)
            out = opdef.forward(xp, *arrays, **attrs)
    except (ValueError, IndexError) as e:
        _kernel_failed(opdef, e)
    if type(out) is np.ndarray or not isinstance(out, tuple):
        if out is None:
            return None
        result = EagerTensor(out)
        outs = (result,)
    else:
        result = outs = tuple(EagerTensor(o) for o in out)
    if _ctx.tapes and not _ctx.recording_paused:
        for tape in _ctx.tapes:
            tape._record(opdef, tensors, outs, attrs)
    return result


def _kernel_failed(opdef, exc):
    """A kernel refused its inputs at run time (shapes that do not broadcast, an index out of
    range): eagerly, as in a Session, that is TF's InvalidArgumentError naming the op, not the
    array library's own exception. (Graph building raises ValueError from the shape rule.)"""
    raise errors.InvalidArgumentError(None, None, "%s [Op:%s]" % (exc, opdef.name)) from exc


def _apply_eager_ref(opdef, inputs, attrs):
    refs = opdef.ref_inputs
    targets = [inputs[i] for i in refs]
    for i, var in zip(refs, targets):
        if not hasattr(var, "assign_array"):
            raise TypeError("%s needs a Variable as input %d, got %r" % (opdef.name, i, var))
    others = [to_eager(x)._value for i, x in enumerate(inputs) if i not in refs]
    currents = [var.read_array() for var in targets]
    xp = backend.get_array_module(*others) if currents[0] is None \
        else backend.get_array_module(currents[0])
    if xp is not np:
        others = gpu.device_args(xp, others)
    if may_update_in_place(opdef, targets, currents, others):
        opdef.inplace(xp, *currents, *others, **attrs)
        return targets[0]
    new = opdef.forward(xp, *currents, *others, **attrs)
    # every new value is computed before any is stored: the update sees one consistent state
    for var, value in zip(targets, new if len(targets) > 1 else (new,)):
        var.assign_array(value)
    return targets[0]


class EagerRecord:
    """What a gradient function sees of an eager op: TF's `_MockOp` idea. The walker fills in
    `skip_input_indices` (inputs whose gradient nobody wants) before calling the gradient."""

    __slots__ = ("opdef", "inputs", "outputs", "attrs", "skip_input_indices")

    def __init__(self, opdef, inputs, outputs, attrs):
        self.opdef = opdef
        self.inputs = inputs
        self.outputs = outputs
        self.attrs = attrs
        self.skip_input_indices = ()

    @property
    def type(self):
        return self.opdef.name

    @property
    def name(self):
        return self.opdef.name

    def get_attr(self, name):
        return self.attrs[name]


def to_eager(x, dtype=None):
    if isinstance(x, EagerTensor):
        return x
    read = getattr(x, "_eager_read", None)
    if read is not None:  # a Variable: a snapshot, seen by tapes that watch accessed variables
        return read()
    if isinstance(x, Tensor):
        raise TypeError("A symbolic Tensor (%s) cannot be used in eager execution; run it in a "
                        "Session, or build the whole computation in a graph." % x.name)
    return EagerTensor(backend.place_eager(to_array(x, dtype)))  # inside df.device: there


# -- Python values to arrays -----------------------------------------------------------------
def to_array(value, dtype=None):
    """A NumPy array for a Python or NumPy value, with TF's default dtypes (float32, int32)."""
    if dtype is not None:
        dtype = dtypes.as_dtype(dtype)
        if type(value) is float and dtype.is_floating:  # the common case: no checks needed
            return np.array(value, dtype.as_numpy_dtype)
        if type(value) is np.ndarray and value.dtype == dtype._np:  # a batch of data, as it is
            return value
    if isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        if dtype is None:
            if arr.dtype.kind in "OUS":
                raise TypeError("Cannot convert %r to a tensor: unsupported dtype %s" % (value, arr.dtype))
            return arr
    else:
        if isinstance(value, (Tensor, Operation)):
            raise TypeError("Expected a plain value, got %s" % value)
        try:
            arr = np.asarray(value)
        except ValueError as e:
            raise ValueError("Cannot convert %r to a tensor: %s" % (value, e)) from None
        if arr.dtype.kind in "OUS":
            raise TypeError("Cannot convert %r to a tensor of a numeric or bool dtype." % (value,))
        if dtype is None:
            if arr.dtype == np.float64:
                return arr.astype(np.float32)
            if arr.dtype.kind == "i":
                if arr.size and (arr.max() > 2**31 - 1 or arr.min() < -2**31):
                    return arr.astype(np.int64)
                return arr.astype(np.int32)
            return arr
    target = np.dtype(dtype.as_numpy_dtype)
    if arr.dtype == target:
        return arr
    # TF's rule: a NumPy value is cast to the requested dtype as it is (np.array([1.5]) to int32
    # gives 1), but a Python value must fit the dtype's kind: a Python float never becomes an
    # integer, not even 2.0 (`int_tensor * 2.0` is a TypeError), nor a Python int a bool.
    from_python = not isinstance(value, (np.ndarray, np.generic))
    if from_python and arr.size and (arr.dtype.kind == "f" and target.kind in "iub"
                                     or target.kind == "b" and arr.dtype.kind != "b"):
        raise TypeError("Expected %s, got %r of type '%s' instead." % (
            dtype.name, value, type(value).__name__))
    return arr.astype(target)


# The eager Variable class (ops/variables.py registers it; it imports this module), exactly:
# binary_operands reads such an operand at once.
EAGER_VARIABLE_TYPES = ()


def dtype_of(x):
    """The DType of a tensor or Variable; None for Python and NumPy values, which adapt."""
    if type(x) is EagerTensor:  # the eager hot path: straight from the array
        return dtypes.of_array(x._value)
    d = getattr(x, "dtype", None)
    return d if isinstance(d, dtypes.DType) else None


def convert_to_tensor(value, dtype=None, name=None):
    """A Tensor (graph mode) or EagerTensor for `value`, checked against `dtype` when given."""
    if dtype is not None:
        dtype = dtypes.as_dtype(dtype)
    if _ctx.modes[-1] == "eager":  # the eager hot paths, each a few times per gradient
        if type(value) is EagerTensor and (dtype is None or dtypes.of_array(value._value) is dtype):
            return value
        if type(value) is float or type(value) is int or type(value) is np.ndarray:
            # e.g. the 2.0 in Square's gradient, a batch of data: what to_eager would do after
            # the checks below, none of which applies to a plain number or NumPy array
            return EagerTensor(backend.place_eager(to_array(value, dtype)))
    if isinstance(value, (list, tuple)) and _holds_tensor(value):
        return _pack(value, dtype, name)
    d = dtype_of(value)
    # Variables of both kinds count as tensors (graph ones have _graph_tensor, eager _eager_read)
    is_tensor = isinstance(value, (Tensor, EagerTensor)) or hasattr(value, "_eager_read") \
        or hasattr(value, "_graph_tensor")
    if is_tensor and dtype is not None and d != dtype:
        raise ValueError("Tensor conversion requested dtype %s for Tensor with dtype %s: %r"
                         % (dtype.name, d.name, value))
    graph = graph_of([value])
    if graph is None and _ctx.modes[-1] == "eager":
        return to_eager(value, dtype)
    graph = graph or get_default_graph()
    if isinstance(value, EagerTensor):
        value = backend.to_numpy(value._value)
    if not is_tensor or isinstance(value, (np.ndarray, np.generic)):
        from distflow.ops.constant_op import const_in_graph
        return const_in_graph(graph, to_array(value, dtype), name)
    return to_graph_tensor(value, graph)


def _holds_tensor(value):
    return any(isinstance(v, (Tensor, EagerTensor)) or hasattr(v, "_graph_tensor")
               or (isinstance(v, (list, tuple)) and _holds_tensor(v)) for v in value)


def _pack(value, dtype, name):
    """A list holding tensors, stacked into one tensor (TF packs it the same way)."""
    from distflow.ops.array_ops import stack  # lazily: array_ops builds on this module
    parts = [_pack(v, dtype, None) if isinstance(v, (list, tuple)) else v for v in value]
    known = next((dtype_of(p) for p in parts if dtype_of(p) is not None), None)
    parts = [convert_to_tensor(p, dtype or known) for p in parts]
    return stack(parts, name=name or "packed")


def binary_operands(x, y):
    """Converts two operands so that a plain Python value takes the other operand's dtype."""
    if type(x) is EagerTensor and type(y) is EagerTensor:  # the eager hot path: nothing to do
        return x, y
    if _ctx.modes[-1] == "eager":
        # An eager Variable beside an eager tensor (or another) is read here rather than in the
        # op's dispatch (TF reads it when converting it to a tensor, too): the same one read,
        # after which every check on the way is the two-tensor hot path. (Beside a graph
        # tensor it is captured into that graph instead, as the op's dispatch does.)
        vx, vy = type(x) in EAGER_VARIABLE_TYPES, type(y) in EAGER_VARIABLE_TYPES
        ex, ey = vx or type(x) is EagerTensor, vy or type(y) is EagerTensor
        if ex and ey:
            return (x._eager_read() if vx else x), (y._eager_read() if vy else y)
        # beside a NumPy array (a batch of data, labels): the array in the other's dtype, as
        # convert_to_tensor below would make it
        if ex and type(y) is np.ndarray:
            x = x._eager_read() if vx else x
            return x, EagerTensor(backend.place_eager(to_array(y, dtypes.of_array(x._value))))
        if ey and type(x) is np.ndarray:
            y = y._eager_read() if vy else y
            return EagerTensor(backend.place_eager(to_array(x, dtypes.of_array(y._value)))), y
    dx, dy = dtype_of(x), dtype_of(y)
    if dx is None and dy is not None:
        x = convert_to_tensor(x, dy)
    elif dy is None and dx is not None:
        y = convert_to_tensor(y, dx)
    return x, y


def graph_operands(graph, x, y, names):
    """binary_operands for an op built into `graph`: a Python or NumPy operand becomes a
    constant there named `names[i]` (in the op's name scope: TF's `mul/y`)."""
    from distflow.ops.constant_op import const_in_graph
    dx, dy = dtype_of(x), dtype_of(y)
    if dx is None:
        x = const_in_graph(graph, to_array(_host(x), dy), names[0])
    if dy is None:
        y = const_in_graph(graph, to_array(_host(y), dtype_of(x)), names[1])
    return x, y


def _host(v):
    return backend.to_numpy(v._value) if isinstance(v, EagerTensor) else v


def building_graph(inputs):
    """The graph that an op on `inputs` is built into, or None when it runs eagerly."""
    graph = graph_of(inputs)
    if graph is None and _ctx.modes[-1] != "eager":
        graph = get_default_graph()
    return graph
