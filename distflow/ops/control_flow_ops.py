"""NoOp and group: ops that exist for their control dependencies; cond and while_loop (their
ops live in cond_ops.py and while_ops.py)."""
from distflow.framework import context
from distflow.framework.graph import control_dependencies, get_default_graph
from distflow.ops.cond_ops import cond
from distflow.ops.dispatch import build_op
from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def
from distflow.ops.while_ops import while_loop

__all__ = [
    "no_op",
    "group",
    "cond",
    "while_loop",
]


NoOp = op_def("NoOp", infer=lambda: [], forward=lambda xp: None, grad=NOT_DIFFERENTIABLE)


def no_op(name=None):
    """An op that does nothing; useful as a target for control dependencies."""
    if context.executing_eagerly():
        return None
    return build_op(get_default_graph(), NoOp, [], {}, name)


def group(*inputs, name=None):
    """An op that runs all `inputs` (ops or tensors) when run."""
    if context.executing_eagerly():
        return None
    flat = []
    for x in inputs:
        flat.extend(x if isinstance(x, (list, tuple)) else [x])
    with control_dependencies([x for x in flat if x is not None]):
        return no_op(name=name or "group_deps")  # TF's default name
