"""The interface every communicator implements, and the cross-rank consistency check they share.

A communicator moves the contents of arrays between the ranks of one job. The hot-path calls work
in place on flat, contiguous buffers (one fused gradient buffer per step), so an implementation
can hand them straight to MPI or NCCL without pickling or copying:

  allreduce(buf, op)      every rank ends with the elementwise sum / mean / max / min
  broadcast(buf, root)    every rank ends with root's contents
  allgather(buf)          a new array (size, *buf.shape): row r is rank r's buf
  barrier()               returns once every rank has called it

Every rank must make the same calls in the same order with buffers of the same shape and dtype.
Breaking that is a bug in the program, and MPI's answer to it is a hang or garbage. `check_same`
catches it once per layout (the fused gradient buffer's layout is fixed for a Session plan) with
one small collective, and names the tensors and ranks that differ.

`allgather_object` and `broadcast_object` pickle Python objects: setup and error paths only.

`Communicator` declares every member a caller may use (abstract primitives, and defaults for the
rest), so no caller has to ask whether a communicator has one. `DelegatingCommunicator` is the
base of the GPU communicators: they move GPU buffers themselves and hand everything else (host
buffers, objects, barriers, hosts, ending the job) to the host communicator they wrap.
"""
import abc
import functools
import hashlib
import os
import socket
import sys
import weakref

import numpy as np

from distflow import backend
from distflow.framework import errors

REDUCE_OPS = ("sum", "mean", "max", "min")


class CollectiveMismatchError(errors.InvalidArgumentError):
    """Ranks called a collective with different tensors (shapes, dtypes or names)."""

    # Found after an allgather, so every rank raises it alike: the abort hook lets rank 0 alone
    # print it (runtime.install_abort_hook).
    raised_on_every_rank = True

    def __init__(self, message):
        super().__init__(None, None, message)


