"""Failures end the job, never hang it: each case runs workers/failures.py under mpirun.

The ranks' collective timeout is 300 s in the first two cases, so what ends those jobs within
seconds is the abort hook and the exit notice, not the timeout.
"""
import os
import time

from mpi_launch import WORKERS, launches_mpi, run_mpi

WORKER = os.path.join(WORKERS, "failures.py")


def shm_files():
    return set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()


def run_stopped(ranks, scenario, collective_timeout):
    """Runs the scenario; asserts the job failed, no rank finished, and the stopped job left
    nothing in /dev/shm (MPICH's own segments included)."""
    before = shm_files()
    proc = run_mpi(ranks, [WORKER, scenario], timeout=60, collective_timeout=collective_timeout)
    assert proc.returncode != 0
    assert "did not stop" not in proc.stdout
    assert shm_files() - before == set()
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
