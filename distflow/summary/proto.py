"""The few protocol buffer messages TensorBoard reads, encoded by hand (no protobuf dependency).

A protobuf message is a sequence of fields, each a key `(field_number << 3) | wire_type` followed by
its payload. Four wire types are enough here:
  0 varint            ints, bools and enums, 7 bits per byte, low bits first;
  1 fixed64           doubles, 8 bytes little-endian;
  2 length-delimited  strings, bytes, nested messages, packed repeated numbers: varint length, data;
  5 fixed32           floats, 4 bytes little-endian.
Proto3 leaves out fields that hold their default (0, "", empty), except members of a `oneof`, whose
presence is the information: a scalar summary of 0.0 must still be written. Field numbers follow
TensorFlow's event.proto, summary.proto, graph.proto, node_def.proto, attr_value.proto, tensor.proto
and tensor_shape.proto.
"""
import struct

import numpy as np

VARINT, FIXED64, BYTES, FIXED32 = 0, 1, 2, 5

# TensorFlow's DataType enum (types.proto), keyed by distflow's dtype names.
DATA_TYPE = {"float32": 1, "float64": 2, "int32": 3, "uint8": 4, "int16": 5, "int8": 6,
             "string": 7, "int64": 9, "bool": 10, "float16": 19}


# -- wire encoding ---------------------------------------------------------------------------------
def varint(n):
    """Base-128 varint; negative numbers take ten bytes, as int64 two's complement does."""
    n &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def key(field, wire_type):
    return varint((field << 3) | wire_type)


def int_field(field, n, always=False):
    return key(field, VARINT) + varint(int(n)) if (n or always) else b""


def double_field(field, x, always=False):
    return key(field, FIXED64) + struct.pack("<d", x) if (x or always) else b""


def float_field(field, x, always=False):
    return key(field, FIXED32) + struct.pack("<f", x) if (x or always) else b""


def bytes_field(field, data, always=False):
    """A string, bytes or an already encoded nested message."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data and not always:
        return b""
    return key(field, BYTES) + varint(len(data)) + bytes(data)


def message_field(field, encoded):
    """A nested message is always written: being present, even empty, can mean something."""
    return bytes_field(field, encoded, always=True)


def packed_varints(field, values):
    values = list(values)
    return bytes_field(field, b"".join(varint(int(v)) for v in values)) if values else b""


def packed_doubles(field, values):
    values = [float(v) for v in values]
    return bytes_field(field, struct.pack("<%dd" % len(values), *values)) if values else b""


def packed_floats(field, values):
    values = [float(v) for v in values]
    return bytes_field(field, struct.pack("<%df" % len(values), *values)) if values else b""


def serialize(message):
    """Bytes of one of our messages, of a real protobuf message, or of bytes-like data."""
    if hasattr(message, "SerializeToString"):
        return message.SerializeToString()
    if isinstance(message, (bytes, bytearray, memoryview)):
        return bytes(message)
    raise TypeError("Expected a message with SerializeToString() or bytes, got %r" % (message,))


# -- tensors and shapes (tensor_shape.proto, tensor.proto) -----------------------------------------
def data_type(dtype):
    """The DataType enum number of a DType (or dtype name)."""
    name = getattr(dtype, "name", dtype)
    try:
        return DATA_TYPE[name]
    except KeyError:
        raise TypeError("No TensorFlow DataType for dtype %r" % (dtype,)) from None


def tensor_shape_proto(dims):
    """TensorShapeProto{dim=2 [Dim{size=1}], unknown_rank=3}; `dims` is None (unknown rank) or a
    sequence of ints and Nones. An unknown dimension is size -1, as in TensorFlow."""
    if dims is None:
        return int_field(3, True)
    return b"".join(message_field(2, int_field(1, -1 if d is None else d)) for d in dims)


def tensor_proto(array):
    """TensorProto{dtype=1, tensor_shape=2, tensor_content=4}: raw little-endian element bytes."""
    array = np.asarray(array)
    little = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return (int_field(1, data_type(array.dtype.name))
            + message_field(2, tensor_shape_proto(array.shape))
            + bytes_field(4, np.ascontiguousarray(little).tobytes()))


# -- messages users build themselves (TF1's tf.Summary and tf.Event) -------------------------------
class HistogramProto:
    """Value counts: bucket[i] counts the values in (bucket_limit[i-1], bucket_limit[i]]."""

    def __init__(self, min=0.0, max=0.0, num=0.0, sum=0.0, sum_squares=0.0, bucket_limit=(),
                 bucket=()):
        self.min, self.max, self.num, self.sum, self.sum_squares = min, max, num, sum, sum_squares
        self.bucket_limit = list(bucket_limit)
        self.bucket = list(bucket)

    def SerializeToString(self):
        return (double_field(1, self.min) + double_field(2, self.max) + double_field(3, self.num)
                + double_field(4, self.sum) + double_field(5, self.sum_squares)
                + packed_doubles(6, self.bucket_limit) + packed_doubles(7, self.bucket))


class _SummaryValue:
    """Summary.Value{tag=1, simple_value=2 | histo=5}; the value is a oneof, written even if 0."""

    def __init__(self, tag="", simple_value=None, histo=None, node_name=""):
        self.tag = tag
        self.node_name = node_name
        self.simple_value = simple_value
        self.histo = histo

    def SerializeToString(self):
        out = bytes_field(1, self.tag)
        if self.simple_value is not None:
            out += float_field(2, float(self.simple_value), always=True)
        if self.histo is not None:
            out += message_field(5, serialize(self.histo))
        return out + bytes_field(7, self.node_name)

    def __repr__(self):
        return "Summary.Value(tag=%r, simple_value=%r)" % (self.tag, self.simple_value)


class _ValueList(list):
    def add(self, **fields):
        """`summary.value.add(tag="loss", simple_value=0.5)`, as with a real protobuf."""
        v = _SummaryValue(**fields)
        self.append(v)
        return v


class Summary:
    """TF1's `tf.Summary`: `Summary(value=[Summary.Value(tag="loss", simple_value=0.5)])`."""

    Value = _SummaryValue

    def __init__(self, value=()):
        self.value = _ValueList(value)

    def SerializeToString(self):
        return b"".join(message_field(1, serialize(v)) for v in self.value)

    def __repr__(self):
        return "Summary(value=%r)" % (list(self.value),)


class Event:
    """Event{wall_time=1, step=2, oneof: file_version=3 | graph_def=4 | summary=5}."""

    def __init__(self, wall_time=0.0, step=0, file_version=None, graph_def=None, summary=None):
        self.wall_time = wall_time
        self.step = step
        self.file_version = file_version
        self.graph_def = graph_def
        self.summary = summary

    def SerializeToString(self):
        out = double_field(1, self.wall_time) + int_field(2, self.step)
        if self.file_version is not None:
            out += bytes_field(3, self.file_version, always=True)
        if self.graph_def is not None:
            out += bytes_field(4, serialize(self.graph_def), always=True)
        if self.summary is not None:
            out += message_field(5, serialize(self.summary))
        return out
