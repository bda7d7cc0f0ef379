"""What the launcher tests share: the repository's paths, a clean environment for the processes
they start, and a run directory's results (summary and final weights)."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOSTON_YAML = os.path.join(REPO, "configs", "boston.yaml")
LAUNCH = os.path.join(REPO, "launch")


def find_mpirun():
    """The mpirun next to this Python (the MPICH wheel's, matching its mpi4py), else PATH's."""
    here = os.path.join(os.path.dirname(sys.executable), "mpirun")
    return here if os.access(here, os.X_OK) else shutil.which("mpirun")


def clean_env(extra=None):
    """This environment without anything that would make a child think it is a rank already,
    one BLAS thread per process, and `python` on PATH being this interpreter."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMI_", "PMIX_", "OMPI_", "HYDRA_", "MPI_", "SLURM_"))}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1",
               PYTHON=sys.executable)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.update(extra or {})
    return env


def mpirun_train(ranks, out, cwd, extra_args=(), timeout=300):
    """`mpirun -n ranks distflow train configs/boston.yaml --device cpu --output out` (ranks 1:
    no mpirun). The CPU, as the launcher runs it compares with have, on a machine with a GPU too."""
    cmd = [sys.executable, "-m", "distflow", "train", BOSTON_YAML, "--device", "cpu",
           "--output", str(out), *extra_args]
    if ranks > 1:
        cmd = [find_mpirun(), "-n", str(ranks)] + cmd
    return subprocess.run(cmd, cwd=str(cwd), env=clean_env(), capture_output=True, text=True,
                          timeout=timeout)


def results(run_dir):
    """(summary dict, {name: final weights}) of a finished run directory."""
    from distflow.run import checkpoint
    with open(os.path.join(str(run_dir), "summary.json")) as f:
        summary = json.load(f)
    path = checkpoint.latest(os.path.join(str(run_dir), "checkpoints"))
    assert path is not None, "no checkpoint in %s" % run_dir
    arrays, _ = checkpoint.load(path)
    return summary, arrays


def assert_same_training(run_a, run_b):
    """Two runs of the same config and global batch: the same test metrics and final weights.
    With 2 ranks each gradient element is one sum of two numbers in both, so equal bit for bit."""
    summary_a, weights_a = results(run_a)
    summary_b, weights_b = results(run_b)
    for key in ("test_rmse", "test_mae", "train_rmse", "train_mae", "ranks", "test_count"):
        assert summary_a.get(key) == summary_b.get(key), (key, summary_a, summary_b)
    assert sorted(weights_a) == sorted(weights_b)
    for name in weights_a:
        np.testing.assert_array_equal(weights_a[name], weights_b[name], err_msg=name)
