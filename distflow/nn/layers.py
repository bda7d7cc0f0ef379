"""Layers: Dense and Dropout, on a small Layer base that works in graph and in eager code.

A layer creates its variables the first time it is called, when the input's last dimension is
known. Where they live follows the input:

  * called on graph tensors (a placeholder of a TF1 program), it builds into that graph: the
    variables are graph Variables, initialized by global_variables_initializer(), listed in the
    graph's trainable collection, and the layer's ops are added to the graph;
  * called on eager tensors or NumPy arrays while executing eagerly (TF2), the variables are
    eager Variables, initialized at once, and the layer computes its output immediately.

Weights come from seeded initializers (distflow.nn.initializers), so a layer given a seed builds
the same weights in graph and eager mode and in every process.
"""
import collections
import contextlib
import re

import numpy as np

from distflow.framework import context, dtypes
from distflow.framework.graph import get_default_graph
from distflow.framework.tensor_shape import TensorShape
from distflow.nn import initializers
from distflow.ops import dispatch, math_ops, matmul_ops, nn_ops, variables

__all__ = ["Layer", "Dense", "Dropout", "dense", "dropout", "get_activation"]

_name_counts = collections.Counter()


def unique_layer_name(base):
    """`dense`, `dense_1`, ... per process, as Keras names layers. Every rank builds its model in
    the same order, so a layer has the same name, and its variables the same names, on all ranks."""
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else "%s_%d" % (base, n)


def _snake(name):
    """Keras's to_snake_case: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


class Layer:
    """Base class: subclasses give `build(input_shape)`, `call(inputs, training)`,
    `compute_output_shape(input_shape)` and `param_shapes(input_shape)`."""

    def __init__(self, name=None, dtype="float32", trainable=True, input_shape=None):
        self.name = name or unique_layer_name(_snake(type(self).__name__))
        self.dtype = dtypes.as_dtype(dtype)
        self.trainable = trainable
        self.built = False
        self.input_shape = None if input_shape is None else _with_batch(input_shape)
        self._variables = []

    # -- variables -----------------------------------------------------------------------------
    @property
    def variables(self):
        return list(self._variables)

    weights = variables

    @property
    def trainable_variables(self):
        return [v for v in self._variables if v.trainable] if self.trainable else []

    trainable_weights = trainable_variables

    @property
    def non_trainable_variables(self):
        trainable = set(id(v) for v in self.trainable_variables)  # Variables overload ==
        return [v for v in self._variables if id(v) not in trainable]

    non_trainable_weights = non_trainable_variables

    def count_params(self):
        return sum(int(np.prod(s)) for s in self.param_shapes(self._known_input_shape()))

    def add_weight(self, name, shape, initializer, trainable=True):
        """Creates one variable in the current build context (see `_build_context`)."""
        value = initializers.get(initializer)(tuple(shape), dtype=self.dtype.as_numpy_dtype)
        # The full name `dense/kernel` in every mode: graph variables open it as their scope,
        # eager ones (and those a df.function trace lifts out of its graph) take it as is.
        var = variables.Variable(value, trainable=trainable and self.trainable,
                                 name="%s/%s" % (self.name, name))
        self._variables.append(var)
        return var

    def add_loss(self, loss):
        """Keras's add_loss, from `call`: a loss tensor the Keras model holding this layer adds
        to its training loss (distflow/keras/regularizers.py collects it)."""
        self.__dict__.setdefault("_call_losses", []).append(loss)

    def get_weights(self, session=None):
        """The variables' values as NumPy arrays (graph variables read through `session`)."""
        return _read_values(self._variables, session)

    def set_weights(self, values, session=None):
        _write_values(self._variables, values, session)

    # -- calling -------------------------------------------------------------------------------
    def __call__(self, inputs, training=False):
        if getattr(inputs, "_is_keras_tensor", False):  # keras.Input: the functional API
            from distflow.keras.functional import call_symbolic
            return call_symbolic(self, inputs, training=training)
        inputs = self._convert_input(inputs)
        graph = dispatch.graph_of([inputs])
        if not self.built:
            self._build_once(inputs.shape, graph)
        call = self.call
        if getattr(graph, "autograph", False):
            # as Keras's Layer.__call__ does in a tf.function: a user's layer's `if` on a
            # tensor becomes a cond (library layers are left as they are)
            from distflow.autograph import conversion
            if conversion._user_function(call) is not None:
                call = conversion.convert(call)
        with _scope_for(graph, self.name):
            return call(inputs, training=training)

    def build(self, input_shape):
        self.built = True

    def call(self, inputs, training=False):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return TensorShape(input_shape)

    def param_shapes(self, input_shape):
        """The shapes of the variables this layer creates for `input_shape` (for summary())."""
        return []

    # -- helpers -------------------------------------------------------------------------------
    def _build_once(self, input_shape, graph=None):
        input_shape = TensorShape(input_shape)
        with _build_context(graph):
            self.build(input_shape)
        self.input_shape = _with_batch_none(input_shape)
        self.built = True

    def _convert_input(self, inputs):
        if dispatch.dtype_of(inputs) is None:  # NumPy or Python values: straight to our dtype
            return dispatch.convert_to_tensor(inputs, self.dtype)
        x = dispatch.convert_to_tensor(inputs)
        if x.dtype != self.dtype and (x.dtype.is_floating or x.dtype.is_integer):
            x = math_ops.cast(x, self.dtype)  # Keras casts inputs to the layer's dtype
        return x

    def _known_input_shape(self):
        if self.input_shape is None:
            raise ValueError("Layer %s has no known input shape yet: call it on data, build it, or "
                             "give input_shape=..." % self.name)
        return self.input_shape

    def __repr__(self):
        return "<%s name=%s, built=%s>" % (type(self).__name__, self.name, self.built)


