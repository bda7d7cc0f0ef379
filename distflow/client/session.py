"""Session and InteractiveSession: run parts of a graph, holding the values of its variables."""
import contextlib
import threading

import numpy as np

from distflow.client import config_proto
from distflow import backend
from distflow.backend import gpu
from distflow.client.fetch import FetchMapper
from distflow.client.plan import Plan
from distflow.framework.eager import EagerTensor
from distflow.framework.graph import Operation, Tensor, get_default_graph
from distflow.ops.state_ops import Cell


class _Defaults(threading.local):
    def __init__(self):
        self.stack = []


_defaults = _Defaults()


def get_default_session():
    return _defaults.stack[-1] if _defaults.stack else None


def default_session_for(element, session, kind):
    if session is None:
        session = get_default_session()
        if session is None:
            if kind == "operation":  # TF1's two messages differ in more than the noun
                raise ValueError("Cannot execute operation using `run()`: No default session is "
                                 "registered. Use `with sess.as_default():` or pass an explicit "
                                 "session to `run(session=sess)`")
            raise ValueError("Cannot evaluate tensor using `eval()`: No default session is "
                             "registered. Use `with sess.as_default()` or pass an explicit "
                             "session to `eval(session=sess)`")
        graph = element.graph
        if graph is not session.graph:
            raise ValueError("Cannot use the default session to evaluate tensor: the tensor's graph "
                             "is different from the session's graph. Pass an explicit session to "
                             "`eval(session=sess)`.")
    return session


