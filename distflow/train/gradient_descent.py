"""Plain SGD: var -= learning_rate * grad."""
from distflow.ops import dispatch
from distflow.ops.training_ops import ApplyGradientDescent
from distflow.train.optimizer import Optimizer


class GradientDescentOptimizer(Optimizer):
    def __init__(self, learning_rate, use_locking=False, name="GradientDescent"):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate

    def _apply_dense(self, grad, var):
        lr = dispatch.convert_to_tensor(_value(self._learning_rate), var.dtype)
        return dispatch.apply(ApplyGradientDescent, [var, lr, grad])


def _value(lr):
    return lr() if callable(lr) else lr
