"""The eager optimizer step as one vectorized update: variables and slots in flat buffers.

Eagerly, an optimizer whose update is one fused in-place formula (ops/training_ops.py) applies it
per variable: a dozen small NumPy calls per variable for Adam, which on a small model cost more
than the arithmetic. As a plan's flat update does (client/flat_update.py), the eager step runs
the formula ONCE over the concatenation of the variables, on the flat state both share
(ops/flat_state.py: variables and slots as views of one buffer per state position, homed again
after a replace, in new buffers, so that a tensor read earlier keeps its value). The gradients
are copied into one flat buffer. The same elementwise arithmetic on the same scalars: the values
are bit for bit those of the per-variable updates. A step whose variable or slot a live read
still shares, a gradient of another shape or dtype, or arrays that are not NumPy's, goes to the
per-variable path instead, which keeps its own rules and messages. DISTFLOW_EAGER_FLAT=0 turns
this path off.
"""
import os

import numpy as np

from distflow.framework.eager import EagerTensor
from distflow.ops import flat_state

enabled = os.environ.get("DISTFLOW_EAGER_FLAT", "1") != "0"


class EagerFlatUpdate:
    """One group: `states[k][i]` is the k-th state (0: the variable, then its slots in the
    order the op takes them) of the i-th variable, every one an eager Variable."""

    def __init__(self, opdef, states, slot_epoch):
        self.opdef = opdef
        self.variables = tuple(states[0])
        self.slot_epoch = slot_epoch  # Optimizer's slot count when the slots were looked up
        arrays = [v.read_array() for v in self.variables]
        self.state = flat_state.FlatState(states, [a.shape for a in arrays], arrays[0].dtype)
        self.grad = np.empty(self.state.size, self.state.dtype)

    @property
    def dtype(self):
        return self.state.dtype

    @staticmethod
    def eligible(opdef, states):
        """True when `states` may form a group: two or more distinct variables, every state a
        NumPy array of its variable's shape in one dtype, at most FLAT_LIMIT elements each."""
        if not enabled or len(states[0]) < 2:
            return False
        grad_at = opdef.flat_grad
        if grad_at is None or opdef.inplace is None:
            return False
        holders = [h for pos in states for h in pos]
        if len({id(h) for h in holders}) != len(holders):
            return False  # a variable updated twice, or a slot that is a variable: keep order
        first = states[0][0].read_array()
        if type(first) is not np.ndarray:
            return False
        dtype, total = first.dtype, 0
        for i, var in enumerate(states[0]):
            a = var.read_array()
            if type(a) is not np.ndarray or a.dtype != dtype:
                return False
            total += a.size
            for pos in states[1:]:
                s = pos[i].read_array()
                if type(s) is not np.ndarray or s.dtype != dtype or s.shape != a.shape:
                    return False
        return total <= flat_state.FLAT_LIMIT

    def run(self, grads, hypers):
        """Applies the update to every variable; False (nothing changed) when the per-variable
        path must run instead. `grads`: one per variable, `hypers`: the op's scalar inputs."""
        state = self.state
        dtype = state.dtype
        for g, shape in zip(grads, state.shapes):
            if type(g) is not EagerTensor:
                return False
            a = g._value
            if type(a) is not np.ndarray or a.dtype != dtype or a.shape != shape:
                return False
        if not state.ready():
            return False
        np.concatenate([g._value for g in grads], axis=None, out=self.grad)
        self.opdef.inplace(np, *state.flats, *hypers, self.grad)
        return True
