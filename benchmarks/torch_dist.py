"""torch.distributed's gloo process group, for ranks started by mpirun (MPICH's hydra sets
PMI_RANK and PMI_SIZE; Open MPI sets OMPI_COMM_WORLD_*). The ranks meet on 127.0.0.1 at the port
run.py passes in MASTER_PORT."""
import os


def init_gloo():
    """torch.distributed, initialized; None when PyTorch is not installed."""
    try:
        import torch
        import torch.distributed as dist
    except ImportError:
        return None
    torch.set_num_threads(1)
    env = os.environ
    rank = int(env.get("PMI_RANK", env.get("OMPI_COMM_WORLD_RANK", 0)))
    size = int(env.get("PMI_SIZE", env.get("OMPI_COMM_WORLD_SIZE", 1)))
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29533")
    dist.init_process_group("gloo", rank=rank, world_size=size)
    return dist
