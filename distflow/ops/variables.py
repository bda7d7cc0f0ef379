"""Variables: mutable state. In a graph (TF1) a Variable is a VariableV2 op whose value lives in
each Session; while executing eagerly (TF2) it holds its array itself."""
import weakref

import numpy as np

from distflow.framework import context, dtypes
from distflow.framework.eager import EagerTensor
from distflow.framework.graph import GraphKeys, Tensor, get_default_graph
from distflow.framework.tensor_shape import TensorShape
from distflow.ops import dispatch, state_ops
from distflow.ops.array_ops import identity
from distflow.ops.control_flow_ops import group


__all__ = [
    "Variable",
    "global_variables",
    "trainable_variables",
    "variables_initializer",
    "global_variables_initializer",
]


class Variable:
    """`Variable(initial_value, trainable=True, name=None, dtype=None)`; graph or eager by mode."""

    def __new__(cls, *args, **kwargs):
        if cls is Variable:
            if context.ctx.variable_creators and not context.executing_eagerly():
                cls = context.ctx.variable_creators[-1]
            elif context.ctx.variable_creators:
                # made eagerly while a df.function traces (an optimizer's slots, TF's
                # init_scope): the trace still counts it, and may refuse it
                context.ctx.variable_creators[-1].note_eager_creation()
                cls = EagerVariable
            else:
                cls = EagerVariable if context.executing_eagerly() else GraphVariable
        return object.__new__(cls)

    # Shared conveniences; subclasses provide _graph_tensor / _eager_read and the state.
    def get_shape(self):
        return self.shape

    @property
    def trainable(self):
        return self._trainable

    def assign(self, value, use_locking=False, name=None, read_value=True):
        return dispatch.apply(state_ops.Assign, [self, self._convert(value)], name=name)

    def assign_add(self, delta, use_locking=False, name=None, read_value=True):
        return dispatch.apply(state_ops.AssignAdd, [self, self._convert(delta)], name=name)

    def assign_sub(self, delta, use_locking=False, name=None, read_value=True):
        return dispatch.apply(state_ops.AssignSub, [self, self._convert(delta)], name=name)

    def _convert(self, value):
        return dispatch.convert_to_tensor(value, self.dtype) if dispatch.dtype_of(value) is None \
            else value


class GraphVariable(Variable):
    def __init__(self, initial_value=None, trainable=True, name=None, dtype=None,
                 collections=None, validate_shape=True, **unused):
        if initial_value is None:
            raise ValueError("initial_value must be specified.")
        graph = get_default_graph()
        self._trainable = bool(trainable)
        self._graph_variable_graph = graph
        with graph.as_default(), graph.name_scope(name or "Variable") as scope:
            if callable(initial_value):
                initial_value = initial_value()
            init = dispatch.convert_to_tensor(initial_value, dtype, name="initial_value") \
                if not isinstance(initial_value, Tensor) else initial_value
            if dtype is not None and init.dtype != dtypes.as_dtype(dtype):
                from distflow.ops.math_ops import cast
                init = cast(init, dtype)
            self._initial_value = init
            shape = init.shape if validate_shape else TensorShape(None)
            self._op = dispatch.build_op(graph, state_ops.VariableV2, [],
                                             {"shape": shape, "dtype": init.dtype}, scope).op
            self._ref = self._op.outputs[0]
            self._initializer = dispatch.build_op(
                graph, state_ops.Assign, [self._ref, init], {"validate_shape": validate_shape},
                "Assign").op
            self._read = dispatch.build_op(graph, identity_opdef(), [self._ref], {}, "read")
        if collections is None:
            collections = [GraphKeys.GLOBAL_VARIABLES]
            if self._trainable:
                collections.append(GraphKeys.TRAINABLE_VARIABLES)
        graph.add_to_collections(collections, self)

    def _graph_tensor(self, graph, ref):
        if graph is not self._graph_variable_graph:
            raise ValueError("Variable %s must be from the same graph as the other inputs."
                             % self.name)
        return self._ref if ref else self._read

    def _as_graph_element(self):
        return self._read

    @property
    def name(self):
        return self._ref.name

    @property
    def op(self):
        return self._op

    @property
    def graph(self):
        return self._op.graph

    @property
    def dtype(self):
        return self._ref.dtype

    @property
    def shape(self):
        return self._ref.shape

    @property
    def initializer(self):
        return self._initializer

    @property
    def initial_value(self):
        return self._initial_value

    def value(self):
        return self._read

    def read_value(self):
        return identity(self._read, name="read")  # TF1's name: read, read_1, ...

    def initialized_value(self):
        return self._read

    def eval(self, session=None):
        return self._read.eval(session=session)

    def load(self, value, session=None):
        from distflow.client.session import default_session_for
        sess = default_session_for(self._read, session, "variable")
        value = np.array(value, dtype=self.dtype.as_numpy_dtype)
        # on a GPU session: moved there
        sess.variable_cell(self._op).assign_array(sess._xp.asarray(value))

    def __repr__(self):
        return "<tf.Variable '%s' shape=%s dtype=%s_ref>" % (self.name, self.shape, self.dtype.name)


