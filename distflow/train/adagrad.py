"""Adagrad, TF1's AdagradOptimizer (tensorflow/python/training/adagrad.py)."""
from distflow.ops import dispatch
from distflow.ops.training_ops import ApplyAdagrad, ApplyAdagradV2
from distflow.train.optimizer import Optimizer


class AdagradOptimizer(Optimizer):
    """`AdagradOptimizer(learning_rate, initial_accumulator_value=0.1)`:

        accum += grad^2
        var   -= learning_rate * grad / sqrt(accum)

    The accumulator is the slot "accumulator", starting at `initial_accumulator_value` (which must
    be positive: it keeps the first division finite). `epsilon` (TF2's Adagrad; 0 in TF1) moves
    to the denominator, sqrt(accum) + epsilon. `weight_decay` (distflow's addition, 0 by default)
    first shrinks each variable by learning_rate * weight_decay * var (decoupled weight decay).
    """

    def __init__(self, learning_rate, initial_accumulator_value=0.1, use_locking=False,
                 name="Adagrad", epsilon=0.0, weight_decay=0.0):
        if initial_accumulator_value <= 0.0:
            raise ValueError("initial_accumulator_value must be positive: %s"
                             % initial_accumulator_value)
        super().__init__(use_locking, name, weight_decay=weight_decay)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("epsilon", epsilon)
        self._initial_accumulator_value = initial_accumulator_value

    def _create_slots(self, var_list):
        for v in var_list:
            self._filled_slot(v, "accumulator", self._initial_accumulator_value, self._name)

    def _apply_dense(self, grad, var):
        accum, lr = self.get_slot(var, "accumulator"), self._get_hyper("learning_rate", var)
        epsilon = self._hyper["epsilon"]
        if isinstance(epsilon, (int, float)) and epsilon == 0:
            return dispatch.apply(ApplyAdagrad, [var, accum, lr, grad])
        return dispatch.apply(ApplyAdagradV2,
                              [var, accum, lr, self._get_hyper("epsilon", var), grad])
