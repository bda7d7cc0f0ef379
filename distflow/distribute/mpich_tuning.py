"""MPICH's collective selection for distflow jobs: which shared-memory all-reduce MPICH 5 uses,
and so the thread level MPI starts at (`tune_mpich`, called before MPI_Init)."""
import os
import sys

# MPICH's fast shared-memory all-reduce, "release_gather", wins small buffers and loses large
# ones (it moves them in 8 KiB cells), and MPICH never uses it under MPI_THREAD_MULTIPLE
# (mpi4py's default level); the README's Speed section has the times at each level.
# mpich_posix_collectives.json is MPICH's own selection table for its shared-memory collectives
# with one change: the all-reduce uses release_gather up to 64 KiB only, and MPICH's generic
# algorithms above. release_gather waits by spinning, though: with more ranks on a host than CPUs
# for them, a waiting rank spins away the time slice of the rank it waits for (the README gives
# the cost). So a host with more ranks than CPUs (MPICH's launcher says how many ranks,
# MPI_LOCALNRANKS) gets mpich_posix_oversubscribed.json, which never picks release_gather. Like
# MPICH's own table, neither file picks it in a multi-threaded process.
#
# A file is set only when the user has not chosen one, only for MPICH 5 (the version they were
# checked with: another could reject the file and stop at MPI_Init), only before MPI starts,
# and not with DISTFLOW_MPICH_TUNING=0. Only then does distflow start MPI at
# MPI_THREAD_FUNNELED (without a file, MPICH would use release_gather for every size): any other
# MPI starts at mpi4py's default level.
OPT_OUT_VAR = "DISTFLOW_MPICH_TUNING"
MPICH_SELECTION_VAR = "MPIR_CVAR_CH4_POSIX_COLL_SELECTION_TUNING_JSON_FILE"
_HERE = os.path.dirname(os.path.abspath(__file__))
MPICH_SELECTION_FILE = os.path.join(_HERE, "mpich_posix_collectives.json")
MPICH_OVERSUBSCRIBED_FILE = os.path.join(_HERE, "mpich_posix_oversubscribed.json")
_MPICH_USER_CHOICES = (MPICH_SELECTION_VAR, "MPIR_CVAR_ALLREDUCE_POSIX_INTRA_ALGORITHM")


def mpich_tuning(env, library_version, cpus=None):
    """{variable: value} to add to `env` before MPI_Init: a selection file for MPICH 5 unless
    DISTFLOW_MPICH_TUNING=0, else nothing. `library_version`: MPI_Get_library_version's text, or
    None when unknown; `cpus`: how many CPUs this process may run on, or None."""
    if env.get(OPT_OUT_VAR) == "0":
        return {}
    if library_version is None or any(v in env for v in _MPICH_USER_CHOICES):
        return {}
    first = library_version.strip().split("\n")[0].split()
    if first[:2] != ["MPICH", "Version:"] or len(first) < 3:
        return {}  # Open MPI, Intel MPI, MVAPICH...: their own selection
    major = first[2].split(".")[0]
    if not major.isdigit() or int(major) != 5:
        return {}
    local = env.get("MPI_LOCALNRANKS", "")
    if cpus and local.isdigit() and int(local) > cpus:
        return {MPICH_SELECTION_VAR: MPICH_OVERSUBSCRIBED_FILE}
    return {MPICH_SELECTION_VAR: MPICH_SELECTION_FILE}


def tune_mpich():
    """Applies mpich_tuning to os.environ, unless MPI is already running (too late then). True
    when it set a selection file: then MPI may start at MPI_THREAD_FUNNELED."""
    if "mpi4py.MPI" in sys.modules or os.environ.get(OPT_OUT_VAR) == "0":
        return False
    extra = mpich_tuning(os.environ, _mpi_library_version(), _usable_cpus())
    os.environ.update(extra)
    return bool(extra)


def _usable_cpus(cgroup_root="/sys/fs/cgroup"):
    """The CPUs this process may run on: its affinity mask, capped by a container's CPU quota
    (`docker --cpus 2` on a 16-core host leaves 16 CPUs in the mask and 2 CPUs of time)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cpus = os.cpu_count()
    quota = _cgroup_cpu_quota(cgroup_root)
    return min(cpus, quota) if cpus and quota else cpus


def _cgroup_cpu_quota(root):
    """CPUs' worth of time a cgroup allows (cgroup v2 cpu.max, else v1 cfs files), or None."""
    def read(*parts):
        try:
            with open(os.path.join(root, *parts)) as f:
                return f.read().split()
        except OSError:
            return None
    v2 = read("cpu.max")
    if v2 and len(v2) == 2 and v2[0] != "max":
        quota, period = v2
    else:
        quota, period = (read("cpu", "cpu.cfs_quota_us") or [None])[0], \
            (read("cpu", "cpu.cfs_period_us") or [None])[0]
    try:
        quota, period = int(quota), int(period)
    except (TypeError, ValueError):
        return None
    if quota <= 0 or period <= 0:  # -1: no limit
        return None
    return max(1, -(-quota // period))  # a partial CPU counts as one


def _mpi_library_version():
    """The text of MPI_Get_library_version of the library mpi4py will load, or None. The MPI
    standard allows this call before MPI_Init; the library is found with mpi4py's own loader."""
    try:
        import ctypes
        from mpi4py import _mpiabi
        lib = _mpiabi._dlopen_libmpi(os.environ.get("MPI4PY_LIBMPI"))
        text, length = ctypes.create_string_buffer(8192), ctypes.c_int(0)
        if lib.MPI_Get_library_version(text, ctypes.byref(length)) != 0:
            return None
        return text.value.decode("utf-8", "replace")
    except Exception:  # an mpi4py without that loader, or no library: leave MPI's defaults
        return None
