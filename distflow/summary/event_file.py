"""Event files: TFRecord-framed Event protos in `events.out.tfevents.<seconds>.<hostname>`.

Each record is (all little-endian)
    uint64 length | uint32 masked_crc32c(length bytes) | data[length] | uint32 masked_crc32c(data)
so a reader can tell a record cut short by a crash (or still being written) from a complete one.
TensorBoard polls the files of a log directory and reads new records as they appear; the first
record of a file says which format follows (`file_version = "brain.Event:2"`).
"""
import os
import socket
import struct
import threading
import time
import weakref

from distflow.summary.crc32c import masked_crc32c
from distflow.summary.proto import Event, serialize

FILE_VERSION = "brain.Event:2"


def frame_record(data):
    """One TFRecord: the length and the data, each followed by its masked CRC32C."""
    header = struct.pack("<Q", len(data))
    return (header + struct.pack("<I", masked_crc32c(header)) + data
            + struct.pack("<I", masked_crc32c(data)))


def _create_event_file(logdir, suffix):
    """Opens a new event file, named as TensorFlow names them. Two writers started in the same
    second in one directory would pick the same name: the second gets `.1`, `.2`, ... appended."""
    base = "events.out.tfevents.%010d.%s" % (int(time.time()), socket.gethostname())
    for n in range(1000):
        path = os.path.join(logdir, base + ("" if n == 0 else ".%d" % n) + suffix)
        try:
            return open(path, "xb"), path
        except FileExistsError:
            continue
    raise FileExistsError("Could not find a free event file name in %s" % logdir)


class EventFileWriter:
    """Appends events to one new file in `logdir`.

    Records are buffered and reach the disk when `max_queue` of them are waiting, when `flush_secs`
    have passed since the last flush (checked at each write), on flush() and on close(), as with
    TensorFlow's writer. The first record is flushed at once so TensorBoard sees the run appear.
    """

    def __init__(self, logdir, max_queue=10, flush_secs=120, filename_suffix=""):
        os.makedirs(logdir, exist_ok=True)
        self.logdir = logdir
        self._file, self.path = _create_event_file(logdir, filename_suffix or "")
        # Closes (and so flushes) the file if the writer is dropped or the interpreter exits.
        self._finalizer = weakref.finalize(self, self._file.close)
        self._lock = threading.Lock()
        self._max_queue = max(1, int(max_queue))
        self._flush_secs = flush_secs
        self._pending = 0
        self._last_flush = time.monotonic()
        self.add_event(Event(wall_time=time.time(), file_version=FILE_VERSION))
        self.flush()

    @property
    def closed(self):
        return self._file.closed

    def add_event(self, event):
        """Writes one Event (ours, a protobuf Event, or its serialized bytes)."""
        self.write_record(serialize(event))

    def write_record(self, data):
        with self._lock:
            if self._file.closed:
                raise ValueError("Cannot write to the closed event file %s" % self.path)
            self._file.write(frame_record(data))
            self._pending += 1
            due = time.monotonic() - self._last_flush >= self._flush_secs
            if self._pending >= self._max_queue or due:
                self._flush_locked()

    def flush(self):
        with self._lock:
            if not self._file.closed:
                self._flush_locked()

    def _flush_locked(self):
        self._file.flush()
        self._pending = 0
        self._last_flush = time.monotonic()

    def close(self):
        with self._lock:
            self._finalizer()  # closes the file once, and forgets it
