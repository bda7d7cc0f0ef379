"""The Boston training step on a GPU: what CUDA graphs gain, side by side with the CPU and PyTorch.

One step of `distflow train configs/boston.yaml` (MLP 13-64-64-1, Adam, global batch 16: the
trainer's own Replica, its loss and the sums it fetches as Python floats) timed as

  cpu          the Session plan on NumPy
  gpu          the same plan on CuPy, kernel by kernel
  gpu+graph    the same plan replayed from a CUDA graph (the trainer's default on a GPU)
  torch        a hand-written PyTorch step of the same model on the same GPU (peer), if torch
               imports

Each variant: 50 warm-up steps, then 5 rounds of 300 steps; the median round's time per step.
Prints one line per variant and the ratios; `--json FILE` also writes them.

    python scripts/gpu_bench_step.py [--steps 300] [--json out.json]
"""
import argparse
import json
import statistics
import time

import numpy as np

from distflow.distribute import SingleCommunicator
from distflow.run.config import load_config
from distflow.run.replica import Replica

BATCH = 16


def _data():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(BATCH, 13)).astype(np.float32),
            rng.normal(size=BATCH).astype(np.float32))


def _timed(step, steps, sync):
    for _ in range(50):
        step()
    sync()
    rounds = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        rounds.append((time.perf_counter() - t0) / steps)
    return statistics.median(rounds)


def distflow_step(device, graphs):
    config = load_config("configs/boston.yaml", ["cuda_graphs=%s" % str(graphs).lower()])
    replica = Replica(config, 13, 42, SingleCommunicator(), device)
    x, y = _data()
    return lambda: replica.train_step(x, y, BATCH), replica


def torch_step():
    import torch
    dev = torch.device("cuda")
    model = torch.nn.Sequential(torch.nn.Linear(13, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
                                torch.nn.ReLU(), torch.nn.Linear(64, 1)).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = (torch.from_numpy(a).to(dev) for a in _data())

    def step():
        opt.zero_grad(set_to_none=True)
        out = model(x).reshape(-1)
        sse = ((out - y) ** 2).sum()
        loss = sse / BATCH
        loss.backward()
        opt.step()
        return float(loss), float(sse), float((out - y).abs().sum())
    return step, torch.cuda.synchronize


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    from distflow.backend import gpu
    results = {}
    for name, device, graphs in (("cpu", "cpu", False), ("gpu", "gpu:0", False),
                                 ("gpu+graph", "gpu:0", True)):
        step, replica = distflow_step(device, graphs)
        sync = gpu.synchronize if device != "cpu" else (lambda: None)
        results[name] = _timed(step, args.steps, sync)
        runner = getattr(replica._step, "cuda_graph", None)
        if runner is not None and runner.reason:
            print("note: gpu+graph ran without a graph: %s" % runner.reason)
        replica.close()
    try:
        step, sync = torch_step()
        results["torch"] = _timed(step, args.steps, sync)
    except ImportError:
        print("note: torch is not installed: no peer")
    for name, t in results.items():
        print("%-10s %8.1f us/step" % (name, t * 1e6))
    if "gpu" in results:
        print("CUDA graphs: %.2fx faster than kernel by kernel" % (results["gpu"] /
                                                                    results["gpu+graph"]))
    if "torch" in results:
        print("distflow gpu+graph / torch: %.2fx the time" % (results["gpu+graph"] /
                                                              results["torch"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({k: v * 1e6 for k, v in results.items()}, f, indent=2)


if __name__ == "__main__":
    main()
