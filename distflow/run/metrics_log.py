"""What a run leaves behind per epoch: metrics.jsonl and TensorBoard scalars (rank 0 only).

metrics.jsonl holds one JSON object per line, one line per epoch, so a killed run leaves every
finished epoch readable and a half-written last line that `read_history` skips. On resume the
lines of epochs after the checkpoint are dropped first: those epochs are trained again, and the
file then reads as one uninterrupted run.
"""
import json
import os

from distflow import summary

METRICS_FILE = "metrics.jsonl"
# metrics.jsonl key -> TensorBoard tag; train and test share a chart per metric.
SCALARS = {"train_loss": "loss/train", "test_loss": "loss/test",
           "train_rmse": "rmse/train", "test_rmse": "rmse/test",
           "train_mae": "mae/train", "test_mae": "mae/test",
           "train_accuracy": "accuracy/train", "test_accuracy": "accuracy/test",
           "samples_per_s": "speed/samples_per_second"}


def read_history(run_dir):
    """Every complete record of metrics.jsonl, in order ([] when there is none)."""
    path = os.path.join(run_dir, METRICS_FILE)
    if not os.path.exists(path):
        return []
    records = []
    with open(path) as f:
        for line in f:
            try:
                records.append(json.loads(line))
            except ValueError:  # the last line of a run killed while writing it
                continue
    return records


def truncate_history(run_dir, through_epoch):
    """Keeps the records of epochs <= through_epoch, rewriting the file atomically."""
    path = os.path.join(run_dir, METRICS_FILE)
    if not os.path.exists(path):
        return
    kept = [r for r in read_history(run_dir) if r.get("epoch", 0) <= through_epoch]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in kept)
    os.replace(tmp, path)


class RunLog:
    """Appends epoch records to metrics.jsonl and, when asked, to a TensorBoard event file that
    also holds the training graph (for TensorBoard's Graph tab)."""

    def __init__(self, run_dir, resume_epoch=0, tensorboard=True, graph=None):
        os.makedirs(run_dir, exist_ok=True)
        self.run_dir = run_dir
        truncate_history(run_dir, resume_epoch)
        self._file = open(os.path.join(run_dir, METRICS_FILE), "a")
        self._writer = None
        if tensorboard:
            self._writer = summary.create_file_writer(run_dir)
            if graph is not None:
                self._writer.write_graph_def(summary.graph_def_bytes(graph))
                self._writer.flush()

    def write(self, record):
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()  # a record per epoch: cheap, and a killed run keeps what it did
        if self._writer is not None:
            with self._writer.as_default():
                for key, tag in SCALARS.items():
                    if record.get(key) is not None:
                        summary.scalar(tag, record[key], step=record["epoch"])

    def history(self):
        return read_history(self.run_dir)

    def close(self):
        self._file.close()
        if self._writer is not None:
            self._writer.close()
