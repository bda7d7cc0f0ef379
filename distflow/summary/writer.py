"""Summary writers: TF1's `tf.summary.FileWriter` and TF2's `tf.summary.create_file_writer`.

Both write through one EventFileWriter. In data-parallel training only rank 0 writes: the caller
decides (creating a writer on other ranks would leave extra event files in the run directory).
"""
import contextlib
import threading
import time

import numpy as np

from distflow import backend
from distflow.framework.graph import Tensor
from distflow.summary.event_file import EventFileWriter
from distflow.summary.graph_export import graph_def_bytes
from distflow.summary.proto import Event, Summary, serialize
from distflow.summary.summary_ops import DEFAULT_BUCKETS, histogram_proto


def _summary_bytes(summary):
    """A serialized Summary from what users hold: what `sess.run(summary_op)` returned (a uint8
    array), a Summary message (ours or a protobuf one), or bytes."""
    if hasattr(summary, "SerializeToString") or isinstance(summary, (bytes, bytearray)):
        return serialize(summary)
    if hasattr(summary, "numpy"):  # an EagerTensor from an eagerly run summary op
        summary = summary.numpy()
    array = np.asarray(backend.to_numpy(summary))
    if array.dtype != np.uint8 or array.ndim != 1:
        raise TypeError("add_summary expects a Summary, its bytes, or the value of a summary op "
                        "(a uint8 vector); got an array of dtype %s and shape %s. Fetch the op "
                        "made by tf.summary.scalar or tf.summary.merge_all, not the tensor it "
                        "summarizes." % (array.dtype, array.shape))
    return array.tobytes()


def _graph_def_bytes(graph=None, graph_def=None):
    if graph is not None:
        if hasattr(graph, "get_operations"):
            return graph_def_bytes(graph)
        graph_def = graph  # TF1 also accepts a GraphDef in the graph argument
    return serialize(graph_def)


def _step(step):
    if step is None:
        return 0
    if hasattr(step, "numpy"):  # an EagerTensor or eager Variable
        step = step.numpy()
    return int(np.asarray(backend.to_numpy(step)))


# -- TF1 -------------------------------------------------------------------------------------------
class FileWriter:
    """`tf.summary.FileWriter(logdir, sess.graph)`: an event file with the graph and summaries.

    add_summary takes what `sess.run(tf.summary.merge_all())` returns. Events reach the disk every
    `flush_secs` seconds or `max_queue` events, and on flush() and close()."""

    def __init__(self, logdir, graph=None, max_queue=10, flush_secs=120, graph_def=None,
                 filename_suffix=None, session=None):
        self._logdir = str(logdir)
        self._options = dict(max_queue=max_queue, flush_secs=flush_secs,
                             filename_suffix=filename_suffix or "")
        self._writer = EventFileWriter(self._logdir, **self._options)
        if graph is not None or graph_def is not None:
            self.add_graph(graph, graph_def=graph_def)

    @property
    def path(self):
        """The event file being written (a distflow addition)."""
        return self._writer.path

    def get_logdir(self):
        return self._logdir

    def add_event(self, event):
        # As in TensorFlow, events added after close() are dropped; reopen() starts a new file.
        if not self._writer.closed:
            self._writer.add_event(event)

    def add_summary(self, summary, global_step=None):
        self.add_event(Event(wall_time=time.time(), step=_step(global_step),
                             summary=_summary_bytes(summary)))

    def add_graph(self, graph, global_step=None, graph_def=None):
        self.add_event(Event(wall_time=time.time(), step=_step(global_step),
                             graph_def=_graph_def_bytes(graph, graph_def)))

    def flush(self):
        self._writer.flush()

    def close(self):
        self._writer.close()

    def reopen(self):
        """After close(): continue in a new event file in the same directory."""
        if self._writer.closed:
            self._writer = EventFileWriter(self._logdir, **self._options)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- TF2 -------------------------------------------------------------------------------------------
class _State(threading.local):
    def __init__(self):
        self.writers = []  # the as_default() stack; the last one receives summaries
        self.step = None


_state = _State()


