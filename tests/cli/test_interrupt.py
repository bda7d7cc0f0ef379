"""Ctrl-C under mpirun is an interrupt on every rank: `distflow train` ends with status 130 and
the one line "distflow: interrupted", never a diagnosis of a missing rank, however the signal
finds the ranks (in Python, or waiting in an all-reduce for a rank that has left)."""
import os
import random
import signal
import subprocess
import time

import pytest

from cli_support import BOSTON_YAML, _env, command
from distributed.mpi_launch import descendants

ARGS = ["train", BOSTON_YAML, "--set", "output.plot=false", "--set", "train.epochs=3000",
        "--no-progress"]


def _start(tmp_path, ranks):
    out = tmp_path / "run"
    # a session of its own: a hung job is killed whole, by its process group
    proc = subprocess.Popen(command(ARGS + ["--output", out], ranks), cwd=tmp_path, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    metrics, deadline = out / "metrics.jsonl", time.time() + 120
    while time.time() < deadline and proc.poll() is None:  # mid-training: some epochs done
        if metrics.exists() and metrics.read_text().count("\n") >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()[0]
    time.sleep(random.uniform(0.0, 0.3))
    return proc


def _finish(proc):
    try:
        output, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        for pid in descendants(proc.pid):  # the ranks: each in a session of its own
            os.kill(pid, signal.SIGKILL)
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("the interrupted job did not end within 60 s:\n" + proc.communicate()[0])
    # mpirun's own lines ("[mpiexec@host] Sending Ctrl-C to processes as requested") aside
    return [line for line in output.splitlines() if not line.startswith("[mpiexec@")]


def _rank_pid(mpirun_pid, rank):
    """The pid of `rank`'s process, a descendant of mpirun (through hydra's proxy)."""
    for pid in descendants(mpirun_pid):
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if b"PMI_RANK=%d" % rank in env:
            return pid
    raise AssertionError("no process of rank %d under mpirun %d" % (rank, mpirun_pid))


@pytest.mark.parametrize("ranks", [2, 3])
def test_ctrl_c_to_mpirun_ends_training_with_130_and_one_line(tmp_path, ranks):
    proc = _start(tmp_path, ranks)
    proc.send_signal(signal.SIGINT)
    lines = _finish(proc)
    assert proc.returncode == 130, lines
    assert lines == ["distflow: interrupted"]


@pytest.mark.parametrize("ranks", [2, 3])
def test_an_interrupted_rank_ends_the_ranks_waiting_for_it_with_130_too(tmp_path, ranks):
    """Only the last rank gets SIGINT: the others, waiting in an all-reduce it will never join,
    end with it (no "can never complete" diagnosis: it was an interrupt)."""
    proc = _start(tmp_path, ranks)
    os.kill(_rank_pid(proc.pid, ranks - 1), signal.SIGINT)
    lines = _finish(proc)
    assert proc.returncode == 130, lines
    assert lines == ["distflow: interrupted"]
