"""Failures end the job, never hang it: each case runs workers/failures.py under mpirun.

The ranks' collective timeout is 300 s in the first two cases, so what ends those jobs within
seconds is the abort hook and the exit notice, not the timeout.
"""
import json
import os
import signal
import socket
import struct
import time

import pytest

from mpi_launch import WORKERS, finish, launches_mpi, run_mpi, start_mpi

WORKER = os.path.join(WORKERS, "failures.py")


def left_in_shm(stdout):
    """What the job's ranks owned in /dev/shm (each rank prints it) that is still there:
    MPICH's segments, distflow's fused buffers and segment records. Other jobs may run on this
    host meanwhile: only this job's files count."""
    pids, paths = set(), set()
    for line in stdout.splitlines():
        if line.startswith("shm "):
            fields = line.split()
            pids.add(fields[1])
            paths.update(p for p in fields[2:3] and fields[2].split(",") if p)
    assert pids, "no rank reported its shared memory:\n" + stdout
    ours = ["/dev/shm/" + n for n in os.listdir("/dev/shm")
            if n.startswith(("distflow-allreduce-", "distflow-mpich-"))
            and n.replace("distflow-allreduce-", "").replace("distflow-mpich-", "")
                 .split("-")[0] in pids]
    return sorted(p for p in paths if os.path.exists(p)) + ours


def run_stopped(ranks, scenario, collective_timeout):
    """Runs the scenario; asserts the job failed, no rank finished, and the stopped job left
    nothing in /dev/shm (MPICH's own segments included)."""
    proc = run_mpi(ranks, [WORKER, scenario], timeout=60, collective_timeout=collective_timeout)
    assert proc.returncode != 0
    assert "did not stop" not in proc.stdout
    assert left_in_shm(proc.stdout) == []
    return proc


def run_failing(ranks, scenario):
    """run_stopped, and the job ended within 10 s of the raise."""
    proc = run_stopped(ranks, scenario, collective_timeout=300)
    raised = float(proc.stderr.split("raising at ")[1].split()[0])
    assert time.time() - raised < 10, proc.stderr
    return proc


@launches_mpi
def test_an_exception_on_one_rank_ends_the_job_within_10_seconds():
    proc = run_failing(3, "exception")
    # the traceback, once, every line marked with the rank that failed
    assert proc.stderr.count("Traceback (most recent call last)") == 1, proc.stderr
    assert "[rank 1] Traceback (most recent call last):" in proc.stderr
    assert "[rank 1] ValueError: boom on purpose" in proc.stderr
    assert "[rank 1] distflow: uncaught exception on rank 1: stopping all 3 ranks" in proc.stderr


@launches_mpi
def test_an_exception_in_a_worker_thread_ends_the_job_too():
    proc = run_failing(2, "thread")
    assert "[rank 1] OSError: data file vanished" in proc.stderr


@launches_mpi
def test_a_rank_whose_program_ends_early_stops_the_ranks_waiting_for_it():
    started = time.time()
    proc = run_stopped(3, "exit", collective_timeout=300)
    assert time.time() - started < 20, proc.stderr
    err = proc.stderr
    assert "allreduce #2 'the-step' (16 B) can never complete" in err, err
    assert "waiting in it: ranks 0, 2" in err
    assert "missing: rank 1 (its program ended after collective #1)" in err


@launches_mpi
def test_a_rank_that_never_reaches_a_collective_times_out_naming_the_missing_rank():
    started = time.time()
    proc = run_stopped(3, "stall", collective_timeout=2)
    assert time.time() - started < 30, proc.stderr
    err = proc.stderr
    assert "collective timeout: allreduce #2 'the-step' (16 B) has waited" in err, err
    assert "waiting in it: ranks 0, 1" in err
    assert ("missing: rank 2 (running outside collectives; its last one was allreduce #1 "
            "'warm-up'") in err
    assert err.count("collective timeout:") == 1  # one rank reports, not every waiting one


@launches_mpi
def test_a_rank_missing_from_a_shared_memory_all_reduce_is_named_too():
    """The shared-memory all-reduce waits in MPI barriers, inside the watchdog's bookkeeping."""
    err = run_stopped(3, "stall-shared", collective_timeout=2).stderr
    assert "collective timeout: allreduce" in err and "'grads' (390.6 KiB) has waited" in err, err
    assert "waiting in it: ranks 0, 1" in err
    assert "missing: rank 2 (running outside collectives; its last one was allreduce" in err


