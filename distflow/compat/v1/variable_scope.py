"""TF1's variable sharing: `get_variable`, `variable_scope`, `get_variable_scope`, AUTO_REUSE.

Each graph keeps its own state (the current VariableScope, the variables made by get_variable,
and how often each scope name was opened, which makes `default_name` scopes unique), as TF keeps
it in graph collections: a new graph, or reset_default_graph(), starts clean.

Names follow TF1: a variable is named by the variable scopes alone (`foo/v:0`), whatever name
scope is open, while ops built inside a variable_scope go into a name scope the scope opens; so
re-entering a scope puts its ops under `foo_1/` but finds its variables under `foo/`.
"""
import enum
import inspect
import traceback

from distflow.framework import context, dtypes
from distflow.framework.graph import GraphKeys, Tensor, get_default_graph
from distflow.framework.tensor_shape import TensorShape
from distflow.ops import dispatch, variables
from distflow.compat.v1 import init_ops

__all__ = ["AUTO_REUSE", "VariableScope", "variable_scope", "get_variable",
           "get_variable_scope"]


class _ReuseMode(enum.Enum):
    AUTO_REUSE = 1


AUTO_REUSE = _ReuseMode.AUTO_REUSE  # get_variable creates a variable if needed, else reuses it


class VariableScope:
    """What a `with variable_scope(...) as scope:` gives: the name prefix, the reuse mode, and
    the defaults (initializer, dtype, regularizer) get_variable uses inside it."""

    def __init__(self, reuse, name="", initializer=None, regularizer=None,
                 dtype=dtypes.float32, name_scope=""):
        self._reuse, self._name, self._initializer = reuse, name, initializer
        self._regularizer, self._dtype, self._name_scope = regularizer, dtype, name_scope

    name = property(lambda self: self._name)
    original_name_scope = property(lambda self: self._name_scope)
    reuse = property(lambda self: self._reuse)
    initializer = property(lambda self: self._initializer)
    regularizer = property(lambda self: self._regularizer)
    dtype = property(lambda self: self._dtype)

    def reuse_variables(self):
        """From now on get_variable in this scope returns existing variables."""
        self._reuse = True

    def set_initializer(self, initializer):
        self._initializer = initializer

    def set_regularizer(self, regularizer):
        self._regularizer = regularizer

    def set_dtype(self, dtype):
        self._dtype = dtype

    def global_variables(self):
        return variables.global_variables(self._name + "/" if self._name else None)

    def trainable_variables(self):
        return variables.trainable_variables(self._name + "/" if self._name else None)

    @init_ops.building_graphs
    def get_variable(self, name, shape=None, dtype=None, initializer=None, regularizer=None,
                     reuse=None, trainable=None, collections=None, caching_device=None,
                     partitioner=None, validate_shape=True, use_resource=None,
                     custom_getter=None, constraint=None, **unused):
        if context.executing_eagerly():
            reuse = False  # eagerly, as in TF, every call makes a new variable
        elif reuse is None:
            reuse = self._reuse
        full_name = self._name + "/" + name if self._name else name
        if dtype is not None and initializer is not None and not callable(initializer):
            init_dtype = initializer.dtype if isinstance(initializer, Tensor) \
                else dtypes.as_dtype(dispatch.to_array(initializer).dtype)
            if init_dtype != dtypes.as_dtype(dtype):
                raise ValueError("Initializer type '%s' and explicit dtype '%s' don't match."
                                 % (init_dtype, dtypes.as_dtype(dtype)))
        return _state().get_variable(
            full_name, shape, self._dtype if dtype is None else dtype,
            self._initializer if initializer is None else initializer,
            self._regularizer if regularizer is None else regularizer,
            reuse, trainable, collections, validate_shape)