class Communicator(abc.ABC):
    """Base class: `rank`, `size`, and the collectives above. Subclasses implement the
    `_allreduce`, `_broadcast`, `_allgather`, `_barrier` and `*_object` primitives."""

    name = "base"
    capturable = False  # whether its collectives may be captured into a CUDA graph
    watchdog = None     # the watchdog of its collectives (watchdog.py), when it runs one

    def __init__(self, rank, size):
        self.rank = rank
        self.size = size
        self._verified = set()  # layout digests already checked across ranks
        self._buffers = {}      # allocate's key -> weak reference to the buffer

    # -- the collectives ---------------------------------------------------------------------
    def allreduce(self, buf, op="sum", name=None):
        """Reduces `buf` across ranks in place and returns it. `name` appears in error messages."""
        check_allreduce(buf, op)
        self._allreduce(buf, op, name)
        return buf

    def unchecked_allreduce(self, buf, op, name=None):
        """allreduce without its argument checks, for a caller that made them once (the fused
        all-reduce, reducing buffers it allocated itself, every step)."""
        self._allreduce(buf, op, name)

    def allocate(self, nelems, dtype, xp, key=None):
        """A flat array for a buffer this communicator will reduce every step (a plan's fused
        gradient buffer). `key` names its owner (the fused all-reduce op and bucket): every
        plan compiled for the same op gets the same buffer while one of them holds it. A plan
        per feed shape (the short last batch, or uneven shards) would otherwise hold a copy
        each, and a buffer in shared memory would need a connection of its own, a collective
        that only the ranks which compiled that plan would make."""
        ref = self._buffers.get(key) if key is not None else None
        buf = ref() if ref is not None else None
        if buf is not None and buf.size == nelems and buf.dtype == dtype \
                and backend.get_array_module(buf) is xp:
            return buf
        buf = self._new_buffer(nelems, dtype, xp)
        if key is not None:
            try:
                self._buffers[key] = weakref.ref(buf, functools.partial(self._forget, key))
            except TypeError:  # an array type without weak references: not shared
                pass
        return buf

    def _forget(self, key, ref):
        if self._buffers.get(key) is ref:
            del self._buffers[key]

    def _new_buffer(self, nelems, dtype, xp):
        """Where allocate's buffers come from: here ordinary arrays; the MPI communicator may
        put them where the other ranks can read them."""
        return xp.empty(nelems, dtype=dtype)

    def fused_path(self):
        """How plans' fused buffers (the gradients) are reduced, for run summaries."""
        return self.name

    def bound_allreduce(self, buf, op, name=None):
        """A function of no arguments that reduces `buf` in place, for a buffer reduced every
        step (the fused all-reduce's): the checks and lookups are made once, here. Every rank
        binds its buffers in the same order (it may be a collective)."""
        check_allreduce(buf, op)
        return functools.partial(self.unchecked_allreduce, buf, op, name)

    def broadcast(self, buf, root=0, name=None):
        """Overwrites `buf` on every rank with root's `buf`; returns it."""
        _check_buffer(buf, "broadcast")
        self._check_root(root)
        self._broadcast(buf, root, name)
        return buf

    def allgather(self, buf, name=None):
        """A new array of shape (size, *buf.shape) whose row r is rank r's `buf`."""
        buf = np.ascontiguousarray(buf)
        return self._allgather(buf, name)

    def barrier(self, name=None):
        self._barrier(name)

    def allgather_object(self, obj):
        """[obj of rank 0, obj of rank 1, ...]: pickled, for setup and error paths."""
        return self._allgather_object(obj)

    def broadcast_object(self, obj, root=0):
        self._check_root(root)
        return self._broadcast_object(obj, root)

    # -- the primitives each communicator implements -----------------------------------------
    @abc.abstractmethod
    def _allreduce(self, buf, op, name):
        """Reduces `buf` in place (the arguments are checked)."""

    @abc.abstractmethod
    def _broadcast(self, buf, root, name):
        """Overwrites `buf` with root's (the arguments are checked)."""

    @abc.abstractmethod
    def _allgather(self, buf, name):
        """A new array (size, *buf.shape) of every rank's contiguous `buf`."""

    @abc.abstractmethod
    def _barrier(self, name):
        """Returns once every rank has called it."""

    @abc.abstractmethod
    def _allgather_object(self, obj):
        """Every rank's `obj`, indexed by rank."""

    @abc.abstractmethod
    def _broadcast_object(self, obj, root):
        """root's `obj` on every rank."""

    # -- the job ---------------------------------------------------------------------------------
    def host_names(self):
        """Every rank's host name, indexed by rank (collective)."""
        return self.allgather_object(socket.gethostname())

    def local_rank_and_size(self):
        """This rank's index among the ranks sharing its host, and how many share it
        (collective)."""
        from distflow.distribute.devices import local_rank_from_hosts
        return local_rank_from_hosts(self.host_names(), self.rank)

    def abort(self, code=1):
        """Ends the whole job now. One process: exit at once (no cleanup that could block)."""
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    def end(self, code):
        """Ends the whole job with status `code` and no message of its own (an interrupt, whose
        line the caller printed)."""
        self.abort(code)

    def close(self):
        """Stops any helper this communicator runs (the MPI watchdog). Idempotent."""

    # -- consistency -------------------------------------------------------------------------
    def check_same(self, what, items):
        """Raises CollectiveMismatchError unless every rank passes equal `items`.

        `items` is a list of (name, description) pairs, e.g. ("gradient of w:0", "(13, 64)
        float32"). Costs one 8-byte allgather; the descriptions travel only when ranks differ.
        A layout already checked on this communicator is not checked again.
        """
        if self.size == 1:
            return
        items = [(str(n), str(d)) for n, d in items]
        digest = _digest(repr((what, items)))
        if digest in self._verified:
            return
        digests = self.allgather(np.array([digest], dtype=np.int64), name=what + " (layout check)")
        if not np.all(digests == digests[0]):
            everyone = self.allgather_object(items)
            raise CollectiveMismatchError(mismatch_message(what, everyone))
        self._verified.add(digest)

    # -- helpers -------------------------------------------------------------------------------
    def _check_root(self, root):
        if not 0 <= root < self.size:
            raise ValueError("root must be a rank in [0, %d), got %r" % (self.size, root))

    def __repr__(self):
        return "<%s communicator: rank %d of %d>" % (self.name, self.rank, self.size)


