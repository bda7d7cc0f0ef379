"""`train(config)`: the training loop of `distflow train`, alone or on every rank of an MPI job.

Every rank builds the same graph replica from the same seed; rank 0's variables (fresh, or from
the latest checkpoint) are broadcast once and a cross-rank checksum confirms the replicas agree.
Each step every rank feeds its part of the global batch (replica.py explains the loss and the
one all-reduce); the order of the rows is a function of (seed, epoch), computed by every rank.

Checkpoints are written at epoch boundaries, so the state they hold (variables, optimizer slots
and counters, epoch and step, the standardization) plus (seed, epoch) determines everything that
follows: a run killed at any moment and resumed from its latest checkpoint replays the lost
epochs exactly, and ends with the parameters an uninterrupted run ends with. Rank 0 reads the
checkpoint and the broadcast hands it to the others, so a run resumes on any number of ranks.
"""
import copy
import math
import os
import time

import numpy as np

from distflow import data
from distflow.data.batching import shard_bounds, shard_index_list
from distflow.distribute.variables import broadcast_variables, variables_checksum
from distflow.run import checkpoint, inputs, rundir, world
from distflow.run.config import ConfigError, dump
from distflow.run.evaluate import evaluate_arrays, reduce_class_metrics, reduce_metrics
from distflow.run.metrics_log import RunLog, read_history
from distflow.run.progress import Progress
from distflow.run.replica import Replica, dropout_masks

