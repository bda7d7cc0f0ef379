"""`tf.keras.Sequential`: distflow's Sequential (distflow/nn/sequential.py) with Keras's
training methods (compile, fit, evaluate, predict: distflow/keras/training.py) and Keras's
constructor, `Sequential(layers=None, trainable=True, name=None)`.

As in Keras, a model whose input shape is known (`input_shape=` on its first layer, or an
`Input(shape=...)` first) has its weights as soon as they are asked for: `get_weights()`,
`trainable_variables` and `count_params()` work before any data has gone through, and
`model.add(...)` may follow a first layer with `input_shape`.
"""
from distflow.keras.layers import InputLayer
from distflow.keras.distributed import current_strategy
from distflow.keras.saving import Saving
from distflow.keras.training import Trainer
from distflow.nn import sequential as _sequential

__all__ = ["Sequential"]


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
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError("An Input must be the first entry of a Sequential model")
            self.input_shape = layer.batch_shape
            return
        super().add(layer)

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
    def losses(self):
        """The layers' regularization losses (Keras's model.losses): the layers' own `losses`
        (none of distflow's layers takes a regularizer yet, so usually [])."""
        return [t for layer in self._layers for t in getattr(layer, "losses", [])]

    @property
    def metrics_names(self):
        """["loss", *the compiled metrics' names] (known once fit or evaluate has run)."""
        names = ["loss"] if self.compiled else []
        return names + [m.name for m in (getattr(self, "_metric_objects", None) or [])]

    def __repr__(self):
        return "<keras.Sequential name=%s, layers=%d, built=%s>" % (
            self.name, len(self._layers), self.built)