class DelegatingCommunicator(Communicator):
    """A communicator for GPU buffers over a host communicator (`inner`: MPI, or single for one
    rank). Subclasses implement `_device_allreduce`, `_device_broadcast` and `_device_allgather`
    for CuPy arrays; host (NumPy) buffers and everything else go to `inner`."""

    def __init__(self, inner):
        super().__init__(inner.rank, inner.size)
        self.inner = inner

    @abc.abstractmethod
    def _device_allreduce(self, buf, op, name):
        """Reduces the GPU buffer `buf` in place."""

    @abc.abstractmethod
    def _device_broadcast(self, buf, root, name):
        """Overwrites the GPU buffer `buf` with root's."""

    @abc.abstractmethod
    def _device_allgather(self, buf, name):
        """A new GPU array (size, *buf.shape) of every rank's contiguous GPU `buf`."""

    def _allreduce(self, buf, op, name):
        if backend.is_cupy_array(buf):
            self._device_allreduce(buf, op, name)
        else:
            self.inner.allreduce(buf, op, name)

    def _broadcast(self, buf, root, name):
        if backend.is_cupy_array(buf):
            self._device_broadcast(buf, root, name)
        else:
            self.inner.broadcast(buf, root, name)

    def allgather(self, buf, name=None):
        if backend.is_cupy_array(buf):
            return self._device_allgather(backend.cupy().ascontiguousarray(buf), name)
        return self.inner.allgather(buf, name)

    def _allgather(self, buf, name):
        return self.inner.allgather(buf, name)

    def _barrier(self, name):
        self.inner.barrier(name)

    def _allgather_object(self, obj):
        return self.inner.allgather_object(obj)

    def _broadcast_object(self, obj, root):
        return self.inner.broadcast_object(obj, root)

    @property
    def watchdog(self):
        return self.inner.watchdog

    def host_names(self):
        return self.inner.host_names()

    def local_rank_and_size(self):
        return self.inner.local_rank_and_size()

    def abort(self, code=1):
        self.inner.abort(code)

    def end(self, code):
        self.inner.end(code)

    def close(self):
        self.inner.close()


def check_allreduce(buf, op):
    _check_buffer(buf, "allreduce")
    if op not in REDUCE_OPS:
        raise ValueError("Unknown reduction %r; use one of %s" % (op, ", ".join(REDUCE_OPS)))
    if op == "mean" and buf.dtype.kind not in "fc":
        raise TypeError("A mean all-reduce needs a floating buffer, got %s" % buf.dtype)


def _check_buffer(buf, what):
    if not isinstance(buf, np.ndarray) and not hasattr(buf, "__cuda_array_interface__"):
        raise TypeError("%s works on arrays in place, got %s" % (what, type(buf).__name__))
    if not buf.flags.c_contiguous:
        raise ValueError("%s needs a C-contiguous buffer (it works in place)" % what)


def _digest(text):
    """A signed 64-bit digest of a string (fits an int64 buffer)."""
    h = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(h, "little", signed=True)


def _ranks(rs):
    rs = sorted(rs)
    return ("rank %d" % rs[0]) if len(rs) == 1 else "ranks " + ", ".join(str(r) for r in rs)


def mismatch_message(what, per_rank_items):
    """Names each tensor whose description differs between ranks, and which ranks see what."""
    lines = []
    counts = {}
    for r, items in enumerate(per_rank_items):
        counts.setdefault(len(items), []).append(r)
    if len(counts) > 1:
        lines.append("  the number of tensors differs: " + "; ".join(
            "%d on %s" % (n, _ranks(rs)) for n, rs in sorted(counts.items())))
    longest = max(len(items) for items in per_rank_items)
    for i in range(longest):
        seen = {}
        for r, items in enumerate(per_rank_items):
            entry = items[i] if i < len(items) else ("(none)", "(missing)")
            seen.setdefault(tuple(entry), []).append(r)
        if len(seen) > 1:
            names = sorted({name for name, _ in seen})
            label = " / ".join("'%s'" % n for n in names)
            views = ["%s %s on %s" % (name, desc, _ranks(rs)) if len(names) > 1 else
                     "%s on %s" % (desc, _ranks(rs)) for (name, desc), rs in seen.items()]
            lines.append("  tensor #%d %s: %s" % (i, label, "; ".join(views)))
    return ("The ranks called %s with different tensors; the collective was not run, since it "
            "would hang or give a wrong result. Every rank must build the same model.\n%s"
            % (what, "\n".join(lines)))
