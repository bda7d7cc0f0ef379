"""Sequential: a model that is a list of layers, each feeding the next.

    model = df.nn.Sequential([df.nn.Dense(64, "relu"), df.nn.Dense(64, "relu"), df.nn.Dense(1)],
                             seed=0)
    y = model(x)                  # graph tensors build into the graph; eager tensors run now
    model.trainable_variables     # [dense/kernel, dense/bias, dense_1/kernel, ...], stable order
    model.summary()               # layers, output shapes, parameter counts

With `seed`, every layer that has no seed of its own gets one derived from (seed, position), so
the whole model is reproducible from one integer: the same weights in graph and eager mode and on
every rank of a distributed job.
"""
from distflow.framework.tensor_shape import TensorShape
from distflow.nn.layers import Layer, derive_seed

__all__ = ["Sequential"]


class Sequential(Layer):
    def __init__(self, layers=None, name=None, seed=None, input_shape=None):
        super().__init__(name, "float32", True, input_shape)
        self.seed = seed
        self._layers = []
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self):
        return list(self._layers)

    def add(self, layer):
        if not callable(layer):
            raise TypeError("Sequential takes layers (or callables of one tensor), got %r"
                            % (layer,))
        if self.built:
            raise ValueError("Cannot add layers to %s after it has been built" % self.name)
        if not self._layers and self.input_shape is None \
                and getattr(layer, "input_shape", None) is not None:
            self.input_shape = layer.input_shape  # Keras: the first layer's input_shape
        if self.seed is not None and getattr(layer, "seed", False) is None:
            layer.seed = derive_seed(self.seed, len(self._layers))
        self._layers.append(layer)

    # -- variables, in layer order -------------------------------------------------------------
    @property
    def variables(self):
        return [v for layer in self._layers for v in getattr(layer, "variables", [])]

    weights = variables

    @property
    def trainable_variables(self):
        if not self.trainable:
            return []
        return [v for layer in self._layers for v in getattr(layer, "trainable_variables", [])]

    trainable_weights = trainable_variables

    @property
    def non_trainable_variables(self):
        trainable = set(id(v) for v in self.trainable_variables)
        return [v for v in self.variables if id(v) not in trainable]

    def get_weights(self, session=None):
        from distflow.nn.layers import _read_values
        return _read_values(self.variables, session)

    def set_weights(self, values, session=None):
        from distflow.nn.layers import _write_values
        _write_values(self.variables, values, session)

    # -- calling -------------------------------------------------------------------------------
    def __call__(self, inputs, training=False):
        # Each layer opens its own name scope (dense/MatMul), as in Keras: variable names do not
        # depend on the model around them, so they match between graph and eager mode.
        x = inputs
        for layer in self._layers:
            x = layer(x, training=training) if isinstance(layer, Layer) else layer(x)
        if not self.built:
            first = self._layers[0] if self._layers else None
            if self.input_shape is None and isinstance(first, Layer):
                self.input_shape = first.input_shape
            self.built = True
        return x

    call = __call__

    def build(self, input_shape=None):
        """Creates every layer's variables for `input_shape` (with the batch dimension, e.g.
        (None, 13)) without running data through, in the current mode."""
        shape = TensorShape(input_shape) if input_shape is not None else self.input_shape
        if shape is None:
            raise ValueError("build() needs an input_shape (or give input_shape= to the model or "
                             "its first layer)")
        self.input_shape = TensorShape([None] + shape.as_list()[1:])
        for layer in self._layers:
            if not isinstance(layer, Layer):
                raise ValueError("Cannot build %r without data; call the model instead" % (layer,))
            if not layer.built:
                layer._build_once(shape)
            shape = layer.compute_output_shape(shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        shape = TensorShape(input_shape)
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        return shape

    def param_shapes(self, input_shape):
        shapes, shape = [], TensorShape(input_shape)
        for layer in self._layers:
            shapes.extend(layer.param_shapes(shape))
            shape = layer.compute_output_shape(shape)
        return shapes

    # -- summary ---------------------------------------------------------------------------------
    def summary(self, print_fn=print, line_length=65):
        """Prints a table of layers, output shapes and parameter counts, as Keras does.

        Needs the input shape: from a first call, from build(), or from input_shape=... . Counts
        come from the shapes, so summary() creates no variables.
        """
        if self.input_shape is None:
            raise ValueError("This model has not yet been built. Build the model first by calling "
                             "`build()` or calling the model on a batch of data, or give "
                             "input_shape=...")
        widths = [int(line_length * f) for f in (0.45, 0.33)]
        widths.append(line_length - sum(widths))

        def row(cells):
            return "".join(str(c)[:w - 1].ljust(w) for c, w in zip(cells, widths)).rstrip()

        lines = ['Model: "%s"' % self.name, "_" * line_length,
                 row(["Layer (type)", "Output Shape", "Param #"]), "=" * line_length]
        shape, total, trainable = self.input_shape, 0, 0
        for i, layer in enumerate(self._layers):
            if not isinstance(layer, Layer):
                raise ValueError("summary() needs Layer objects, got %r" % (layer,))
            count = sum(_prod(s) for s in layer.param_shapes(shape))
            frozen = layer.non_trainable_count(shape) if hasattr(layer, "non_trainable_count") \
                else 0  # BatchNormalization's moving statistics
            shape = layer.compute_output_shape(shape)
            total += count
            trainable += count - frozen if layer.trainable and self.trainable else 0
            lines.append(row(["%s (%s)" % (layer.name, type(layer).__name__), _shape_str(shape),
                              "{:,}".format(count)]))
            lines.append("=" * line_length if i == len(self._layers) - 1 else "_" * line_length)
        return summary_footer(lines, total, trainable, line_length, print_fn)

    def __repr__(self):
        return "<Sequential name=%s, layers=%d, built=%s>" % (self.name, len(self._layers),
                                                            self.built)


def _prod(shape):
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _shape_str(shape):
    """Keras prints the unknown batch dimension as None: (None, 64)."""
    dims = shape.as_tuple()
    if dims is None:
        return "?"
    text = ", ".join("None" if d is None else str(d) for d in dims)
    return "(%s,)" % text if len(dims) == 1 else "(%s)" % text


def summary_footer(lines, total, trainable, line_length, print_fn):
    """Ends a Keras summary table with its parameter counts; prints and returns the text."""
    lines += ["Total params: {:,}".format(total),
              "Trainable params: {:,}".format(trainable),
              "Non-trainable params: {:,}".format(total - trainable), "_" * line_length]
    text = "\n".join(lines)
    if print_fn is not None:
        print_fn(text)
    return text
