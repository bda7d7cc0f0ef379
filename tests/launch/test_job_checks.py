"""What a launcher can get wrong, found when the job starts rather than as a hang or as copies of
one run: ranks that chose different kinds of device (`device: auto` on nodes with and without
GPUs) stop at init() on every rank with one message naming who chose what (`distflow train`: a
config error, exit status 2); srun tasks given no MPI rank are told so (tested against a real
srun in test_slurm_launcher.py)."""
import importlib.util
import os
import subprocess
import sys

import pytest

from launch_support import BOSTON_YAML, clean_env, find_mpirun

from distflow.distribute import runtime
from distflow.distribute.runtime import launched_by_mpi

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "workers", "device_kinds.py")


def _why_not():
    if launched_by_mpi():
        return "already running under an MPI launcher (this test starts its own jobs)"
    if importlib.util.find_spec("mpi4py") is None or find_mpirun() is None:
        return "mpi4py and mpirun are needed (pip install 'distflow[mpi]')"
    return None


def said_by_every_rank(tmp_path, ranks, cpu_ranks):
    proc = subprocess.run([find_mpirun(), "-n", str(ranks), sys.executable, WORKER,
                           str(tmp_path), str(cpu_ranks)], env=clean_env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [(tmp_path / ("rank-%d.txt" % r)).read_text() for r in range(ranks)]


@pytest.mark.skipif(_why_not() is not None, reason=_why_not() or "")
@pytest.mark.parametrize("ranks", [2, 3])
def test_ranks_that_disagree_on_the_device_all_stop_at_init(tmp_path, ranks):
    said = said_by_every_rank(tmp_path, ranks, cpu_ranks=1)
    gpu = ", ".join(map(str, range(1, ranks)))
    expected = ("DeviceMismatchError: the ranks of one job must all use the CPU or all use GPUs, "
                "but they chose cpu for rank 0 on {host}; gpu for rank{s} {gpu} on {host}. "
                "Give every node the same kind of device, or choose one for all ranks "
                "(--device cpu, or device: cpu in the config)").format(
                    host=runtime.socket.gethostname(), s="s" if ranks > 2 else "", gpu=gpu)
    assert said == [expected] * ranks


@pytest.mark.skipif(_why_not() is not None, reason=_why_not() or "")
def test_ranks_that_agree_join_as_before(tmp_path):
    assert said_by_every_rank(tmp_path, 2, cpu_ranks=2) == ["joined as cpu"] * 2


def test_train_reports_it_as_the_device_setting(monkeypatch):
    from distflow.run import load_config, world
    from distflow.run.config import ConfigError

    def disagree(**kwargs):
        raise runtime.DeviceMismatchError("they chose cpu for rank 0 on a; gpu for rank 1 on b")
    monkeypatch.setattr(runtime, "init", disagree)
    config = load_config(BOSTON_YAML)
    config["device"] = "cpu"  # resolve_device would refuse 'gpu' on a machine without one
    with pytest.raises(ConfigError) as e:
        world.join(config)
    assert str(e.value) == "device = 'cpu': they chose cpu for rank 0 on a; gpu for rank 1 on b"


@pytest.mark.parametrize("env, tasks", [
    ({"SLURM_STEP_NUM_TASKS": "2"}, 2),                            # srun -n 2 --mpi=none
    ({"SLURM_STEP_NUM_TASKS": "2", "PMI_RANK": "0", "PMI_SIZE": "2"}, 0),  # --mpi=pmi2
    ({"SLURM_STEP_NUM_TASKS": "4", "PMIX_RANK": "3"}, 0),          # --mpi=pmix
    ({"SLURM_STEP_NUM_TASKS": "1"}, 0),                            # srun -n 1: one process
    ({"SLURM_NTASKS": "2"}, 0),                                    # the batch script itself
    ({}, 0),
])
def test_srun_tasks_without_an_mpi_rank_are_recognised(env, tasks):
    assert runtime.tasks_without_mpi(env) == tasks


def test_train_refuses_srun_tasks_without_an_mpi_rank(monkeypatch):
    from distflow.run import load_config, world
    from distflow.run.config import ConfigError
    for name in ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE",
                 "OMPI_COMM_WORLD_RANK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "3")
    joined = []
    monkeypatch.setattr(runtime, "init", lambda **kwargs: joined.append(kwargs))
    with pytest.raises(ConfigError, match="srun started 3 tasks without telling them"):
        world.join(load_config(BOSTON_YAML))
    assert joined == []  # refused before joining anything


def test_info_lists_ranks_that_disagree_on_the_device_as_a_problem(monkeypatch):
    from distflow.run import info

    def disagree(**kwargs):
        raise runtime.DeviceMismatchError("they chose cpu for rank 0 on a; gpu for rank 1 on b")
    monkeypatch.setattr(runtime, "init", disagree)
    found = {"problems": [], "notes": [], "cuda_devices": []}
    assert info._rank_map(found, None) is None
    assert found["problems"] == ["they chose cpu for rank 0 on a; gpu for rank 1 on b"]
