"""Starting `mpirun -n N ...` from an ordinary pytest test, so the suite's one `pytest` command
runs the multi-rank tests too, and fails when any rank fails.

Each launch gets a wall-clock timeout (a hung job fails its test instead of the suite), a short
collective timeout for the ranks (DISTFLOW_COLLECTIVE_TIMEOUT, so a rank-side failure ends the
job quickly), and the repository root as working directory.
"""
import functools
import importlib.util
import os
import shutil
import signal
import subprocess
import sys

import pytest

from distflow.distribute.runtime import launched_by_mpi

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
WORKERS = os.path.join(HERE, "workers")


def find_mpirun():
    """mpirun on PATH, else the one next to this Python (the mpich wheel installs it there)."""
    found = shutil.which("mpirun") or shutil.which("mpiexec")
    if found:
        return found
    for name in ("mpirun", "mpiexec"):
        candidate = os.path.join(os.path.dirname(sys.executable), name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


@functools.lru_cache(maxsize=None)
def _extra_flags(mpirun):
    try:
        out = subprocess.run([mpirun, "--version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    # Open MPI refuses more ranks than cores unless told; MPICH oversubscribes by itself.
    return ("--oversubscribe",) if "Open MPI" in out.stdout + out.stderr else ()


def _why_not():
    if launched_by_mpi():
        return "already running under mpirun (this test launches mpirun itself)"
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi4py is not installed (pip install 'distflow[mpi]')"
    if find_mpirun() is None:
        return "no mpirun found on PATH or next to %s" % sys.executable
    return None


# For the tests that start mpirun: skipped without MPI, and inside an mpirun-launched run.
launches_mpi = pytest.mark.skipif(_why_not() is not None, reason=_why_not() or "")


def mpi_command(n, args, collective_timeout=30, env=None):
    """(command, environment) for `mpirun -n n python <args>`."""
    mpirun = find_mpirun()
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("PMI_", "PMIX_", "OMPI_", "HYDRA_"))}
    full_env["DISTFLOW_COLLECTIVE_TIMEOUT"] = str(collective_timeout)
    full_env["PYTHONUNBUFFERED"] = "1"
    full_env.update(env or {})
    return [mpirun, *_extra_flags(mpirun), "-n", str(n), sys.executable, *args], full_env


def run_mpi(n, args, timeout=120, collective_timeout=30, env=None):
    """Runs `mpirun -n n python <args>`; returns the CompletedProcess (text stdout and stderr).

    A job still running after `timeout` seconds fails the calling test."""
    cmd, full_env = mpi_command(n, args, collective_timeout, env)
    try:
        return subprocess.run(cmd, cwd=REPO, env=full_env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail("`%s` did not finish in %d s (a hang):\n%s\n%s" % (
            " ".join(cmd), timeout, _text(e.stdout), _text(e.stderr)))


def start_mpi(n, args, collective_timeout=30, env=None):
    """Popen of `mpirun -n n python <args>` (text stdout and stderr piped), for tests that act
    on a running job; the caller waits for it."""
    cmd, full_env = mpi_command(n, args, collective_timeout, env)
    # a session of its own: a hung job is killed whole (mpirun and its ranks) by finish()
    return subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def descendants(pid):
    """The pids of every process below `pid` (hydra's proxy gives each rank a session of its
    own, so a process group does not hold the ranks)."""
    children = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/stat" % entry) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


def kill_job(proc):
    """SIGKILL to a start_mpi job: its ranks first (by pid), then mpirun's process group."""
    for pid in descendants(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass


def finish(proc, timeout):
    """(stdout, stderr) of a start_mpi job; a job still running after `timeout` seconds is
    killed and fails the calling test."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_job(proc)
        out, err = proc.communicate()
        pytest.fail("the job did not finish in %d s (a hang):\n%s\n%s" % (timeout, out, err))


def run_pytest_under_mpi(n, test_file, timeout=180):
    """Runs one test file on n ranks with pytest-mpi's --with-mpi: mpi-marked tests run too."""
    return run_mpi(n, ["-m", "pytest", "-q", "-p", "no:cacheprovider", "--with-mpi",
                       os.path.join(HERE, test_file)], timeout=timeout)


def assert_ok(proc):
    assert proc.returncode == 0, "mpirun exited with %d\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
        proc.returncode, proc.stdout[-6000:], proc.stderr[-6000:])


def _text(b):
    if b is None:
        return ""
    return b.decode(errors="replace") if isinstance(b, bytes) else b