class Dense(Layer):
    """outputs = activation(inputs @ kernel + bias), for inputs of shape (batch, features).

    `seed` seeds initializers given by name (the kernel with `seed`, the bias with a seed derived
    from it); initializer objects keep their own seeds.
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", seed=None, name=None, dtype="float32", trainable=True,
                 input_shape=None):
        super().__init__(name, dtype, trainable, input_shape)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError("Dense needs a positive integer number of units, got %r" % (units,))
        self.units = int(units)
        self.activation_name = activation if isinstance(activation, str) or activation is None \
            else getattr(activation, "__name__", repr(activation))
        self.activation = get_activation(activation)
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.seed = seed
        self.kernel = None
        self.bias = None

    def param_shapes(self, input_shape):
        fan_in = _last_dim(input_shape, self.name)
        return [(fan_in, self.units)] + ([(self.units,)] if self.use_bias else [])

    def build(self, input_shape):
        shapes = self.param_shapes(input_shape)
        kernel_init = initializers.get(self.kernel_initializer, seed=self.seed)
        self.kernel = self.add_weight("kernel", shapes[0], kernel_init)
        if self.use_bias:
            bias_seed = None if self.seed is None else derive_seed(self.seed, 1)
            self.bias = self.add_weight("bias", shapes[1],
                                        initializers.get(self.bias_initializer, seed=bias_seed))

    def compute_output_shape(self, input_shape):
        input_shape = TensorShape(input_shape)
        _last_dim(input_shape, self.name)
        return TensorShape(input_shape.as_list()[:-1] + [self.units])

    def call(self, inputs, training=False):
        rank = inputs.shape.rank
        if rank is not None and rank != 2:
            raise ValueError("Dense %s expects inputs of rank 2 (batch, features), got shape %s"
                             % (self.name, inputs.shape))
        outputs = matmul_ops.matmul(inputs, self.kernel)
        if self.use_bias:
            outputs = nn_ops.bias_add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def __repr__(self):
        return "<Dense name=%s, units=%d, activation=%s>" % (self.name, self.units,
                                                              self.activation_name)


class Dropout(Layer):
    """Zeroes each input with probability `rate` and scales the rest by 1 / (1 - rate), only when
    called with training=True; at evaluation and prediction it passes inputs through unchanged."""

    def __init__(self, rate, noise_shape=None, seed=None, name=None, dtype="float32",
                 input_shape=None):
        super().__init__(name, dtype, True, input_shape)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError("Dropout rate must be in [0, 1), got %r" % (rate,))
        self.rate = float(rate)
        self.noise_shape = noise_shape
        self.seed = seed

    def call(self, inputs, training=False):
        if not isinstance(training, (bool, np.bool_)):
            raise TypeError("Dropout's training flag must be a Python bool (it picks the graph "
                            "that is built), got %r" % (training,))
        if not training or self.rate == 0.0:
            return inputs
        return nn_ops.dropout(inputs, rate=self.rate, noise_shape=self.noise_shape, seed=self.seed)


def dense(inputs, units, activation=None, use_bias=True, kernel_initializer=None,
          bias_initializer="zeros", name=None, seed=None, trainable=True):
    """TF1's `tf.layers.dense`: creates a Dense layer and applies it to `inputs` at once."""
    layer = Dense(units, activation=activation, use_bias=use_bias,
                  kernel_initializer=kernel_initializer or "glorot_uniform",
                  bias_initializer=bias_initializer, seed=seed, name=name,
                  dtype=_float_dtype_of(inputs), trainable=trainable)
    return layer(inputs)