class SummaryWriter:
    """What `create_file_writer` returns: use it with `with writer.as_default():`."""

    def __init__(self, logdir, max_queue=10, flush_millis=120000, filename_suffix=".v2"):
        self._writer = EventFileWriter(str(logdir), max_queue=max_queue,
                                       flush_secs=flush_millis / 1000.0,
                                       filename_suffix=filename_suffix)

    @property
    def path(self):
        return self._writer.path

    @contextlib.contextmanager
    def as_default(self, step=None):
        """Makes this the writer that summary functions use; flushes it on the way out."""
        _state.writers.append(self)
        old_step = _state.step
        if step is not None:
            _state.step = step
        try:
            yield self
        finally:
            _state.step = old_step
            _state.writers.pop()
            self.flush()

    def set_as_default(self, step=None):
        _state.writers.append(self)
        if step is not None:
            _state.step = step

    def init(self):
        pass  # the file is opened by the constructor

    def write_summary(self, summary, step):
        if not self._writer.closed:
            self._writer.add_event(Event(wall_time=time.time(), step=_step(step),
                                         summary=serialize(summary)))

    def write_graph_def(self, graph_def_bytes_):
        if not self._writer.closed:
            self._writer.add_event(Event(wall_time=time.time(), graph_def=graph_def_bytes_))

    def flush(self):
        self._writer.flush()

    def close(self):
        self._writer.close()


class _NoopWriter:
    """`create_noop_writer()`: summaries under it are not written anywhere."""

    @contextlib.contextmanager
    def as_default(self, step=None):
        _state.writers.append(self)
        try:
            yield self
        finally:
            _state.writers.pop()

    def set_as_default(self, step=None):
        _state.writers.append(self)

    def write_summary(self, summary, step):
        pass

    def write_graph_def(self, graph_def_bytes_):
        pass

    def init(self):
        pass

    def flush(self):
        pass

    def close(self):
        pass


def create_file_writer(logdir, max_queue=None, flush_millis=None, filename_suffix=None, name=None):
    """A summary writer for `logdir` (created if needed); the file name ends in `.v2`, as TF2's."""
    return SummaryWriter(logdir, max_queue=10 if max_queue is None else max_queue,
                         flush_millis=120000 if flush_millis is None else flush_millis,
                         filename_suffix=".v2" if filename_suffix is None else filename_suffix)


def create_noop_writer():
    return _NoopWriter()


def _default_writer():
    return _state.writers[-1] if _state.writers else None


def set_step(step):
    """The step used by summary functions called without `step=` (tf.summary.experimental)."""
    _state.step = step


def get_step():
    return _state.step


def _resolve_step(step):
    if step is None:
        step = _state.step
    if step is None:
        raise ValueError("No step set. Please specify one either through the `step` argument or "
                         "through distflow.summary.experimental.set_step()")
    return step


def _host_value(data, what):
    if isinstance(data, Tensor) or hasattr(data, "_as_graph_element"):
        raise TypeError("distflow.summary.%s writes eagerly and got the symbolic tensor %s; in a "
                        "graph, use distflow.compat.v1.summary.%s and FileWriter.add_summary."
                        % (what, data.name, what))
    if hasattr(data, "numpy"):  # an EagerTensor or eager Variable
        data = data.numpy()
    return np.asarray(backend.to_numpy(data))


def scalar(name, data, step=None, description=None):
    """Writes `data` (a scalar) under tag `name` at `step` to the default writer.

    Returns False when there is no default writer (nothing is written), True otherwise. The value
    is stored as a float32 `simple_value`, which TensorBoard's Scalars tab reads."""
    writer = _default_writer()
    if writer is None:
        return False
    value = _host_value(data, "scalar")
    if value.ndim != 0:
        raise ValueError("Expected scalar shape for %s, saw shape: %s." % (name, value.shape))
    summary = Summary([Summary.Value(tag=name, simple_value=float(value))])
    writer.write_summary(summary, _resolve_step(step))
    return True


def histogram(name, data, step=None, buckets=None, description=None):
    """Writes the histogram of `data` (`buckets` equal-width buckets, 30 by default)."""
    writer = _default_writer()
    if writer is None:
        return False
    values = _host_value(data, "histogram")
    histo = histogram_proto(values, DEFAULT_BUCKETS if buckets is None else buckets, tag=name)
    writer.write_summary(Summary([Summary.Value(tag=name, histo=histo)]), _resolve_step(step))
    return True


def graph(graph_data):
    """Writes a Graph (or a GraphDef) to the default writer, for TensorBoard's Graph tab."""
    writer = _default_writer()
    if writer is None:
        return False
    writer.write_graph_def(_graph_def_bytes(graph_data))
    return True


def flush(writer=None, name=None):
    """Flushes `writer`, or the default writer."""
    writer = writer if writer is not None else _default_writer()
    if writer is not None:
        writer.flush()
