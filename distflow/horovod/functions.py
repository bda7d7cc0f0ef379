"""horovod.tensorflow.functions: broadcast_variables, broadcast_object, allgather_object, and the
TF1 helpers broadcast_global_variables and BroadcastGlobalVariablesHook.

Eagerly, broadcast_variables overwrites the variables now, in one flat buffer per dtype
(distflow.distribute.broadcast_variables); while a graph or a df.function is being built it
returns, as Horovod's does, the group of `var.assign(broadcast(var))`, so it runs where the
program puts it (after the first step's update, in Horovod's TF2 example).
"""
from distflow.compat.v1.monitored_session import SessionRunHook
from distflow.distribute import variables as dd_variables
from distflow.framework import context
from distflow.framework.graph import GraphKeys, get_default_graph
from distflow.horovod import collectives
from distflow.horovod.mpi_ops import _check_rank, _comm, _global_only, broadcast
from distflow.ops import control_flow_ops


def broadcast_variables(variables, root_rank, process_set=None, inplace=False):
    """Every rank's `variables` get root_rank's values (eagerly: now; else: an op)."""
    _global_only(process_set)
    _check_rank(root_rank)
    variables = list(variables)
    if not variables:
        return None if context.executing_eagerly() else control_flow_ops.no_op()
    graph_vars = [v for v in variables if not dd_variables._is_eager(v)]
    if graph_vars:  # TF1 variables: an op in their graph, whatever the mode of the caller
        with graph_vars[0].graph.as_default():
            return control_flow_ops.group(*[v.assign(broadcast(v, root_rank))
                                            for v in variables])
    if context.executing_eagerly():
        comm = _comm()
        collectives.negotiate(comm, "broadcast_variables",
                              ("root %d" % root_rank,) + tuple(
                                  "%s %s %s" % (v.name, v.shape, v.dtype.name) for v in variables))
        dd_variables.broadcast_variables(variables, root=root_rank, communicator=comm)
        return None
    return control_flow_ops.group(*[v.assign(broadcast(v, root_rank)) for v in variables])


def broadcast_global_variables(root_rank):
    """An op broadcasting every global variable of the default graph from root_rank (TF1)."""
    found = get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES)
    if not found and context.executing_eagerly():  # TF2 code: its variables are in no graph
        raise RuntimeError("hvd.broadcast_global_variables() does not support eager execution. "
                           "Please use `hvd.broadcast_variables(<model/optimizer variables>)` "
                           "instead.")
    return broadcast_variables(found, root_rank)


class BroadcastGlobalVariablesHook(SessionRunHook):
    """A SessionRunHook that broadcasts every global variable from root_rank once the session
    exists (after the initializer or a checkpoint restore)."""

    def __init__(self, root_rank, device=""):
        self.root_rank = root_rank
        self.bcast_op = None
        self.device = device

    def begin(self):
        if self.bcast_op is None or self.bcast_op.graph is not get_default_graph():
            self.bcast_op = broadcast_global_variables(self.root_rank)

    def after_create_session(self, session, coord):
        session.run(self.bcast_op)


def broadcast_object(obj, root_rank=0, session=None, name=None, process_set=None):
    """root_rank's `obj` (any picklable object) on every rank."""
    _global_only(process_set)
    _check_rank(root_rank)
    comm = _comm()
    collectives.negotiate(comm, "broadcast_object", ("root %d" % root_rank,))
    return comm.broadcast_object(obj, root_rank)


def broadcast_object_fn(root_rank=0, session=None, name=None, process_set=None):
    return lambda obj: broadcast_object(obj, root_rank, session, name, process_set)


def allgather_object(obj, session=None, name=None, process_set=None):
    """[rank 0's obj, rank 1's obj, ...] (any picklable objects)."""
    _global_only(process_set)
    comm = _comm()
    collectives.negotiate(comm, "allgather_object", ())
    return comm.allgather_object(obj)