def dropout(inputs, rate=0.5, noise_shape=None, seed=None, training=False, name=None):
    """TF1's `tf.layers.dropout`: inputs unchanged unless training=True."""
    return Dropout(rate, noise_shape, seed, name, _float_dtype_of(inputs))(inputs, training)


# -- activations ---------------------------------------------------------------------------------
_ACTIVATIONS = ("relu", "sigmoid", "tanh", "softmax", "softplus", "elu", "log_softmax")


def get_activation(activation):
    """None or 'linear' (no activation), a name from nn ops ('relu', 'sigmoid', 'tanh', 'softmax',
    'softplus', 'elu'), or a callable of one tensor."""
    if activation is None or activation == "linear":
        return None
    if callable(activation):
        return activation
    if isinstance(activation, str) and activation in _ACTIVATIONS:
        # looked up when a layer is made, not at import, so nn ops added later are found too
        fn = getattr(nn_ops, activation, None)
        if fn is not None:
            return fn
    raise ValueError("Unknown activation %r; use None, 'linear', one of %s, or a callable"
                     % (activation, ", ".join(_ACTIVATIONS)))


# -- seeds, scopes and modes -----------------------------------------------------------------------
def derive_seed(seed, index):
    """A seed for the `index`-th part of something seeded with `seed`; SeedSequence mixes both
    integers, so derived seeds do not collide with small user seeds."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def _scope_for(graph, name):
    """The layer's name scope in its graph (`dense/MatMul`); nothing while executing eagerly."""
    if graph is None and context.executing_eagerly():
        return contextlib.nullcontext()
    return (graph or get_default_graph()).name_scope(name)


@contextlib.contextmanager
def _build_context(graph):
    """Where variables are created: in `graph` (outside any control dependencies, as TF's
    init_scope does), in the default graph when building graphs, else eagerly."""
    if graph is None and not context.executing_eagerly():
        graph = get_default_graph()
    if graph is None:
        with context.eager_mode():
            yield
        return
    with graph.as_default(), graph.control_dependencies(None):
        yield


def _last_dim(input_shape, name):
    dims = TensorShape(input_shape).as_tuple()
    if dims is None or not dims or dims[-1] is None:
        raise ValueError("The last dimension of the inputs to `Dense` (%s) should be defined. "
                         "Found `None`." % name)
    return int(dims[-1])


def _with_batch(input_shape):
    """Keras's `input_shape=(13,)` leaves out the batch dimension: (None, 13)."""
    return TensorShape([None] + list(TensorShape(input_shape).as_list()))


def _with_batch_none(shape):
    dims = shape.as_tuple()
    if dims is None or not dims:
        return shape
    return TensorShape([None] + list(dims[1:]))


def _float_dtype_of(inputs):
    d = dispatch.dtype_of(inputs)
    return d if d is not None and d.is_floating else "float32"


def _read_values(var_list, session):
    return variables.read_values(var_list, session)


def _write_values(var_list, values, session):
    values = list(values)
    if len(values) != len(var_list):
        raise ValueError("Expected %d weight arrays, got %d" % (len(var_list), len(values)))
    arrays = []
    for v, value in zip(var_list, values):
        value = np.asarray(value, dtype=v.dtype.as_numpy_dtype)
        if tuple(value.shape) != tuple(v.shape.as_list()):
            raise ValueError("Weight %s has shape %s, got a value of shape %s"
                             % (v.name, v.shape, value.shape))
        arrays.append(value)
    variables.write_values(var_list, arrays, session)
