"""`distflow info`: what distflow runs on here, and what is wrong when something is.

Versions (distflow, Python, NumPy, CuPy, mpi4py and the MPI library), CUDA devices and the NCCL
version when there are any, and under mpirun the map of ranks to hosts and devices. Each check
that fails adds a line to `problems` saying what to do; a missing optional part (CuPy on a
machine without GPUs) is only a note.
"""
import os
import platform
import shutil
import sys

import numpy as np

import distflow
from distflow.run import world


def _cupy_info(info):
    try:
        import cupy
    except ImportError:
        info["cupy"] = None
        if shutil.which("nvidia-smi"):
            info["problems"].append("an NVIDIA driver is installed (nvidia-smi) but CuPy is not: "
                                    "pip install -e '.[gpu]' to train on the GPUs")
        return None
    except Exception as e:  # a CuPy built for another CUDA fails on import
        info["cupy"] = "broken"
        info["problems"].append("CuPy is installed but does not import: %s" % e)
        return None
    info["cupy"] = cupy.__version__
    return cupy


def _cuda_info(info, cupy):
    info["cuda_devices"] = []
    if cupy is None:
        return
    try:
        count = cupy.cuda.runtime.getDeviceCount()
        info["cuda_runtime"] = cupy.cuda.runtime.runtimeGetVersion()
        for i in range(count):
            props = cupy.cuda.runtime.getDeviceProperties(i)
            name = props["name"]
            info["cuda_devices"].append("%d: %s, %.1f GiB" % (
                i, name.decode() if isinstance(name, bytes) else name,
                props["totalGlobalMem"] / 2**30))
    except Exception as e:
        # CuPy on a machine without an NVIDIA driver is fine (the CPU is used); with a driver,
        # not finding a device means something is wrong with it.
        if shutil.which("nvidia-smi"):
            info["problems"].append("CuPy finds no usable CUDA device: %s" % e)
    try:
        from cupy.cuda import nccl
        from distflow.distribute.devices import nccl_version_tuple
        info["nccl"] = "%d.%d.%d" % nccl_version_tuple(nccl.get_version())
    except Exception:  # no NCCL in this CuPy: multi-GPU runs use MPI through host memory
        info["nccl"] = None


def _mpi_info(info):
    from distflow.distribute.runtime import launched_by_mpi
    info["launched_by_mpi"] = launched_by_mpi()
    info["mpirun"] = _find_mpirun()
    try:
        import mpi4py
    except ImportError:
        info["mpi4py"] = None
        advice = "mpi4py is not installed: multi-rank runs need pip install 'distflow[mpi]'"
        if info["launched_by_mpi"]:
            info["problems"].append(advice + " (this process was started by mpirun)")
        else:
            info["notes"].append(advice)
        return None
    info["mpi4py"] = mpi4py.__version__
    # MPI started as a training run starts it (thread level, MPICH's selection), so that what
    # is shown is what training gets
    from distflow.distribute import mpi, runtime
    tuned = runtime.tune_mpich()
    MPI = mpi.load_mpi("funneled" if tuned else None)
    info["mpi_library"] = " ".join(MPI.Get_library_version().strip().splitlines()[0].split())
    info["mpi_standard"] = "%d.%d" % MPI.Get_version()
    info["mpi_thread_level"] = {MPI.THREAD_SINGLE: "single", MPI.THREAD_FUNNELED: "funneled",
                                MPI.THREAD_SERIALIZED: "serialized",
                                MPI.THREAD_MULTIPLE: "multiple"}.get(MPI.Query_thread())
    info["mpich_selection"] = os.environ.get(runtime.MPICH_SELECTION_VAR)
    from distflow.distribute import shared_memory
    info["big_allreduce"] = shared_memory.describe()
    return MPI


def _find_mpirun():
    here = os.path.join(os.path.dirname(sys.executable), "mpirun")
    return here if os.path.exists(here) else shutil.which("mpirun")


