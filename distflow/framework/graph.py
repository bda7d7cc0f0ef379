"""Graph, Operation and the symbolic Tensor of define-then-run (TF1) code."""
import contextlib
import re

from distflow.framework import context
from distflow.framework.tensor_shape import TensorShape


class GraphKeys:
    GLOBAL_VARIABLES = "variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    LOCAL_VARIABLES = "local_variables"
    METRIC_VARIABLES = "metric_variables"
    GLOBAL_STEP = "global_step"
    SUMMARIES = "summaries"
    UPDATE_OPS = "update_ops"
    LOSSES = "losses"


class Tensor:
    """The symbolic output `value_index` of an Operation, named like `Mul:0`."""

    __slots__ = ("op", "value_index", "dtype", "_shape", "__weakref__")
    __array_ufunc__ = None  # so `ndarray * t` calls t.__rmul__ instead of making an object array

    def __init__(self, op, value_index, shape, dtype):
        self.op = op
        self.value_index = value_index
        self._shape = shape if isinstance(shape, TensorShape) else TensorShape(shape)
        self.dtype = dtype

    @property
    def name(self):
        return "%s:%d" % (self.op.name, self.value_index)

    @property
    def graph(self):
        return self.op.graph

    @property
    def shape(self):
        return self._shape

    def get_shape(self):
        return self._shape

    def set_shape(self, shape):
        self._shape = self._shape.merge_with(shape)

    @property
    def device(self):
        return self.op.device

    def consumers(self):
        # by identity: inside a df.function `in` would compare tensors elementwise
        return [op for op in self.op.graph._ops if any(x is self for x in op.inputs)]

    def eval(self, feed_dict=None, session=None):
        from distflow.client.session import default_session_for
        return default_session_for(self, session, "tensor").run(self, feed_dict)

    def __repr__(self):
        return "<tf.Tensor '%s' shape=%s dtype=%s>" % (self.name, self._shape, self.dtype.name)

    def __str__(self):
        if self._shape.rank is None:
            return 'Tensor("%s", dtype=%s)' % (self.name, self.dtype.name)
        return 'Tensor("%s", shape=%s, dtype=%s)' % (self.name, self._shape, self.dtype.name)

    def __bool__(self):
        raise TypeError("Using a `tf.Tensor` as a Python `bool` is not allowed. Use `if t is not None:` "
                        "instead of `if t:` to test if a tensor is defined, and use TensorFlow ops such "
                        "as tf.cond to execute subgraphs conditioned on the value of a tensor.")

    def __len__(self):
        raise TypeError("len is not well defined for symbolic Tensors. (%s) Please call `x.shape` "
                        "rather than `len(x)` for shape information." % self.name)

    def __iter__(self):
        dims = self._shape.as_tuple()
        if dims is None or not dims or dims[0] is None:
            raise TypeError("Cannot iterate over a tensor with unknown first dimension.")
        return iter([self[i] for i in range(dims[0])])

    # In a TF1 graph, identity: tensors are feed_dict keys. In a df.function's graph (TF2),
    # elementwise, and tensors are unhashable, as in TF 2 (internal tables key them by id()).
    def __hash__(self):
        if self.op.graph.building_function:
            raise TypeError("Tensor is unhashable. Instead, use tensor.ref() as the key.")
        return object.__hash__(self)

    def __eq__(self, other):
        if other is None or not self.op.graph.building_function:
            return self is other
        from distflow.ops import comparison_ops  # lazily: ops sit above the framework
        return comparison_ops.equal(self, other)

    def __ne__(self, other):
        if other is None or not self.op.graph.building_function:
            return self is not other
        from distflow.ops import comparison_ops
        return comparison_ops.not_equal(self, other)

    def ref(self):
        """A hashable reference to this tensor (TF's Tensor.ref()), for dict keys and sets."""
        from distflow.framework.eager import _Ref
        return _Ref(self)

    def experimental_ref(self):
        return self.ref()


class Operation:
    """A node: an op type from the registry, its inputs, attrs and output Tensors."""

    def __init__(self, graph, opdef, name, inputs, attrs, out_specs, control_inputs):
        self.graph = graph
        self.opdef = opdef
        self.name = name
        self.inputs = tuple(inputs)
        self.attrs = attrs
        self.control_inputs = list(control_inputs)
        self.device = ""
        self.outputs = tuple(Tensor(self, i, s, d) for i, (s, d) in enumerate(out_specs))
        self._id = len(graph._ops)

    @property
    def type(self):
        return self.opdef.name

    def get_attr(self, name):
        return self.attrs[name]

    def values(self):
        return self.outputs

    def run(self, feed_dict=None, session=None):
        from distflow.client.session import default_session_for
        default_session_for(self, session, "operation").run(self, feed_dict)

    def __repr__(self):
        return "<tf.Operation '%s' type=%s>" % (self.name, self.type)


