"""Adam, TF1's AdamOptimizer (tensorflow/python/training/adam.py)."""
from distflow.framework import context
from distflow.framework.graph import control_dependencies, name_scope
from distflow.ops import control_flow_ops, dispatch, math_ops
from distflow.ops.training_ops import ApplyAdam
from distflow.train.optimizer import Optimizer, _resolve


class AdamOptimizer(Optimizer):
    """`AdamOptimizer(learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-08)`.

    TF1's form of Kingma & Ba's algorithm, at step t = 1, 2, ...:

        lr_t = learning_rate * sqrt(1 - beta2^t) / (1 - beta1^t)
        m    = beta1 * m + (1 - beta1) * grad
        v    = beta2 * v + (1 - beta2) * grad^2
        var -= lr_t * m / (sqrt(v) + epsilon)

    Here epsilon is the paper's "epsilon hat" (the form just before its section 2.1): it is added
    to sqrt(v) after the bias correction moved into lr_t, so it weighs sqrt(1 - beta2^t) times
    more than Algorithm 1's epsilon. Keras and PyTorch place it otherwise; early steps differ.

    Slots "m" and "v" (zeros at first); beta1^t and beta2^t are the non-slot variables
    `beta1_power` and `beta2_power`, starting at beta1 and beta2 and multiplied after each apply.
    `weight_decay` (distflow's addition, 0 by default) first shrinks each variable by
    learning_rate * weight_decay * var, apart from the gradient: AdamW's decoupled weight decay.
    """

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 use_locking=False, name="Adam", weight_decay=0.0):
        super().__init__(use_locking, name, weight_decay=weight_decay)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("beta1", beta1)
        self._set_hyper("beta2", beta2)
        self._set_hyper("epsilon", epsilon)

    def _create_slots(self, var_list):
        first = min(var_list, key=lambda v: v.name)  # TF1 keys the powers to one variable too
        for name in ("beta1", "beta2"):
            value = _resolve(self._hyper[name])
            # TF1 makes them from the hyperparameter itself: float32 for a Python number (each
            # update casts them to its variable's dtype), a tensor's own dtype otherwise
            dtype = "float32" if isinstance(value, (int, float)) else dispatch.dtype_of(value)
            self._get_or_make_non_slot(name + "_power", value, first, dtype=dtype)
        for v in var_list:
            self._zeros_slot(v, "m", self._name)
            self._zeros_slot(v, "v", self._name)

    def _get_beta_accumulators(self):
        return self._get_non_slot("beta1_power"), self._get_non_slot("beta2_power")

    def _apply_dense(self, grad, var):
        beta1_power, beta2_power = self._get_beta_accumulators()
        h = self._get_hyper
        return dispatch.apply(ApplyAdam, [
            var, self.get_slot(var, "m"), self.get_slot(var, "v"),
            _like(beta1_power, var), _like(beta2_power, var),
            h("learning_rate", var), h("beta1", var), h("beta2", var), h("epsilon", var), grad])

    def _finish(self, update_ops, scope):
        # The powers advance only after every variable has used this step's values.
        beta1_power, beta2_power = self._get_beta_accumulators()
        with control_dependencies([op for op in update_ops if op is not None]):
            with name_scope("update_power"):
                power_updates = [
                    beta1_power.assign(math_ops.multiply(beta1_power,
                                                         self._get_hyper("beta1", beta1_power))),
                    beta2_power.assign(math_ops.multiply(beta2_power,
                                                         self._get_hyper("beta2", beta2_power)))]
        if context.executing_eagerly():
            return None
        return control_flow_ops.group(*update_ops, *power_updates, name=scope)


def _like(power, var):
    """beta^t in `var`'s dtype (the powers have the dtype of the first variable)."""
    return power if power.dtype == var.dtype else math_ops.cast(power, var.dtype)
