"""Evaluation: exact metrics over data sharded across ranks, and `evaluate` of a saved model.

Each rank predicts its contiguous part of the rows and keeps float64 sums (squared and absolute
errors, counts); one all-reduce of those sums gives every rank the metrics over all rows, exactly
what one process computes, whatever the number of ranks.
"""
import os
import sys

import numpy as np

from distflow import data
from distflow.data.batching import shard_bounds
from distflow.nn import metrics as nn_metrics
from distflow.run import checkpoint, inputs, world
from distflow.run.config import ConfigError

CHUNK_ROWS = 8192


def reduce_metrics(communicator, sse, sae, count):
    """{mse, rmse, mae, count} from this rank's sums, reduced across ranks as sums."""
    mse, mae = nn_metrics.MeanSquaredError(), nn_metrics.MeanAbsoluteError()
    mse.set_state([sse, count])
    mae.set_state([sae, count])
    flat = nn_metrics.pack_states([mse, mae])
    communicator.allreduce(flat, "sum", name="metric sums")
    nn_metrics.unpack_states([mse, mae], flat)
    out = {"mse": mse.result(), "mae": mae.result(), "count": int(mse.count)}
    out["rmse"] = float(np.sqrt(out["mse"]))
    return out


def evaluate_arrays(replica, x, y, communicator):
    """Metrics of the replica's model on (x, y), each rank predicting its part of the rows."""
    start, stop = shard_bounds(len(x), communicator.rank, communicator.size)
    sse = sae = 0.0
    for i in range(start, stop, CHUNK_ROWS):
        j = min(i + CHUNK_ROWS, stop)
        err = replica.predict(x[i:j]) - y[i:j].astype(np.float64)
        sse += float(np.sum(err * err))
        sae += float(np.sum(np.abs(err)))
    return reduce_metrics(communicator, sse, sae, stop - start)


# -- saved runs --------------------------------------------------------------------------------
def find_checkpoint(path):
    """(checkpoint path, arrays, meta) for a checkpoint file, or for a run directory its newest
    checkpoint that is whole: newer damaged ones are skipped, each named on stderr with why."""
    if os.path.isfile(path):
        try:
            arrays, meta = checkpoint.load(path)
        except checkpoint.CheckpointError as e:
            raise ConfigError("%s is not a usable distflow checkpoint: %s" % (path, e)) from None
        return path, arrays, meta
    if not os.path.isdir(path):
        raise ConfigError("%s: no such checkpoint file or run directory" % path)
    for where in (os.path.join(path, "checkpoints"), path):
        try:
            found, arrays, meta, skipped = checkpoint.newest_valid(where)
        except checkpoint.CheckpointError as e:
            raise ConfigError(str(e)) from None
        if found:
            for line in checkpoint.skipped_text(skipped, found):
                world.say("distflow: " + line, file=sys.stderr)
            return found, arrays, meta
    folds = sorted(d for d in os.listdir(path)
                   if os.path.isdir(os.path.join(path, d, "checkpoints")))
    if folds:
        raise ConfigError("%s holds one model per fold or split (%s): name one of them, e.g. %s"
                          % (path, ", ".join(folds), os.path.join(path, folds[0])))
    raise ConfigError("%s: no checkpoint (ckpt-*.npz) here or in %s"
                      % (path, os.path.join(path, "checkpoints")))


def load_model(path, communicator=None, device="cpu"):
    """(replica with the saved weights, meta) from a checkpoint or run directory."""
    from distflow.run.replica import Replica
    ckpt, arrays, meta = find_checkpoint(path)
    try:
        replica = Replica(meta["config"], len(meta["features"]), meta["seed"], device=device)
    except (KeyError, TypeError) as e:
        raise ConfigError("%s is not a distflow run's checkpoint (no %s in its metadata)"
                          % (ckpt, e)) from None
    replica.set_arrays(arrays, replica.model_variables)
    meta["path"] = ckpt
    return replica, meta


def standardizer_of(meta):
    return None if meta.get("standardizer") is None else \
        data.Standardizer.from_dict(meta["standardizer"])


def csv_features(path, meta, need_target=True):
    """(x, y or None) of a CSV file, with the columns the model was trained on."""
    if not os.path.exists(path):
        raise ConfigError("--csv %s: no such file" % path)
    names = list(meta["features"]) + ([meta["target"]] if need_target else [])
    try:
        _, table = data.read_csv_columns(path, names)
    except data.DataError as e:
        raise ConfigError("--csv %s cannot be used: %s" % (path, e)) from None
    if need_target:
        return table[:, :-1], table[:, -1]
    return table, None


def evaluate(path, csv=None, split="test", communicator=None, device="cpu"):
    """Metrics {mse, rmse, mae, count} of a saved model on its run's train or test split, or on
    a CSV file that has the model's feature columns and its target column."""
    if split not in ("train", "test"):
        raise ConfigError("--split %r is not allowed: expected train or test" % split)
    if communicator is None:
        from distflow.distribute import runtime
        communicator = runtime.init().communicator
    replica, meta = load_model(path, device=device)
    scaler = standardizer_of(meta)
    if csv is not None:
        x, y = csv_features(csv, meta)
        source = csv
    else:
        config = meta["config"]
        dataset = inputs.load_dataset(config)
        chosen = [s for s in inputs.splits(config, len(dataset.y)) if s.name == meta["split"]]
        if not chosen:
            raise ConfigError("the checkpoint's split %r cannot be rebuilt from its config"
                              % meta["split"])
        split_ix = chosen[0].train if split == "train" else chosen[0].test
        x, y = dataset.x[split_ix], dataset.y[split_ix]
        source = "%s split (%s)" % (split, meta["split"])
    if scaler is not None:
        x = scaler.transform(x)
    result = evaluate_arrays(replica, x.astype(np.float32), y.astype(np.float32), communicator)
    replica.close()
    result.update(checkpoint=meta["path"], data=source, epoch=meta["epoch"], step=meta["step"])
    return result
