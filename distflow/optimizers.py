"""`df.optimizers`: TF2's Keras 3 optimizers (`SGD`, `Adam`, `AdamW`, `RMSprop`, `Adagrad`,
`Nadam`, `Adadelta`), with Keras's argument names, defaults and update rules.

They count their steps in `optimizer.iterations` (as Keras does) and call a learning-rate
schedule from `df.optimizers.schedules` with that count. Usage, eagerly:

    opt = df.optimizers.Adam(learning_rate=1e-3)
    with df.GradientTape() as tape:
        loss = ...
    grads = tape.gradient(loss, variables)
    opt.apply_gradients(zip(grads, variables))

Each update is Keras 3's `update_step` (keras/src/optimizers/*.py), in Keras's order of
operations; where it differs from TF1's optimizer of the same family (`tf.compat.v1.train.*`,
which keep TF1's kernels), the class says how. Every one takes Keras's `clipnorm`, `clipvalue`
and `global_clipnorm` (at most one), applied to the gradients before the update, and
`weight_decay`: var -= var * weight_decay * learning_rate first (Keras's decoupled decay).
"""
import numpy as np

from distflow.ops import dispatch, math_ops
from distflow.ops.training_ops import (ApplyGradientDescent, KerasAdadelta, KerasAdagrad,
                                       KerasAdam, KerasAMSGrad, KerasCenteredRMSprop,
                                       KerasRMSprop, KerasSGDMomentum)
from distflow.ops.variables import EagerVariable
from distflow.train import learning_rate_schedule as schedules  # noqa: F401 (exported)
from distflow.train.adadelta import AdadeltaOptimizer
from distflow.train.adagrad import AdagradOptimizer
from distflow.train.adam import AdamOptimizer
from distflow.train.keras_style import KerasStyle, Nadam
from distflow.train.momentum import MomentumOptimizer
from distflow.train.optimizer import Optimizer
from distflow.train.rmsprop import RMSPropOptimizer

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Nadam", "Optimizer",
           "schedules"]


