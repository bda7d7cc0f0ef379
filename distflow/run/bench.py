"""`distflow bench`: how fast this machine trains a config's model, and how fast it all-reduces.

    distflow bench configs/boston.yaml                    # step time, then all-reduce sizes
    mpirun -n 2 distflow bench configs/boston.yaml        # the same on 2 ranks
    distflow bench --what allreduce --min-bytes 8 --max-bytes 64M --json

Interface (called by distflow/cli.py): `main(argv) -> int`, where `argv` is the list of
arguments after `distflow bench` (or None for sys.argv[1:]) and the result is the exit status
(0 done, 2 bad arguments or config). Everything is printed by rank 0 only.

step       the training step of the config's model, as `distflow train` runs it (the Replica's
           compiled step: forward, backward, ONE fused all-reduce of the gradients and the loss,
           the update) on this rank's part of each global batch; the median over blocks of
           steps after a warm-up, and the global samples per second.
allreduce  the job's communicator all-reducing (sum, in place) float32 buffers from --min-bytes to
           --max-bytes, doubling, each allocated and bound as a training plan's fused gradient
           buffer is (so ranks on one host reduce big ones through shared memory, as training
           does; the `via` column says which): the median time per call, and nccl-tests' two
           bandwidths:
             algbw = bytes / time
             busbw = algbw * 2 (n - 1) / n   (the traffic of a ring all-reduce on n ranks, so
                                             busbw can be compared across rank counts and with
                                             the hardware's link speed)
           On one rank the all-reduce does nothing (busbw 0).

Timings on a shared machine are noisy: compare within one run, and see benchmarks/run.py for the
side-by-side comparison with NumPy, PyTorch and raw mpi4py.
"""
import argparse
import json
import statistics
import sys
import time

import numpy as np

from distflow.run import world
from distflow.run.config import ConfigError

DEFAULT_CONFIG = "configs/boston.yaml"
UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}


def parse_bytes(text):
    """'8', '64K', '32M', '1G' -> bytes."""
    t = str(text).strip().upper().rstrip("B")
    unit = t[-1] if t and t[-1] in UNITS else ""
    try:
        value = int(float(t[:len(t) - len(unit)]) * UNITS[unit])
    except ValueError:
        raise ConfigError("%r is not a size in bytes; allowed: a number with an optional K, M "
                          "or G suffix, e.g. 64K or 32M" % text) from None
    if value < 4:
        raise ConfigError("%r is below one float32 (4 bytes)" % text)
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ConfigError("distflow bench: " + message)


def build_parser():
    p = _Parser(prog="distflow bench", description=__doc__.split("\n\n")[0])
    p.add_argument("config", nargs="?", default=DEFAULT_CONFIG,
                   help="the YAML config whose model is timed (default: %s)" % DEFAULT_CONFIG)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable)")
    p.add_argument("--what", nargs="+", choices=("step", "allreduce"),
                   default=["step", "allreduce"], help="what to measure (default: both)")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), help="overrides the config's")
    p.add_argument("--steps", type=int, default=50, help="steps per timed block (default 50)")
    p.add_argument("--blocks", type=int, default=10, help="timed blocks (default 10)")
    p.add_argument("--warmup", type=int, default=20, help="untimed steps first (default 20)")
    p.add_argument("--min-bytes", default="8", help="smallest all-reduce (default 8)")
    p.add_argument("--max-bytes", default="32M", help="largest all-reduce (default 32M)")
    p.add_argument("--iters", type=int, default=20,
                   help="all-reduce calls per timed block (default 20; fewer for large sizes)")
    p.add_argument("--json", action="store_true", help="JSON lines instead of tables")
    return p


def median_per_call(fn, calls, blocks, sync):
    """The median over `blocks` of the time per call of `calls` calls of fn() (seconds).
    `sync()` (a barrier) starts each block together on every rank."""
    times = []
    for _ in range(blocks):
        sync()
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - t) / calls)
    return statistics.median(times), min(times)


# -- the training step ---------------------------------------------------------------------------
def bench_step(config, ctx, args):
    from distflow.distribute.global_batch import shard
    from distflow.run import inputs
    from distflow.run.replica import Replica
    dataset = inputs.load_dataset(config)
    split = inputs.splits(config, len(dataset.y))[0]
    prep = inputs.prepare(dataset, split, config["data"]["standardize"])
    comm = ctx.communicator
    replica = Replica(config, prep.x_train.shape[1], split.seed, comm, ctx.device)
    xp = replica._xp
    batch = config["train"]["batch_size"]
    if batch > len(prep.y_train):
        raise ConfigError("train.batch_size = %d is larger than the %d training rows"
                          % (batch, len(prep.y_train)))
    parts = []  # this rank's part of each full global batch, on the device
    for start in range(0, len(prep.y_train) - batch + 1, batch):
        xb, yb = shard([prep.x_train[start:start + batch], prep.y_train[start:start + batch]],
                       comm.rank, comm.size)
        parts.append((xp.asarray(xb), xp.asarray(yb)))
    if replica.masks:  # dropout: keep-masks of ones (the step's cost, not its randomness)
        ones = [np.ones((len(parts[0][0]), u), np.float32) for u in replica.mask_units]
    else:
        ones = []
    state = {"i": 0}

    def step():
        xb, yb = parts[state["i"] % len(parts)]
        state["i"] += 1
        replica.train_step(xb, yb, batch, ones)
    try:
        for _ in range(args.warmup):
            step()
        med, best = median_per_call(step, args.steps, args.blocks, comm.barrier)
    finally:
        replica.close()
    n_params = sum(int(np.prod(v.shape.as_list())) for v in replica.model.trainable_variables)
    return {"what": "step", "config": args.config, "device": ctx.device, "ranks": comm.size,
            "global_batch": batch, "parameters": n_params,
            "optimizer": config["optimizer"]["name"], "step_ms": med * 1e3,
            "step_min_ms": best * 1e3, "samples_per_s": batch / med,
            "steps_timed": args.steps * args.blocks}


