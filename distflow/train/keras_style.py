"""What Keras 3's optimizers share (keras/src/optimizers/base_optimizer.py), for df.optimizers:
the step count `iterations`, gradient clipping (`clipnorm`, `clipvalue`, `global_clipnorm`),
1 - rho and the like as Keras computes them, values made once per step and dtype; and Nadam.
"""
import numpy as np

from distflow.framework.graph import control_dependencies, name_scope
from distflow.framework import context
from distflow.ops import array_ops, comparison_ops, control_flow_ops, dispatch, math_ops
from distflow.ops.training_ops import KerasNadam
from distflow.train import clip_ops
from distflow.train.optimizer import Optimizer, aggregate_across_replicas


class _VariableList(list):
    def __call__(self):
        return self


class KerasStyle:
    """A mixin before a distflow Optimizer: Keras's behaviour around the update itself."""

    _counts_iterations = True
    # hyperparameters h whose 1 - h the update takes, computed as Keras does: in Python (double
    # precision) for a Python number, then rounded to the variable's dtype; "1-h" in _get_hyper
    _one_minus = ()
    clipnorm = clipvalue = global_clipnorm = None

    def _keras_init(self, clipnorm, clipvalue, global_clipnorm):
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be "
                             "set. Received: clipnorm=%s, clipvalue=%s, global_clipnorm=%s"
                             % (clipnorm, clipvalue, global_clipnorm))
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm

    @property
    def variables(self):
        """The step count and the slots. Keras 3 reads `optimizer.variables`, TF 2.0 to 2.15
        code calls `optimizer.variables()`: the list this gives answers both."""
        return _VariableList(Optimizer.variables(self))

    @property
    def learning_rate(self):
        return self._hyper["learning_rate"]

    @learning_rate.setter
    def learning_rate(self, value):
        self._hyper["learning_rate"] = value

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        # summed across tf.distribute replicas first, then clipped (Keras clips the aggregate)
        grads_and_vars = aggregate_across_replicas(grads_and_vars)
        if any(c is not None and c > 0
               for c in (self.clipnorm, self.clipvalue, self.global_clipnorm)):
            grads = [g for g, _ in grads_and_vars]
            graph = dispatch.graph_of([g for g in grads if g is not None])
            if graph is None:
                grads = self._clip_gradients(grads)
            else:
                with graph.as_default():
                    grads = self._clip_gradients(grads)
            grads_and_vars = [(g, v) for g, (_, v) in zip(grads, grads_and_vars)]
        return self._apply_aggregated(grads_and_vars, global_step, name)

    def _clip_gradients(self, grads):
        """Keras's `_clip_gradients`: clipnorm per gradient (tf.clip_by_norm, Keras's TF
        backend), else global_clipnorm over all of them, else clipvalue elementwise."""
        if self.clipnorm is not None and self.clipnorm > 0:
            return [None if g is None else clip_ops.clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm is not None and self.global_clipnorm > 0:
            return _clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue is not None and self.clipvalue > 0:
            v = self.clipvalue
            return [None if g is None else comparison_ops.clip_by_value(g, -v, v) for g in grads]
        return grads

    def _prepare(self):
        super()._prepare()
        for name in self._one_minus:
            value = self._hyper_now[name]
            self._hyper_now["1-" + name] = 1 - value if type(value) in (int, float) else \
                math_ops.subtract(1, dispatch.convert_to_tensor(value))

    def _per_dtype(self, key, var, make):
        """`make()`, made once per apply and dtype of the variables (as _get_hyper's values)."""
        k = (key, var.dtype)
        t = self._hyper_tensors.get(k)
        if t is None:
            t = self._hyper_tensors[k] = make()
        return t

    def _local_step(self, dtype, ahead=1):
        """Keras's cast(iterations + ahead, dtype): this step's number t (1, 2, ...)."""
        return math_ops.cast(math_ops.add(self.iterations, np.int64(ahead)), dtype)


def _clip_by_global_norm(grads, clip_norm):
    """Keras's clip_by_global_norm (base_optimizer.py): scale = clip_norm * min(1 / norm,
    1 / clip_norm), NaN for an infinite or NaN norm."""
    present = [g for g in grads if g is not None]
    norm = math_ops.sqrt(math_ops.reduce_sum(array_ops.stack(
        [math_ops.reduce_sum(math_ops.square(g)) for g in present])))
    scale = clip_norm * comparison_ops.minimum(1.0 / norm, 1.0 / clip_norm) + (norm - norm)
    return [None if g is None else g * scale for g in grads]


class Nadam(KerasStyle, Optimizer):
    """`Nadam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07)`, Keras 3's Nadam
    (Dozat's Nesterov Adam with Keras's momentum schedule), at step t = iterations + 1:

        u_t          = beta_1 * (1 - 0.5 * 0.96^t),   u_{t+1} likewise with t + 1
        u_product   *= u_t                            (a non-slot variable, 1 at first)
        m += (grad - m) * (1 - beta_1);  v += (grad^2 - v) * (1 - beta_2)
        m_hat = u_{t+1} * m / (1 - u_product * u_{t+1}) + (1 - u_t) * grad / (1 - u_product)
        v_hat = v / (1 - beta_2^t)
        var  -= learning_rate * m_hat / (sqrt(v_hat) + epsilon)

    Slots "m" and "v", zeros at first. (Keras's u_product update multiplies by its Python
    beta_1; the per-variable ones use beta_1 in the variable's dtype, as here.)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=0.0, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="Nadam"):
        super().__init__(False, name, weight_decay=weight_decay)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("beta1", beta_1)
        self._set_hyper("beta2", beta_2)
        self._set_hyper("epsilon", epsilon)
        self._keras_init(clipnorm, clipvalue, global_clipnorm)

    def _create_slots(self, var_list):
        self._get_or_make_non_slot("u_product", 1.0, var_list[0])  # the first variable's dtype
        for v in var_list:
            self._zeros_slot(v, "m", self._name)
            self._zeros_slot(v, "v", self._name)

    def _prepare(self):
        super()._prepare()
        up = self._get_non_slot("u_product")
        decay = math_ops.pow(dispatch.convert_to_tensor(0.96, up.dtype), self._local_step(up.dtype))
        self._u_product_now = up * self._get_hyper("beta1", up) * (1.0 - 0.5 * decay)

    def _scalars(self, var):
        def make():
            dtype = var.dtype
            t, t1 = self._local_step(dtype), self._local_step(dtype, 2)
            decay = dispatch.convert_to_tensor(0.96, dtype)
            b1, b2 = self._get_hyper("beta1", var), self._get_hyper("beta2", var)
            u_t = b1 * (1.0 - 0.5 * math_ops.pow(decay, t))
            u_t_1 = b1 * (1.0 - 0.5 * math_ops.pow(decay, t1))
            up_t = self._u_product_now
            if up_t.dtype != dtype:
                up_t = math_ops.cast(up_t, dtype)
            return [1 - b1, 1 - b2, u_t_1, 1 - up_t * u_t_1, 1 - u_t, 1 - up_t,
                    1 - math_ops.pow(b2, t)]
        return self._per_dtype("nadam", var, make)

    def _apply_dense(self, grad, var):
        h = self._get_hyper
        return dispatch.apply(KerasNadam, [var, self.get_slot(var, "m"), self.get_slot(var, "v"),
                                           h("learning_rate", var)] + self._scalars(var)
                              + [h("epsilon", var), grad])

    def _finish(self, update_ops, scope):
        # u_product advances after every variable has used this step's value
        up = self._get_non_slot("u_product")
        with control_dependencies([op for op in update_ops if op is not None]):
            with name_scope("update_u_product"):
                assign = up.assign(self._u_product_now)
        if context.executing_eagerly():
            return None
        return control_flow_ops.group(*update_ops, assign, name=scope)
