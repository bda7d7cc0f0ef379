"""The run layer's view of the job: joining it from a config, and who may speak.

Every rank runs the same program. Only rank 0 prints, logs and writes files; failure messages
are the exception (any rank may print why it stops, prefixed with its rank). Before the runtime
is initialized the rank is read from the launcher's environment variables, so that an error in
the command line or the config is printed once even though every rank finds it.
"""
import os
import sys

from distflow.run.config import ConfigError

_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")


def launcher_rank(env=None):
    """This process's rank as the MPI launcher announced it (0 without a launcher)."""
    env = os.environ if env is None else env
    for name in _RANK_VARS:
        if env.get(name, "").isdigit():
            return int(env[name])
    return 0


def launcher_size(env=None):
    env = os.environ if env is None else env
    for name in _SIZE_VARS:
        if env.get(name, "").isdigit():
            return int(env[name])
    return 1


def is_chief():
    """Rank 0 of the job: from the runtime once initialized, else from the launcher."""
    from distflow.distribute import runtime
    if runtime._context is not None:
        return runtime._context.rank == 0
    return launcher_rank() == 0


def say(*parts, file=None):
    """print() on rank 0 only."""
    if is_chief():
        print(*parts, file=file or sys.stdout, flush=True)


def fail(message, for_all_ranks=False):
    """A message that stops this rank, printed by whichever rank has it, prefixed by its rank
    when there are several ranks, unless rank 0 prints it `for_all_ranks` (bad input that
    every rank found)."""
    rank, size = launcher_rank(), launcher_size()
    prefix = "distflow: " if size == 1 or for_all_ranks else "[rank %d] distflow: " % rank
    sys.stdout.flush()
    sys.stderr.write("".join(prefix + line + "\n" for line in str(message).split("\n")))
    sys.stderr.flush()


def resolve_device(wanted):
    """'cpu' or 'gpu' from the config's 'auto' | 'cpu' | 'gpu'."""
    from distflow import backend
    if wanted == "auto":
        return "gpu" if backend.gpu_available() else "cpu"
    if wanted == "gpu" and not backend.gpu_available():
        raise ConfigError("device = 'gpu', but no GPU is usable here (CuPy is missing or finds no "
                          "CUDA device); allowed: auto, cpu, or gpu on a machine with a GPU")
    return wanted


def join(config):
    """Joins the job with the config's device, communicator and collective timeout (once per
    process: later calls return the same context), then checks what needs the job's size."""
    from distflow.distribute import runtime
    dist = config["distributed"]
    tasks = runtime.tasks_without_mpi()
    if tasks:  # N copies of one run, each writing the same files
        raise ConfigError(runtime.tasks_without_mpi_message(tasks))
    device = resolve_device(config["device"])
    kind = None if dist["communicator"] == "auto" else dist["communicator"]
    if kind in runtime.GPU_COMMUNICATORS and device != "gpu":
        raise ConfigError("distributed.communicator = %r needs device: gpu; allowed on the CPU: "
                          "auto, single, mpi" % kind)
    if kind == "single" and launcher_size() > 1:
        raise ConfigError("distributed.communicator = 'single' cannot run under mpirun with %d "
                          "ranks; allowed: auto or mpi" % launcher_size())
    try:
        ctx = runtime.init(collective_timeout=dist["timeout_s"], device=device, communicator=kind)
    except runtime.DeviceMismatchError as e:
        raise ConfigError("device = %r: %s" % (config["device"], e)) from None
    except ValueError as e:
        raise ConfigError("distributed.communicator = %r: %s" % (dist["communicator"], e)) from None
    from distflow.run.config import check_against_world
    check_against_world(config, ctx.size)
    if ctx.communicator_reason and (ctx.size > 1
                                    or ctx.communicator.name in runtime.GPU_COMMUNICATORS):
        # a GPU job: say which communicator moves the gradients, and why
        say("distflow: %d rank%s on GPUs, %s communicator: %s" % (
            ctx.size, "" if ctx.size == 1 else "s", ctx.communicator.name,
            ctx.communicator_reason))
    return ctx