_VALID_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\-/>]*$")


class Graph:
    """Operations, unique names, name scopes, collections and seeds of one TF1 graph."""

    # True in a df.function's graph and its cond / loop sub-graphs (TF's FuncGraph flag):
    # there, tensors follow TF 2's rules for == and hashing
    building_function = False
    autograph = False  # a df.function's trace that converts the user's code (Keras's call too)

    def __init__(self):
        self._ops = []
        self._by_name = {}
        self._names_in_use = {}
        self._name_stack = ""
        self._control_deps = []
        self._collections = {}
        self._finalized = False
        self.seed = None
        self._version = 0

    # -- the default-graph stack -------------------------------------------
    @contextlib.contextmanager
    def as_default(self):
        context.ctx.graphs.append(self)
        context.ctx.modes.append("graph")
        try:
            yield self
        finally:
            context.ctx.modes.pop()
            context.ctx.graphs.pop()

    # -- names ---------------------------------------------------------------
    def unique_name(self, name, mark_as_used=True):
        """`Mul`, then `Mul_1`, ...; compared case-insensitively, as TF does."""
        if self._name_stack:
            name = self._name_stack + "/" + name
        key = name.lower()
        i = self._names_in_use.get(key, 0)
        if mark_as_used:
            self._names_in_use[key] = i + 1
        if i > 0:
            base = name
            while key in self._names_in_use:
                name = "%s_%d" % (base, i)
                key = name.lower()
                i += 1
            if mark_as_used:
                self._names_in_use[key] = 1
        return name

    def get_name_scope(self):
        return self._name_stack

    @contextlib.contextmanager
    def name_scope(self, name):
        """Yields the scope name ending in '/'; a name ending in '/' re-enters that scope."""
        old = self._name_stack
        if not name:
            new = ""
        elif name.endswith("/"):
            new = name[:-1]
        else:
            new = self.unique_name(name)
        self._name_stack = new
        try:
            yield (new + "/") if new else ""
        finally:
            self._name_stack = old

    # -- building ------------------------------------------------------------
    def create_op(self, opdef, inputs, attrs, name, out_specs):
        if self._finalized:
            raise RuntimeError("Graph is finalized and cannot be modified.")
        name = name or opdef.name
        if name.endswith("/"):
            name = name[:-1]
            self._names_in_use.setdefault(name.lower(), 1)
        else:
            if not _VALID_NAME.match(name):
                raise ValueError("'%s' is not a valid node name" % name)
            name = self.unique_name(name)
        control = []
        for deps in self._control_deps:
            control.extend(deps)
        op = Operation(self, opdef, name, inputs, attrs, out_specs, control)
        self._ops.append(op)
        self._by_name[name] = op
        self._version += 1
        return op

    @contextlib.contextmanager
    def control_dependencies(self, control_inputs):
        if control_inputs is None:  # clears outer dependencies, as in TF
            saved, self._control_deps = self._control_deps, []
            try:
                yield
            finally:
                self._control_deps = saved
            return
        ops = [c if isinstance(c, Operation) else _as_op(c) for c in control_inputs]
        self._control_deps.append(ops)
        try:
            yield
        finally:
            self._control_deps.pop()

    def as_graph_def(self):
        """The graph's nodes as TF's GraphDef lists them (`.node`: name, op and inputs of each)."""
        import types
        nodes = [types.SimpleNamespace(name=op.name, op=op.type,
                                       input=[t.name.split(":")[0] if t.value_index == 0
                                              else t.name for t in op.inputs]
                                       + ["^" + c.name for c in op.control_inputs])
                 for op in self._ops]
        return types.SimpleNamespace(node=nodes)

    def finalize(self):
        self._finalized = True

    @property
    def finalized(self):
        return self._finalized

    @property
    def version(self):
        return self._version

    # -- lookup --------------------------------------------------------------
    def get_operations(self):
        return list(self._ops)

    def get_operation_by_name(self, name):
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError("The name %r refers to an Operation not in the graph." % name) from None

    def get_tensor_by_name(self, name):
        return self.as_graph_element(name, allow_tensor=True, allow_operation=False)

    def as_graph_element(self, obj, allow_tensor=True, allow_operation=True):
        if hasattr(obj, "_as_graph_element"):
            obj = obj._as_graph_element()
        if isinstance(obj, str):
            if ":" in obj:
                if not allow_tensor:
                    raise ValueError("Name %r appears to refer to a Tensor, not a Operation." % obj)
                op_name, _, index = obj.rpartition(":")
                op = self._by_name.get(op_name)
                if op is None:
                    raise KeyError("The name %r refers to a Tensor which does not exist. The "
                                   "operation, %r, does not exist in the graph." % (obj, op_name))
                try:
                    return op.outputs[int(index)]
                except (ValueError, IndexError):
                    raise KeyError("The name %r refers to a Tensor which does not exist. The "
                                   "operation, %r, exists but only has %d outputs."
                                   % (obj, op_name, len(op.outputs))) from None
            if not allow_operation:
                what = "refers to an Operation" if obj in self._by_name else \
                    "looks like an (invalid) Operation name"
                raise ValueError("The name %r %s, not a Tensor. Tensor names must be of the form "
                                 "\"<op_name>:<output_index>\"." % (obj, what))
            op = self._by_name.get(obj)
            if op is None:
                raise KeyError("The name %r refers to an Operation not in the graph." % obj)
            return op
        if isinstance(obj, Tensor) and allow_tensor:
            if obj.graph is not self:
                raise ValueError("Tensor %s is not an element of this graph." % obj)
            return obj
        if isinstance(obj, Operation) and allow_operation:
            if obj.graph is not self:
                raise ValueError("Operation %s is not an element of this graph." % obj)
            return obj
        raise TypeError("Can not convert a %s into a %s." % (
            type(obj).__name__, "Tensor or Operation" if allow_operation else "Tensor"))

    def is_feedable(self, tensor):
        return True

    # -- collections ---------------------------------------------------------
    def add_to_collection(self, name, value):
        self._collections.setdefault(name, []).append(value)

    def add_to_collections(self, names, value):
        for n in ([names] if isinstance(names, str) else names):
            self.add_to_collection(n, value)

    def get_collection(self, name, scope=None):
        items = self._collections.get(name, [])
        if scope is None:
            return list(items)
        return [i for i in items if getattr(i, "name", "").startswith(scope)]

    def get_collection_ref(self, name):
        return self._collections.setdefault(name, [])

    def get_all_collection_keys(self):
        return list(self._collections)


