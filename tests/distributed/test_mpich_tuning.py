"""distflow's MPICH collective selection (runtime.mpich_tuning) and the MPI thread level that
comes with it: applied to MPICH 5 only, never over a user's own choice, off with
DISTFLOW_MPICH_TUNING=0, a file without MPICH's spinning shared-memory collectives when a host
has more ranks than CPUs, and files whose every reachable choice is the one intended."""
import json
import os

from distflow.distribute import runtime
from mpi_launch import launches_mpi, run_mpi

MPICH5 = "MPICH Version:      5.0.2\nMPICH Release date: Fri Sep 25 2026\nMPICH ABI: 18:2:6\n"
SMALL, OVER = runtime.MPICH_SELECTION_FILE, runtime.MPICH_OVERSUBSCRIBED_FILE
RELEASE_GATHER = "_release_gather"


def test_off_when_the_user_says_so():
    assert runtime.mpich_tuning({runtime.OPT_OUT_VAR: "0"}, MPICH5) == {}


def test_mpich_5_gets_the_selection_file_by_default():
    for env in ({}, {runtime.OPT_OUT_VAR: "1"}, {"MPI_LOCALNRANKS": "2"}):
        assert runtime.mpich_tuning(env, MPICH5, cpus=2) == {runtime.MPICH_SELECTION_VAR: SMALL}


def test_more_ranks_on_the_host_than_cpus_gets_the_file_without_spinning_collectives():
    assert runtime.mpich_tuning({"MPI_LOCALNRANKS": "4"}, MPICH5, cpus=2) == {
        runtime.MPICH_SELECTION_VAR: OVER}
    # unknown rank or CPU counts: assume a rank per CPU, as on a cluster
    assert runtime.mpich_tuning({"MPI_LOCALNRANKS": "4"}, MPICH5, cpus=None) == {
        runtime.MPICH_SELECTION_VAR: SMALL}


def test_a_users_own_choice_is_kept():
    for var in ("MPIR_CVAR_CH4_POSIX_COLL_SELECTION_TUNING_JSON_FILE",
                "MPIR_CVAR_ALLREDUCE_POSIX_INTRA_ALGORITHM"):
        assert runtime.mpich_tuning({var: "mpir"}, MPICH5) == {}


def test_other_libraries_and_versions_are_left_alone():
    for text in (None, "Open MPI v5.0.3, package: Open MPI", "Intel(R) MPI Library 2021.13",
                 "MPICH Version:      4.2.0\n", "MPICH Version:\n", "MVAPICH2 Version: 2.3.7"):
        assert runtime.mpich_tuning({}, text) == {}, text


def reachable_algorithms(tree, conditions=()):
    """[(conditions on the way, algorithm)] for every leaf MPICH can reach: a path that asks for
    two values of one condition (is_commutative=no, then =yes) never matches."""
    found = []
    for key, sub in tree.items():
        name, _, value = key.partition("=")
        if name == "algorithm":
            found.append((conditions, value))
            continue
        earlier = dict(c.partition("=")[::2] for c in conditions if "<=" not in c)
        if "<=" not in key and name in earlier and earlier[name] != value:
            continue  # contradicts a condition on the way: unreachable
        found += reachable_algorithms(sub, conditions + (key,))
    return found


def load(path):
    assert os.path.isabs(path)
    with open(path) as f:
        return json.load(f)


def test_the_selection_file_keeps_release_gather_for_small_commutative_single_thread_only():
    tree = load(SMALL)
    # MPICH's own table covers the same four shared-memory collectives
    assert set(tree) == {"collective=allreduce", "collective=bcast", "collective=barrier",
                         "collective=reduce"}
    reachable = reachable_algorithms(tree["collective=allreduce"])
    assert reachable == [(("comm_type=intra", "is_multi_threaded=no", "avg_msg_size<=65536",
                           "is_commutative=yes"), "MPIDI_POSIX_mpi_allreduce_release_gather")]
    for collective in ("bcast", "barrier", "reduce"):  # MPICH's own choices, kept
        for conditions, _ in reachable_algorithms(tree["collective=" + collective]):
            assert "is_multi_threaded=no" in conditions


def test_the_oversubscribed_file_never_reaches_release_gather():
    tree = load(OVER)
    assert set(tree) == set(load(SMALL))
    for collective, sub in tree.items():
        assert reachable_algorithms(sub) == [], collective
    # the unreachable leaves are there so that MPICH parses the same shape of file
    assert RELEASE_GATHER in json.dumps(tree)


REPORT = ("import os, distflow.distribute as dd\n"
          "ctx = dd.init()\n"
          "from mpi4py import MPI\n"
          "if ctx.rank == 0:\n"
          "    print(MPI.Query_thread(), MPI.THREAD_FUNNELED, MPI.THREAD_MULTIPLE,\n"
          "          os.environ.get('%s', '-'), ctx.communicator.watchdog is not None)\n"
          % runtime.MPICH_SELECTION_VAR)


def _job(n=2, env=None):
    proc = run_mpi(n, ["-c", REPORT], env=env)
    assert proc.returncode == 0, proc.stderr
    level, funneled, multiple, selection, watchdog = proc.stdout.split()
    return int(level), int(funneled), int(multiple), selection, watchdog == "True"


def _expected_file(n):
    """What mpich_tuning picks for n ranks on this host, from this machine's own facts."""
    return runtime.mpich_tuning({"MPI_LOCALNRANKS": str(n)}, runtime._mpi_library_version(),
                                runtime._usable_cpus()).get(runtime.MPICH_SELECTION_VAR)


@launches_mpi
def test_with_a_selection_file_mpi_starts_funneled_and_the_watchdog_is_on():
    for n in (2, 4):
        level, funneled, multiple, selection, watchdog = _job(n)
        want = _expected_file(n)
        assert selection == (want or "-")
        assert level == (funneled if want else multiple)
        assert watchdog


@launches_mpi
def test_without_distflows_file_mpi_keeps_mpi4pys_default_level():
    level, _, multiple, selection, watchdog = _job(env={runtime.OPT_OUT_VAR: "0"})
    assert (level, selection) == (multiple, "-")
    assert watchdog


@launches_mpi
def test_a_users_thread_level_is_kept():
    level, _, multiple, _, watchdog = _job(env={"MPI4PY_RC_THREAD_LEVEL": "multiple"})
    assert level == multiple
    assert watchdog


def _cgroup(tmp_path, files):
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(tmp_path)


def test_a_containers_cpu_quota_caps_the_cpus_counted(tmp_path):
    affinity = runtime._usable_cpus(str(tmp_path / "none"))  # no cgroup files: the mask
    assert affinity >= 1
    v2 = _cgroup(tmp_path / "v2", {"cpu.max": "150000 100000\n"})  # 1.5 CPUs: counts as 2
    assert runtime._usable_cpus(v2) == min(affinity, 2)
    v1 = _cgroup(tmp_path / "v1", {"cpu/cpu.cfs_quota_us": "100000\n",
                                   "cpu/cpu.cfs_period_us": "100000\n"})
    assert runtime._usable_cpus(v1) == 1
    unlimited = _cgroup(tmp_path / "max", {"cpu.max": "max 100000\n",
                                           "cpu/cpu.cfs_quota_us": "-1\n",
                                           "cpu/cpu.cfs_period_us": "100000\n"})
    assert runtime._usable_cpus(unlimited) == affinity
