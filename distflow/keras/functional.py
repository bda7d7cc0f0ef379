"""`tf.keras.Input` and `tf.keras.Model`: the functional API and Model subclassing.

    inputs = tf.keras.Input(shape=(8,))
    x = tf.keras.layers.Dense(16, activation="relu")(inputs)
    model = tf.keras.Model(inputs=inputs, outputs=tf.keras.layers.Dense(1)(x))

`Input` gives a KerasTensor: a symbolic value with a shape (batch dimension None) and a dtype.
Calling a layer on KerasTensors builds the layer at once (its weights exist from then on, as in
Keras) and records a node (the layer and the KerasTensors it read); the output shape is found by
running the layer on one row of zeros, so every layer works without a compute_output_shape of
its own. `Model(inputs, outputs)` keeps the nodes between them in an order where every node
follows those it reads, and calling the model runs them in that order on real tensors (eager or
inside fit's compiled step).

Subclassing: `class M(tf.keras.Model)` with layers assigned in `__init__` and a `call(inputs,
training=False)`; the layers (and lists of layers) set as attributes are tracked, in assignment
order, for `trainable_variables`, `get_weights` and saving. Both kinds train with compile / fit
/ evaluate / predict (distflow/keras/training.py).
"""
import inspect

import numpy as np

from distflow.framework import context, dtypes
from distflow.framework.tensor_shape import TensorShape
from distflow.keras.saving import Saving
from distflow.keras.training import Trainer
from distflow.nn import layers as _layers

__all__ = ["KerasTensor", "Input", "Model", "is_keras_tensor"]


class KerasTensor:
    """A symbolic input or layer output of a functional model (no values)."""

    _is_keras_tensor = True

    def __init__(self, shape, dtype="float32", node=None, name=None):
        self.shape = TensorShape(shape)
        self.dtype = dtypes.as_dtype(dtype)
        self.node = node            # (layer, parents, kwargs), None for an Input
        self.name = name
        self.input_layer = None     # the InputLayer an Input came from (for Sequential)

    @property
    def ndim(self):
        return self.shape.rank

    def __repr__(self):
        return "<KerasTensor shape=%s, dtype=%s, name=%s>" % (
            _shape_tuple(self.shape), self.dtype.name, self.name)


def is_keras_tensor(x):
    if isinstance(x, (list, tuple)):
        return any(is_keras_tensor(e) for e in x)
    return getattr(x, "_is_keras_tensor", False)


def Input(shape=None, batch_size=None, dtype=None, batch_shape=None, name=None):  # noqa: N802
    """A KerasTensor for a model's input: `shape` leaves out the batch dimension."""
    from distflow.keras.layers import InputLayer
    layer = InputLayer(shape, batch_size, dtype, batch_shape, name)
    kt = KerasTensor(layer.batch_shape, layer.dtype, None, layer.name)
    kt.input_layer = layer
    return kt


def call_symbolic(layer, inputs, **kwargs):
    """`layer(keras_tensors)`: builds the layer, finds its output shape by running it on one row
    of zeros, and returns the output KerasTensor that remembers this call."""
    with context.eager_mode():
        out = layer(_zeros_like(inputs), **kwargs)
    if not hasattr(out, "shape") or not hasattr(out.shape, "as_list"):
        from distflow.ops import dispatch
        out = dispatch.convert_to_tensor(out)
    shape = TensorShape([None] + list(out.shape.as_list()[1:]))
    parents = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    return KerasTensor(shape, out.dtype, (layer, parents, isinstance(inputs, (list, tuple)),
                                          kwargs), layer.name)


def _zeros_like(inputs):
    if isinstance(inputs, (list, tuple)):
        return [_zeros_like(x) for x in inputs]
    dims = [1 if d is None else int(d) for d in inputs.shape.as_list()]
    return np.zeros(dims, inputs.dtype.as_numpy_dtype)


