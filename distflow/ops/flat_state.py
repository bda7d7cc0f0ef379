"""A model's variables and their slots as views of one flat buffer per state position.

A fused optimizer update (ops/training_ops.py) is elementwise, so one call of its in-place
formula over the concatenation of every variable does what a call per variable does: the same
arithmetic, bit for bit, in a dozen NumPy calls for the model instead of a dozen per variable.
Both fast paths that do this hold their state here: a CPU plan's (client/flat_update.py) and
the eager optimizer step's (train/eager_flat.py).

The storages (state_ops.VariableStorage: a Session's cells, eager Variables) move into the
buffers when first needed ("homing": each value is copied into its view, and the storage then
holds the view). A storage whose array was replaced since (an assignment, a restore, a
per-variable update that had to copy) is homed again before an update; eager Variables get NEW
buffers then, because a tensor read earlier may still share an old view (copy on write) and
that view must keep its value. A value that cannot be homed (uninitialized, another shape or
dtype), or an array a live eager read still shares, makes `ready()` say no: the caller then
runs its per-variable path, which keeps its own checks and messages.
"""
import math

import numpy as np

from distflow.ops.registry import private_check
from distflow.ops.state_ops import VariableStorage as Storage

# Groups of at most this many elements (per state buffer) are formed. The calls saved are worth
# a few microseconds per variable: all of a small model's step (W1: 5,121 elements), nothing of a
# big one's (W2: 1.3 M elements, 23 ms a step), which would instead pay for a flat buffer of
# gradients copied in, a temporary the size of the whole model, and a second copy of the
# weights while they move into the buffers.
FLAT_LIMIT = 1 << 16


class FlatState:
    """`positions[k][i]`: the storage of the k-th state (0: the variable, then its slots in the
    order the update op takes them) of the i-th variable, of shape `shapes[i]`, in `dtype`."""

    def __init__(self, positions, shapes, dtype):
        self.positions = positions
        self.shapes, self.dtype = list(shapes), np.dtype(dtype)
        sizes = [math.prod(s) for s in self.shapes]
        self.offsets = [sum(sizes[:i]) for i in range(len(sizes) + 1)]
        self.flats = None  # one buffer per position, made when first homed
        self.pairs = ()  # (read, view) for every storage, checked after a replace
        self.seen = -1  # Storage.replaced when the pairs were last found in place
        # the in-place rule's storage half (ops/registry.py), for the storages that share reads
        self.privates = [p for p in (private_check(h) for pos in positions for h in pos)
                         if p is not None]
        self.private_since = -1  # Storage.shared_reads when all were last found private

    @property
    def size(self):
        return self.offsets[-1]

    def views_of(self, flat):
        """Each variable's view (its shape) of the 1-D array `flat`, laid out as the buffers."""
        return [flat[a:b].reshape(s)
                for a, b, s in zip(self.offsets, self.offsets[1:], self.shapes)]

    def ready(self):
        """True when every storage holds its view of the buffers (homing them if need be) and
        no live read shares one, so the update may run on `flats` in place."""
        if Storage.replaced != self.seen:  # an array was replaced somewhere: one of ours?
            for read, view in self.pairs:
                if read() is not view:
                    if not self._home():
                        return False
                    break
            self.seen = Storage.replaced
        if not self.pairs and not self._home():
            return False
        # found private once, they stay so until an eager read hands an array out: one test
        # per step, not one per storage
        if self.privates and Storage.shared_reads != self.private_since:
            for private in self.privates:
                if not private():
                    return False
            self.private_since = Storage.shared_reads
        return True

    def _home(self):
        """Moves every value into its view; False (nothing moved) if one cannot be."""
        for pos in self.positions:
            for h, shape in zip(pos, self.shapes):
                v = h.read_array()
                if type(v) is not np.ndarray or v.shape != shape or v.dtype != self.dtype:
                    return False
        if self.flats is None or self.privates:  # eager storages: new buffers (see above)
            self.flats = [np.empty(self.size, self.dtype) for _ in self.positions]
        pairs = []
        for pos, flat in zip(self.positions, self.flats):
            for h, view in zip(pos, self.views_of(flat)):
                v = h.read_array()
                if v is not view:
                    view[...] = v
                    h.assign_array(view)
                pairs.append((h.read_array, h.read_array()))  # the view, as the storage holds it
        self.pairs = tuple(pairs)
        return True
