"""What every benchmark program shares: the workloads' data and weights, the timer, the output.

Each program in this folder measures ONE implementation of one workload and prints JSON lines on
stdout (one per measured variant). `run.py` starts the programs one after another with pinned
thread counts and turns their lines into a table of medians and ratios.

Every implementation of a workload starts from the same arrays: the Boston training split
(Keras's 404 rows, standardized with the training rows' mean and std) or the synthetic wide data,
and the same Glorot-uniform weights drawn from one seeded NumPy generator. Only NumPy is
imported here, so a peer's program (PyTorch, plain NumPy) never loads distflow by accident.

Timing. A machine shared with other work is noisy, so a measurement is many short blocks of steps
after a warm-up: each block gives one per-step time (the block's time divided by its steps), and
the result is the median over blocks. Both clocks are kept: `wall` (perf_counter, what a user
waits) and `cpu` (this process's CPU time, all its threads: JAX runs a step on a thread of its
own; it does not count the time the OS gives to other processes, so it is the steadier of the
two on a busy machine; every step program pins its process to one core). Multi-threaded or multi-process
work (MPI, gloo) is only meaningful on the wall clock.
"""
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
BOSTON_CSV = REPO / "distflow" / "data" / "boston.csv"

# The workloads' hyper-parameters, the same in every implementation.
W1 = dict(sizes=(13, 64, 64, 1), batch=32, rows=404, lr=0.01)
W2 = dict(sizes=(256, 1024, 1024, 1), batch=256, rows=8192, lr=0.01)
W3_SIZES = (5121, 1313793)  # W1's and W2's parameter counts, in float32 elements
SEED = 1234
# Adam's hyper-parameters wherever a workload runs with --optimizer adam, in TF1's form
# (epsilon added to sqrt(v) after the bias correction moved into the step size)
ADAM = dict(lr=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8)
OPTIMIZERS = ("sgd", "adam")


def workload_label(name, optimizer):
    """The record's workload: "W1" for SGD, "W1 Adam" for Adam (a row group of its own)."""
    return name if optimizer == "sgd" else "%s Adam" % name


def step_arguments(doc, argv, parser_hook=None):
    """The arguments every one-process step program takes (--workload W1|W2, --optimizer,
    --quick; `parser_hook(parser)` adds a program's own), parsed from `argv`."""
    import argparse
    p = argparse.ArgumentParser(description=doc)
    p.add_argument("--workload", choices=("W1", "W2"), default="W1")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd")
    p.add_argument("--quick", action="store_true", help="a few steps only (smoke test)")
    if parser_hook is not None:
        parser_hook(p)
    return p.parse_args(argv)


def pin_to_one_core():
    """Pins this process (every thread it has or starts) to one core, the same core for every
    peer: XLA's CPU client ignores thread-count settings and would otherwise borrow the other
    cores, and so may a BLAS. Called before a peer's library is imported. Returns the core."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


# -- data and weights ----------------------------------------------------------------------------
def boston_train():
    """(x, y) float32, shapes (404, 13) and (404, 1): Keras's split (RandomState(113) shuffle,
    first 404 rows), features standardized with the training rows' mean and population std. The
    target is standardized too: plain SGD at lr 0.01 on raw prices (up to 50) diverges within
    the thousands of steps a benchmark takes, and NaN arithmetic would time something else."""
    table = np.loadtxt(BOSTON_CSV, delimiter=",", skiprows=1, dtype=np.float64)
    x, y = table[:, :-1], table[:, -1:]
    order = np.arange(len(x))
    np.random.RandomState(113).shuffle(order)
    train = order[:404]
    x, y = x[train], y[train]
    std = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
    y = (y - y.mean()) / y.std()
    return x.astype(np.float32), y.astype(np.float32)


def wide_data(rows=W2["rows"], features=W2["sizes"][0]):
    """Synthetic regression data for W2: standard normal features, a noisy linear target."""
    rng = np.random.RandomState(SEED)
    x = rng.standard_normal((rows, features)).astype(np.float32)
    w = rng.standard_normal((features, 1)).astype(np.float32) / np.sqrt(features)
    y = (x @ w + 0.1 * rng.standard_normal((rows, 1))).astype(np.float32)
    return x, y


def workload_data(name):
    return boston_train() if name == "W1" else wide_data()


def init_params(sizes, seed=SEED):
    """[(W, b), ...] float32: Glorot-uniform weights and zero biases, the same everywhere."""
    rng = np.random.RandomState(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)
        params.append((w, np.zeros(fan_out, np.float32)))
    return params


def batches(x, y, batch):
    """The list of full (x, y) batches of one epoch in order: slices, so no copies per step."""
    n = len(x) // batch
    return [(x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]) for i in range(n)]


# -- timing -----------------------------------------------------------------------------------
def time_steps(step, feeds, warmup=200, blocks=30, per_block=100, sync=None):
    """Per-step times of `step(*feed)`, cycling through `feeds`: a dict of the medians over
    `blocks` blocks of `per_block` steps (microseconds, wall and cpu), after `warmup` steps.
    `sync()` (a barrier) runs before each block, outside the timing, for multi-rank runs."""
    n = len(feeds)
    for i in range(warmup):
        step(*feeds[i % n])
    wall, cpu = [], []
    i = 0
    for _ in range(blocks):
        if sync is not None:
            sync()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(per_block):
            step(*feeds[i % n])
            i += 1
        c1, t1 = time.process_time(), time.perf_counter()
        wall.append((t1 - t0) / per_block * 1e6)
        cpu.append((c1 - c0) / per_block * 1e6)
    return summary(wall, cpu)


def time_interleaved(fns, warmup=200, blocks=30, per_block=100, sync=None):
    """Like time_steps for several no-argument callables measured in alternation, block by
    block, so that load that comes and goes hits each of them alike. A list of summaries;
    each but the first also has `paired_ratio`: the median over rounds of blocks of its block
    time over the first callable's in the same round, which load that changes from one second
    to the next (small MPI messages here take 5 us for a while, then 12 us) moves far less
    than the ratio of two medians."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    walls = [[] for _ in fns]
    order = list(range(len(fns)))
    shuffle = random.Random(SEED).shuffle  # the same orders on every rank: fns may be collectives
    for _ in range(blocks):
        shuffle(order)  # a position in the round (first after the barrier, say) favours none
        for i in order:
            if sync is not None:
                sync()
            t0 = time.perf_counter()
            for _ in range(per_block):
                fns[i]()
            walls[i].append((time.perf_counter() - t0) / per_block * 1e6)
    out = [summary(w) for w in walls]
    for s, w in zip(out[1:], walls[1:]):
        s["paired_ratio"] = statistics.median(a / b for a, b in zip(w, walls[0]))
    return out


