"""launch/slurm.sbatch, submitted to a real (throwaway, one-node) Slurm: on 2 tasks it trains Boston
exactly as `mpirun -n 2` does, and the device follows what the allocation has."""
import importlib.util
import json
import os
import sys

import pytest

import slurm_cluster
from launch_support import BOSTON_YAML, LAUNCH, assert_same_training, clean_env, find_mpirun, \
    mpirun_train

from distflow.distribute.runtime import launched_by_mpi


def _why_not():
    if launched_by_mpi():
        return "already running under an MPI launcher (this test starts its own jobs)"
    if importlib.util.find_spec("mpi4py") is None or find_mpirun() is None:
        return "mpi4py and mpirun are needed (pip install 'distflow[mpi]')"
    return slurm_cluster.why_not()


pytestmark = [pytest.mark.slow, pytest.mark.skipif(_why_not() is not None, reason=_why_not() or "")]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = slurm_cluster.SlurmCluster(tmp_path_factory.mktemp("slurm"), cpus=2, gpus=2)
    try:
        c.start()
        yield c
    finally:
        c.stop()


def sbatch(cluster, workdir, options, args=(), env=None, timeout=300):
    """`sbatch OPTIONS launch/slurm.sbatch configs/boston.yaml ARGS` from `workdir`, waited
    for: (job id, the job's exit status, the job's output)."""
    proc = cluster.run(["sbatch", "--parsable", "--chdir=%s" % workdir, *options,
                        os.path.join(LAUNCH, "slurm.sbatch"), BOSTON_YAML, *args],
                       env=clean_env(env), cwd=workdir)
    job = proc.stdout.strip().split(";")[0]
    assert proc.returncode == 0 and job.isdigit(), "sbatch did not submit: %s\n%s\n%s" % (
        proc.stdout, proc.stderr, cluster.logs())
    _, status = cluster.wait_job(job, timeout)
    out_path = os.path.join(str(workdir), "distflow-%s.out" % job)
    output = open(out_path).read() if os.path.exists(out_path) else "(no %s)" % out_path
    return job, status, output


# The one node has 2 CPUs: 2 tasks of 1 CPU each, in place of the script's 2 nodes x 4 x 8 CPUs.
ONE_NODE_TWO_TASKS = ("--nodes=1", "--ntasks-per-node=2", "--cpus-per-task=1")


# Boston as shipped but for the epochs (the machine running the suite may be busy)
EPOCHS = ("--set", "train.epochs=10")


def test_sbatch_on_two_tasks_trains_exactly_as_mpirun_n_2(cluster, tmp_path):
    job, status, output = sbatch(cluster, tmp_path, ONE_NODE_TWO_TASKS, EPOCHS)
    assert status == 0, "the job failed (%d):\n%s\n%s" % (status, output, cluster.logs())
    # no GPU in this allocation: the script says so and trains on the CPU, on 2 ranks of one job
    assert "slurm.sbatch: --device cpu (the allocation has 0 GPUs per node)" in output
    assert output.count("distflow: trained 10 epochs") == 1, output
    assert "on 2 ranks (cpu; gradients through mpi)" in output, output
    assert "Traceback" not in output

    reference = mpirun_train(2, tmp_path / "mpirun", tmp_path, EPOCHS)
    assert reference.returncode == 0, reference.stderr
    assert_same_training(tmp_path / "runs" / ("boston-%s" % job), tmp_path / "mpirun")


@pytest.mark.parametrize("options, args, env, device", [
    ((), (), None, "gpu"),                                 # GPUs allocated: the ranks use them
    ((), ("--device", "cpu"), None, "cpu"),                # the user's --device wins
    ((), (), {"DISTFLOW_DEVICE": "cpu"}, "cpu"),           # and so does DISTFLOW_DEVICE
])
def test_the_device_follows_a_gpu_allocation(cluster, tmp_path, options, args, env, device):
    from distflow import backend
    job, status, output = sbatch(cluster, tmp_path, ONE_NODE_TWO_TASKS + ("--gpus-per-node=2",),
                                 ("--set", "train.epochs=1", *args), env=env)
    if args:
        assert "slurm.sbatch: the given --device (--device given after the config)" in output
    elif env:
        assert "slurm.sbatch: --device cpu (DISTFLOW_DEVICE=cpu)" in output
    else:
        assert "slurm.sbatch: --device gpu (the allocation has 2 GPUs per node)" in output
    if device == "gpu" and not backend.gpu_available():
        # this node's "GPUs" are stand-ins: distflow, told gpu, refuses in one line, as it should
        assert status != 0
        assert "device = 'gpu', but no GPU is usable here" in output, output
    else:
        assert status == 0, "the job failed (%d):\n%s" % (status, output)
        assert "on 2 ranks (%s" % device in output, output
    assert "Traceback" not in output


def test_srun_without_an_mpi_plugin_is_refused_not_run_twice(cluster, tmp_path):
    """`srun -n 2` without --mpi=pmi2 (a cluster whose MpiDefault is none) starts two one-rank
    jobs; each would train alone into the same directory. Both refuse, saying what to add."""
    proc = cluster.run(["srun", "-n", "2", "--mpi=none", sys.executable, "-m", "distflow",
                        "train", BOSTON_YAML, "--output", tmp_path / "run"],
                       timeout=120, env=clean_env(), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    expected = ("distflow: srun started 2 tasks without telling them they are ranks of one job, "
                "so each would run alone: start them with srun --mpi=pmi2")
    assert proc.stderr.count(expected) == 2, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "run").exists()

    info = cluster.run(["srun", "-n", "2", "--mpi=none", sys.executable, "-m", "distflow",
                        "info", "--json"], timeout=120, env=clean_env(), cwd=tmp_path)
    assert info.stdout.count("srun started 2 tasks without telling them") == 2, info.stdout

    ok = cluster.run(["srun", "-n", "2", "--mpi=pmi2", sys.executable, "-m", "distflow",
                      "info", "--json"], timeout=120, env=clean_env(), cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    ranks = json.loads(ok.stdout)["ranks"]  # rank 0 alone prints
    assert [(r["rank"], r["local_rank"]) for r in ranks] == [(0, 0), (1, 1)]
