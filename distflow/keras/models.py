"""`tf.keras.Sequential`: distflow's Sequential (distflow/nn/sequential.py) with Keras's
training methods (compile, fit, evaluate, predict: distflow/keras/training.py) and Keras's
constructor, `Sequential(layers=None, trainable=True, name=None)`.

As in Keras, a model whose input shape is known (`input_shape=` on its first layer, or an
`Input(shape=...)` first) has its weights as soon as they are asked for: `get_weights()`,
`trainable_variables` and `count_params()` work before any data has gone through, and
`model.add(...)` may follow a first layer with `input_shape`.
"""
from distflow.framework.tensor_shape import TensorShape
from distflow.keras.functional import Model, is_keras_tensor
from distflow.keras.layers import InputLayer
from distflow.keras.distributed import current_strategy
from distflow.keras.keras_format import load_model, save_model  # noqa: F401
from distflow.keras.saving import Saving
from distflow.keras.training import Trainer
from distflow.nn import sequential as _sequential

__all__ = ["Sequential", "Model", "load_model", "save_model"]


class Sequential(Trainer, Saving, _sequential.Sequential):
    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(None, name=name)
        self.trainable = trainable
        self._distribute_strategy = current_strategy()  # made in a tf.distribute scope
        for layer in layers or []:
            self.add(layer)
        if self._distribute_strategy is not None:
            # built now, inside the scope, so that its observer gives the new variables rank
            # 0's values (built later, outside, a custom loop would start from each rank's own)
            self._ensure_built()

    def add(self, layer):
        if is_keras_tensor(layer) and layer.input_layer is not None:  # keras.Input(...)
            self._input_name = layer.input_layer.name
            layer = layer.input_layer
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError("An Input must be the first entry of a Sequential model")
            self.input_shape = layer.batch_shape
            return
        super().add(layer)

    def __call__(self, inputs, training=False):
        if not is_keras_tensor(inputs) and self.input_shape is not None:
            inputs = _adjust_rank(self, inputs)
        if not is_keras_tensor(inputs) and self.built and self.input_shape is not None:
            _check_input_shape(self, inputs)
        from distflow.keras import regularizers
        regularizers.reset_call_losses(self)  # add_loss in a layer's call: this call's only
        return super().__call__(inputs, training=training)

    @property
    def losses(self):
        """The layers' regularization penalties (distflow/keras/regularizers.py)."""
        from distflow.keras import regularizers
        return regularizers.collect(self)

    def _ensure_built(self):
        """Builds the layers eagerly once the input shape is known and before anyone reads the
        weights (Keras builds a Sequential with a known input at once)."""
        if not self.built and self.input_shape is not None and self._layers:
            self.build()

    @property
    def variables(self):
        self._ensure_built()
        return _sequential.Sequential.variables.fget(self)

    weights = variables

    @property
    def trainable_variables(self):
        self._ensure_built()
        return _sequential.Sequential.trainable_variables.fget(self)

    trainable_weights = trainable_variables

    @property
    def non_trainable_variables(self):
        self._ensure_built()
        return _sequential.Sequential.non_trainable_variables.fget(self)

    non_trainable_weights = non_trainable_variables

    def get_weights(self, session=None):
        self._ensure_built()
        return super().get_weights(session)

    def set_weights(self, values, session=None):
        self._ensure_built()
        super().set_weights(values, session)

    @property
    def metrics_names(self):
        """["loss", *the compiled metrics' names] (known once fit or evaluate has run)."""
        names = ["loss"] if self.compiled else []
        return names + [m.name for m in (getattr(self, "_metric_objects", None) or [])]

    def __repr__(self):
        return "<keras.Sequential name=%s, layers=%d, built=%s>" % (
            self.name, len(self._layers), self.built)


def _adjust_rank(model, inputs):
    """Keras 3's rank adjustment: a model built for (batch, 1) called on (batch,) gets
    (batch, 1) (a DataFrame column, or the 1-D x of the regression tutorial)."""
    want = TensorShape(model.input_shape).as_list()
    got = getattr(inputs, "shape", None)
    if want is None or got is None or len(want) < 2 or want[-1] != 1:
        return inputs
    got = TensorShape(got).as_list()
    if got is not None and len(got) == len(want) - 1:
        from distflow.ops import array_ops
        return array_ops.expand_dims(inputs, -1)
    return inputs


def _check_input_shape(model, inputs):
    """A Sequential built for one input shape refuses another, as Keras's input spec does."""
    want = model.input_shape.as_list()
    got = getattr(inputs, "shape", None)
    if want is None or got is None:
        return
    got = TensorShape(got).as_list()
    if got is None:
        return
    first = model._layers[0].name if model._layers else model.name
    if len(got) != len(want):
        raise ValueError('Input 0 of layer "%s" is incompatible with the layer: expected ndim=%d, '
                         'found ndim=%d. Full shape received: %s'
                         % (first, len(want), len(got), tuple(got)))
    for axis, (w, g) in enumerate(zip(want, got)):
        if axis and w is not None and g is not None and w != g:
            raise ValueError('Input 0 of layer "%s" is incompatible with the layer: expected axis '
                             '%d of input shape to have value %d, but received input with shape '
                             '%s' % (first, axis - len(want), w, tuple(got)))
