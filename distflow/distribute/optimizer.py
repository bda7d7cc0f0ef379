"""DistributedOptimizer: any optimizer, with its gradients summed across ranks by one fused op.

    opt = DistributedOptimizer(tf.train.AdamOptimizer(1e-3))
    train_op = opt.minimize(loss)      # forward, backward, ONE all-reduce, update: one plan

compute_gradients asks the wrapped optimizer for the local gradients, then inserts a single
FusedAllReduce over all of them. The same code runs eagerly (minimize(loss_fn), or
compute_gradients(loss, tape=tape)) and inside df.function.

No path updates with local gradients: apply_gradients uses the gradients of the variables whose
gradients this optimizer's last compute_gradients reduced as they are (also after the caller
clipped them), and reduces any other gradient first (a GradientTape loop, Keras fit's step).
A caller that reduced the gradients itself says so with apply_reduced_gradients.

Gradients are SUMMED, not averaged. Each rank's loss must be its sum over its own part of the
global batch divided by the GLOBAL batch size (`compute_average_loss`); the sum over ranks is
then exactly the one-process gradient of the mean loss over the global batch, for any number of
ranks and uneven parts (TF's tf.distribute convention; Horovod averages instead, which is only
right when every rank has the same number of samples).
"""
import contextlib

from distflow.distribute.allreduce_op import DEFAULT_BUCKET_BYTES, allreduce
from distflow.ops import dispatch
from distflow.train.optimizer import Optimizer, refuse_in_replica_context


class DistributedOptimizer(Optimizer):
    def __init__(self, optimizer, communicator=None, bucket_bytes=DEFAULT_BUCKET_BYTES, op="sum",
                 name=None):
        """`optimizer`: the optimizer to wrap. `communicator`: default, init()'s. `bucket_bytes`:
        the largest fused buffer (None: one per dtype). `op`: 'sum' (see above) or 'mean'."""
        if not isinstance(optimizer, Optimizer):
            raise TypeError("DistributedOptimizer wraps a distflow Optimizer, got %r"
                            % (optimizer,))
        if isinstance(optimizer, DistributedOptimizer) or hasattr(optimizer, "_hvd_allreduce"):
            raise ValueError("%r reduces its gradients across ranks already: wrapping it in "
                             "DistributedOptimizer would reduce them twice" % (optimizer,))
        if op not in ("sum", "mean"):
            raise ValueError("op must be 'sum' or 'mean', got %r" % (op,))
        super().__init__(name=name or "Distributed" + optimizer.get_name())
        self._optimizer = optimizer
        if communicator is None:
            from distflow.distribute import runtime
            communicator = runtime.init().communicator
        self._communicator = communicator
        self._bucket_bytes = bucket_bytes
        self._op = op
        self._reduced = set()  # ids of the variables whose gradients compute_gradients reduced

    @property
    def optimizer(self):
        return self._optimizer

    @property
    def communicator(self):
        return self._communicator

    def compute_gradients(self, loss, var_list=None, grad_loss=None, tape=None, extra=None,
                          **kwargs):
        """The wrapped optimizer's [(gradient, variable)], gradients reduced across ranks.

        `extra`: {name: tensor} of other tensors to reduce in the same collective (the loss,
        so every rank sees the global loss at no extra cost); then the result is
        ([(gradient, variable)], {name: reduced tensor})."""
        refuse_in_replica_context("DistributedOptimizer")
        pairs = self._optimizer.compute_gradients(loss, var_list=var_list, grad_loss=grad_loss,
                                                  tape=tape, **kwargs)
        return self.reduce_gradients(pairs, extra=extra)

    def reduce_gradients(self, grads_and_vars, extra=None):
        """All-reduces the gradients of [(gradient, variable)] pairs with one fused op (None
        gradients stay None: they are the same on every rank, since every rank builds the same
        model). apply_gradients then applies these variables' gradients as they are, also after
        the caller transformed them (clipping).

        `extra`: {name: tensor} reduced in the same fused op, after the gradients; then the
        result is ([(gradient, variable)], {name: reduced tensor})."""
        pairs, extras = self._reduce(grads_and_vars, extra or {})
        self._reduced = {id(v) for g, v in pairs if g is not None}
        return pairs if extra is None else (pairs, extras)

    def _reduce(self, grads_and_vars, extra):
        pairs = list(grads_and_vars)
        present = [i for i, (g, _) in enumerate(pairs) if g is not None]
        if not present and not extra:
            return pairs, {}
        tensors = [pairs[i][0] for i in present] + list(extra.values())
        names = ["gradient of %s" % pairs[i][1].name for i in present] + list(extra)
        graph = dispatch.graph_of(tensors)
        scope = contextlib.nullcontext() if graph is None else _scope(graph, self._name)
        with scope:
            reduced = allreduce(tensors, op=self._op, communicator=self._communicator,
                                bucket_bytes=self._bucket_bytes, names=names)
        out = list(pairs)
        for i, g in zip(present, reduced):
            out[i] = (g, pairs[i][1])
        return out, dict(zip(extra, reduced[len(present):]))

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """Applies the gradients, reduced across ranks first unless compute_gradients reduced
        them (see the module doc)."""
        refuse_in_replica_context("DistributedOptimizer")
        pairs = list(grads_and_vars)
        reduced, self._reduced = self._reduced, set()
        local = [i for i, (g, v) in enumerate(pairs) if g is not None and id(v) not in reduced]
        if local:
            done, _ = self._reduce([pairs[i] for i in local], {})
            for i, pair in zip(local, done):
                pairs[i] = pair
        return self._optimizer.apply_gradients(pairs, global_step=global_step, name=name)

    def apply_reduced_gradients(self, grads_and_vars, global_step=None, name=None):
        """Applies gradients the caller has already summed across ranks itself."""
        self._reduced = set()
        return self._optimizer.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def _check_keras_fit(self):
        """Keras compile() asks: fit divides each rank's loss by its OWN batch, so summed
        gradients would be size times the mean gradient."""
        if self._op == "sum":
            raise ValueError(
                "DistributedOptimizer(op='sum') sums gradients of losses divided by the GLOBAL "
                "batch size, but Keras fit divides each rank's loss by its own batch, so the sum "
                "would be %d times too large. Use DistributedOptimizer(optimizer, op='mean') "
                "(each rank its own data, Horovod's semantics; or distflow.horovod.keras's "
                "DistributedOptimizer), or a tf.distribute strategy for global-batch semantics."
                % self._communicator.size)

    # The wrapped optimizer owns the slots and hyperparameters.
    def get_slot(self, var, name):
        return self._optimizer.get_slot(var, name)

    def get_slot_names(self):
        return self._optimizer.get_slot_names()

    def variables(self):
        return self._optimizer.variables()

    @property
    def iterations(self):
        return self._optimizer.iterations


@contextlib.contextmanager
def _scope(graph, name):
    with graph.as_default(), graph.name_scope(name + "_Allreduce"):
        yield
