"""CollectiveSum: the sum of a tensor over all ranks, as an op that has a gradient.

FusedAllReduce sits between backprop and the optimizer and is not differentiated. Synchronized
batch normalization sums batch statistics across ranks INSIDE the model, so backprop must pass
through the sum: every rank's output is sum_r x_r, so the gradient of the global loss (the sum of
every rank's loss) with respect to x_r is the sum over ranks of each rank's dy, i.e. CollectiveSum
of dy, again this op. On one rank it is the identity.

The kernel is FusedAllReduce's (same attributes: its buffers, its layout check across ranks), so
a plan runs it as it runs a gradient all-reduce.
"""
from distflow.distribute import allreduce_op
from distflow.ops import dispatch
from distflow.ops.registry import op_def


def _attrs(communicator=None, label="CollectiveSum"):
    return {"communicator": communicator or allreduce_op._default_communicator(),
            "reduction": "sum", "bucket_bytes": allreduce_op.DEFAULT_BUCKET_BYTES,
            "names": (label,)}


CollectiveSum = op_def(
    "CollectiveSum", effects="collective",
    infer=allreduce_op._infer, kernel=allreduce_op._kernel, aliases=True,
    grad=lambda op, dy: dispatch.apply(CollectiveSum, [dy], dict(op.attrs, names=(
        op.attrs["names"][0] + "/grad",))))


def collective_sum(x, communicator=None, label="CollectiveSum", name=None):
    """sum over ranks of `x` (same shape on every rank); differentiable."""
    return dispatch.apply(CollectiveSum, [x], _attrs(communicator, label), name=name)
