"""distflow's MPICH collective selection (runtime.mpich_tuning): applied to MPICH 5 only, never
over a user's own choice, off with DISTFLOW_MPICH_TUNING=0, and the file it names is one MPICH
can read."""
import json
import os

from distflow.distribute import runtime
from mpi_launch import launches_mpi, run_mpi

MPICH5 = "MPICH Version:      5.0.2\nMPICH Release date: Fri Sep 25 2026\nMPICH ABI: 18:2:6\n"


def test_off_when_the_user_says_so():
    assert runtime.mpich_tuning({runtime.OPT_OUT_VAR: "0"}, MPICH5) == {}


def test_mpich_5_gets_the_selection_file_by_default():
    for env in ({}, {runtime.OPT_OUT_VAR: "1"}):
        assert runtime.mpich_tuning(env, MPICH5) == {
            runtime.MPICH_SELECTION_VAR: runtime.MPICH_SELECTION_FILE}


def test_a_users_own_choice_is_kept():
    for var in ("MPIR_CVAR_CH4_POSIX_COLL_SELECTION_TUNING_JSON_FILE",
                "MPIR_CVAR_ALLREDUCE_POSIX_INTRA_ALGORITHM"):
        assert runtime.mpich_tuning({var: "mpir"}, MPICH5) == {}


def test_other_libraries_and_versions_are_left_alone():
    for text in (None, "Open MPI v5.0.3, package: Open MPI", "Intel(R) MPI Library 2021.13",
                 "MPICH Version:      4.2.0\n", "MPICH Version:\n", "MVAPICH2 Version: 2.3.7"):
        assert runtime.mpich_tuning({}, text) == {}, text


def test_the_file_keeps_release_gather_for_small_commutative_allreduce_only():
    with open(runtime.MPICH_SELECTION_FILE) as f:
        tree = json.load(f)
    # never in a multi-threaded process, as in MPICH's own table
    assert list(tree["collective=allreduce"]["comm_type=intra"]) == ["is_multi_threaded=no"]
    allreduce = tree["collective=allreduce"]["comm_type=intra"]["is_multi_threaded=no"]
    algorithm = "algorithm=MPIDI_POSIX_mpi_allreduce_release_gather"
    assert algorithm in allreduce["avg_msg_size<=65536"]["is_commutative=yes"]
    # above 64 KiB: a branch that can never match (commutative and not), so MPICH falls back
    # to its generic algorithms
    assert list(allreduce["avg_msg_size=any"]) == ["is_commutative=no"]
    assert list(allreduce["avg_msg_size=any"]["is_commutative=no"]) == ["is_commutative=yes"]
    # MPICH's own choices for the other shared-memory collectives are kept
    assert set(tree) == {"collective=allreduce", "collective=bcast", "collective=barrier",
                         "collective=reduce"}
    assert os.path.isabs(runtime.MPICH_SELECTION_FILE)


REPORT = ("import os, distflow.distribute as dd\n"
          "ctx = dd.init()\n"
          "from mpi4py import MPI\n"
          "if ctx.rank == 0:\n"
          "    print(MPI.Query_thread(), MPI.THREAD_FUNNELED, MPI.THREAD_MULTIPLE,\n"
          "          bool(os.environ.get('%s')), ctx.communicator.watchdog is not None)\n"
          % runtime.MPICH_SELECTION_VAR)


def _job(env=None):
    proc = run_mpi(2, ["-c", REPORT], env=env)
    assert proc.returncode == 0, proc.stderr
    level, funneled, multiple, selection, watchdog = proc.stdout.split()
    return int(level), int(funneled), int(multiple), selection == "True", watchdog == "True"


@launches_mpi
def test_mpi_starts_funneled_with_the_selection_file_and_the_watchdog_on():
    level, funneled, _, selection, watchdog = _job()
    assert level == funneled
    assert watchdog
    # set for the MPICH 5 this suite runs with (another MPI keeps its own selection)
    assert selection == bool(runtime.mpich_tuning({}, runtime._mpi_library_version()))


@launches_mpi
def test_a_users_thread_level_is_kept():
    level, _, multiple, _, watchdog = _job({"MPI4PY_RC_THREAD_LEVEL": "multiple"})
    assert level == multiple
    assert watchdog
