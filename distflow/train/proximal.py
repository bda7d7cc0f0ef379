"""TF1's FtrlOptimizer and ProximalGradientDescentOptimizer (tensorflow/python/training/ftrl.py,
proximal_gradient_descent.py): the sparse-model optimizers with L1 and L2 penalties."""
from distflow.ops import dispatch
from distflow.ops.training_ops import ApplyFtrl, ApplyProximalGradientDescent
from distflow.train.optimizer import Optimizer


class ProximalGradientDescentOptimizer(Optimizer):
    """`ProximalGradientDescentOptimizer(learning_rate, l1_regularization_strength=0.0,
    l2_regularization_strength=0.0)`: prox = var - lr * grad, then
    var = sign(prox) * max(|prox| - lr * l1, 0) / (1 + lr * l2). No slots."""

    def __init__(self, learning_rate, l1_regularization_strength=0.0,
                 l2_regularization_strength=0.0, use_locking=False, name="ProximalGradientDescent"):
        super().__init__(use_locking, name)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("l1", l1_regularization_strength)
        self._set_hyper("l2", l2_regularization_strength)

    def _apply_dense(self, grad, var):
        h = self._get_hyper
        return dispatch.apply(ApplyProximalGradientDescent, [
            var, h("learning_rate", var), h("l1", var), h("l2", var), grad])


class FtrlOptimizer(Optimizer):
    """`FtrlOptimizer(learning_rate, learning_rate_power=-0.5, initial_accumulator_value=0.1,
    l1_regularization_strength=0.0, l2_regularization_strength=0.0, beta=None)`: FTRL-Proximal
    (McMahan et al., 2013) as TF1's ApplyFtrl kernel, with n the sum of squared gradients:

        sigma   = (n_new^-p - n^-p) / lr           (p = learning_rate_power)
        linear += grad - sigma * var
        var     = (sign(linear) * l1 - linear) / (n_new^-p / lr + 2 * l2) where |linear| > l1,
                  else 0

    Slots "accum" (initial_accumulator_value) and "linear" (zeros). `beta` adds beta / (2 lr) to
    l2. (TF's l2_shrinkage_regularization_strength, ApplyFtrlV2, is not implemented.)
    """

    def __init__(self, learning_rate, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 use_locking=False, name="Ftrl", accum_name=None, linear_name=None,
                 l2_shrinkage_regularization_strength=0.0, beta=None):
        if initial_accumulator_value < 0.0:
            raise ValueError("initial_accumulator_value %f needs to be positive or zero"
                             % initial_accumulator_value)
        if learning_rate_power > 0.0:
            raise ValueError("learning_rate_power %f needs to be negative or zero"
                             % learning_rate_power)
        if l1_regularization_strength < 0.0 or l2_regularization_strength < 0.0:
            raise ValueError("l1 and l2 regularization strengths need to be positive or zero")
        if l2_shrinkage_regularization_strength:
            raise NotImplementedError("l2_shrinkage_regularization_strength is not implemented "
                                      "in distflow")
        super().__init__(use_locking, name)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("lr_power", learning_rate_power)
        self._set_hyper("l1", l1_regularization_strength)
        l2 = l2_regularization_strength
        if beta:
            lr = learning_rate
            l2 = (lambda: l2_regularization_strength + beta / (2.0 * lr())) if callable(lr) \
                else l2_regularization_strength + beta / (2.0 * lr)
        self._set_hyper("l2", l2)
        self._initial_accumulator_value = initial_accumulator_value
        self._accum_name, self._linear_name = accum_name, linear_name

    def _create_slots(self, var_list):
        for v in var_list:
            self._filled_slot(v, "accum", self._initial_accumulator_value,
                              self._accum_name or self._name)
            self._zeros_slot(v, "linear", self._linear_name or self._name)

    def _apply_dense(self, grad, var):
        h = self._get_hyper
        return dispatch.apply(ApplyFtrl, [
            var, self.get_slot(var, "accum"), self.get_slot(var, "linear"), grad,
            h("learning_rate", var), h("l1", var), h("l2", var), h("lr_power", var)])
