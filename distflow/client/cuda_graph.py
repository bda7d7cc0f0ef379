"""CUDA graphs: one Session plan's run on a GPU, captured once and then replayed with one launch.

A training step of a small model is a few hundred tiny kernels, and launching each one from
Python costs more than the kernel itself. CUDA's stream capture records the kernels of one run
(and the NCCL all-reduce among them) into a graph that the GPU replays with a single launch and
no Python at all. That is valid only when every replay may touch exactly the memory the capture
saw, so the runner keeps these rules:

  * Fixed addresses. Fed values are copied into input buffers the graph owns. Variables must be
    updated in place: a plan whose update would replace a variable's array is not captured, and
    a variable whose array was replaced since the capture (Variable.load, a restored checkpoint)
    makes the runner drop its graphs and capture again. The arrays a run allocates come, during
    the capture, from a memory pool of the graph's own that nothing else allocates from, so a
    replay writes only memory that belongs to the graph (PyTorch's private graph pools).
  * Fixed shapes. One graph per distinct tuple of fed shapes: the short last batch of an epoch
    gets a graph of its own. Past MAX_GRAPHS shapes, new shapes run without a graph.
  * Nothing on the host inside the run. Random ops (drawn on the host), ops with other host code,
    and all-reduces through host memory (MPI, host-staged) cannot be captured: a plan with one is
    not captured (`reason` says why). An op that reads a device value on the host (a data-
    dependent shape) makes the capture fail, and so does a host value that would move to the
    device (backend/gpu.py refuses it during a capture: the graph would replay the copy from a
    host buffer long gone). The runner then warns once, with the reason, and runs the plan as
    usual from then on.
  * Warm-up. The first WARMUP_RUNS runs with new shapes run as usual: they compile CuPy's
    kernels, fold the shapes (client/specialize.py), allocate the all-reduce buffer and check
    its layout across ranks, none of which may happen during a capture. The next run is captured
    and replayed; every later one only replays.

Capture records and does not execute, so the run that captures then replays the graph once to
do its step. Only Session.make_callable(cuda_graph=True) uses this runner, and the Session copies
every result to the host, so the outputs a replay overwrites are never handed out.
"""
import logging
import warnings

from distflow import backend
from distflow.backend import gpu

WARMUP_RUNS = 1
MAX_GRAPHS = 8
_log = logging.getLogger("distflow.client")


def capture_refusal(plan):
    """Why `plan` cannot be captured (a sentence), or None when it can."""
    for op in plan.ops:
        opdef = op.opdef
        if not opdef.capturable:
            if "collective" in opdef.effects and "communicator" in op.attrs:
                # an all-reduce is captured when its communicator runs on the device
                comm = op.attrs["communicator"]
                if comm is not None and (comm.size == 1 or getattr(comm, "capturable", False)):
                    continue
                name = getattr(comm, "name", "default")
                return ("the all-reduce '%s' goes through the %s communicator, which uses host "
                        "memory" % (op.name, name))
            return "op '%s' (%s) runs host code in each step" % (op.name, op.type)
        if opdef.ref_inputs and opdef.inplace is None:
            return ("op '%s' (%s) replaces its variable's array instead of updating it in place"
                    % (op.name, op.type))
        if any(op.inputs[i].op.opdef.variable == "eager" for i in opdef.ref_inputs):
            # copy on write decides at each step whether the update may be in place
            return "op '%s' (%s) updates an eager Variable" % (op.name, op.type)
    return None


def _variable_holders(plan, runtime):
    """Everything whose `_value` is a variable array the plan reads or updates."""
    holders, seen = [], set()
    for op in plan.ops:
        storage = [op] if op.opdef.variable else [op.inputs[i].op for i in op.opdef.ref_inputs]
        for var_op in storage:
            holder = runtime.variable_cell(var_op)
            if id(holder) not in seen:
                seen.add(id(holder))
                holders.append(holder)
    return holders


class _Captured:
    """One captured graph, its input buffers, its outputs and the memory it owns."""

    def __init__(self, graph, inputs, outputs, pool, holders):
        self.graph = graph
        self.inputs = inputs
        self.outputs = outputs
        self.pool = pool  # kept alive: the graph's arrays live in it
        self.arrays = [(h.read_array, h.read_array()) for h in holders]

    def still_valid(self):
        return all(read() is a for read, a in self.arrays)

    def replay(self, feeds):
        for buf, value in zip(self.inputs, feeds):
            buf[...] = value  # a device copy, queued before the graph on the current stream
        self.graph.launch()
        return self.outputs


class CudaGraphRunner:
    """Stands in for `plan.run` (feeds: a tuple of device arrays; returns the plan's results)."""

    def __init__(self, plan, runtime):
        self.plan = plan
        self.plain = plan.run
        self.reason = capture_refusal(plan)
        self.holders = _variable_holders(plan, runtime) if self.reason is None else []
        self.graphs = {}
        self.seen = {}
        self.captures = self.replays = self.plain_runs = 0
        if self.reason is not None:
            _log.info("distflow: this step runs without a CUDA graph: %s", self.reason)

    def __call__(self, feeds):
        if self.reason is None:
            key = tuple([(f.shape, f.dtype.str) for f in feeds])
            captured = self.graphs.get(key)
            if captured is not None and not captured.still_valid():
                self.graphs.clear()  # a variable's array was replaced: capture again
                self.seen.clear()
                captured = None
            if captured is None:
                captured = self._maybe_capture(key, feeds)
            if captured is not None:
                self.replays += 1
                return captured.replay(feeds)
        self.plain_runs += 1
        return self.plain(feeds)

    def _maybe_capture(self, key, feeds):
        runs = self.seen.get(key, 0)
        self.seen[key] = runs + 1
        if runs < WARMUP_RUNS or len(self.graphs) >= MAX_GRAPHS:
            return None
        captured = self._capture(feeds)
        if captured is not None:
            self.graphs[key] = captured
            self.captures += 1
        return captured

    def _capture(self, feeds):
        cp = backend.cupy()
        inputs = tuple(cp.array(f, copy=True) for f in feeds)
        pool = cp.cuda.MemoryPool()
        stream = cp.cuda.Stream(non_blocking=True)
        stream.wait_event(cp.cuda.get_current_stream().record())  # after the input copies
        try:
            with cp.cuda.using_allocator(pool.malloc), stream:
                stream.begin_capture()
                gpu.capturing = True
                try:
                    outputs = self.plain(inputs)
                finally:
                    gpu.capturing = False
                    graph = stream.end_capture()
        except Exception as e:  # noqa: BLE001 (any failure: the plan still runs without a graph)
            self.reason = "capturing it failed: %s: %s" % (type(e).__name__, e)
            warnings.warn("distflow: this step runs without a CUDA graph from now on; %s"
                          % self.reason, RuntimeWarning, stacklevel=4)
            return None
        return _Captured(graph, inputs, outputs, pool, self.holders)