class Session:
    """Runs a graph: `run(fetches, feed_dict)`. Variables' values live here, one set per session."""

    def __init__(self, target="", graph=None, config=None, device=None):
        """`device`: 'cpu' (default), 'gpu' (the current CUDA device) or 'gpu:N'. On a GPU, fed
        values move to the device once per run, variables and constants live there, and
        fetched values come back as NumPy arrays. `config` (a tf.ConfigProto) is checked and
        kept: its placement and memory options have nothing to change here."""
        config_proto.check_config(config)
        self._config = config
        self.graph = graph if graph is not None else get_default_graph()
        self.device = device or "cpu"
        self._xp = backend.xp_for_device(self.device)
        self._on_gpu = self._xp is not np
        # makes this session's GPU current around each run (None: the CPU, or a plain 'gpu')
        self._device_ctx = gpu.device_context(self.device) if self._on_gpu else None
        self._cells = {}
        self._state = {}
        self._plans = {}
        self._closed = False
        self._default_ctx = None

    # -- runtime services used by stateful kernels -------------------------------------
    def variable_cell(self, op):
        if op.opdef.variable == "eager":
            return op.attrs["variable"]
        cell = self._cells.get(op)
        if cell is None:
            cell = self._cells[op] = Cell(op.name)
        return cell

    _cell = variable_cell

    def op_state(self, op, make):
        """Per-session state of a stateful op (a random generator), shared by all plans."""
        s = self._state.get(op)
        if s is None:
            s = self._state[op] = make()
        return s

    # -- run ---------------------------------------------------------------------------------
    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Computes `fetches` (any nesting of tensors, ops and names) with `feed_dict` fed."""
        if self._device_ctx is not None:
            with self._device_ctx:
                return self._run(fetches, feed_dict)
        return self._run(fetches, feed_dict)

    def _run(self, fetches, feed_dict):
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        if not self.graph._ops:
            raise RuntimeError("The Session graph is empty.  Add operations to the graph before "
                               "calling run().")
        feed_dict = feed_dict or {}
        entry = None
        try:
            key = (type(fetches), tuple(fetches) if isinstance(fetches, (list, tuple)) else fetches,
                   tuple(feed_dict))
            entry = self._plans.get(key)
        except TypeError:  # unhashable structure (dicts, nested lists): no fast lookup
            key = None
        if entry is None:
            entry = self._prepare(fetches, feed_dict)
            if key is not None:
                self._plans[key] = entry
        plan, mapper, feed_keys, checks = entry
        values = plan.run(tuple([check(feed_dict[k]) for k, check in zip(feed_keys, checks)]))
        if self._on_gpu:
            values = _to_host(values)
        values = _scalars(values)
        if mapper is None:
            return values[0]
        return mapper.build(values)

    def _prepare(self, fetches, feed_dict):
        mapper = FetchMapper(self.graph, fetches)
        feed_keys, feed_tensors, checks = [], [], []
        for key in feed_dict:
            t = _feed_tensor(self.graph, key)
            feed_keys.append(key)
            feed_tensors.append(t)
            checks.append(_feed_checker(t, self._xp if self._on_gpu else None))
        plan_key = (tuple(id(e) for e in mapper.unique), tuple(id(t) for t in feed_tensors))
        plan = self._plans.get(plan_key)
        if plan is None:
            plan = self._plans[plan_key] = Plan(self, mapper.unique, feed_tensors, self._xp)
        single = isinstance(fetches, (Tensor, Operation, str)) or hasattr(fetches, "_as_graph_element")
        return plan, None if single else mapper, feed_keys, checks

    def make_callable(self, fetches, feed_list=None, cuda_graph=False):
        """A function of the feed values alone: the fastest way to run one step repeatedly.

        cuda_graph=True (a GPU session only): the run is captured into a CUDA graph once per
        distinct fed shapes and replayed after that (client/cuda_graph.py says when a plan can
        be captured; one that cannot runs as usual, with a warning)."""
        feed_list = list(feed_list or [])
        if cuda_graph and not self._on_gpu:
            raise ValueError("cuda_graph=True needs a Session on a GPU (device='gpu'), this one "
                             "runs on %r" % self.device)
        ctx = self._device_ctx
        if ctx is not None:
            with ctx:
                plan, mapper, _, checks = self._prepare(fetches, {k: None for k in feed_list})
        else:
            plan, mapper, _, checks = self._prepare(fetches, {k: None for k in feed_list})
        runner = plan.run
        if cuda_graph:
            from distflow.client.cuda_graph import CudaGraphRunner
            runner = CudaGraphRunner(plan, self)
        on_gpu = self._on_gpu

        def call(*values):
            if self._closed:
                raise RuntimeError("Attempted to use a closed Session.")
            if ctx is not None:
                with ctx:
                    out = runner(tuple([c(v) for c, v in zip(checks, values)]))
            else:
                out = runner(tuple([c(v) for c, v in zip(checks, values)]))
            if on_gpu:
                out = _to_host(out)
            out = _scalars(out)
            return out[0] if mapper is None else mapper.build(out)
        if cuda_graph:
            call.cuda_graph = runner  # what was captured, and why not (tests, benchmarks)
        return call

    # -- life cycle --------------------------------------------------------------------------
    def close(self):
        self._closed = True
        self._plans.clear()
        self._cells.clear()

    @contextlib.contextmanager
    def as_default(self):
        _defaults.stack.append(self)
        try:
            yield self
        finally:
            _defaults.stack.remove(self)

    def __enter__(self):
        self._default_ctx = self.as_default()
        self._default_ctx.__enter__()
        return self

    def __exit__(self, *exc):
        self._default_ctx.__exit__(*exc)
        self.close()
        return False

    def list_devices(self):
        return [self.device]


class InteractiveSession(Session):
    """A Session that makes itself the default when created (for shells and notebooks)."""

    def __init__(self, target="", graph=None, config=None, device=None):
        super().__init__(target, graph, config, device)
        _defaults.stack.append(self)

    def close(self):
        super().close()
        if self in _defaults.stack:
            _defaults.stack.remove(self)


def _feed_tensor(graph, key):
    if hasattr(key, "_as_graph_element") and not isinstance(key, (Tensor, str)):
        key = key._as_graph_element()
    try:
        t = graph.as_graph_element(key, allow_tensor=True, allow_operation=False)
    except Exception as e:
        raise TypeError("Cannot interpret feed_dict key as Tensor: " + str(e.args[0] if e.args else e)) \
            from None
    return t


def _feed_checker(t, xp=None):
    """A function that validates and converts one fed value for tensor `t`; with `xp` (CuPy, for
    a GPU session) it also moves the value to the device."""
    np_dtype = np.dtype(t.dtype.as_numpy_dtype)
    dims = t.shape.as_tuple()
    name, shape_str = t.name, str(t.shape)
    if xp is not None:
        on_host = _feed_checker(t)

        def to_device(val):
            if backend.is_cupy_array(val) and val.dtype == np_dtype:  # already there: no copy
                _check_shape(val.shape, dims, name, shape_str)
                return val
            return xp.asarray(on_host(val))
        return to_device

    accepted = set()  # shapes checked already: a training loop feeds one or two

    def check(val):
        if type(val) is np.ndarray and val.dtype == np_dtype:
            arr = val
        else:
            if isinstance(val, (Tensor, EagerTensor, Operation)):
                raise TypeError(
                    "The value of a feed cannot be a tf.Tensor object. Acceptable feed values "
                    "include Python scalars, strings, lists, numpy ndarrays, or TensorHandles. "
                    "For reference, the tensor object was %s which was passed to the argument "
                    "`feed_dict` with key %s." % (val, t))
            arr = _convert_feed(val, np_dtype, t)
        s = arr.shape
        if s not in accepted:
            _check_shape(s, dims, name, shape_str)
            if len(accepted) < 16:
                accepted.add(s)
        return arr
    return check


def _check_shape(s, dims, name, shape_str):
    if dims is not None and (len(s) != len(dims) or
                             any(d is not None and d != a for d, a in zip(dims, s))):
        raise ValueError("Cannot feed value of shape %r for Tensor %r, which has shape %r"
                         % (s, name, shape_str))


def _scalars(values):
    """The results with each 0-d array as a NumPy scalar (np.float32(2.0)), as TF returns them:
    `type(sess.run(c))`, `json.dumps(float(...))` and `x.item()` users see TF's types."""
    for v in values:
        if type(v) is np.ndarray and not v.ndim:
            return tuple(v[()] if type(v) is np.ndarray and not v.ndim else v for v in values)
    return values


def _to_host(values):
    """A GPU run's results as NumPy arrays (host values, and None for ops, stay as they are)."""
    return tuple(backend.to_numpy(v) for v in values)


def _convert_feed(val, np_dtype, t):
    arr = np.asarray(backend.to_numpy(val) if backend.is_cupy_array(val) else val)
    if arr.dtype != np_dtype:
        src = arr.dtype
        ok = (np.can_cast(src, np_dtype, "same_kind") or src.kind in "iub" and np_dtype.kind in "fc"
              or src.kind == "b" and np_dtype.kind in "iu")
        if not ok:
            raise TypeError("Cannot feed value of dtype %s for Tensor %r of dtype %s: the values "
                            "would change. Cast them first (np.asarray(value, %s))."
                            % (src, t.name, t.dtype.name, t.dtype.name))
        if src.kind in "iu" and np_dtype.kind in "iu" and arr.size:
            info = np.iinfo(np_dtype)
            if arr.min() < info.min or arr.max() > info.max:
                raise TypeError("Type of feed value %r is not compatible with Tensor type %s. Try "
                                "explicitly setting the type of the feed tensor to a larger type "
                                "(e.g. int64)." % (val, t.dtype.name))
        arr = arr.astype(np_dtype)
    return arr
