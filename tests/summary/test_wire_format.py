"""The hand-written encoders against independent references: published CRC32C vectors, and
TensorBoard's own protobuf classes and record writer (which we do not use at run time)."""
import io
import os
import struct

import numpy as np
import pytest

from distflow.summary import proto
from distflow.summary.crc32c import crc32c, masked_crc32c
from distflow.summary.event_file import frame_record

event_pb2 = pytest.importorskip("tensorboard.compat.proto.event_pb2")
from tensorboard.compat.proto import graph_pb2, summary_pb2, tensor_shape_pb2  # noqa: E402
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow as tb_stub  # noqa: E402
from tensorboard.summary.writer.record_writer import RecordWriter  # noqa: E402


# -- CRC32C ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("data, expected", [
    (b"", 0x00000000),
    (b"123456789", 0xE3069283),             # the standard check value of CRC-32C
    (bytes(32), 0x8A9136AA),                # RFC 3720 (iSCSI) B.4: 32 bytes of zeros
    (b"\xff" * 32, 0x62A8AB43),             # ... 32 bytes of ones
    (bytes(range(32)), 0x46DD794E),         # ... incrementing bytes
    (bytes(range(31, -1, -1)), 0x113FDB5C), # ... decrementing bytes
])
def test_crc32c_known_vectors(data, expected):
    assert crc32c(data) == expected


def test_crc32c_can_continue_a_previous_result():
    data = os.urandom(1000)
    assert crc32c(data[400:], crc32c(data[:400])) == crc32c(data)


def test_masked_crc_matches_tensorboard():
    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 8, 100, 4096):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert masked_crc32c(data) == tb_stub.masked_crc32c(data)


def test_record_framing_is_byte_identical_to_tensorboards_writer():
    data = os.urandom(300)
    buf = io.BytesIO()
    RecordWriter(buf).write(data)
    assert frame_record(data) == buf.getvalue()
    length, = struct.unpack("<Q", frame_record(data)[:8])
    assert length == 300


# -- protobuf encoding -----------------------------------------------------------------------------
@pytest.mark.parametrize("n, encoded", [(0, b"\x00"), (1, b"\x01"), (127, b"\x7f"),
                                        (128, b"\x80\x01"), (300, b"\xac\x02"),
                                        (-1, b"\xff" * 9 + b"\x01")])
def test_varint(n, encoded):
    assert proto.varint(n) == encoded


def test_summary_bytes_equal_protobufs_own_serialization():
    ours = proto.Summary([proto.Summary.Value(tag="loss", simple_value=0.25),
                          proto.Summary.Value(tag="zero", simple_value=0.0)])
    ref = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="loss", simple_value=0.25),
                                     summary_pb2.Summary.Value(tag="zero", simple_value=0.0)])
    assert ours.SerializeToString() == ref.SerializeToString()
    # A scalar of 0.0 is a oneof member: it must be on the wire, or TensorBoard sees no value.
    back = summary_pb2.Summary.FromString(ours.SerializeToString())
    assert back.value[1].WhichOneof("value") == "simple_value"


def test_value_add_like_protobuf():
    s = proto.Summary()
    s.value.add(tag="acc", simple_value=0.5)
    back = summary_pb2.Summary.FromString(s.SerializeToString())
    assert [(v.tag, v.simple_value) for v in back.value] == [("acc", 0.5)]


def test_event_bytes_equal_protobufs_own_serialization():
    summary = proto.Summary([proto.Summary.Value(tag="a/b", simple_value=-3.5)])
    ours = proto.Event(wall_time=1700000000.25, step=2**40, summary=summary)
    ref = event_pb2.Event(wall_time=1700000000.25, step=2**40,
                          summary=summary_pb2.Summary.FromString(summary.SerializeToString()))
    assert ours.SerializeToString() == ref.SerializeToString()
    ours = proto.Event(wall_time=1.5, file_version="brain.Event:2")
    assert ours.SerializeToString() == event_pb2.Event(
        wall_time=1.5, file_version="brain.Event:2").SerializeToString()


def test_histogram_proto_round_trips():
    h = proto.HistogramProto(min=-1.0, max=2.0, num=3.0, sum=1.5, sum_squares=5.25,
                             bucket_limit=[0.0, 1.0, 2.0], bucket=[1.0, 0.0, 2.0])
    back = summary_pb2.HistogramProto.FromString(h.SerializeToString())
    assert (back.min, back.max, back.num, back.sum, back.sum_squares) == (-1, 2, 3, 1.5, 5.25)
    assert list(back.bucket_limit) == [0, 1, 2] and list(back.bucket) == [1, 0, 2]


def test_tensor_shape_with_unknown_dims_and_rank():
    back = tensor_shape_pb2.TensorShapeProto.FromString(proto.tensor_shape_proto([None, 3, 0]))
    assert [d.size for d in back.dim] == [-1, 3, 0] and not back.unknown_rank
    back = tensor_shape_pb2.TensorShapeProto.FromString(proto.tensor_shape_proto(None))
    assert back.unknown_rank and not back.dim


def test_tensor_proto_holds_the_array():
    from tensorboard.compat.proto import tensor_pb2
    from tensorboard.util import tensor_util
    for a in (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([True, False]),
              np.array(-7, dtype=np.int64), np.array([1.5, 2.5], dtype=np.float16)):
        t = tensor_pb2.TensorProto.FromString(proto.tensor_proto(a))
        got = tensor_util.make_ndarray(t)
        assert got.dtype == a.dtype and got.shape == a.shape
        np.testing.assert_array_equal(got, a)


def test_unknown_message_type_is_rejected():
    with pytest.raises(TypeError, match="SerializeToString"):
        proto.serialize(3.0)


def test_graph_def_versions_parse():
    from distflow.framework.graph import Graph
    from distflow.summary.graph_export import PRODUCER_VERSION, graph_def_bytes
    gd = graph_pb2.GraphDef.FromString(graph_def_bytes(Graph()))
    assert list(gd.node) == [] and gd.versions.producer == PRODUCER_VERSION
