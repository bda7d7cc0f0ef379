"""Graph → GraphDef (read back with TensorBoard's protobuf classes) and Graph → Graphviz DOT."""
import re
import shutil
import subprocess

import numpy as np
import pytest

import distflow.compat.v1 as tf
from distflow.framework.tensor_shape import TensorShape
from distflow.ops import dispatch
from distflow.ops.registry import NOT_DIFFERENTIABLE, REGISTRY, op_def
from distflow.summary import graph_def_bytes, graph_to_dot

graph_pb2 = pytest.importorskip("tensorboard.compat.proto.graph_pb2")
from tensorboard.util import tensor_util  # noqa: E402

# A two-output op of this test's own, so an input like "halves:1" can be checked without
# depending on which multi-output ops the library has.
_PAIR = "SummaryTestHalves"
if _PAIR not in REGISTRY:
    op_def(_PAIR, infer=lambda x: [(TensorShape([None]), x.dtype)] * 2,
           forward=lambda xp, x: (x[: len(x) // 2], x[len(x) // 2:]), grad=NOT_DIFFERENTIABLE)


def _small_graph():
    """x (placeholder) and c (const) → prod = x * c; halves of prod; out = halves:0 + halves:1,
    in scope "layer", run after `init` (a control dependency)."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None], name="x")
        c = tf.constant([2.0, 3.0, 4.0, 5.0], name="c")
        prod = tf.multiply(x, c, name="prod")
        a, b = dispatch.apply(REGISTRY[_PAIR], [prod], name="halves")
        init = tf.no_op(name="init")
        with tf.name_scope("layer"), tf.control_dependencies([init]):
            tf.add(a, b, name="out")
    return g


def _parsed(graph):
    return graph_pb2.GraphDef.FromString(graph_def_bytes(graph))


def test_nodes_ops_and_inputs_come_back_exactly():
    g = _small_graph()
    add_type = g.get_operation_by_name("layer/out").type  # Add (TF1) or AddV2, the library's pick
    got = [(n.name, n.op, list(n.input)) for n in _parsed(g).node]
    assert got == [("x", "Placeholder", []),
                   ("c", "Const", []),
                   ("prod", "Mul", ["x", "c"]),
                   ("halves", _PAIR, ["prod"]),
                   ("init", "NoOp", []),
                   ("layer/out", add_type, ["halves", "halves:1", "^init"])]


def test_attrs_dtype_shapes_and_const_value():
    nodes = {n.name: n for n in _parsed(_small_graph()).node}
    x = nodes["x"].attr
    assert x["dtype"].type == 1  # DT_FLOAT
    assert [d.size for d in x["shape"].shape.dim] == [-1]
    assert [[d.size for d in s.dim] for s in x["_output_shapes"].list.shape] == [[-1]]
    c = tensor_util.make_ndarray(nodes["c"].attr["value"].tensor)
    np.testing.assert_array_equal(c, np.array([2, 3, 4, 5], dtype=np.float32))
    assert [[d.size for d in s.dim] for s in nodes["halves"].attr["_output_shapes"].list.shape] \
        == [[-1], [-1]]
    assert "_output_shapes" not in nodes["init"].attr  # an op without outputs has no shapes


@pytest.mark.parametrize("dtype, enum", [(tf.float32, 1), (tf.float64, 2), (tf.int32, 3),
                                         (tf.uint8, 4), (tf.int16, 5), (tf.int8, 6),
                                         (tf.int64, 9), (tf.bool, 10), (tf.float16, 19)])
def test_dtype_enums_are_tensorflows(dtype, enum):
    g = tf.Graph()
    with g.as_default():
        tf.placeholder(dtype, [2, 3], name="p")
    node, = _parsed(g).node
    assert node.attr["dtype"].type == enum
    assert [d.size for d in node.attr["_output_shapes"].list.shape[0].dim] == [2, 3]


def test_big_constants_are_written_without_their_values():
    g = tf.Graph()
    with g.as_default():
        tf.constant(np.zeros(5000, np.float32), name="big")
    node, = _parsed(g).node
    assert "value" not in node.attr and node.attr["dtype"].type == 1


def test_unknown_rank_shape():
    g = tf.Graph()
    with g.as_default():
        tf.placeholder(tf.float32, None, name="p")
    node, = _parsed(g).node
    assert node.attr["_output_shapes"].list.shape[0].unknown_rank


# -- DOT -------------------------------------------------------------------------------------------
_NODE = re.compile(r'^\s*"([^"]+)" \[label="([^"]*)"')
_EDGE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)" \[(.*)\];$')


def test_dot_has_every_node_edge_and_scope():
    text = graph_to_dot(_small_graph())
    lines = text.splitlines()
    assert lines[0].startswith("digraph") and lines[-1] == "}"
    nodes = {m.group(1): m.group(2) for m in map(_NODE.match, lines) if m}
    assert set(nodes) == {"x", "c", "prod", "halves", "init", "layer/out"}
    assert nodes["prod"] == "prod\\nMul" and nodes["layer/out"].startswith("out\\nAdd")
    edges = [(m.group(1), m.group(2), m.group(3)) for m in map(_EDGE.match, lines) if m]
    data = {(s, d) for s, d, attrs in edges if "dashed" not in attrs}
    control = {(s, d) for s, d, attrs in edges if "dashed" in attrs}
    assert data == {("x", "prod"), ("c", "prod"), ("prod", "halves"), ("halves", "layer/out")}
    assert control == {("init", "layer/out")}
    labels = sorted(a for s, d, a in edges if (s, d) == ("halves", "layer/out"))
    assert labels == ['label="(?,)"', 'label="1: (?,)"']
    # The scope is a cluster holding its node.
    start = lines.index('  subgraph "cluster_layer" {')
    assert lines[start + 2].strip().startswith('"layer/out"') and lines[start + 3] == "  }"


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graphviz_accepts_the_dot_text():
    out = subprocess.run(["dot", "-Tsvg"], input=graph_to_dot(_small_graph()).encode(),
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    assert b"layer/out" in out.stdout
