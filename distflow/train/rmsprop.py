"""RMSProp, TF1's RMSPropOptimizer (tensorflow/python/training/rmsprop.py)."""
from distflow.ops import dispatch
from distflow.ops.training_ops import ApplyCenteredRMSProp, ApplyRMSProp
from distflow.train.optimizer import Optimizer


class RMSPropOptimizer(Optimizer):
    """`RMSPropOptimizer(learning_rate, decay=0.9, momentum=0.0, epsilon=1e-10, centered=False)`.

    TF1's update (its kernel puts epsilon inside the square root):

        rms = decay * rms + (1 - decay) * grad^2
        mom = momentum * mom + learning_rate * grad / sqrt(rms + epsilon)
        var -= mom

    Centered, it divides by an estimate of the variance instead: with
    mg = decay * mg + (1 - decay) * grad, the root is sqrt(rms - mg^2 + epsilon).

    Slots: "rms", which starts at ONES as in TF1 (so the first steps are small, not huge),
    "momentum" (zeros), and "mg" (zeros) when centered.
    `weight_decay` (distflow's addition, 0 by default) first shrinks each variable by
    learning_rate * weight_decay * var, apart from the gradient (decoupled weight decay).
    """

    def __init__(self, learning_rate, decay=0.9, momentum=0.0, epsilon=1e-10, use_locking=False,
                 centered=False, name="RMSProp", weight_decay=0.0):
        super().__init__(use_locking, name, weight_decay=weight_decay)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("decay", decay)
        self._set_hyper("momentum", momentum)
        self._set_hyper("epsilon", epsilon)
        self._centered = bool(centered)

    def _create_slots(self, var_list):
        for v in var_list:
            self._filled_slot(v, "rms", 1, self._name)
            if self._centered:
                self._zeros_slot(v, "mg", self._name)
            self._zeros_slot(v, "momentum", self._name)

    def _apply_dense(self, grad, var):
        h = self._get_hyper
        hyper = [h("learning_rate", var), h("decay", var), h("momentum", var), h("epsilon", var)]
        state = [self.get_slot(var, "rms"), self.get_slot(var, "momentum")]
        if self._centered:
            return dispatch.apply(ApplyCenteredRMSProp,
                                  [var, self.get_slot(var, "mg")] + state + hyper + [grad])
        return dispatch.apply(ApplyRMSProp, [var] + state + hyper + [grad])
