"""The eager optimizer step as one vectorized update: variables and slots in flat buffers.

Eagerly, an optimizer whose update is one fused in-place formula (ops/training_ops.py) applies it
per variable: a dozen small NumPy calls per variable for Adam, which on a small model cost more
than the arithmetic. As the graph path's flat update (client/flat_update.py) does for a plan,
the eager step runs the formula ONCE over the concatenation of the variables: the variables
(and each slot: m, v, ...) become views of one contiguous buffer per state position, the
gradients are copied into one flat buffer, and `opdef.inplace` runs on the flat buffers. The
same elementwise arithmetic on the same scalars: the values are bit for bit those of the
per-variable updates.

The variables' arrays move into the buffers on the first step ("homing": each value is copied
into its view and the variable then holds the view, through the storage protocol's
assign_array). When an array was replaced since (an assignment, a restore, a per-variable
update that had to copy), every value is homed again into NEW buffers: a tensor read earlier
may still share an old view (copy on write), and that view keeps its value. A step whose
variable or slot a live read still shares, a gradient of another shape or dtype, or arrays that
are not NumPy's, goes to the per-variable path instead, which keeps its own rules and messages.
DISTFLOW_EAGER_FLAT=0 turns this path off.
"""
import math
import os

import numpy as np

from distflow.framework.eager import EagerTensor
from distflow.ops.state_ops import VariableStorage as Storage

# As the graph path's limit (client/flat_update.FLAT_LIMIT): the calls saved are worth a few
# microseconds per variable, everything on a small model and nothing on a big one, which would
# pay a copy of every gradient and a temporary the size of the model instead.
FLAT_LIMIT = 1 << 16
enabled = os.environ.get("DISTFLOW_EAGER_FLAT", "1") != "0"


class EagerFlatUpdate:
    """One group: `states[k][i]` is the k-th state (0: the variable, then its slots in the
    order the op takes them) of the i-th variable, every one an eager Variable."""

    def __init__(self, opdef, states, slot_epoch):
        self.opdef = opdef
        self.states = states
        self.variables = tuple(states[0])
        self.slot_epoch = slot_epoch  # Optimizer's slot count when the slots were looked up
        self.holders = [h for pos in states for h in pos]
        arrays = [v.read_array() for v in self.variables]
        self.shapes = [a.shape for a in arrays]
        self.dtype = arrays[0].dtype
        sizes = [math.prod(s) for s in self.shapes]
        self.offsets = [0]
        for n in sizes:
            self.offsets.append(self.offsets[-1] + n)
        self.grad = np.empty(self.offsets[-1], self.dtype)
        self.flats = None
        self.pairs = ()  # (holder, its view) for every variable and slot, checked after a replace
        self.seen = -1   # Storage.replaced when the pairs were last found in place

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
        return total <= FLAT_LIMIT

    def run(self, grads, hypers):
        """Applies the update to every variable; False (nothing changed) when the per-variable
        path must run instead. `grads`: one per variable, `hypers`: the op's scalar inputs."""
        if Storage.replaced != self.seen:  # an array was replaced somewhere: one of ours?
            for holder, view in self.pairs:
                if holder.read_array() is not view:
                    if not self._home():
                        return False
                    break
            else:
                if not self.pairs and not self._home():
                    return False
            self.seen = Storage.replaced
        for h in self.holders:  # copy on write: no live read may share an array updated in place
            if not h.array_is_private():
                return False
        dtype = self.dtype
        for g, shape in zip(grads, self.shapes):
            if type(g) is not EagerTensor:
                return False
            a = g._value
            if type(a) is not np.ndarray or a.dtype != dtype or a.shape != shape:
                return False
        np.concatenate([g._value for g in grads], axis=None, out=self.grad)
        self.opdef.inplace(np, *self.flats, *hypers, self.grad)
        return True

    def _home(self):
        """Moves every value into its view of new flat buffers; False if one cannot be."""
        for pos in self.states:
            for h, shape in zip(pos, self.shapes):
                a = h.read_array()
                if type(a) is not np.ndarray or a.shape != shape or a.dtype != self.dtype:
                    return False
        size = self.offsets[-1]
        self.flats = [np.empty(size, self.dtype) for _ in self.states]
        pairs = []
        for pos, flat in zip(self.states, self.flats):
            for h, a, b, shape in zip(pos, self.offsets, self.offsets[1:], self.shapes):
                view = flat[a:b].reshape(shape)
                view[...] = h.read_array()
                h.assign_array(view)
                pairs.append((h, h.read_array()))  # the view, as the variable holds it
        self.pairs = tuple(pairs)
        return True