class SGD(KerasStyle, MomentumOptimizer):
    """`SGD(learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=0.0)`, as Keras 3:

        var -= learning_rate * grad                          (momentum 0: no slot)
        m    = momentum * m - learning_rate * grad           (slot "momentum", zeros at first)
        var += m                                             (classical)
        var += momentum * m - learning_rate * grad           (nesterov=True)

    TF1's MomentumOptimizer keeps the sum of gradients instead (accum = momentum * accum + grad,
    var -= lr * accum): the two agree only while the learning rate stays the same.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=0.0,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="SGD"):
        if isinstance(momentum, (int, float)) and not 0 <= momentum <= 1:
            raise ValueError("`momentum` must be between [0, 1].")
        super().__init__(learning_rate, momentum, name=name, use_nesterov=nesterov,
                         weight_decay=weight_decay)
        self._keras_init(clipnorm, clipvalue, global_clipnorm)
        self._plain = isinstance(momentum, (int, float)) and momentum == 0
        if self._plain:  # the same update as GradientDescentOptimizer's, so its fast path too
            self._eager_fused_update = (ApplyGradientDescent, ("learning_rate",))

    def _create_slots(self, var_list):
        if not self._plain:
            super()._create_slots(var_list)

    def _apply_dense(self, grad, var):
        lr = self._get_hyper("learning_rate", var)
        if self._plain:
            return dispatch.apply(ApplyGradientDescent, [var, lr, grad])
        return dispatch.apply(KerasSGDMomentum, [
            var, self.get_slot(var, "momentum"), lr, self._get_hyper("momentum", var), grad],
            {"nesterov": self._use_nesterov})


class Adam(KerasStyle, AdamOptimizer):
    """`Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07, amsgrad=False)`, as
    Keras 3, at step t = iterations + 1:

        alpha = learning_rate * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        m    += (grad - m) * (1 - beta_1);  v += (grad^2 - v) * (1 - beta_2)
        var  -= m * alpha / (sqrt(v) + epsilon)                (epsilon hat, as TF1's)

    beta^t is computed as Keras does, pow(beta, t) in the variable's dtype (so from the betas
    rounded to float32 for float32 variables), not kept in beta-power variables as TF1 does.
    With `amsgrad=True` the slot "vhat" keeps the largest v so far and replaces v in the root.
    Slots "m" and "v" (and "vhat"), zeros at first.
    """

    _one_minus = ("beta1", "beta2")
    _alpha_inputs = None  # ((dtype, lr, beta_1, beta_2), their arrays): see _eager_alpha

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=0.0, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="Adam"):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, name=name,
                         weight_decay=weight_decay)
        self._keras_init(clipnorm, clipvalue, global_clipnorm)
        self.amsgrad = bool(amsgrad)

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "m", self._name)
            self._zeros_slot(v, "v", self._name)
            if self.amsgrad:
                self._zeros_slot(v, "vhat", self._name)

    def _alpha(self, var):
        def make():
            t = self._local_step(var.dtype)
            b1, b2 = self._get_hyper("beta1", var), self._get_hyper("beta2", var)
            return self._get_hyper("learning_rate", var) * math_ops.sqrt(
                1 - math_ops.pow(b2, t)) / (1 - math_ops.pow(b1, t))
        return self._per_dtype("alpha", var, make)

    @property
    def _eager_fused_update(self):  # the eager fast path's form of _apply_dense (optimizer.py)
        if self.amsgrad:
            return KerasAMSGrad, ("1-beta1", "1-beta2", "epsilon"), ("m", "v", "vhat")
        return KerasAdam, ("1-beta1", "1-beta2", "epsilon"), ("m", "v")

    def _eager_fused_hypers(self, var, names):
        return [self._eager_alpha(var)] + [self._get_hyper(n, var)._value for n in names]

    def _eager_alpha(self, var):
        """`_alpha(var)`'s value, eagerly: for Python-number hyperparameters the same NumPy calls
        on the same values in the variable's dtype as the ops of `_alpha` (bit for bit), without
        their dispatch (ten small ops would cost more than the update of a small model)."""
        now = self._hyper_now
        lr, b1, b2 = now["learning_rate"], now["beta1"], now["beta2"]
        it = self._iterations
        step = it.read_array() if isinstance(it, EagerVariable) else None
        if not (type(lr) in (int, float) and type(b1) in (int, float) and type(b2) in (int, float)
                and type(step) is np.ndarray and step.dtype == np.int64):
            return self._alpha(var)._value
        dtype = var.read_array().dtype
        key = (dtype, lr, b1, b2)
        if self._alpha_inputs is None or self._alpha_inputs[0] != key:
            # what _get_hyper converts each to, once while they stay the same
            self._alpha_inputs = (key, np.array(1, dtype), np.array(lr, dtype),
                                  np.array(b1, dtype), np.array(b2, dtype))
        _, one, lr, b1, b2 = self._alpha_inputs
        t = np.add(step, _ONE_INT64).astype(dtype, copy=False)       # Cast(iterations + 1)
        return np.divide(np.multiply(lr, np.sqrt(np.subtract(one, np.power(b2, t)))),
                         np.subtract(one, np.power(b1, t)))

    def _apply_dense(self, grad, var):
        h = self._get_hyper
        state = [var, self.get_slot(var, "m"), self.get_slot(var, "v")]
        if self.amsgrad:
            state.append(self.get_slot(var, "vhat"))
        return dispatch.apply(KerasAMSGrad if self.amsgrad else KerasAdam, state + [
            self._alpha(var), h("1-beta1", var), h("1-beta2", var), h("epsilon", var), grad])

    def _finish(self, update_ops, scope):
        return Optimizer._finish(self, update_ops, scope)


_ONE_INT64 = np.array(1, np.int64)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): before each update,
    var -= var * weight_decay * learning_rate. Keras's default weight_decay=0.004."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="AdamW"):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay,
                         clipnorm, clipvalue, global_clipnorm, name)


class RMSprop(KerasStyle, RMSPropOptimizer):
    """`RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-07, centered=False)`, as
    Keras 3:

        rms  = rho * rms + (1 - rho) * grad^2              (slot "rms", ZEROS at first)
        mg   = rho * mg + (1 - rho) * grad                 (slot "mg", centered only)
        mom  = momentum * mom + lr * grad / sqrt(rms [- mg^2] + epsilon)
        var -= mom

    TF1's RMSPropOptimizer starts "rms" at ones, so its first steps are much smaller; Keras's
    first step is about lr / sqrt(1 - rho) * sign(grad).
    """

    _one_minus = ("decay",)

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=0.0, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="RMSprop"):
        super().__init__(learning_rate, rho, momentum, epsilon, centered=centered, name=name,
                         weight_decay=weight_decay)
        self._keras_init(clipnorm, clipvalue, global_clipnorm)

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "rms", self._name)
            if self._centered:
                self._zeros_slot(v, "mg", self._name)
            self._zeros_slot(v, "momentum", self._name)

    def _apply_dense(self, grad, var):
        h = self._get_hyper
        hyper = [h("learning_rate", var), h("decay", var), h("1-decay", var), h("momentum", var),
                 h("epsilon", var)]
        state = [self.get_slot(var, "rms"), self.get_slot(var, "momentum")]
        if self._centered:
            return dispatch.apply(KerasCenteredRMSprop,
                                  [var, self.get_slot(var, "mg")] + state + hyper + [grad])
        return dispatch.apply(KerasRMSprop, [var] + state + hyper + [grad])


class Adagrad(KerasStyle, AdagradOptimizer):
    """`Adagrad(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-07)`, as Keras 3:
    accum += grad^2, var -= learning_rate * grad / sqrt(accum + epsilon) (epsilon inside the
    root; TF1's AdagradOptimizer has none)."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=0.0, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="Adagrad"):
        super().__init__(learning_rate, initial_accumulator_value, name=name, epsilon=epsilon,
                         weight_decay=weight_decay)
        self._keras_init(clipnorm, clipvalue, global_clipnorm)

    def _apply_dense(self, grad, var):
        return dispatch.apply(KerasAdagrad, [
            var, self.get_slot(var, "accumulator"), self._get_hyper("learning_rate", var),
            self._get_hyper("epsilon", var), grad])


class Adadelta(KerasStyle, AdadeltaOptimizer):
    """`Adadelta(learning_rate=0.001, rho=0.95, epsilon=1e-07)`, as Keras 3:

        accum        = rho * accum + (1 - rho) * grad^2
        delta        = -sqrt(accum_update + epsilon) * grad / sqrt(accum + epsilon)
        accum_update = rho * accum_update + (1 - rho) * delta^2
        var         += learning_rate * delta

    TF1's AdadeltaOptimizer is the same rule (its default epsilon is 1e-8). Slots "accum" and
    "accum_update", zeros at first.
    """

    _one_minus = ("rho",)

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=0.0,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="Adadelta"):
        super().__init__(learning_rate, rho, epsilon, name=name, weight_decay=weight_decay)
        self._keras_init(clipnorm, clipvalue, global_clipnorm)

    def _apply_dense(self, grad, var):
        h = self._get_hyper
        return dispatch.apply(KerasAdadelta, [
            var, self.get_slot(var, "accum"), self.get_slot(var, "accum_update"),
            h("learning_rate", var), h("rho", var), h("1-rho", var), h("epsilon", var), grad])