CHECKPOINT_DIR = "checkpoints"
SUMMARY_FILE = "summary.json"
CONFUSION_FILE = "confusion.png"
FORMAT = 2  # 2: a checksum inside every checkpoint


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; `step` is the global step (1-based) that produced it."""

    def __init__(self, message, step):
        super().__init__(message)
        self.step = step


def train(config, resume=False, output=None, device=None, progress=True):
    """Trains the model a validated config describes; returns its final metrics (on every rank).

    One split: {test_mse, test_rmse, test_mae, train_*, epochs, steps, time_s, samples_per_s,
    ranks, devices, run_dir}. K folds or repeated splits: one model each, and the mean and the
    (population) standard deviation of the test metrics as test_rmse_mean, test_rmse_std, ...,
    with every split's metrics under "splits".
    """
    config = copy.deepcopy(config)
    if output is not None:
        config["output"]["dir"] = os.fspath(output)
    if device is not None:
        config["device"] = device
    if config["data"]["csv"]:
        config["data"]["csv"] = os.path.abspath(config["data"]["csv"])
    ctx = world.join(config)
    dataset = inputs.load_dataset(config)
    split_list = inputs.splits(config, len(dataset.y), dataset.keras_train)
    devices = ctx.communicator.allgather_object(ctx.device)
    opened = None
    if ctx.rank == 0:
        opened = rundir.open_run(config["output"]["dir"], output is not None, resume, config,
                                 dump)
        for note in opened.notes:
            world.say("distflow: " + note)
    problem, run_dir = ctx.communicator.broadcast_object(
        (opened.problem, opened.run_dir) if opened else None)
    if problem:
        raise ConfigError(problem)
    config["output"]["dir"] = run_dir
    try:
        return _train_splits(config, ctx, dataset, split_list, run_dir, resume, devices, progress)
    finally:
        if opened is not None:
            opened.lock.release()


def _train_splits(config, ctx, dataset, split_list, run_dir, resume, devices, progress):
    if len(split_list) == 1:
        return _SplitRun(config, ctx, dataset, split_list[0], run_dir, resume, devices,
                         progress).fit()
    results = []
    for split in split_list:
        label = "%s/%d" % (split.name, len(split_list))
        results.append(_SplitRun(config, ctx, dataset, split, os.path.join(run_dir, split.name),
                                 resume, devices, progress, label).fit())
    return _summarize_splits(results, run_dir, ctx.rank == 0)


class _SplitRun:
    """Training one model on one split, in `run_dir`."""

    def __init__(self, config, ctx, dataset, split, run_dir, resume, devices, progress,
                 label=""):
        self.config, self.ctx, self.dataset, self.split = config, ctx, dataset, split
        self.run_dir, self.resume, self.devices, self.label = run_dir, resume, devices, label
        self.comm = ctx.communicator
        self.chief = ctx.rank == 0
        self.show_progress = progress and self.chief
        self.ckpt_dir = os.path.join(run_dir, CHECKPOINT_DIR)

    # -- set up ----------------------------------------------------------------------------------
    def _restore(self, replica):
        """Rank 0 loads the latest checkpoint (if resuming and one exists); every rank gets its
        meta. Variables reach the other ranks by the broadcast that follows."""
        meta = None
        if self.chief and self.resume:
            try:  # open_run has set damaged ones aside; one damaged since is skipped here too
                path, arrays, meta, skipped = checkpoint.newest_valid(self.ckpt_dir)
            except checkpoint.CheckpointError as e:
                path, meta = None, {"error": "cannot resume: %s" % e}
            for line in checkpoint.skipped_text(skipped if path else [], path):
                world.say("distflow: " + line)
            if path is None and meta is None:
                world.say("distflow: %sno checkpoint in %s: starting from the beginning"
                          % (self.label + ": " if self.label else "", self.ckpt_dir))
            elif path is not None:
                try:
                    replica.set_arrays(arrays)
                except ValueError as e:
                    meta = {"error": "cannot resume from %s: %s" % (path, e)}
                else:
                    meta["path"] = path
        meta = self.comm.broadcast_object(meta)
        if meta and "error" in meta:
            raise ConfigError(meta["error"])
        return meta

    def fit(self):
        config, split = self.config, self.split
        d = config["data"]
        replica = Replica(config, inputs.model_input(self.dataset), split.seed, self.comm,
                          self.ctx.device, self.dataset.classes)
        meta = self._restore(replica)
        scaler = None
        if meta and meta.get("standardizer"):
            scaler = data.Standardizer.from_dict(meta["standardizer"])
        self.prep = inputs.prepare(self.dataset, split, d["standardize"], scaler)
        broadcast_variables(replica.session, communicator=self.comm)
        variables_checksum(replica.session, communicator=self.comm)  # raises if replicas differ
        self.start_epoch = meta["epoch"] if meta else 0
        self.step = meta["step"] if meta else 0
        if meta and self.chief:
            world.say("distflow: %sresuming from %s (epoch %d, step %d)"
                      % (self.label + ": " if self.label else "", meta["path"], meta["epoch"],
                         meta["step"]))
        log = None
        if self.chief:
            log = RunLog(self.run_dir, self.start_epoch, config["output"]["tensorboard"],
                         replica.graph)
        try:
            return self._loop(replica, log)
        finally:
            if log is not None:
                log.close()
            replica.close()

    # -- the loop --------------------------------------------------------------------------------
    def _loop(self, replica, log):
        config, prep = self.config, self.prep
        tr, out = config["train"], config["output"]
        epochs, batch = tr["epochs"], tr["batch_size"]
        n = len(prep.y_train)
        steps_per_epoch = data.num_batches(n, batch, tr["drop_last"])
        if steps_per_epoch == 0:
            raise ConfigError("train.batch_size = %d with train.drop_last = true leaves no step: "
                              "the training split has only %d rows" % (batch, n))
        bar = Progress(epochs, steps_per_epoch, self.start_epoch, self.show_progress, self.label,
                       tr["log_every"])
        started, trained_samples, record = time.time(), 0, None
        try:
            for epoch in range(self.start_epoch, epochs):
                record = self._epoch(replica, epoch, bar)
                trained_samples += record["samples"]
                record["elapsed_s"] = round(time.time() - started, 3)
                last = epoch + 1 == epochs
                if last or (epoch + 1) % tr["eval_every"] == 0:
                    test = evaluate_arrays(replica, prep.x_test, prep.y_test, self.comm)
                    record.update(_metric_record("test", test))
                if log is not None:
                    log.write(record)
                bar.epoch(record)
                every = out["checkpoint_every"]
                if last or (every and (epoch + 1) % every == 0):
                    self._save(replica, epoch + 1, record)
        finally:
            bar.close()
        elapsed = time.time() - started
        return self._finish(replica, record, trained_samples, elapsed)

    def _epoch(self, replica, epoch, bar):
        tr = self.config["train"]
        prep, comm = self.prep, self.comm
        parts = shard_index_list(len(prep.y_train), tr["batch_size"], comm.rank, comm.size,
                                 self.split.seed, epoch, True, tr["drop_last"])
        sse = sae = 0.0  # this rank's sums over the epoch, reduced once at its end
        count = samples = 0
        t0 = time.time()
        for i, (idx, global_size) in enumerate(parts):
            masks = ()
            if replica.mask_units:  # model.dropout, or dropout blocks of model.layers
                start, stop = shard_bounds(global_size, comm.rank, comm.size)
                masks = dropout_masks(self.split.seed, epoch, i, global_size, start, stop,
                                      replica.mask_rates, replica.mask_units)
            # NumPy's overflow warnings would only precede our own message about a non-finite
            # loss; an empty part of a short last batch computes a harmless 0/0 in Mean's grad.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                loss, s2, s1 = replica.train_step(prep.x_train[idx], prep.y_train[idx],
                                                  global_size, masks)
            self.step += 1
            if not math.isfinite(loss):
                raise TrainingDiverged(self._nan_message(loss, epoch, i, len(parts)), self.step)
            sse, sae, count = sse + s2, sae + s1, count + len(idx)
            samples += global_size
            bar.step(epoch + 1, i + 1, self.step, loss, samples / max(time.time() - t0, 1e-9))
        seconds = time.time() - t0
        if replica.classes:  # the sums are of cross-entropy and of correct predictions
            train = reduce_class_metrics(comm, sse, sae, count)
        else:
            train = reduce_metrics(comm, sse, sae, count)
        record = {"epoch": epoch + 1, "step": self.step}
        record.update(_metric_record("train", train))
        record.update({"samples": samples, "time_s": round(seconds, 4),
                       "samples_per_s": samples / max(seconds, 1e-9)})
        return record

    def _nan_message(self, loss, epoch, i, steps):
        latest = checkpoint.latest(self.ckpt_dir) if self.chief else None
        kept = ("the last good checkpoint is %s" % latest) if latest else \
            "no checkpoint was written before it"
        return ("%sthe loss became %s at step %d (epoch %d, step %d of %d): training stopped; "
                "%s. Try a smaller optimizer.learning_rate or set optimizer.clip_norm."
                % (self.label + ": " if self.label else "", loss, self.step, epoch + 1, i + 1,
                   steps, kept))

    # -- checkpoints and the end -------------------------------------------------------------------
    def _save(self, replica, epoch, record):
        arrays = replica.get_arrays()  # every rank runs it: a Session read, no collective
        if not self.chief:
            return
        scaler = self.prep.standardizer
        meta = {"format": FORMAT, "epoch": epoch, "step": self.step, "step_in_epoch": 0,
                "ranks": self.comm.size, "split": self.split.name, "seed": self.split.seed,
                # Every random choice is drawn from a generator seeded with these integers:
                # this is the complete RNG state of the run at an epoch boundary.
                "rng": {"data_order": [self.split.seed, epoch],
                        "dropout": [self.split.seed, epoch, 0]},
                "standardizer": None if scaler is None else scaler.to_dict(),
                "features": list(self.dataset.feature_names), "target": self.dataset.target,
                "input_shape": (list(self.dataset.x.shape[1:])
                                if self.dataset.pixel_max is not None else None),
                "classes": self.dataset.classes, "pixel_scale": self._pixel_scale(),
                "config": self.config, "metrics": _plain(record)}
        checkpoint.save(self.ckpt_dir, self.step, arrays, meta, keep=self.config["output"]["keep"])

    def _pixel_scale(self):
        px = self.dataset.pixel_max
        return None if px is None else (1.0 / px if self.config["data"]["standardize"] else 1.0)

    def _finish(self, replica, record, trained_samples, elapsed):
        prep = self.prep
        test = evaluate_arrays(replica, prep.x_test, prep.y_test, self.comm, confusion=True)
        train = evaluate_arrays(replica, prep.x_train, prep.y_train, self.comm)
        result = {k: v for k, v in _metric_record("test", test).items() if k != "test_loss"}
        result["test_count"] = test["count"]
        result.update((k, v) for k, v in _metric_record("train", train).items()
                      if k != "train_loss")
        if replica.classes:
            result["test_confusion"] = test["confusion"].tolist()
        result.update({
            "epochs": self.config["train"]["epochs"], "steps": self.step,
            "time_s": round(elapsed, 3),
            "samples_per_s": trained_samples / elapsed if trained_samples else None,
            "resumed_at_epoch": self.start_epoch if self.start_epoch else None,
            "ranks": self.comm.size, "devices": self.devices, "split": self.split.name,
            "allreduce": self.comm.fused_path() if self.comm.size > 1 else None,
            "run_dir": self.run_dir})
        if self.chief:
            _write_json(os.path.join(self.run_dir, SUMMARY_FILE), result)
            if self.config["output"]["plot"]:
                from distflow.run.plot import plot_confusion, plot_history
                title = _plot_title(self.config, self.split.name)
                plot_history(read_history(self.run_dir), os.path.join(self.run_dir, "loss.png"),
                             title=title, loss_name="cross-entropy" if replica.classes else "MSE")
                if replica.classes:
                    plot_confusion(test["confusion"], os.path.join(self.run_dir, CONFUSION_FILE),
                                   title="%s: test accuracy %.4f" % (title, test["accuracy"]))
            world.say(summary_text(result, self.label))
        return result


def _metric_record(prefix, m):
    """metrics.jsonl / summary keys of one set of metrics: PREFIX_loss (what training
    minimizes) and the metrics of the task."""
    if "accuracy" in m:
        return {prefix + "_loss": m["cross_entropy"], prefix + "_cross_entropy": m["cross_entropy"],
                prefix + "_accuracy": m["accuracy"]}
    return {prefix + "_loss": m["mse"], prefix + "_mse": m["mse"], prefix + "_rmse": m["rmse"],
            prefix + "_mae": m["mae"]}


def _metrics_text(r):
    if "test_accuracy" in r:
        return ("  test accuracy %.4f, cross-entropy %.4f (%d samples); train accuracy %.4f, "
                "cross-entropy %.4f" % (r["test_accuracy"], r["test_cross_entropy"],
                                        r["test_count"], r["train_accuracy"],
                                        r["train_cross_entropy"]))
    return ("  test RMSE %.4f, MAE %.4f (%d samples); train RMSE %.4f, MAE %.4f"
            % (r["test_rmse"], r["test_mae"], r["test_count"], r["train_rmse"], r["train_mae"]))


def summary_text(r, label=""):
    devices = sorted(set(r["devices"]))
    speed = ("%s samples/s" % format(int(r["samples_per_s"]), ",")) if r["samples_per_s"] else \
        "no steps run"
    resumed = (", resumed at epoch %d" % r["resumed_at_epoch"]) if r.get("resumed_at_epoch") else ""
    path = "; gradients through %s" % r["allreduce"] if r.get("allreduce") else ""
    return ("distflow: %strained %d epoch%s (%d steps%s) in %.1f s, %s, on %d rank%s (%s%s)\n"
            "%s\n  run directory: %s"
            % (label + ": " if label else "", r["epochs"], "" if r["epochs"] == 1 else "s",
               r["steps"], resumed, r["time_s"], speed,
               r["ranks"], "" if r["ranks"] == 1 else "s", ", ".join(devices), path,
               _metrics_text(r), r["run_dir"]))


def _summarize_splits(results, run_dir, chief):
    out = {"splits": results, "ranks": results[0]["ranks"], "devices": results[0]["devices"],
           "run_dir": run_dir, "time_s": round(sum(r["time_s"] for r in results), 3)}
    lines = ["distflow: %d models (%s):" % (len(results), ", ".join(r["split"] for r in results))]
    keys = ("test_accuracy", "test_cross_entropy") if "test_accuracy" in results[0] else \
        ("test_rmse", "test_mae", "test_mse")
    for key in keys:
        values = np.array([r[key] for r in results])
        out[key + "_mean"], out[key + "_std"] = float(values.mean()), float(values.std())
        out[key + "_values"] = values.tolist()
        name = key[len("test_"):]
        label = "test " + (name.replace("_", "-") if "test_accuracy" in keys else name.upper())
        lines.append("  %s: mean %.4f, std %.4f (%s)" % (
            label, values.mean(), values.std(), ", ".join("%.4f" % v for v in values)))
    lines.append("  run directory: %s" % run_dir)
    if chief:
        _write_json(os.path.join(run_dir, SUMMARY_FILE), out)
        world.say("\n".join(lines))
    return out


def _plain(record):
    return {k: (float(v) if isinstance(v, (np.floating, float)) else v)
            for k, v in (record or {}).items()}


def _write_json(path, obj):
    import json
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def _plot_title(config, split_name):
    data, model = config["data"], config["model"]
    what = data["dataset"] if data["dataset"] != "csv" else os.path.basename(data["csv"])
    if model.get("layers"):
        return "distflow: %s, %d-block model, %s (%s split)" % (
            what, len(model["layers"]), config["optimizer"]["name"], split_name)
    layers = "-".join(str(h) for h in model["hidden"]) or "linear"
    return "distflow: %s, hidden %s, %s (%s split)" % (what, layers, config["optimizer"]["name"],
                                                    split_name)
