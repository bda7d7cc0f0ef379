"""Which device each rank uses, and ranks that would share one GPU.

Each rank owns one device: the CPU, or GPU number `local_rank` of its host (Horovod's "pin the
GPU to the local rank"). When a host runs more ranks than it has GPUs, several ranks land on one
GPU. NCCL before 2.30 refuses that ("Duplicate GPU detected"); from 2.30 it can be allowed with
NCCL_MULTI_RANK_GPU_ENABLE=1; MPI through host memory (the host-staged communicator) always
works. These functions take plain lists so the logic is tested without GPUs.
"""
import os

NCCL_MULTI_RANK_VERSION = (2, 30, 0)


class SharedGPUError(RuntimeError):
    """Several ranks would use one GPU with a communicator that cannot share it."""


def local_rank_from_hosts(hosts, rank):
    """(local rank, local size) of `rank` given every rank's host name, indexed by rank."""
    mine = hosts[rank]
    same = [r for r, h in enumerate(hosts) if h == mine]
    return same.index(rank), len(same)


def device_name(kind, index):
    """'cpu', or 'gpu:<index>' for a GPU."""
    if kind in (None, "cpu"):
        return "cpu"
    if kind == "gpu":
        return "gpu:%d" % index
    raise ValueError("device must be 'cpu' or 'gpu', got %r" % (kind,))


def gpu_index(local_rank, gpu_count):
    """The GPU a rank uses: its local rank, wrapped around when the host has fewer GPUs."""
    if gpu_count is None or gpu_count <= 0:
        return local_rank
    return local_rank % gpu_count


def find_shared_gpus(entries):
    """[(host, gpu id, [ranks])] for every GPU that more than one rank would use.

    `entries`: (rank, host, gpu id) per rank, the id being anything that names a physical GPU on
    its host (a PCI bus id or UUID; a CUDA index only when every rank sees the same devices).
    """
    by_gpu = {}
    for rank, host, gpu in entries:
        by_gpu.setdefault((host, gpu), []).append(rank)
    return [(host, gpu, sorted(ranks)) for (host, gpu), ranks in sorted(by_gpu.items(),
                                                                          key=lambda kv: kv[1])
            if len(ranks) > 1]


def nccl_version_tuple(version):
    """NCCL's version as (major, minor, patch) from cupy's integer (21805 -> (2, 18, 5); 2700 ->
    (2, 7, 0) in the old encoding) or from a tuple; None when unknown."""
    if version is None:
        return None
    if isinstance(version, tuple):
        return tuple(version) + (0,) * (3 - len(version))
    version = int(version)
    if version >= 10000:  # NCCL >= 2.9: major * 10000 + minor * 100 + patch
        return version // 10000, version // 100 % 100, version % 100
    return version // 1000, version // 100 % 10, version % 100


def nccl_can_share(nccl_version, env):
    v = nccl_version_tuple(nccl_version)
    return (env.get("NCCL_MULTI_RANK_GPU_ENABLE") == "1" and v is not None
            and v >= NCCL_MULTI_RANK_VERSION)


def shared_gpu_message(groups, nccl_version=None):
    lines = ["Several ranks would share one GPU:"]
    for host, gpu, ranks in groups:
        lines.append("  %s: ranks %s on GPU %s" % (host, ", ".join(map(str, ranks)), gpu))
    v = nccl_version_tuple(nccl_version)
    loaded = "NCCL %d.%d.%d is loaded" % v if v else "the NCCL version is unknown"
    lines.append("NCCL before 2.30 refuses this ('Duplicate GPU detected'); %s. What to do:"
                 % loaded)
    lines.append("  - run at most one rank per GPU (fewer ranks, or hosts with more GPUs); or")
    lines.append("  - use communicator='host-staged' (MPI through host memory: slower, always "
                 "works); or")
    lines.append("  - set NCCL_MULTI_RANK_GPU_ENABLE=1 with NCCL >= 2.30 (experimental; also set a "
                 "small NCCL_MAX_CTAS and NCCL_NVLS_ENABLE=0, and keep to 2 ranks per GPU unless "
                 "MPS runs).")
    return "\n".join(lines)


def check_gpu_sharing(entries, communicator, nccl_version=None, env=None):
    """None when no GPU is shared; else the advice. Raises SharedGPUError when `communicator` is
    'nccl' and NCCL cannot share a GPU here (the job would fail later with a vaguer message)."""
    env = os.environ if env is None else env
    groups = find_shared_gpus(entries)
    if not groups:
        return None
    message = shared_gpu_message(groups, nccl_version)
    if communicator == "nccl" and not nccl_can_share(nccl_version, env):
        raise SharedGPUError(message)
    return message