class MultiInput:
    """The arrays of a model of several inputs, sliced by rows together (fit's batches)."""

    def __init__(self, arrays):
        self.arrays = list(arrays)
        if len(set(len(a) for a in self.arrays)) > 1:
            raise ValueError("Data cardinality is ambiguous. Make sure all arrays contain the "
                             "same number of samples. 'x' sizes: %s"
                             % ", ".join(str(len(a)) for a in self.arrays))

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, rows):
        return MultiInput([a[rows] for a in self.arrays])

    @property
    def shape(self):
        return self.arrays[0].shape

    @property
    def dtype(self):
        return self.arrays[0].dtype


class Model(Trainer, Saving, _layers.Layer):
    """`Model(inputs, outputs)` (functional) or a subclass with its own `call`."""

    def __init__(self, *args, **kwargs):
        inputs = kwargs.pop("inputs", args[0] if len(args) > 0 else None)
        outputs = kwargs.pop("outputs", args[1] if len(args) > 1 else None)
        name = kwargs.pop("name", None)
        trainable = kwargs.pop("trainable", True)
        kwargs.pop("dtype", None)
        if kwargs:
            raise TypeError("Model() got unexpected keyword arguments: %s" % ", ".join(kwargs))
        object.__setattr__(self, "_tracked", [])
        _layers.Layer.__init__(self, name or _layers.unique_layer_name(
            "functional" if inputs is not None else _layers._snake(type(self).__name__)),
            "float32", trainable)
        self._functional = inputs is not None
        if self._functional:
            if outputs is None:
                raise ValueError("A functional Model needs both `inputs` and `outputs`")
            self._init_graph(inputs, outputs)

    # -- the functional graph ------------------------------------------------------------------
    def _init_graph(self, inputs, outputs):
        self._nested_inputs = isinstance(inputs, (list, tuple))
        self._nested_outputs = isinstance(outputs, (list, tuple))
        self.inputs = list(inputs) if self._nested_inputs else [inputs]
        self.outputs = list(outputs) if self._nested_outputs else [outputs]
        for kt in self.inputs:
            if not is_keras_tensor(kt) or kt.node is not None:
                raise ValueError("Model inputs must come from `keras.Input`, got %r" % (kt,))
        self._nodes = []  # KerasTensors made by layers, each after those it reads
        seen = set(id(kt) for kt in self.inputs)

        def visit(kt):
            if id(kt) in seen:
                return
            if kt.node is None:
                raise ValueError("Output tensors of a functional Model must be the output of a "
                                 "layer reachable from its inputs; %r is an Input that is not "
                                 "among `inputs`" % (kt,))
            seen.add(id(kt))
            for parent in kt.node[1]:
                visit(parent)
            self._nodes.append(kt)

        for kt in self.outputs:
            if not is_keras_tensor(kt):
                raise ValueError("Model outputs must be KerasTensors (layer outputs), got %r"
                                 % (kt,))
            visit(kt)
        self.input_shape = self.inputs[0].shape if len(self.inputs) == 1 else \
            [kt.shape for kt in self.inputs]
        self.built = True

    @property
    def layers(self):
        if not self._functional:
            return [layer for layer in self._tracked]
        out = [kt.input_layer for kt in self.inputs]
        for kt in self._nodes:
            if all(kt.node[0] is not seen for seen in out):
                out.append(kt.node[0])
        return out

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError("No such layer: %s. Existing layers are: %s."
                         % (name, [layer.name for layer in self.layers]))

    # -- variables -------------------------------------------------------------------------------
    def _sublayers(self):
        return [layer for layer in self.layers if hasattr(layer, "variables")]

    @property
    def variables(self):
        self._ensure_built()
        out, seen = [], set()
        for v in list(self._variables) + [v for layer in self._sublayers()
                                          for v in layer.variables]:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        return out

    weights = variables

    @property
    def trainable_variables(self):
        if not self.trainable:
            return []
        trainable = set(id(v) for layer in self._sublayers() for v in layer.trainable_variables)
        trainable |= set(id(v) for v in self._variables if v.trainable)
        return [v for v in self.variables if id(v) in trainable]

    trainable_weights = trainable_variables

    @property
    def non_trainable_variables(self):
        trainable = set(id(v) for v in self.trainable_variables)
        return [v for v in self.variables if id(v) not in trainable]

    non_trainable_weights = non_trainable_variables

    @property
    def losses(self):
        """The regularization losses of the layers' weights (distflow/keras/regularizers.py)."""
        from distflow.keras import regularizers
        return regularizers.collect(self)

    def get_weights(self, session=None):
        return _layers._read_values(self.variables, session)

    def set_weights(self, values, session=None):
        _layers._write_values(self.variables, values, session)

    def count_params(self):
        return int(sum(np.prod(v.shape.as_list()) for v in self.variables))

    def __setattr__(self, name, value):
        # Subclassed models: layers assigned as attributes are the model's, in assignment order.
        tracked = self.__dict__.get("_tracked")
        if tracked is not None and not name.startswith("_"):
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(item, _layers.Layer) and item is not self \
                        and all(item is not t for t in tracked):
                    tracked.append(item)
        object.__setattr__(self, name, value)

    # -- calling ---------------------------------------------------------------------------------
    def __call__(self, inputs, training=False, **kwargs):
        if is_keras_tensor(inputs):
            return call_symbolic(self, inputs, training=training)
        inputs = self._check_inputs(inputs)
        from distflow.keras import regularizers
        regularizers.reset_call_losses(self)
        if self._functional:
            return self._run_graph(inputs, training)
        if "training" in _parameters(self.call):
            kwargs["training"] = training
        out = self.call(inputs, **kwargs)
        if not self.built:
            shape = inputs.shape if hasattr(inputs, "shape") else None
            self.input_shape = None if shape is None else \
                TensorShape([None] + list(TensorShape(shape).as_list()[1:]))
            self.built = True
        return out

    def call(self, inputs, training=False):
        if self._functional:
            return self._run_graph(inputs, training)
        raise NotImplementedError("Model subclasses must define call(inputs, training=False)")

    def _check_inputs(self, inputs):
        from distflow.ops import dispatch
        if isinstance(inputs, (list, tuple)):
            return [self._check_inputs(x) for x in inputs]
        if dispatch.dtype_of(inputs) is None:
            inputs = dispatch.convert_to_tensor(np.asarray(inputs, np.float32)
                                                if np.asarray(inputs).dtype.kind in "fbO"
                                                else inputs)
        return inputs

    def _run_graph(self, inputs, training):
        given = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        if isinstance(inputs, dict):
            given = [inputs[kt.name] for kt in self.inputs]
        if len(given) != len(self.inputs):
            raise ValueError("Model %s expects %d input(s), but it received %d input tensors."
                             % (self.name, len(self.inputs), len(given)))
        values = {}
        for kt, x in zip(self.inputs, given):
            _check_shape(self.name, kt.shape, x)
            values[id(kt)] = x
        for kt in self._nodes:
            layer, parents, as_list, kwargs = kt.node
            args = [values[id(p)] for p in parents]
            call_kwargs = dict(kwargs)
            if isinstance(layer, _layers.Layer):
                call_kwargs["training"] = training
            values[id(kt)] = layer(args if as_list else args[0], **call_kwargs)
        outs = [values[id(kt)] for kt in self.outputs]
        return outs if self._nested_outputs else outs[0]

    def _inputs(self, x):
        """fit / predict's x for this model: each input as an array of its Input's dtype (a 1-D
        array for an input of shape (None, 1) becomes (N, 1)); several inputs as one
        MultiInput, sliced together."""
        if not self._functional:
            return Trainer._inputs(self, x)
        if isinstance(x, dict):
            x = [x[kt.name] for kt in self.inputs]
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        if len(xs) != len(self.inputs):
            raise ValueError("Model %s expects %d input(s), but it received %d input arrays."
                             % (self.name, len(self.inputs), len(xs)))
        arrays = []
        for kt, a in zip(self.inputs, xs):
            a = np.asarray(a.numpy() if hasattr(a, "numpy") else a)
            if a.ndim == 1 and kt.shape.rank == 2:
                a = a.reshape(-1, 1)
            arrays.append(np.ascontiguousarray(a, kt.dtype.as_numpy_dtype))
        return arrays[0] if len(arrays) == 1 else MultiInput(arrays)

    def build(self, input_shape=None):
        """Subclassed models: runs `call` once on a row of zeros so every layer makes its
        weights (what Keras does when a subclassed model is built with a shape)."""
        if self.built:
            return
        if input_shape is None:
            raise ValueError("build() needs an input_shape")
        dims = [1 if d is None else int(d) for d in TensorShape(input_shape).as_list()]
        with context.eager_mode():
            self(np.zeros(dims, np.float32))
        self.input_shape = TensorShape([None] + dims[1:])

    def _ensure_built(self):
        pass

    def compute_output_shape(self, input_shape):
        if self._functional and len(self.outputs) == 1:
            return self.outputs[0].shape
        dims = [1 if d is None else int(d) for d in TensorShape(input_shape).as_list()]
        with context.eager_mode():
            out = self(np.zeros(dims, np.float32))
        return TensorShape([None] + out.shape.as_list()[1:])

    def param_shapes(self, input_shape):
        return [tuple(v.shape.as_list()) for v in self.variables]

    @property
    def metrics_names(self):
        names = ["loss"] if self.compiled else []
        return names + [m.name for m in (getattr(self, "_metric_objects", None) or [])]

    def summary(self, print_fn=print, line_length=65):
        """Keras's table: each layer, its output shape and parameter count, then the totals
        (weights of layers that are not trainable count as non-trainable)."""
        from distflow.nn.sequential import _shape_str, summary_footer
        self._ensure_built()
        if not self.built:
            raise ValueError("This model has not yet been built. Build the model first by "
                             "calling `build()` or by calling the model on a batch of data.")
        widths = [int(line_length * f) for f in (0.45, 0.33)]
        widths.append(line_length - sum(widths))

        def row(cells):
            return "".join(str(c)[:w - 1].ljust(w) for c, w in zip(cells, widths)).rstrip()

        shapes = {}
        if self._functional:
            for kt in self.inputs:
                shapes[id(kt.input_layer)] = kt.shape
            for kt in self._nodes:
                shapes.setdefault(id(kt.node[0]), kt.shape)
        lines = ['Model: "%s"' % self.name, "_" * line_length,
                 row(["Layer (type)", "Output Shape", "Param #"]), "=" * line_length]
        for layer in self.layers:
            count = sum(int(np.prod(v.shape.as_list())) for v in getattr(layer, "variables", []))
            shape = shapes.get(id(layer))
            lines.append(row(["%s (%s)" % (layer.name, type(layer).__name__),
                              "?" if shape is None else _shape_str(shape),
                              "{:,}".format(count)]))
        total = self.count_params()
        trainable = int(sum(np.prod(v.shape.as_list()) for v in self.trainable_variables))
        return summary_footer(lines + ["=" * line_length], total, trainable, line_length,
                              print_fn)

    def __repr__(self):
        return "<keras.Model name=%s, functional=%s, built=%s>" % (
            self.name, self._functional, self.built)


def _parameters(fn):
    try:
        return inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}


def _check_shape(model_name, expected, x):
    """An input whose feature dimensions differ from the Input's is refused, as Keras does."""
    want = expected.as_list()
    got = getattr(x, "shape", None)
    got = None if got is None else TensorShape(got).as_list()
    if got is None or want is None:
        return
    if len(got) != len(want) or any(w is not None and g is not None and w != g
                                    for w, g in zip(want[1:], got[1:])):
        raise ValueError('Input 0 of layer "%s" is incompatible with the layer: expected '
                         'shape=%s, found shape=%s' % (model_name, _shape_tuple(expected),
                                                       _shape_tuple(TensorShape(got))))


def _shape_tuple(shape):
    dims = TensorShape(shape).as_list()
    return "(%s)" % ", ".join("None" if d is None else str(d) for d in dims) \
        if dims is not None and len(dims) != 1 else \
        "(%s,)" % ("None" if dims[0] is None else dims[0]) if dims else "?"