def identity_opdef():
    from distflow.ops.array_ops import Identity
    return Identity


class EagerVariable(Variable, state_ops.VariableStorage):
    _graph_variable_graph = None  # in no graph (and dispatch's lookup finds that at once)

    def __init__(self, initial_value=None, trainable=True, name=None, dtype=None, **unused):
        if initial_value is None:
            raise ValueError("initial_value must be specified.")
        if callable(initial_value):
            initial_value = initial_value()
        t = dispatch.to_eager(initial_value, dtype)
        if dtype is not None and t.dtype != dtypes.as_dtype(dtype):
            t = EagerTensor(t._value.astype(dtypes.as_dtype(dtype).as_numpy_dtype))
        self._array = t._value.copy() if hasattr(t._value, "copy") else t._value
        self._trainable = bool(trainable)
        scope = context.ctx.eager_name_stack
        self._name = (scope + "/" if scope else "") + (name or "Variable") + ":0"
        for observe in context.ctx.variable_observers:
            observe(self)

    # the storage protocol (state_ops.VariableStorage): dispatch, plans that capture this
    # variable, the optimizer's fast path and broadcasts reach the array only through these
    shares_reads = True

    def read_array(self):
        return self._array

    def assign_array(self, value):
        """A new array (earlier reads keep theirs), cast to the variable's dtype."""
        if value.shape != self._array.shape:
            raise ValueError("Cannot assign to variable %s due to variable shape %s and value shape "
                             "%s are incompatible" % (self._name, TensorShape(self._array.shape),
                                                      TensorShape(value.shape)))
        # NumPy gives a scalar, not an array, for 0-d arithmetic (cur + d): kept as one, a
        # later in-place update (out=) of this variable would fail
        self._array = np.asarray(value.astype(self._array.dtype, copy=False)) \
            if isinstance(value, np.generic) else value.astype(self._array.dtype, copy=False)
        state_ops.VariableStorage.replaced += 1

    def _eager_read(self):
        t = EagerTensor(self._array)
        self._remember_read(t)
        tapes = context.ctx.tapes
        if tapes:  # each tape decides: trainable and watching accessed variables, or watched
            for tape in tapes:
                tape._variable_read(self, t)
        return t

    # Copy on write. A read shares the variable's array (no copy per read); a compiled plan's
    # update overwrites the array in place only while no tensor read from it is alive.
    # Every read that hands out the array passes here: the count it keeps
    # (VariableStorage.shared_reads) is what lets an update skip asking again whether arrays it
    # found private still are.
    def _remember_read(self, t):
        state_ops.VariableStorage.shared_reads += 1
        reads = self.__dict__.get("_reads")
        if reads is None:
            reads = self._reads = []
        # a loop that reads but never updates: forget the dead reads, once the list doubled
        # since the last time (reads a tape keeps alive would make every read scan them all)
        elif len(reads) >= 16 and len(reads) >= 2 * self.__dict__.get("_reads_kept", 0):
            reads[:] = [r for r in reads if r() is not None]
            self._reads_kept = len(reads)
        reads.append(weakref.ref(t))

    def array_is_private(self):
        """True when no live EagerTensor read from this variable holds its current array, so
        an update may overwrite the array without changing a value someone holds. Once found
        private it stays so until some eager read hands an array out (a read is the only way
        to share one): until VariableStorage.shared_reads moves, nothing is looked at again."""
        if self.__dict__.get("_private_at") == state_ops.VariableStorage.shared_reads:
            return True
        private = self._no_live_read_shares_the_array()
        if private:
            self._private_at = state_ops.VariableStorage.shared_reads
        return private

    def _no_live_read_shares_the_array(self):
        reads = self.__dict__.get("_reads")
        if not reads:
            return True
        current, keep, shared = self._array, [], False
        for r in reads:
            t = r()
            if t is not None:
                keep.append(r)
                shared = shared or t._value is current
        reads[:] = keep
        return not shared

    def _graph_tensor(self, graph, ref):
        """Inside a traced function: a node that reads this variable's storage at run time."""
        captures = graph.__dict__.setdefault("_variable_captures", {})
        entry = captures.get(id(self))
        if entry is None:
            handle = dispatch.build_op(graph, state_ops.CapturedVariable, [],
                                           {"variable": self}, "ReadVariable")
            with graph.name_scope(None):
                read = dispatch.build_op(graph, identity_opdef(), [handle], {}, None)
            entry = captures[id(self)] = (handle, read, self)
        return entry[0] if ref else entry[1]

    @property
    def name(self):
        return self._name

    @property
    def dtype(self):
        return dtypes.of_array(self._array)

    @property
    def shape(self):
        return TensorShape(self._array.shape)

    def numpy(self):
        """A NumPy copy of the value; a NumPy scalar for a scalar variable, as in TF."""
        from distflow import backend
        v = np.array(backend.to_numpy(self._array), copy=True)
        return v[()] if v.ndim == 0 else v

    def value(self):
        return self.read_value()

    def read_value(self):
        if not context.executing_eagerly():  # tracing a df.function: read when the graph runs
            return identity(self)
        return self._eager_read()

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.numpy(), dtype=dtype)

    def __float__(self):
        return float(self._array)

    def __int__(self):
        return int(self._array)

    def __repr__(self):
        from distflow.framework.eager import _numpy_text  # a value of several lines starts one
        v = self.numpy()
        return "<tf.Variable '%s' shape=%s dtype=%s, numpy=%s>" % (
            self._name, self.shape, self.dtype.name, _numpy_text(repr(v) if v.ndim else str(v)))

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other


