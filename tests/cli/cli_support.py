"""Helpers that run the real `distflow` command in a subprocess, alone or under mpirun."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOSTON_YAML = os.path.join(REPO, "configs", "boston.yaml")
LINEAR_YAML = os.path.join(REPO, "configs", "linear.yaml")


def find_mpirun():
    here = os.path.join(os.path.dirname(sys.executable), "mpirun")
    return here if os.path.exists(here) else shutil.which("mpirun")


def _env(extra=None):
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    for name in list(env):  # a test run under mpirun must not make children think they are ranks
        if name.startswith(("PMI_", "OMPI_", "PMIX_", "HYDRA_", "MPI_")):
            del env[name]
    env.update(extra or {})
    return env


def command(args, ranks=1):
    cmd = [sys.executable, "-m", "distflow"] + [str(a) for a in args]
    if ranks > 1:
        mpirun = find_mpirun()
        if mpirun is None:
            pytest.skip("no mpirun next to the Python running the tests, nor on PATH")
        cmd = [mpirun, "-n", str(ranks)] + cmd
    return cmd


def distflow(args, ranks=1, cwd=None, timeout=300, env=None):
    """Runs `distflow ARGS` (under `mpirun -n ranks` when ranks > 1); a CompletedProcess."""
    return subprocess.run(command(args, ranks), cwd=cwd, env=_env(env), capture_output=True,
                          text=True, timeout=timeout)


def start(args, ranks=1, cwd=None, env=None):
    """Popen of `distflow ARGS`, output discarded (for kill tests)."""
    return subprocess.Popen(command(args, ranks), cwd=cwd, env=_env(env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def final_arrays(run_dir):
    """{name: array} of the latest checkpoint of a run directory."""
    from distflow.run import checkpoint
    path = checkpoint.latest(os.path.join(str(run_dir), "checkpoints"))
    assert path is not None, "no checkpoint in %s" % run_dir
    arrays, meta = checkpoint.load(path)
    return arrays, meta


def numpy_predict(arrays, meta, x):
    """An independent forward pass in NumPy from a checkpoint: standardize, then dense layers
    (ReLU between them, as the configs used here ask), then the linear output unit."""
    std = meta["standardizer"]
    h = (np.asarray(x, np.float64) - np.array(std["mean"])) / np.array(std["std"])
    layers = sorted({k.split("/")[0] for k in arrays if k.endswith("/kernel")},
                    key=lambda n: 0 if n == "dense" else int(n.split("_")[1]))
    for i, name in enumerate(layers):
        h = h @ arrays[name + "/kernel"].astype(np.float64) + arrays[name + "/bias"]
        if i < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return h[:, 0]
