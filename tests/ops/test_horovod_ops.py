"""The op table for distflow.horovod's collectives, on one rank (where each is the identity or a
scaling): forward, shapes, Horovod's gradients and second derivatives in both modes. Their values
across ranks are checked under mpirun in tests/distributed/test_horovod.py."""
import numpy as np

import distflow as df
import distflow.horovod as hvd
from distflow.horovod import mpi_ops
from op_check import Case as _Case
from op_check import ops_built, table_tests

R = np.random.RandomState(11)
X = R.normal(size=(3, 2))
V = R.normal(size=4)


def _after(collective, x):
    """x, once `collective` (an op without a useful value) has run."""
    done = collective()
    if done is None:  # eager: it ran already
        return df.identity(x)
    with df.control_dependencies([done]):
        return df.identity(x)


def Case(*args, **kwargs):
    # a collective runs its kernel on every call: the tape's compiled backward pass leaves
    # such ops to the walker
    return _Case(*args, compiled=False, **kwargs)


CASES = [
    Case("allreduce_average", lambda x: hvd.allreduce(x), lambda x: x, [X], second=True),
    Case("allreduce_sum_scaled",
         lambda x: hvd.allreduce(x, op=hvd.Sum, prescale_factor=2.0, postscale_factor=3.0),
         lambda x: 6 * x, [X], second=True),
    Case("allreduce_max", lambda x: hvd.allreduce(x, op=hvd.Max), lambda x: x, [X], grad=False),
    Case("allreduce_product", lambda x: hvd.allreduce(x, op=hvd.Product), lambda x: x, [X],
         grad=False),
    Case("grouped_allreduce", lambda x, v: tuple(hvd.grouped_allreduce([x, v * 2.0])),
         lambda x, v: (x, 2 * v), [X, V], second=True),
    Case("allgather", lambda x: hvd.allgather(x) * 2.0, lambda x: 2 * x, [X], second=True),
    Case("broadcast", lambda x: hvd.broadcast(x, 0) ** 2, lambda x: x ** 2, [X], second=True),
    Case("alltoall", lambda x: hvd.alltoall(x), lambda x: x, [X]),
    Case("alltoall_splits", lambda x: hvd.alltoall(x, splits=[3])[0], lambda x: x, [X]),
    Case("reducescatter", lambda x: hvd.reducescatter(x, op=hvd.Sum) * x,
         lambda x: x * x, [X], second=True),
    Case("join", lambda x: x + df.cast(mpi_ops.join(), x.dtype), lambda x: x, [X]),
    Case("barrier", lambda x: _after(mpi_ops.barrier, x), lambda x: x, [X]),
]

(test_forward_and_shapes, test_gradient, test_graph_gradient_with_unknown_dims,
 test_second_derivative) = table_tests(CASES)


def test_every_horovod_op_is_built_by_some_case():
    from distflow.ops.registry import OpDef
    defined = {v.name for v in vars(mpi_ops).values() if isinstance(v, OpDef)}
    assert defined - set().union(*(ops_built(c) for c in CASES)) == set()
