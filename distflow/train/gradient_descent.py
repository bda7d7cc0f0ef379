"""Plain SGD: var -= learning_rate * grad."""
from distflow.ops import dispatch
from distflow.ops.training_ops import ApplyGradientDescent
from distflow.train.optimizer import Optimizer


class GradientDescentOptimizer(Optimizer):
    """`GradientDescentOptimizer(learning_rate)`: var -= learning_rate * grad.

    `weight_decay` (distflow's addition, 0 by default) first shrinks each variable by
    learning_rate * weight_decay * var, apart from the gradient (decoupled weight decay).
    """

    _eager_fused_update = (ApplyGradientDescent, ("learning_rate",))

    def __init__(self, learning_rate, use_locking=False, name="GradientDescent", weight_decay=0.0):
        super().__init__(use_locking, name, weight_decay=weight_decay)
        self._set_hyper("learning_rate", learning_rate)

    def _apply_dense(self, grad, var):
        return dispatch.apply(ApplyGradientDescent,
                              [var, self._get_hyper("learning_rate", var), grad])