@launches_mpi
def test_a_rank_sleeping_in_python_answers_even_with_a_long_timeout_and_says_where_it_is():
    """With a timeout of 10 s the watchdog's thread wakes once a second; a query must still be
    answered within the reporter's grace period, with the rank's place in Python."""
    err = run_stopped(3, "stall", collective_timeout=10).stderr
    assert "collective timeout: allreduce #2 'the-step' (16 B) has waited" in err, err
    assert "no answer" not in err, err
    assert ("missing: rank 2 (running outside collectives; its last one was allreduce #1 "
            "'warm-up'") in err
    assert "now at failures.py:%d in main)" % _line_of("time.sleep(120)") in err, err


def _line_of(text):
    with open(WORKER) as f:
        return next(i for i, line in enumerate(f, 1) if text in line)


def _attacks(replay):
    """Frames a stranger on the host sends to a rank's side channel port, each on its own
    connection: what each drop is logged as, and the bytes."""
    def frame(body, mac):
        return struct.pack("!I", len(body) + len(mac)) + body + mac
    return [
        ("a frame of 5 bytes", struct.pack("!I", 5) + b"12345"),  # once killed the watchdog
        ("a frame of 1195725856 bytes", b"GET / HTTP/1.1\r\n\r\n"),
        ("a frame of 2147483647 bytes", struct.pack("!I", 2**31 - 1) + os.urandom(4096)),
        ("a frame without this job's signature",
         frame(b'[0, 1, 99, "exit", [0, null]]', os.urandom(32))),
        ("a replayed frame", bytes.fromhex(replay)),
    ]


@launches_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_garbage_on_the_side_channel_never_stops_the_watchdog(tmp_path, ranks):
    """Garbage, oversized, unsigned and replayed frames reach every rank's port while the last
    rank hangs: each is a logged drop, and the job still stops after its timeout, naming the
    hung rank (so queries and answers still pass)."""
    started = time.time()
    proc = start_mpi(ranks, [WORKER, "stall-attacked"], collective_timeout=4,
                     env={"FAILURES_DIR": str(tmp_path)})
    files = [tmp_path / ("rank-%d.json" % r) for r in range(ranks)]
    while not all(f.exists() for f in files) and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.2)  # the files are written whole in a moment
    for f in files:
        rank = json.loads(f.read_text())
        victim = rank["replay_to"]  # the rank that frame was sent to, and accepted
        port = json.loads(files[victim].read_text())["port"]
        for _, data in _attacks(rank["replay"]):
            with socket.create_connection(("127.0.0.1", port)) as s:
                try:
                    s.sendall(data)
                except OSError:  # closed on us mid-frame: dropped already
                    pass
    out, err = finish(proc, timeout=60)
    assert proc.returncode != 0
    assert "did not stop" not in out
    assert left_in_shm(out) == []
    assert time.time() - started < 40, err
    assert "collective timeout: allreduce #3 'the-step' (16 B) has waited" in err, err
    assert ("missing: rank %d (running outside collectives; its last one was barrier #2 "
            "'exposed'" % (ranks - 1)) in err, err
    for r in range(ranks):
        for why, _ in _attacks("00"):
            assert ("side channel on rank %d dropped %s" % (r, why)) in err, (r, why, err)


@launches_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_a_model_that_differs_across_ranks_is_reported_once_by_rank_0(ranks):
    err = run_stopped(ranks, "mismatch", collective_timeout=300).stderr
    assert err.count("Every rank must build the same model") == 1, err
    assert "[rank 0] distflow.distribute.communicator.CollectiveMismatchError" in err, err
    others = "rank 0" if ranks == 2 else "ranks 0, 2"
    assert ("[rank 0]   tensor #1 'gradient of w:0': shape (3, 2) float32 (bucket 0) on %s; "
            "shape (3, 3) float32 (bucket 0) on rank 1" % others in err), err
    assert err.count("Traceback (most recent call last)") == 1, err
    assert ("[rank 0] distflow: every rank raised this error: stopping all %d ranks" % ranks
            in err), err


@launches_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_ctrl_c_ends_a_script_with_130_and_one_line(ranks):
    """A user's script (no `distflow` command): the KeyboardInterrupt reaches the abort hook on
    some ranks while others wait in an all-reduce."""
    proc = start_mpi(ranks, [WORKER, "loop"])
    while proc.stdout.readline() != "looping\n":
        assert proc.poll() is None
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = finish(proc, timeout=30)
    assert proc.returncode == 130, err
    lines = [line for line in (out + err).splitlines()  # mpirun's lines, and ours before
             if line.strip() and not line.startswith(("[mpiexec@", "shm "))]
    assert lines == ["distflow: interrupted"]
