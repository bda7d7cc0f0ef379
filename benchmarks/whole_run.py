"""W5: a whole training run, process start to exit, and the time of `import distflow`.

  --impl distflow   `distflow train configs/boston.yaml --set train.epochs=N` (the installed
                    command; without it, `python -m distflow.cli`), output in a temporary folder
  --impl torch      benchmarks/train_torch.py, the equivalent PyTorch script, given the
                    config's batch size and learning rate
  --impl import     `python -c "import distflow"`, timed inside the child, and whether that
                    import loaded mpi4py or cupy (it must not)

Each is repeated `--repeats` times in fresh processes; the median is reported.

    python benchmarks/whole_run.py --impl distflow torch import
"""
import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import common

IMPORT_PROBE = ("import sys, time; t = time.perf_counter(); import distflow; "
                "t = time.perf_counter() - t; import json; print(json.dumps({'import_s': t, "
                "'loaded': sorted(m for m in ('mpi4py', 'cupy') if m in sys.modules)}))")


def distflow_command(config, epochs, out):
    exe = shutil.which("distflow", path=os.path.dirname(sys.executable))
    head = [exe] if exe else [sys.executable, "-m", "distflow.cli"]
    return head + ["train", str(config), "--set", "train.epochs=%d" % epochs,
                   "--set", "output.dir=%s" % out]


def config_training(config):
    """(batch size, learning rate) of the config, for the PyTorch script to match."""
    import yaml
    with open(config) as f:
        cfg = yaml.safe_load(f)
    opt = cfg.get("optimizer", {})
    if opt.get("name", "adam") != "adam" or cfg.get("model", {}).get("hidden", [64, 64]) != [64, 64]:
        raise SystemExit("whole_run.py: the PyTorch script mirrors Adam and a 64-64 MLP; %s "
                         "asks for something else" % config)
    return int(cfg["train"]["batch_size"]), float(opt.get("learning_rate", 1e-3))


def timed(cmd, env=None):
    t = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                          cwd=common.REPO)
    return time.perf_counter() - t, proc


def run_training(impl, epochs, repeats):
    if impl == "torch" and importlib.util.find_spec("torch") is None:
        return common.emit("W5", "torch", "train", skipped="not installed")
    if impl == "distflow" and importlib.util.find_spec("distflow.cli") is None:
        return common.emit("W5", "distflow", "train", skipped="distflow.cli not available")
    config = common.REPO / "configs" / "boston.yaml"
    batch, lr = config_training(config)
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            out = os.path.join(tmp, "run%d" % r)
            if impl == "distflow":
                cmd = distflow_command(config, epochs, out)
            else:
                cmd = [sys.executable, str(common.REPO / "benchmarks" / "train_torch.py"),
                       "--epochs", str(epochs), "--batch", str(batch), "--lr", str(lr),
                       "--out", out]
            seconds, proc = timed(cmd)
            if proc.returncode != 0:
                return common.emit("W5", impl, "train", failed=proc.returncode,
                                   stderr=proc.stderr[-2000:])
            times.append(seconds)
    return common.emit("W5", impl, "train", epochs=epochs, batch=batch, runs=len(times),
                       wall_s=statistics.median(times), wall_min_s=min(times),
                       last_line=proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "")


def run_import(repeats):
    probes, totals = [], []
    for _ in range(repeats):
        seconds, proc = timed([sys.executable, "-c", IMPORT_PROBE])
        if proc.returncode != 0:
            return common.emit("import", "distflow", "import", failed=proc.returncode,
                               stderr=proc.stderr[-2000:])
        probes.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        totals.append(seconds)
    return common.emit("import", "distflow", "import distflow",
                       import_s=statistics.median(p["import_s"] for p in probes),
                       import_min_s=min(p["import_s"] for p in probes),
                       process_s=statistics.median(totals),
                       loaded=sorted({m for p in probes for m in p["loaded"]}))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--impl", nargs="+", choices=("distflow", "torch", "import"),
                   default=["distflow", "torch", "import"])
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    for impl in args.impl:
        if impl == "import":
            run_import(max(args.repeats, 5))
        else:
            run_training(impl, args.epochs, args.repeats)


if __name__ == "__main__":
    main()