dispatch.EAGER_VARIABLE_TYPES = (EagerVariable,)  # binary_operands' eager fast path


# -- many variables' values at once: what layers, Saver and checkpoints read and write ----------
def read_values(var_list, session=None):
    """The values of `var_list` (graph and eager Variables) as NumPy arrays, in order: the graph
    ones in one run of `session` (the default Session when None), the eager ones as they are."""
    graph_vars = [v for v in var_list if not isinstance(v, EagerVariable)]
    fetched = {}
    if graph_vars:
        from distflow.client.session import default_session_for
        sess = default_session_for(graph_vars[0].value(), session, "variable")
        fetched = {id(v): value for v, value in zip(graph_vars, sess.run(graph_vars))}
    return [np.asarray(fetched[id(v)]) if id(v) in fetched else v.numpy() for v in var_list]


def write_values(var_list, values, session=None):
    """Stores `values` (arrays of the variables' shapes) into `var_list`: a graph Variable's into
    the storage of `session` (the default Session when None), an eager one by assignment."""
    for v, value in zip(var_list, values):
        if isinstance(v, EagerVariable):
            with context.eager_mode():
                v.assign(value)
        else:
            v.load(value, session)


def global_variables(scope=None):
    if context.executing_eagerly() and not context.ctx.graphs:
        return []
    return get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES, scope)


def trainable_variables(scope=None):
    if context.executing_eagerly() and not context.ctx.graphs:
        return []
    return get_default_graph().get_collection(GraphKeys.TRAINABLE_VARIABLES, scope)


def variables_initializer(var_list, name="init"):
    """An op that runs the initializers of `var_list`."""
    return group(*[v.initializer for v in var_list], name=name)


def global_variables_initializer():
    """An op named `init` that initializes every global variable."""
    return variables_initializer(global_variables(), name="init")