class _State:
    """One graph's variable scopes and get_variable store."""

    def __init__(self):
        self.current = VariableScope(False)
        self.counts = {}      # scope name -> times opened (for unique default names)
        self.variables = {}   # full name -> Variable made by get_variable
        self.origins = {}     # full name -> where it was made (for the "already exists" error)

    def close_subscopes(self, name):
        prefix = name + "/"
        for k in self.counts:
            if k.startswith(prefix):
                self.counts[k] = 0

    def get_variable(self, name, shape, dtype, initializer, regularizer, reuse, trainable,
                     collections, validate_shape):
        from_value = initializer is not None and not callable(initializer)
        if shape is not None and from_value:
            raise ValueError("If initializer is a constant, do not specify shape.")
        dtype = dtypes.as_dtype(dtype)
        if shape is not None:
            shape = TensorShape(shape)
        if name in self.variables:
            return self._existing(name, shape, dtype, reuse)
        if reuse is True:
            raise ValueError("Variable %s does not exist, or was not created with "
                             "tf.get_variable(). Did you mean to set reuse=tf.AUTO_REUSE in "
                             "VarScope?" % name)
        if initializer is None:
            if shape is None:
                raise ValueError("Variable %s did not get an initializer, so its `shape` "
                                 "argument must be specified." % name)
            initializer = _default_initializer(name, dtype)
        if from_value:
            make, var_dtype = initializer, None
        else:
            if inspect.isclass(initializer):
                initializer = initializer()
            if shape is not None and shape.is_fully_defined():
                make, var_dtype = _initializer_call(initializer, shape.as_list(), dtype), dtype
            elif _takes_no_arguments(initializer):
                make, var_dtype = initializer, None
            else:
                raise ValueError("The initializer passed is not valid. It should be a callable "
                                 "with no arguments and the shape should not be provided or an "
                                 "instance of `tf.keras.initializers.*' and `shape` should be "
                                 "fully defined.")
        trainable = True if trainable is None else bool(trainable)
        collections = list(collections or [GraphKeys.GLOBAL_VARIABLES])
        if trainable and GraphKeys.TRAINABLE_VARIABLES not in collections:
            collections.append(GraphKeys.TRAINABLE_VARIABLES)
        if context.executing_eagerly():
            return variables.EagerVariable(make, trainable=trainable, name=name, dtype=var_dtype)
        graph = get_default_graph()
        # names depend on variable scopes only: no name scope, no control dependencies
        with graph.name_scope(None), graph.control_dependencies(None):
            v = variables.GraphVariable(_in_initializer_scope(graph, make, var_dtype),
                                        trainable=trainable, name=name, dtype=var_dtype,
                                        collections=collections, validate_shape=validate_shape)
            if regularizer is not None:
                with graph.name_scope(name + "/Regularizer/"):
                    loss = regularizer(v)
                if loss is not None:
                    graph.add_to_collection("regularization_losses", loss)
        self.variables[name] = v
        self.origins[name] = "".join(traceback.format_list(traceback.extract_stack()[-6:-3][::-1]))
        return v

    def _existing(self, name, shape, dtype, reuse):
        if reuse is False:
            raise ValueError("Variable %s already exists, disallowed. Did you mean to set "
                             "reuse=True or reuse=tf.AUTO_REUSE in VarScope? Originally defined "
                             "at:\n\n%s" % (name, self.origins.get(name, "")))
        found = self.variables[name]
        if shape is not None and not shape.is_compatible_with(found.shape):
            raise ValueError("Trying to share variable %s, but specified shape %s and found "
                             "shape %s." % (name, shape, found.shape))
        if dtype != found.dtype:
            raise ValueError("Trying to share variable %s, but specified dtype %s and found "
                             "dtype %s_ref." % (name, dtype.name, found.dtype.name))
        return found


def _default_initializer(name, dtype):
    """TF1's rule: glorot_uniform for floats, zeros for integers and booleans."""
    if dtype.is_floating:
        return init_ops.GlorotUniform()
    if dtype.is_integer or dtype.is_unsigned or dtype.is_bool:
        return init_ops.Zeros()
    raise ValueError("An initializer for variable %s of %s is required" % (name, dtype))


def _initializer_call(initializer, shape, dtype):
    try:
        takes_partition = "partition_info" in inspect.signature(initializer).parameters
    except (TypeError, ValueError):
        takes_partition = False
    if takes_partition:
        return lambda: initializer(shape, dtype=dtype, partition_info=None)
    return lambda: initializer(shape, dtype=dtype)


def _takes_no_arguments(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
               for p in params)


def _in_initializer_scope(graph, make, dtype):
    """A callable initial value runs in `<variable>/Initializer/`, as in TF1; a value is kept."""
    if not callable(make):
        return make

    def initial_value():
        with graph.name_scope("Initializer"):
            value = make()
            if dispatch.dtype_of(value) is None:  # NumPy or Python (distflow.nn initializers)
                value = dispatch.convert_to_tensor(value, dtype, name="initial_value")
            return value
    return initial_value


_eager_state = _State()


def _eager():
    """compat.v1 builds graphs unless enable_eager_execution() was called (see `_v1`)."""
    return context.ctx.v1_eager and context.executing_eagerly()


def _state():
    if _eager():
        return _eager_state
    graph = get_default_graph()
    state = graph.__dict__.get("_variable_scope_state")
    if state is None:
        state = graph.__dict__["_variable_scope_state"] = _State()
    return state