# -- all-reduce over sizes -----------------------------------------------------------------------
def bench_allreduce(ctx, sizes, args):
    """One row per size from sizes[0] to sizes[1] bytes, doubling."""
    comm = ctx.communicator
    lo, hi = sizes
    xp = np
    if ctx.device.startswith("gpu"):
        from distflow import backend
        xp = backend.cupy()
    rows, nbytes = [], lo
    while nbytes <= hi:
        count = max(1, nbytes // 4)
        buf = comm.allocate(count, np.float32, xp)
        buf[...] = 1
        reduce = comm.bound_allreduce(buf, "sum", "bench")  # a collective to set up, maybe
        calls = max(2, min(args.iters, int(args.iters * 2**20 / max(nbytes, 1)) or 2))
        for _ in range(2):
            reduce()  # warm-up (and the first call's connection set-up)
        med, best = median_per_call(reduce, calls, args.blocks, comm.barrier)
        algbw = count * 4 / med / 1e9
        busbw = algbw * 2 * (comm.size - 1) / comm.size
        rows.append({"what": "allreduce", "bytes": count * 4, "count": count, "type": "float",
                     "redop": "sum", "ranks": comm.size, "communicator": comm.name,
                     "via": getattr(reduce, "via", comm.name),
                     "time_us": med * 1e6, "time_min_us": best * 1e6, "algbw_gbs": algbw,
                     "busbw_gbs": busbw})
        nbytes *= 2
    return rows


# -- output ---------------------------------------------------------------------------------------
def format_step(r):
    return ("step: %s, %d parameters, %s, global batch %d on %d rank(s), %s\n"
            "  median %.3f ms per step (best block %.3f ms), %.0f samples/s, %d steps timed"
            % (r["config"], r["parameters"], r["optimizer"], r["global_batch"], r["ranks"],
               r["device"], r["step_ms"], r["step_min_ms"], r["samples_per_s"],
               r["steps_timed"]))


def format_allreduce(rows):
    head = ("all-reduce (in place, sum) on %d rank(s), %s communicator; busbw = algbw * 2(n-1)/n\n"
            % (rows[0]["ranks"], rows[0]["communicator"]))
    lines = ["%12s %12s %6s %6s %10s %8s %8s  %s" % ("size", "count", "type", "redop", "time",
                                                     "algbw", "busbw", "via"),
             "%12s %12s %6s %6s %10s %8s %8s" % ("(B)", "(elements)", "", "", "(us)", "(GB/s)",
                                                 "(GB/s)")]
    for r in rows:
        lines.append("%12d %12d %6s %6s %10.2f %8.3f %8.3f  %s" % (
            r["bytes"], r["count"], r["type"], r["redop"], r["time_us"], r["algbw_gbs"],
            r["busbw_gbs"], r["via"]))
    return head + "\n".join(lines)


def main(argv=None):
    """Runs `distflow bench` with `argv` (the arguments after `bench`); returns the exit status."""
    try:  # argument errors raise ConfigError too: one message by rank 0, exit status 2
        argv = sys.argv[1:] if argv is None else list(argv)
        if argv[:1] == ["--"]:  # distflow/cli.py passes "--" first (see its main)
            argv = argv[1:]
        args = build_parser().parse_args(argv)
        from distflow.run.config import load_config
        config = load_config(args.config, args.overrides)
        if args.device:
            config["device"] = args.device
        for name in ("steps", "blocks", "iters"):
            if getattr(args, name) < 1:
                raise ConfigError("--%s must be at least 1, got %d" % (name, getattr(args, name)))
        sizes = parse_bytes(args.min_bytes), parse_bytes(args.max_bytes)
        if sizes[0] > sizes[1]:
            raise ConfigError("--min-bytes %s is larger than --max-bytes %s"
                              % (args.min_bytes, args.max_bytes))
        ctx = world.join(config)
        if "step" in args.what:
            r = bench_step(config, ctx, args)
            world.say(json.dumps(r) if args.json else format_step(r))
        if "allreduce" in args.what:
            rows = bench_allreduce(ctx, sizes, args)
            if args.json:
                for r in rows:
                    world.say(json.dumps(r))
            else:
                world.say(format_allreduce(rows))
    except ConfigError as e:
        if world.is_chief():
            world.fail(str(e))
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
