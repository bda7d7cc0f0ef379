"""Adadelta, TF1's AdadeltaOptimizer (tensorflow/python/training/adadelta.py)."""
from distflow.ops import dispatch
from distflow.ops.training_ops import ApplyAdadelta
from distflow.train.optimizer import Optimizer


class AdadeltaOptimizer(Optimizer):
    """`AdadeltaOptimizer(learning_rate=0.001, rho=0.95, epsilon=1e-08)`, TF1's kernel (Zeiler's
    ADADELTA with a learning rate):

        accum        = rho * accum + (1 - rho) * grad^2
        update       = sqrt(accum_update + epsilon) / sqrt(accum + epsilon) * grad
        var         -= learning_rate * update
        accum_update = rho * accum_update + (1 - rho) * update^2

    Slots "accum" and "accum_update", zeros at first. `weight_decay` (distflow's addition, 0 by
    default) first shrinks each variable by learning_rate * weight_decay * var.
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-8, use_locking=False,
                 name="Adadelta", weight_decay=0.0):
        super().__init__(use_locking, name, weight_decay=weight_decay)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("rho", rho)
        self._set_hyper("epsilon", epsilon)

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "accum", self._name)
            self._zeros_slot(v, "accum_update", self._name)

    def _apply_dense(self, grad, var):
        h = self._get_hyper
        return dispatch.apply(ApplyAdadelta, [
            var, self.get_slot(var, "accum"), self.get_slot(var, "accum_update"),
            h("learning_rate", var), h("rho", var), h("epsilon", var), grad])