def _rank_map(info, cupy):
    """Under mpirun: every rank's host, local rank and device, gathered to all ranks."""
    from distflow.distribute import devices, runtime
    want = "gpu" if cupy is not None and info["cuda_devices"] else "cpu"
    # 'mpi': on GPUs that stages through host memory, so `info` never starts NCCL itself
    try:
        ctx = runtime.init(device=want, communicator="mpi")
    except runtime.DeviceMismatchError as e:  # CuPy finds GPUs on some nodes only
        info["problems"].append(str(e))
        return None
    launched = world.launcher_size()
    if ctx.size != launched:
        info["problems"].append(
            "mpirun started %d processes, but MPI in this process sees a job of %d: mpirun and "
            "mpi4py use different MPI libraries. Use the mpirun of the MPI mpi4py was built with "
            "(%s)" % (launched, ctx.size, _find_mpirun() or "next to this Python"))
    entries = ctx.communicator.allgather_object(
        (ctx.rank, ctx.host, ctx.local_rank, ctx.device, os.getpid()))
    info["ranks"] = [{"rank": r, "host": h, "local_rank": lr, "device": d, "pid": p}
                     for r, h, lr, d, p in entries]
    shared = devices.find_shared_gpus([(r, h, d) for r, h, _, d, _ in entries if d != "cpu"])
    if shared:
        info["problems"].append(devices.shared_gpu_message(shared, None))
    if want == "gpu":
        kind, why = runtime.choose_gpu_communicator("auto", ctx.size, runtime._nccl_version(),
                                                    shared)
        info["notes"].append("on these GPUs, communicator 'auto' picks %s: %s" % (kind, why))
    return ctx


def collect():
    """A dict of everything `distflow info` reports; under mpirun, on every rank."""
    info = {"distflow": distflow.__version__, "distflow_path": os.path.dirname(distflow.__file__),
            "python": "%s (%s)" % (platform.python_version(), sys.executable),
            "numpy": np.__version__, "platform": platform.platform(), "problems": [],
            "notes": []}
    cupy = _cupy_info(info)
    _cuda_info(info, cupy)
    mpi = _mpi_info(info)
    from distflow.distribute import runtime
    tasks = runtime.tasks_without_mpi()
    if tasks:
        info["problems"].append(runtime.tasks_without_mpi_message(tasks))
    if mpi is not None and info["launched_by_mpi"]:
        _rank_map(info, cupy)
    elif info["launched_by_mpi"] and world.launcher_size() > 1:
        info["notes"].append("started by mpirun with %d processes; without mpi4py each runs "
                             "alone" % world.launcher_size())
    return info


def format_info(info):
    rows = [("distflow", "%s (%s)" % (info["distflow"], info["distflow_path"])),
            ("Python", info["python"]), ("NumPy", info["numpy"]),
            ("CuPy", info["cupy"] or "not installed (CPU only)"),
            ("mpi4py", info["mpi4py"] or "not installed (one process only)")]
    if info.get("mpi_library"):
        rows.append(("MPI library", "%s (MPI %s)" % (info["mpi_library"], info["mpi_standard"])))
        rows.append(("MPI threads", info["mpi_thread_level"]))
        rows.append(("MPI tuning", "collective selection " + info["mpich_selection"]
                     if info["mpich_selection"] else "the library's own"))
        rows.append(("all-reduce", info["big_allreduce"]))
    rows.append(("mpirun", info["mpirun"] or "not found"))
    if info["cupy"]:
        rows.append(("CUDA devices", "; ".join(info["cuda_devices"]) or "none"))
        rows.append(("NCCL", info.get("nccl") or "not available"))
    rows.append(("platform", info["platform"]))
    lines = ["%-13s %s" % (k + ":", v) for k, v in rows]
    if info.get("ranks"):
        lines.append("ranks:")
        for r in info["ranks"]:
            lines.append("  rank %d: host %s, local rank %d, device %s, pid %d"
                         % (r["rank"], r["host"], r["local_rank"], r["device"], r["pid"]))
    for note in info["notes"]:
        lines.append("note: " + note)
    if info["problems"]:
        lines.append("problems:")
        lines += ["  - " + p.replace("\n", "\n    ") for p in info["problems"]]
    else:
        lines.append("problems: none found")
    return "\n".join(lines)
