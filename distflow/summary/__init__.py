"""TensorBoard summaries, TF2 style: `df.summary.create_file_writer` and `df.summary.scalar`.

    writer = df.summary.create_file_writer("runs/1")
    with writer.as_default():
        df.summary.scalar("loss", loss, step=epoch)

TF1's `FileWriter`, `scalar`, `merge_all` (graph ops run by a Session) are in
`distflow.compat.v1.summary` (defined in `distflow.summary.v1`). Event files are written by hand
(protobuf encoding, CRC32C, TFRecord framing) so neither TensorFlow nor protobuf is needed;
TensorBoard reads them as its own. `graph_to_dot` and `graph_def_bytes` export a Graph for Graphviz
and TensorBoard.
"""
import types as _types

from distflow.summary.graph_export import graph_def_bytes, graph_to_dot  # noqa: F401
from distflow.summary.writer import (SummaryWriter, create_file_writer,  # noqa: F401
                                     create_noop_writer, flush, get_step, graph, histogram, scalar,
                                     set_step)

experimental = _types.SimpleNamespace(__name__="experimental", get_step=get_step, set_step=set_step)
del get_step, set_step
