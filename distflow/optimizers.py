"""`df.optimizers`: TF2's short names (`SGD`, `Adam`, `AdamW`, `RMSprop`, `Adagrad`), with TF2's
argument names and defaults, on top of TF1's optimizers in `distflow.train`.

They count their steps in `optimizer.iterations` (as Keras does) and call a learning-rate
schedule from `df.optimizers.schedules` with that count. Usage, eagerly:

    opt = df.optimizers.Adam(learning_rate=1e-3)
    with df.GradientTape() as tape:
        loss = ...
    grads = tape.gradient(loss, variables)
    opt.apply_gradients(zip(grads, variables))

The updates are TF1's kernels. Where Keras differs, it is said below; the differences only show
while the learning rate changes (SGD) or in the first steps (RMSprop).
"""
from distflow.ops import dispatch
from distflow.ops.training_ops import ApplyGradientDescent
from distflow.train import learning_rate_schedule as schedules  # noqa: F401 (exported)
from distflow.train.adagrad import AdagradOptimizer
from distflow.train.adam import AdamOptimizer
from distflow.train.momentum import MomentumOptimizer
from distflow.train.optimizer import Optimizer
from distflow.train.rmsprop import RMSPropOptimizer

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Optimizer", "schedules"]


class _TF2Style:
    _counts_iterations = True

    @property
    def learning_rate(self):
        return self._hyper["learning_rate"]

    @learning_rate.setter
    def learning_rate(self, value):
        self._hyper["learning_rate"] = value


class SGD(_TF2Style, MomentumOptimizer):
    """`SGD(learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=0.0)`.

    Without momentum, var -= learning_rate * grad (no slot). With momentum, TF1's
    MomentumOptimizer (slot "momentum"): accum = momentum * accum + grad, var -= lr * accum.
    Keras keeps -lr * accum instead; the two agree while the learning rate is constant.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=0.0,
                 name="SGD"):
        if isinstance(momentum, (int, float)) and not 0 <= momentum <= 1:
            raise ValueError("`momentum` must be between [0, 1].")
        super().__init__(learning_rate, momentum, name=name, use_nesterov=nesterov,
                         weight_decay=weight_decay)
        self._plain = isinstance(momentum, (int, float)) and momentum == 0
        if self._plain:  # the same update as GradientDescentOptimizer's, so its fast path too
            self._eager_fused_update = (ApplyGradientDescent, ("learning_rate",))

    def _create_slots(self, var_list):
        if not self._plain:
            super()._create_slots(var_list)

    def _apply_dense(self, grad, var):
        if self._plain:
            return dispatch.apply(ApplyGradientDescent,
                                  [var, self._get_hyper("learning_rate", var), grad])
        return super()._apply_dense(grad, var)


class Adam(_TF2Style, AdamOptimizer):
    """`Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07, weight_decay=0.0)`:
    TF1's AdamOptimizer (epsilon hat, which Keras's Adam shares) with TF2's names."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=0.0, name="Adam"):
        if amsgrad:
            raise NotImplementedError("amsgrad is not implemented in distflow")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, name=name,
                         weight_decay=weight_decay)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): before each update,
    var -= learning_rate * weight_decay * var. Keras's default weight_decay=0.004."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, name="AdamW"):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, name)


class RMSprop(_TF2Style, RMSPropOptimizer):
    """`RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-07, centered=False)`:
    TF1's RMSPropOptimizer with `rho` for `decay`. TF1's kernel starts the "rms" slot at ones and
    puts epsilon inside the square root; Keras starts at zeros and adds epsilon outside, so the
    first steps are smaller here."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=0.0, name="RMSprop"):
        super().__init__(learning_rate, rho, momentum, epsilon, centered=centered, name=name,
                         weight_decay=weight_decay)


class Adagrad(_TF2Style, AdagradOptimizer):
    """`Adagrad(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-07)`, as Keras:
    accum += grad^2, var -= learning_rate * grad / (sqrt(accum) + epsilon)."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=0.0, name="Adagrad"):
        super().__init__(learning_rate, initial_accumulator_value, name=name, epsilon=epsilon,
                         weight_decay=weight_decay)
