"""SGD with momentum, TF1's MomentumOptimizer (tensorflow/python/training/momentum.py)."""
from distflow.ops import dispatch
from distflow.ops.training_ops import ApplyMomentum
from distflow.train.optimizer import Optimizer


class MomentumOptimizer(Optimizer):
    """`MomentumOptimizer(learning_rate, momentum, use_nesterov=False)`, TF1's update:

        accum = momentum * accum + grad
        var  -= learning_rate * accum                              (classical)
        var  -= learning_rate * (grad + momentum * accum)          (use_nesterov=True)

    The accumulator is the slot "momentum" (`get_slot(var, "momentum")`), zeros at first.
    `weight_decay` (distflow's addition, 0 by default) first shrinks each variable by
    learning_rate * weight_decay * var, apart from the gradient (decoupled weight decay).
    """

    def __init__(self, learning_rate, momentum, use_locking=False, name="Momentum",
                 use_nesterov=False, weight_decay=0.0):
        super().__init__(use_locking, name, weight_decay=weight_decay)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("momentum", momentum)
        self._use_nesterov = bool(use_nesterov)

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "momentum", self._name)

    def _apply_dense(self, grad, var):
        return dispatch.apply(ApplyMomentum, [
            var, self.get_slot(var, "momentum"), self._get_hyper("learning_rate", var), grad,
            self._get_hyper("momentum", var)], {"use_nesterov": self._use_nesterov})