def time_weak_scaling(dist_step, solo_step, feeds, solo_feeds, comm, warmup, blocks, per_block,
                      rewarm=2):
    """Weak scaling measured in ONE job, block by block: every rank runs `dist_step` (its share
    and the all-reduce), then rank 0 alone runs `solo_step` (the one-process program on the
    same per-rank batch) while the other ranks sleep, so a core is as idle as in a one-process
    run. Separate 1-rank and N-rank runs minutes apart see the machine at different speeds (on
    the 2-core VM the same run varies by 20 %); alternating blocks see it alike. A core that
    slept runs its first steps slowly (a virtual CPU the host took away, cold caches), which
    no rank of a real job does between steps, so each distributed block starts with `rewarm`
    untimed steps (without them, 2 ranks measured 2 to 3 points lower). `comm`: an mpi4py
    communicator. Returns (summary of dist_step, summary of solo_step or None)."""
    sleep_tag = 77
    n, m = len(feeds), len(solo_feeds)
    for i in range(warmup):
        dist_step(*feeds[i % n])
        if comm.rank == 0:
            solo_step(*solo_feeds[i % m])
    dist, solo = [], []
    i = 0
    for _ in range(blocks):
        comm.Barrier()
        for k in range(rewarm):
            dist_step(*feeds[(i + k) % n])
        t0 = time.perf_counter()
        for k in range(per_block):
            dist_step(*feeds[(i + k) % n])
        dist.append((time.perf_counter() - t0) / per_block * 1e6)
        if comm.rank == 0:
            t0 = time.perf_counter()
            for k in range(per_block):
                solo_step(*solo_feeds[(i + k) % m])
            solo.append((time.perf_counter() - t0) / per_block * 1e6)
            for r in range(1, comm.size):
                comm.send(None, dest=r, tag=sleep_tag)
        else:  # MPI's blocking receive would spin on a core; sleep until rank 0 is done
            while not comm.Iprobe(source=0, tag=sleep_tag):
                time.sleep(0.0005)
            comm.recv(source=0, tag=sleep_tag)
        i += per_block
    return summary(dist), summary(solo) if solo else None


def summary(wall, cpu=None):
    out = {"wall_us": statistics.median(wall), "wall_min_us": min(wall), "blocks": len(wall)}
    if cpu is not None:
        out["cpu_us"] = statistics.median(cpu)
    return out


def scale(name, quick):
    """(warmup, blocks, per_block) for a workload; `quick` is for smoke tests (tests/bench)."""
    if quick:
        return (3, 3, 2) if name in ("W2", "W6") else (5, 3, 5)
    return (5, 15, 4) if name in ("W2", "W6") else (300, 40, 100)


# -- output -----------------------------------------------------------------------------------
def emit(workload, impl, variant=None, **fields):
    """One JSON line on stdout: what was measured and its numbers."""
    record = {"workload": workload, "impl": impl}
    if variant is not None:
        record["variant"] = variant
    record.update(fields)
    sys.stdout.write(json.dumps(record, sort_keys=False) + "\n")
    sys.stdout.flush()
    return record


def threads_pinned():
    """True when the BLAS/OpenMP thread counts are pinned to 1 (run.py does it)."""
    return all(os.environ.get(v) == "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"))


def peak_rss_mib():
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mib():
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def torch_mlp(params):
    """The benchmark MLP in PyTorch, with the same initial weights (torch imported here only)."""
    import torch
    layers = []
    for i, (w, b) in enumerate(params):
        lin = torch.nn.Linear(*w.shape)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.T))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if i < len(params) - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)
