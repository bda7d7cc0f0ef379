"""A distflow Graph as TensorFlow's GraphDef (for TensorBoard's Graph tab) and as Graphviz DOT.

GraphDef{node=1 [NodeDef], versions=4 VersionDef{producer=1}}
NodeDef{name=1, op=2, input=3 [...], device=4, attr=5 map<string, AttrValue>}
An input names the producing tensor as TensorFlow writes it: `op` for output 0, `op:1` for output
1, and `^op` for a control dependency, after the data inputs. TensorBoard groups nodes into boxes by
the `/`-separated scopes of their names, and labels edges with the `_output_shapes` attr.
"""
import numpy as np

from distflow.framework.dtypes import DType
from distflow.framework.tensor_shape import TensorShape
from distflow.summary import proto
from distflow.summary.proto import (bytes_field, float_field, int_field, message_field,
                                    packed_floats, packed_varints)

# TensorFlow's GraphDef version that tensorboardX and PyTorch also write for non-TF graphs.
PRODUCER_VERSION = 22
# A Const larger than this is written without its value: the Graph tab only shows node details,
# and a big table of numbers would swell the event file for nothing.
MAX_CONST_ELEMENTS = 1024


def input_name(tensor):
    """`op` for output 0 and `op:N` otherwise, as in a TensorFlow NodeDef."""
    if tensor.value_index == 0:
        return tensor.op.name
    return "%s:%d" % (tensor.op.name, tensor.value_index)


def _dims(shape):
    return None if shape.rank is None else [d.value for d in shape.dims]


# -- AttrValue{list=1, s=2, i=3, f=4, b=5, type=6, shape=7, tensor=8} ------------------------------
def attr_value(value):
    """The encoded AttrValue of a Python attr, or None for values a GraphDef cannot hold."""
    if isinstance(value, (bool, np.bool_)):
        return int_field(5, bool(value), always=True)
    if isinstance(value, (int, np.integer)):
        return int_field(3, int(value), always=True)
    if isinstance(value, (float, np.floating)):
        return float_field(4, float(value), always=True)
    if isinstance(value, (str, bytes)):
        return bytes_field(2, value, always=True)
    if isinstance(value, DType):
        if value.name not in proto.DATA_TYPE:
            return None
        return int_field(6, proto.data_type(value), always=True)
    if isinstance(value, TensorShape):
        return message_field(7, proto.tensor_shape_proto(_dims(value)))
    if isinstance(value, np.ndarray):
        if value.size > MAX_CONST_ELEMENTS or value.dtype.name not in proto.DATA_TYPE:
            return None
        return message_field(8, proto.tensor_proto(value))
    if isinstance(value, (list, tuple)):
        return _list_attr_value(value)
    return None


def _list_attr_value(items):
    """AttrValue.ListValue{s=2, i=3, f=4, b=5, type=6, shape=7}, for lists of one kind only."""
    if not items:
        return message_field(1, b"")
    if all(isinstance(v, (bool, np.bool_)) for v in items):
        body = packed_varints(5, [bool(v) for v in items])
    elif all(isinstance(v, (int, np.integer)) for v in items):
        body = packed_varints(3, items)
    elif all(isinstance(v, (float, np.floating, int, np.integer)) for v in items):
        body = packed_floats(4, items)
    elif all(isinstance(v, str) for v in items):
        body = b"".join(bytes_field(2, v, always=True) for v in items)
    elif all(isinstance(v, DType) and v.name in proto.DATA_TYPE for v in items):
        body = packed_varints(6, [proto.data_type(v) for v in items])
    elif all(isinstance(v, TensorShape) for v in items):
        body = b"".join(message_field(7, proto.tensor_shape_proto(_dims(v))) for v in items)
    else:
        return None
    return message_field(1, body)


def node_attrs(op):
    """The op's own attrs that a GraphDef can hold, plus `dtype` and `_output_shapes`."""
    attrs = {}
    for name, value in sorted(op.attrs.items()):
        encoded = attr_value(value)
        if encoded is not None:
            attrs[name] = encoded
    if op.outputs:
        # The element type of the first output. TensorFlow calls it `T` on most ops and `dtype`
        # on sources (Const, Placeholder, VariableV2); one name keeps the Graph tab uniform.
        if "dtype" not in attrs and op.outputs[0].dtype.name in proto.DATA_TYPE:
            attrs["dtype"] = attr_value(op.outputs[0].dtype)
        attrs["_output_shapes"] = attr_value([t.shape for t in op.outputs])
    return attrs


def node_def(op):
    inputs = [input_name(t) for t in op.inputs] + ["^" + c.name for c in op.control_inputs]
    out = bytes_field(1, op.name) + bytes_field(2, op.type)
    out += b"".join(bytes_field(3, i, always=True) for i in inputs)
    out += bytes_field(4, op.device or "")
    for name, encoded in node_attrs(op).items():
        out += message_field(5, bytes_field(1, name) + message_field(2, encoded))
    return out


def graph_def_bytes(graph):
    """The serialized GraphDef of a distflow Graph, as `FileWriter.add_graph` writes it."""
    nodes = b"".join(message_field(1, node_def(op)) for op in graph.get_operations())
    return nodes + message_field(4, int_field(1, PRODUCER_VERSION))


# -- Graphviz DOT ----------------------------------------------------------------------------------
_SHAPES = {"Placeholder": "invhouse", "VariableV2": "cylinder", "Const": "plaintext"}


def _quote(s):
    return '"%s"' % str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def graph_to_dot(graph, name="distflow"):
    """The graph as Graphviz DOT text: one node per op (its name's last part and its type), nested
    clusters for name scopes, an edge per data input labelled with its shape, and dashed edges for
    control dependencies. Render it with `dot -Tsvg graph.dot -o graph.svg`."""
    ops = graph.get_operations()
    tree = {"ops": [], "scopes": {}}
    for op in ops:
        node = tree
        for part in op.name.split("/")[:-1]:
            node = node["scopes"].setdefault(part, {"ops": [], "scopes": {}})
        node["ops"].append(op)
    lines = ["digraph %s {" % _quote(name),
             "  node [shape=box, style=rounded, fontname=Helvetica, fontsize=10];",
             "  edge [fontname=Helvetica, fontsize=8];"]
    _emit_scope(tree, "", "  ", lines)
    for op in ops:
        for t in op.inputs:
            label = str(t.shape) if t.value_index == 0 else "%d: %s" % (t.value_index, t.shape)
            lines.append("  %s -> %s [label=%s];" % (_quote(t.op.name), _quote(op.name),
                                                      _quote(label)))
        for c in op.control_inputs:
            lines.append("  %s -> %s [style=dashed];" % (_quote(c.name), _quote(op.name)))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _emit_scope(node, prefix, indent, lines):
    for op in node["ops"]:
        short = op.name.rsplit("/", 1)[-1]
        attrs = "label=%s" % _quote(short if short == op.type else short + "\n" + op.type)
        if op.type in _SHAPES:
            attrs += ", shape=%s" % _SHAPES[op.type]
        lines.append("%s%s [%s];" % (indent, _quote(op.name), attrs))
    for part, child in node["scopes"].items():
        scope = prefix + part
        lines.append("%ssubgraph %s {" % (indent, _quote("cluster_" + scope)))
        lines.append("%s  label=%s; style=rounded; color=gray;" % (indent, _quote(part)))
        _emit_scope(child, scope + "/", indent + "  ", lines)
        lines.append("%s}" % indent)