def get_variable_scope():
    """The VariableScope get_variable uses now (the root scope, named '', outside any)."""
    return _state().current


@init_ops.building_graphs
def get_variable(name, shape=None, dtype=None, initializer=None, regularizer=None,
                 trainable=None, collections=None, caching_device=None, partitioner=None,
                 validate_shape=True, use_resource=None, custom_getter=None, constraint=None,
                 **unused):
    """The variable `<scope>/name`: made (with `initializer`, glorot_uniform for floats by
    default) unless the scope reuses, then found; errors as TF's say which reuse was meant."""
    return get_variable_scope().get_variable(
        name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
        trainable=trainable, collections=collections, validate_shape=validate_shape)


class variable_scope:  # noqa: N801 (TF's spelling)
    """`with variable_scope("foo", reuse=...) as scope:` prefixes get_variable names with `foo/`
    and opens the name scope `foo/` (made unique) for the ops built inside."""

    def __init__(self, name_or_scope, default_name=None, values=None, initializer=None,
                 regularizer=None, caching_device=None, partitioner=None, custom_getter=None,
                 reuse=None, dtype=None, use_resource=None, constraint=None,
                 auxiliary_name_scope=True):
        if default_name is None and name_or_scope is None:
            raise TypeError("If default_name is None then name_or_scope is required")
        if reuse is False:  # TF: no scope stops inheriting reuse; False means None here
            reuse = None
        if not (reuse is True or reuse is None or reuse is AUTO_REUSE):
            raise ValueError("The reuse parameter must be True or False or None.")
        if name_or_scope is not None and not isinstance(name_or_scope, (VariableScope, str)):
            raise TypeError("VariableScope: name_or_scope must be a string or VariableScope.")
        self._name_or_scope, self._default_name, self._reuse = name_or_scope, default_name, reuse
        self._initializer, self._regularizer = initializer, regularizer
        self._dtype = None if dtype is None else dtypes.as_dtype(dtype)
        self._auxiliary = auxiliary_name_scope
        self._eager = _eager()
        self._graph = None if self._eager else get_default_graph()

    def _open_name_scope(self, name):
        if self._eager:
            self._name_scope = None
            return ""
        if not self._auxiliary:  # stay in the current name scope
            name = self._graph.get_name_scope()
            name = name + "/" if name else None
        self._name_scope = self._graph.name_scope(name) if name else None
        return self._name_scope.__enter__() if self._name_scope is not None else ""

    def __enter__(self):
        scope = self._name_or_scope
        if self._eager:
            state = _eager_state
        else:
            with self._graph.as_default():
                state = _state()
        self._state, old = state, state.current
        if scope is None:
            if self._reuse:
                raise ValueError("reuse=True cannot be used without a name_or_scope")
            opened = self._open_name_scope(self._default_name)
            scope = _unique_scope_name(state, self._default_name)
        elif isinstance(scope, VariableScope):
            self._open_name_scope(scope.name.split("/")[-1])
        else:
            opened = self._open_name_scope(scope)
        if isinstance(scope, VariableScope):
            new = VariableScope(scope.reuse if not self._reuse else self._reuse, scope.name,
                                scope.initializer, scope.regularizer, scope.dtype,
                                scope.original_name_scope)
            state.counts[scope.name] = state.counts.get(scope.name, 0) + 1
            self._saved_counts = dict(state.counts)
        else:
            name = old.name + "/" + scope if old.name else scope
            new = VariableScope(self._reuse or old.reuse, name, old.initializer,
                                old.regularizer, old.dtype, opened or scope)
            state.counts[name] = state.counts.get(name, 0) + 1
            self._saved_counts = None
        for value, setter in ((self._initializer, new.set_initializer),
                              (self._regularizer, new.set_regularizer),
                              (self._dtype, new.set_dtype)):
            if value is not None:
                setter(value)
        self._old, self._new = old, new
        state.current = new
        return new

    def __exit__(self, *exc):
        state = self._state
        if state.current is not self._new:
            raise RuntimeError("Improper nesting of variable_scope.")
        if self._saved_counts is not None:
            state.counts = self._saved_counts
        else:
            state.close_subscopes(self._new.name)
        state.current = self._old
        if self._name_scope is not None:
            self._name_scope.__exit__(*exc)
        return False


def _unique_scope_name(state, prefix):
    current = state.current.name
    name = current + "/" + prefix if current else prefix
    if state.counts.get(name, 0) == 0:
        return prefix
    i = 1
    while state.counts.get("%s_%d" % (name, i), 0) > 0:
        i += 1
    return "%s_%d" % (prefix, i)
