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


def log_softmax(logits):
    """float64 log-probabilities of float logits, one row per sample (stable for large logits)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def reduce_class_metrics(communicator, sum_ce, correct, count, confusion=None):
    """{cross_entropy, accuracy, count[, confusion]} from this rank's sums (cross-entropy,
    correct predictions, rows and the confusion counts), added over ranks in one all-reduce:
    the metrics of all rows, never a mean of per-rank means."""
    extra = [] if confusion is None else [np.asarray(confusion, np.float64).ravel()]
    flat = np.concatenate([np.array([sum_ce, correct, count], np.float64)] + extra)
    communicator.allreduce(flat, "sum", name="classification metric sums")
    total = int(round(flat[2]))
    out = {"cross_entropy": float(flat[0] / total) if total else float("nan"),
           "accuracy": float(flat[1] / total) if total else float("nan"), "count": total}
    if confusion is not None:
        out["confusion"] = np.rint(flat[3:]).astype(np.int64).reshape(np.shape(confusion))
    return out


def evaluate_arrays(replica, x, y, communicator, confusion=False):
    """Metrics of the replica's model on (x, y), each rank predicting its part of the rows:
    {mse, rmse, mae, count} for a regression, {cross_entropy, accuracy, count} for a classifier
    (with `confusion`, also its matrix: rows the true class, columns the predicted one)."""
    start, stop = shard_bounds(len(x), communicator.rank, communicator.size)
    if getattr(replica, "classes", None):
        k = replica.classes
        sum_ce = correct = 0.0
        counts = np.zeros((k, k), np.int64)
        for i in range(start, stop, CHUNK_ROWS):
            j = min(i + CHUNK_ROWS, stop)
            logp = log_softmax(replica.predict(x[i:j]))
            labels = np.asarray(y[i:j]).astype(np.int64)
            sum_ce -= float(logp[np.arange(len(labels)), labels].sum())
            guess = logp.argmax(axis=1)
            correct += float(np.sum(guess == labels))
            np.add.at(counts, (labels, guess), 1)
        return reduce_class_metrics(communicator, sum_ce, correct, stop - start,
                                    counts if confusion else None)
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
        shape = meta.get("input_shape") or len(meta["features"])
        replica = Replica(meta["config"], shape, meta["seed"], device=device,
                          classes=meta.get("classes"))
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
    if csv is not None and meta.get("input_shape"):
        x, y = csv_features(csv, meta)
        x = x.reshape((-1,) + tuple(meta["input_shape"]))
        source = csv
    elif csv is not None:
        x, y = csv_features(csv, meta)
        source = csv
    else:
        config = meta["config"]
        dataset = inputs.load_dataset(config)
        chosen = [s for s in inputs.splits(config, len(dataset.y), dataset.keras_train)
                  if s.name == meta["split"]]
        if not chosen:
            raise ConfigError("the checkpoint's split %r cannot be rebuilt from its config"
                              % meta["split"])
        split_ix = chosen[0].train if split == "train" else chosen[0].test
        x, y = dataset.x[split_ix], dataset.y[split_ix]
        source = "%s split (%s)" % (split, meta["split"])
    if scaler is not None:
        x = scaler.transform(x)
    if meta.get("pixel_scale") is not None:
        x = inputs.scale_pixels(x, meta["pixel_scale"])
    if meta.get("classes"):
        y = np.asarray(y, np.float64)
        bad = (y != np.floor(y)) | (y < 0) | (y >= meta["classes"])
        if bad.any():
            raise ConfigError("%s: the %s column must hold class numbers 0..%d, found %s"
                              % (source, meta["target"], meta["classes"] - 1,
                                 "%g" % y[bad][0]))
    y = y.astype(np.int32 if meta.get("classes") else np.float32)
    result = evaluate_arrays(replica, x.astype(np.float32), y, communicator)
    replica.close()
    result.update(checkpoint=meta["path"], data=source, epoch=meta["epoch"], step=meta["step"])
    return result
