"""`export_graph`: the training graph a config builds, for TensorBoard and for Graphviz.

The graph is the one every rank runs during `distflow train` (forward pass, loss, gradients, the
fused all-reduce, the optimizer's updates), built here in one process with the single-rank
communicator: the graph is the same for any number of ranks.
"""
import os

from distflow import summary
from distflow.distribute.single import SingleCommunicator
from distflow.run import inputs
from distflow.run.config import ConfigError
from distflow.run.replica import Replica


def export_graph(config, out_dir):
    """Writes a TensorBoard event file and `graph.dot` into `out_dir`; returns their paths."""
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise ConfigError("--out %s cannot be created: %s" % (out_dir, e.strerror or e)) from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise ConfigError("--out %s cannot be written: permission denied" % out_dir)
    dataset = inputs.load_dataset(config)
    replica = Replica(config, inputs.model_input(dataset), config["seed"], SingleCommunicator(),
                      classes=dataset.classes)
    try:
        writer = summary.create_file_writer(out_dir)
        writer.write_graph_def(summary.graph_def_bytes(replica.graph))
        writer.close()
        dot_path = os.path.join(out_dir, "graph.dot")
        with open(dot_path, "w") as f:
            f.write(summary.graph_to_dot(replica.graph, name="distflow"))
        return {"events": writer.path, "dot": dot_path,
                "ops": len(replica.graph.get_operations())}
    finally:
        replica.close()
