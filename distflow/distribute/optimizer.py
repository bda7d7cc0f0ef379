"""DistributedOptimizer: any optimizer, with its gradients summed across ranks by one fused op.

    opt = DistributedOptimizer(tf.train.AdamOptimizer(1e-3))
    train_op = opt.minimize(loss)      # forward, backward, ONE all-reduce, update: one plan

compute_gradients asks the wrapped optimizer for the local gradients, then inserts a single
FusedAllReduce over all of them; apply_gradients is the wrapped optimizer's. The same code runs
eagerly (minimize(loss_fn), or compute_gradients(loss, tape=tape)) and inside df.function.

Gradients are SUMMED, not averaged. Each rank's loss must be its sum over its own part of the
global batch divided by the GLOBAL batch size (`compute_average_loss`); the sum over ranks is
then exactly the one-process gradient of the mean loss over the global batch, for any number of
ranks and uneven parts (TF's tf.distribute convention; Horovod averages instead, which is only
right when every rank has the same number of samples).
"""
import contextlib

from distflow.distribute.allreduce_op import DEFAULT_BUCKET_BYTES, allreduce
from distflow.ops import dispatch
from distflow.train.optimizer import Optimizer


class DistributedOptimizer(Optimizer):
    def __init__(self, optimizer, communicator=None, bucket_bytes=DEFAULT_BUCKET_BYTES, op="sum",
                 name=None):
        """`optimizer`: the optimizer to wrap. `communicator`: default, init()'s. `bucket_bytes`:
        the largest fused buffer (None: one per dtype). `op`: 'sum' (see above) or 'mean'."""
        if not isinstance(optimizer, Optimizer):
            raise TypeError("DistributedOptimizer wraps a distflow Optimizer, got %r"
                            % (optimizer,))
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

    @property
    def optimizer(self):
        return self._optimizer

    @property
    def communicator(self):
        return self._communicator

    def compute_gradients(self, loss, var_list=None, grad_loss=None, tape=None, **kwargs):
        """The wrapped optimizer's [(gradient, variable)], gradients reduced across ranks."""
        pairs = self._optimizer.compute_gradients(loss, var_list=var_list, grad_loss=grad_loss,
                                                  tape=tape, **kwargs)
        return self.reduce_gradients(pairs)

    def reduce_gradients(self, grads_and_vars):
        """All-reduces the gradients of [(gradient, variable)] pairs with one fused op (None
        gradients stay None: they are the same on every rank, since every rank builds the same
        model)."""
        pairs = list(grads_and_vars)
        present = [i for i, (g, _) in enumerate(pairs) if g is not None]
        if not present:
            return pairs
        grads = [pairs[i][0] for i in present]
        names = ["gradient of %s" % pairs[i][1].name for i in present]
        graph = dispatch._graph_of(grads)
        scope = contextlib.nullcontext() if graph is None else _scope(graph, self._name)
        with scope:
            reduced = allreduce(grads, op=self._op, communicator=self._communicator,
                                bucket_bytes=self._bucket_bytes, names=names)
        out = list(pairs)
        for i, g in zip(present, reduced):
            out[i] = (g, pairs[i][1])
        return out

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        return self._optimizer.apply_gradients(grads_and_vars, global_step=global_step, name=name)

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
