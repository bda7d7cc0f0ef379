"""MPICH's /dev/shm segments of a killed job are removed by the next distflow start, and a
running job's are never touched (mpich_segments.py). Other jobs may run on this host while the
test does: it looks only at the segments its own jobs report."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from mpi_launch import REPO, WORKERS, finish, kill_job, launches_mpi, start_mpi

WORKER = os.path.join(WORKERS, "segments.py")


def _reports(out, ranks, proc):
    files = [out / ("rank-%d.json" % r) for r in range(ranks)]
    deadline = time.time() + 120
    while not all(f.exists() for f in files):
        assert proc.poll() is None and time.time() < deadline, finish(proc, 5)
        time.sleep(0.05)
    return [json.loads(f.read_text()) for f in files]


def _start(tmp_path, name, ranks):
    out = tmp_path / name
    out.mkdir()
    proc = start_mpi(ranks, [WORKER, str(out)])
    return out, proc, _reports(out, ranks, proc)


def _gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@launches_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_a_killed_jobs_segments_go_at_the_next_start_and_a_running_jobs_stay(tmp_path, ranks):
    _, killed, dead = _start(tmp_path, "killed", ranks)
    live_dir, live, alive = _start(tmp_path, "live", ranks)
    try:
        _check(killed, dead, live_dir, live, alive)
    finally:  # a failed check must not leave the jobs waiting
        for proc, reports in ((killed, dead), (live, alive)):
            if proc.poll() is None:
                kill_job(proc)
                proc.communicate()


def _kill_rank(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            if b"segments.py" in f.read():  # still our rank, not a reused pid
                os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _check(killed, dead, live_dir, live, alive):
    dead_segments = {p for r in dead for p in r["segments"]}
    live_segments = {p for r in alive for p in r["segments"]}
    assert dead_segments and live_segments and not dead_segments & live_segments
    records_were_written = all(r["record"] and os.path.exists(r["record"]) for r in dead + alive)

    for r in dead:  # the ranks, then mpirun and its proxy: nothing finalizes
        _kill_rank(r["pid"])
    os.killpg(killed.pid, signal.SIGKILL)
    killed.communicate(timeout=30)
    deadline = time.time() + 30
    while not all(_gone(r["pid"]) for r in dead) and time.time() < deadline:
        time.sleep(0.05)
    assert all(os.path.exists(p) for p in dead_segments)  # what a killed job leaves

    start = subprocess.run([sys.executable, "-c", "import distflow.distribute as dd; dd.init()"],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert start.returncode == 0, start.stderr
    assert not any(os.path.exists(p) for p in dead_segments), "the killed job's are left"
    assert records_were_written
    assert not any(os.path.exists(r["record"]) for r in dead)
    assert all(os.path.exists(p) for p in live_segments), "a running job's were removed"
    assert all(os.path.exists(r["record"]) for r in alive)

    (live_dir / "go").touch()
    finish(live, timeout=60)
    assert live.returncode == 0
    # a normal end leaves nothing: MPICH unlinks its segment, distflow its records
    assert not any(os.path.exists(p) for p in live_segments)
    assert not any(os.path.exists(r["record"]) for r in alive)
