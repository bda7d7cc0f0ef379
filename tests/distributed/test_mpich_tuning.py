"""distflow's opt-in MPICH collective selection (runtime.mpich_tuning): off unless
DISTFLOW_MPICH_TUNING=1, then applied to MPICH 5 only, never over a user's own choice, and the
file it names is one MPICH can read."""
import json
import os

from distflow.distribute import runtime

MPICH5 = "MPICH Version:      5.0.2\nMPICH Release date: Fri Sep 25 2026\nMPICH ABI: 18:2:6\n"
ON = {runtime.OPT_IN_VAR: "1"}


def test_off_unless_asked_for():
    assert runtime.mpich_tuning({}, MPICH5) == {}
    assert runtime.mpich_tuning({runtime.OPT_IN_VAR: "0"}, MPICH5) == {}


def test_mpich_5_gets_the_selection_file():
    assert runtime.mpich_tuning(dict(ON), MPICH5) == {
        runtime.MPICH_SELECTION_VAR: runtime.MPICH_SELECTION_FILE}


def test_a_users_own_choice_is_kept():
    for var in ("MPIR_CVAR_CH4_POSIX_COLL_SELECTION_TUNING_JSON_FILE",
                "MPIR_CVAR_ALLREDUCE_POSIX_INTRA_ALGORITHM"):
        assert runtime.mpich_tuning(dict(ON, **{var: "mpir"}), MPICH5) == {}


def test_other_libraries_and_versions_are_left_alone():
    for text in (None, "Open MPI v5.0.3, package: Open MPI", "Intel(R) MPI Library 2021.13",
                 "MPICH Version:      4.2.0\n", "MPICH Version:\n", "MVAPICH2 Version: 2.3.7"):
        assert runtime.mpich_tuning(dict(ON), text) == {}, text


def test_the_file_keeps_release_gather_for_small_commutative_allreduce_only():
    with open(runtime.MPICH_SELECTION_FILE) as f:
        tree = json.load(f)
    allreduce = tree["collective=allreduce"]["comm_type=intra"]
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