def _as_op(x):
    if isinstance(x, Operation):
        return x
    if isinstance(x, Tensor):
        return x.op
    if hasattr(x, "op"):
        return x.op
    raise TypeError("Can not convert %r to an Operation." % (x,))


_global_graph = Graph()


def get_default_graph():
    graphs = context.ctx.graphs
    return graphs[-1] if graphs else _global_graph


def reset_default_graph():
    global _global_graph
    if context.ctx.graphs:
        raise AssertionError("Do not use tf.reset_default_graph() to clear nested graphs. If you need "
                             "a cleared graph, exit the nesting and create a new graph.")
    _global_graph = Graph()


def name_scope(name, default_name=None, values=None):
    """`with name_scope('layer'):` in the default graph. While executing eagerly it names only
    the Variables created inside (TF2: `outer/w:0`); eager names are never made unique."""
    if context.executing_eagerly():
        return _eager_name_scope(name or default_name)
    return get_default_graph().name_scope(name or default_name)


class _eager_name_scope:
    """A class, not a generator: composite ops open a scope per call, eagerly too."""

    __slots__ = ("name", "old")

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        ctx, name = context.ctx, self.name
        self.old = old = ctx.eager_name_stack
        if not name:
            new = ""
        elif name.endswith("/"):  # a scope's full name re-enters it, as in graphs
            new = name[:-1]
        else:
            new = old + "/" + name if old else name
        ctx.eager_name_stack = new
        return new + "/" if new else ""

    def __exit__(self, *exc):
        context.ctx.eager_name_stack = self.old
        return False


def control_dependencies(control_inputs):
    if context.executing_eagerly():
        return contextlib.nullcontext()
    return get_default_graph().control_dependencies(control_inputs)


@contextlib.contextmanager
def init_scope():
    """TF's init_scope: code that must run once, outside the function being traced. Inside a
    df.function's trace (or any graph built under eager code) it runs eagerly, with gradient
    tapes paused; in a TF1 graph it leaves every control dependency."""
    if context.ctx.modes[0] == "eager" and not context.executing_eagerly():
        context.ctx.recording_paused += 1
        try:
            with context.eager_mode():
                yield
        finally:
            context.ctx.recording_paused -= 1
    elif context.executing_eagerly():
        yield
    else:
        with get_default_graph().control_dependencies(None):
            yield


def add_to_collection(name, value):
    get_default_graph().add_to_collection(name, value)


def get_collection(name, scope=None):
    return get_default_graph().get_collection(name, scope)
