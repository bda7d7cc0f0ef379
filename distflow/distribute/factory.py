"""Which communicator a job uses, and making one by name.

`create_communicator(name, ...)` is the one place a communicator is made from its name ('auto',
'single', 'mpi', 'nccl', 'host-staged'); each implementation is imported only when asked for, so
a one-process job never imports mpi4py or CuPy's NCCL. `choose_gpu_communicator` is the policy
for GPU jobs, a pure function of the config and the facts of the job (ranks, NCCL's version,
ranks sharing a GPU), tested without GPUs.
"""
import os

from distflow.distribute import devices

COMMUNICATORS = ("auto", "single", "mpi", "nccl", "host-staged")
GPU_COMMUNICATORS = ("nccl", "host-staged")
_LAUNCHER_VARS = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK",
                  "PMIX_RANK")


def launched_by_mpi(env=None):
    """True when an MPI launcher started this process (read from its environment variables)."""
    env = os.environ if env is None else env
    return any(v in env for v in _LAUNCHER_VARS)


def create_communicator(name="auto", bootstrap=None, collective_timeout=None):
    """A communicator by name.

    name                'auto' (or None): 'mpi' under an MPI launcher, else 'single'; 'single',
                        'mpi', or a GPU communicator, 'nccl' or 'host-staged'.
    bootstrap           for 'nccl' and 'host-staged': the host communicator (MPI or single) of
                        the same ranks; default: create_communicator('auto', ...).
    collective_timeout  for MPI: seconds a rank may wait in one collective (None or 0: forever).
    """
    if name not in COMMUNICATORS and name is not None:
        raise ValueError("Unknown communicator %r: use %s"
                         % (name, ", ".join("'%s'" % n for n in COMMUNICATORS)))
    if name in GPU_COMMUNICATORS:
        if bootstrap is None:
            bootstrap = create_communicator("auto", collective_timeout=collective_timeout)
        if name == "nccl":
            from distflow.distribute.nccl import NCCLCommunicator
            return NCCLCommunicator(bootstrap)
        from distflow.distribute.host_staged import HostStagedCommunicator
        return HostStagedCommunicator(bootstrap)
    if bootstrap is not None:
        raise ValueError("communicator %r takes no bootstrap communicator (only %s do)"
                         % (name, " and ".join(GPU_COMMUNICATORS)))
    if name in (None, "auto"):
        name = "mpi" if launched_by_mpi() else "single"
    if name == "single":
        from distflow.distribute.single import SingleCommunicator
        return SingleCommunicator()
    from distflow.distribute.mpi import MPICommunicator
    from distflow.distribute.mpich_tuning import tune_mpich
    tuned = tune_mpich()
    return MPICommunicator(collective_timeout=collective_timeout,
                           thread_level="funneled" if tuned else None)


def choose_gpu_communicator(wanted, size, nccl_version, shared, env=None):
    """(kind, reason) for a job on GPUs: kind is 'single', 'nccl' or 'host-staged'.

    wanted: the config's choice (None or 'auto', 'single', 'mpi', 'nccl', 'host-staged');
    nccl_version: CuPy's NCCL version (None without NCCL); shared: find_shared_gpus' groups.
    Raises SharedGPUError for 'nccl' on a shared GPU that NCCL refuses, RuntimeError for 'nccl'
    without NCCL.
    """
    env = os.environ if env is None else env
    v = devices.nccl_version_tuple(nccl_version)
    nccl_text = "NCCL %d.%d.%d" % v if v else "no NCCL"
    if wanted == "nccl":
        if v is None:
            raise RuntimeError("communicator 'nccl': CuPy cannot load NCCL here (pip install "
                               "nvidia-nccl-cu12, or -cu13 for a CUDA 13 CuPy); or use "
                               "communicator 'host-staged'")
        if shared and not devices.nccl_can_share(nccl_version, env):
            raise devices.SharedGPUError(devices.shared_gpu_message(shared, nccl_version))
        return "nccl", "asked for in the configuration (%s)" % nccl_text
    if wanted == "host-staged":
        return "host-staged", "asked for in the configuration"
    if size == 1 and wanted in (None, "auto", "single", "mpi"):
        return "single", "one rank: there is nothing to reduce across ranks"
    if wanted == "single":
        raise ValueError("communicator 'single' cannot run a job of %d ranks" % size)
    if wanted == "mpi":
        return "host-staged", ("'mpi' on GPUs: buffers are staged through host memory, since "
                               "the MPI library need not know about GPUs")
    if v is None:
        return "host-staged", "CuPy has no NCCL here: MPI through host memory"
    if shared and not devices.nccl_can_share(nccl_version, env):
        ranks = "; ".join("ranks %s on GPU %s of %s" % (", ".join(map(str, rs)), gpu, host)
                          for host, gpu, rs in shared)
        return "host-staged", ("ranks share a GPU (%s), which %s refuses: MPI through host "
                               "memory" % (ranks, nccl_text))
    return "nccl", "one GPU per rank and %s" % nccl_text
