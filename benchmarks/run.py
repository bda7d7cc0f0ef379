"""Runs the benchmarks one after another in one go and prints medians and ratios to the peers.

    python benchmarks/run.py                      # everything, once
    python benchmarks/run.py --only W1 W2 --rounds 3
    python benchmarks/run.py --quick              # a few steps of each: checks that all run

Each program runs in a fresh child process whose environment pins every thread pool to one
thread (OMP, OpenBLAS, MKL, ...), so a ratio compares code, not thread counts. Multi-rank
workloads (W3, W4) run under `mpirun -n 2`. With `--rounds N` the whole list is run N times,
interleaved, and each number is the median over the rounds: on a shared machine load comes and
goes, and interleaving spreads it over every implementation alike. Where a program times
distflow and its peer in alternating blocks of one process (W3), the ratio is the median of the
blocks' ratios rather than the ratio of two medians. A peer that is not installed
(PyTorch, JAX, mpi4py) is reported as "not installed"; the rest still runs. The one-process
step programs (W1 with SGD and with Adam, W2: NumPy, distflow, JAX, PyTorch) each pin their
process to one core, the same one, so that no peer borrows the other cores.

Output: a table (medians, ratios, targets), then one JSON line per table row; `--records FILE`
also keeps every raw measurement as JSON lines.
"""
import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# the MPICH selection file distflow applies under MPICH 5 (distribute/runtime.py)
MPICH_SELECTION_VAR = "MPIR_CVAR_CH4_POSIX_COLL_SELECTION_TUNING_JSON_FILE"
MPICH_SELECTION_FILE = str(HERE.parent / "distflow" / "distribute" / "mpich_posix_collectives.json")
# distflow's default under MPICH 5 (mpi.load_mpi, runtime.tune_mpich): funneled, and MPICH's
# release_gather all-reduce up to 64 KiB only
DISTFLOW_MPI_SETTINGS = {"MPI4PY_RC_THREAD_LEVEL": "funneled",
                         MPICH_SELECTION_VAR: MPICH_SELECTION_FILE}
PY = sys.executable
WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "W6", "scaling", "import", "memory", "gpu")
DEFAULT_WORKLOADS = WORKLOADS[:-1]  # the GPU targets need a GPU: --only gpu
STEP_WORKLOADS = ("W1", "W1 Adam", "W2")  # one-process steps: judged on CPU time
THREAD_LEVELS = ("single", "funneled", "serialized", "multiple")
PINNED = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                           "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS",
                           "BLIS_NUM_THREADS")}


# -- the jobs -------------------------------------------------------------------------------------
class Job:
    """One program run: `argv` after the interpreter, on `ranks` ranks, with extra env."""

    def __init__(self, workload, argv, ranks=1, env=None, timeout=900):
        self.workload, self.argv, self.ranks = workload, argv, ranks
        self.env, self.timeout = env or {}, timeout

    def label(self):
        return " ".join(([] if self.ranks == 1 else ["mpirun -n %d" % self.ranks])
                        + [Path(self.argv[0]).name] + self.argv[1:])


def jobs_for(workloads, quick):
    q = ["--quick"] if quick else []
    jobs = []
    for w in ("W1", "W2"):
        if w in workloads:
            variants = ["graph", "callable", "function", "eager"]
            if w == "W2" and not quick:
                variants = ["graph", "function"]  # eager W2 differs by Python overhead only
            # W1 with SGD and with Adam; W2 with SGD (BLAS-bound, the optimizer matters little)
            for opt in (("sgd", "adam") if w == "W1" else ("sgd",)):
                o = ["--optimizer", opt]
                jobs += [Job(w, ["step_numpy.py", "--workload", w] + o + q),
                         Job(w, ["step_distflow.py", "--workload", w, "--variant"] + variants
                             + o + q),
                         Job(w, ["step_jax.py", "--workload", w] + o + q),
                         Job(w, ["step_torch.py", "--workload", w] + o + q)]
    if "W3" in workloads:
        for level in THREAD_LEVELS:
            jobs.append(Job("W3", ["allreduce_mpi4py.py"] + q, ranks=2,
                            env={"MPI4PY_RC_THREAD_LEVEL": level}))
        jobs.append(Job("W3", ["allreduce_mpi4py.py"] + q, ranks=2, env={
            "MPI4PY_RC_THREAD_LEVEL": "single", "MPIR_CVAR_ALLREDUCE_POSIX_INTRA_ALGORITHM": "mpir"}))
        jobs.append(Job("W3", ["allreduce_mpi4py.py"] + q, ranks=2, env=DISTFLOW_MPI_SETTINGS))
        jobs += [Job("W3", ["allreduce_distflow.py"] + q, ranks=2),
                 Job("W3", ["allreduce_gloo.py"] + q, ranks=2)]
    if "W4" in workloads:
        # the baseline under the MPI settings distflow uses: a ratio then compares code alone
        jobs += [Job("W4", ["dp_step_numpy_mpi.py"] + q, ranks=2, env=DISTFLOW_MPI_SETTINGS),
                 Job("W4", ["dp_step_distflow.py"] + q, ranks=2),
                 Job("W4", ["dp_step_ddp.py"] + q, ranks=2)]
    if "W6" in workloads:  # the tutorial CNN: every implementation in one process, interleaved
        jobs.append(Job("W6", ["cnn_step.py"] + q))
    if "gpu" in workloads:  # issue 8's GPU targets: W1 and W2 at batch 4096 against PyTorch
        jobs.append(Job("gpu", ["gpu_steps.py"] + q))
    if "scaling" in workloads:  # weak scaling: W2 256 rows, W6 64 images per rank; 1 rank and 2
        jobs += [Job("scaling", ["dp_step_distflow.py", "--workload", "W2"] + q),
                 Job("scaling", ["dp_step_distflow.py", "--workload", "W2"] + q, ranks=2),
                 Job("scaling", ["dp_step_numpy_mpi.py", "--workload", "W2"] + q, ranks=2,
                     env=DISTFLOW_MPI_SETTINGS),
                 Job("scaling", ["dp_step_distflow.py", "--workload", "W6"] + q),
                 Job("scaling", ["dp_step_distflow.py", "--workload", "W6"] + q, ranks=2)]
    if "W5" in workloads:
        epochs = ["--epochs", "2", "--repeats", "1"] if quick else []
        jobs.append(Job("W5", ["whole_run.py", "--impl", "distflow", "torch"] + epochs))
    if "import" in workloads:
        jobs.append(Job("import", ["whole_run.py", "--impl", "import"]
                        + (["--repeats", "1"] if quick else [])))
    if "memory" in workloads:
        steps = ["--steps", "3"] if quick else []
        jobs += [Job("memory", ["memory.py", "--check", "w2-peak", "--impl", "numpy"] + steps),
                 Job("memory", ["memory.py", "--check", "w2-peak", "--impl", "distflow"] + steps),
                 Job("memory", ["memory.py", "--check", "w1-flat"]
                     + (["--steps", "200"] if quick else []))]
    return jobs


def mpirun():
    return shutil.which("mpirun", path=os.path.dirname(PY)) or shutil.which("mpirun")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_job(job, verbose):
    """The JSON records a job printed (a 'failed' record when it failed)."""
    env = dict(os.environ, **PINNED, **job.env)
    env["MASTER_PORT"] = str(free_port())
    cmd = [PY] + [str(HERE / job.argv[0])] + job.argv[1:]
    if job.ranks > 1:
        launcher = mpirun()
        if launcher is None or not _has_module("mpi4py"):
            return [{"workload": job.workload, "impl": Path(job.argv[0]).stem,
                     "skipped": "not installed (mpi4py / mpirun)"}]
        cmd = [launcher, "-n", str(job.ranks)] + cmd
    if verbose:
        print("# running: %s%s" % (job.label(), "".join(" %s=%s" % kv for kv in job.env.items())),
              file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env, cwd=HERE.parent, timeout=job.timeout)
    except subprocess.TimeoutExpired:
        return [{"workload": job.workload, "impl": job.label(), "failed": "timeout"}]
    records = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    if proc.returncode != 0 or not records:
        records.append({"workload": job.workload, "impl": job.label(),
                        "failed": "exit status %d" % proc.returncode,
                        "stderr": proc.stderr[-1500:]})
    for r in records:
        r.update({k: v for k, v in job.env.items() if k == "MPI4PY_RC_THREAD_LEVEL"})
    return records


def _has_module(name):
    import importlib.util
    return importlib.util.find_spec(name) is not None


# -- combining rounds ----------------------------------------------------------------------------
NUMERIC = ("wall_us", "cpu_us", "wall_s", "import_s", "peak_rss_mib", "growth_mib",
           "algbw_gbs", "busbw_gbs", "solo_us", "efficiency", "paired_ratio", "forward_us",
           "backward_us", "step_ratio", "forward_ratio", "vs_callable", "vs_callable_cpu")


def key_of(r):
    return (r.get("workload"), r.get("impl"), r.get("variant"), r.get("thread_level"))


def combine(rounds):
    """One record per measurement: the median of each number over the rounds."""
    merged = {}
    for records in rounds:
        for r in records:
            merged.setdefault(key_of(r), []).append(r)
    out = {}
    for k, rs in merged.items():
        m = dict(rs[-1])
        for f in NUMERIC:
            vals = [r[f] for r in rs if isinstance(r.get(f), (int, float))]
            if vals:
                m[f] = statistics.median(vals)
        m["rounds"] = len(rs)
        out[k] = m
    return out


# -- the table -----------------------------------------------------------------------------------
def find(recs, workload, impl, variant=None, level=None):
    for (w, i, v, t), r in recs.items():
        if w == workload and i == impl and (variant is None or v == variant) \
                and (level is None or t == level):
            return r
    return None


def fmt_us(us):
    return "%.0f us" % us if us < 10000 else "%.2f ms" % (us / 1000)


def fmt_time(r):
    if r is None:
        return "not installed"
    if "skipped" in r:
        return r["skipped"]
    if "failed" in r:
        return "FAILED (%s)" % r["failed"]
    if "wall_us" in r:
        return fmt_us(r["wall_us"])
    if "wall_s" in r:
        return "%.2f s" % r["wall_s"]
    return "-"


def ratio(a, b, field):
    if not a or not b or field not in a or field not in b or not b[field]:
        return None
    return a[field] / b[field]


def rows_for(recs):
    """(workload, what, median, cpu median, ratio, ratio on cpu, target, ok) rows."""
    rows = []

    def add(workload, what, rec, base=None, target=None, note=""):
        r_wall = ratio(rec, base, "wall_us") or ratio(rec, base, "wall_s")
        if rec and base is not None and "paired_ratio" in rec:  # timed in alternation with base
            r_wall = rec["paired_ratio"]
        r_cpu = ratio(rec, base, "cpu_us")
        judged = r_cpu if r_cpu is not None and workload in STEP_WORKLOADS else r_wall
        ok = None if target is None or judged is None else judged <= target
        cpu = "%.0f us" % rec["cpu_us"] if rec and "cpu_us" in rec and workload in STEP_WORKLOADS \
            and rec["cpu_us"] < 10000 else ("%.2f ms" % (rec["cpu_us"] / 1000) if rec and
                                            "cpu_us" in rec and workload in STEP_WORKLOADS else "")
        rows.append(dict(workload=workload, what=what + note, median=fmt_time(rec), cpu=cpu,
                         ratio=r_wall, ratio_cpu=r_cpu if workload in STEP_WORKLOADS else None,
                         target=target, ok=ok, record=rec))

    for w in ("W1", "W1 Adam", "W2"):
        base = find(recs, w, "numpy")
        torch = find(recs, w, "torch")
        jax = find(recs, w, "jax")
        if base is None and torch is None and find(recs, w, "distflow") is None:
            continue
        small = w != "W2"  # W1's step is Python-bound, W2's BLAS-bound
        add(w, "hand-written NumPy (preallocated)", base)
        add(w, "JAX jit / NumPy", jax, base)
        add(w, "PyTorch eager / NumPy", torch, base)
        names = {"graph": "distflow Session.run([train, loss], feed)", "callable":
                 "distflow sess.make_callable([train, loss])", "function": "distflow df.function",
                 "eager": "distflow eager GradientTape"}
        for v, target, peer in (("graph", 1.5 if small else 1.05, base),
                                ("callable", 1.5 if small else 1.05, base),
                                ("function", 1.5 if small else 1.05, base),
                                ("eager", 0.5, torch)):
            r = find(recs, w, "distflow", v)
            if r is not None:
                add(w, names[v] + (" / PyTorch" if peer is torch else " / NumPy"), r, peer,
                    target if (small or v != "eager") else None)
        # issue 19's targets: every graph entry point at most JAX's jit step
        for v in ("graph", "callable", "function"):
            r = find(recs, w, "distflow", v)
            if r is not None and jax is not None:
                add(w, names[v] + " / JAX", r, jax, 1.0)
        fn, call = find(recs, w, "distflow", "function"), find(recs, w, "distflow", "callable")
        if fn is not None and call is not None:
            add(w, "distflow df.function / make_callable", fn, call, 1.05)
    for size in (5121, 1313793):
        for level in THREAD_LEVELS:
            r = find(recs, "W3", "mpi4py", "size %d" % size, level)
            if r is not None:
                add("W3", "mpi4py Allreduce, %d floats, thread level %s" % (size, level), r)
        r = find(recs, "W3", "mpi4py", "size %d, MPICH algorithm mpir" % size)
        if r is not None:
            add("W3", "mpi4py Allreduce, %d floats, single + MPICH algorithm mpir" % size, r)
        r = find(recs, "W3", "mpi4py", "size %d, distflow's MPICH selection" % size)
        if r is not None:
            add("W3", "mpi4py Allreduce, %d floats, funneled + distflow's MPICH selection "
                "(release_gather <= 64 KiB): distflow's setting" % size, r)
        # distflow against a raw Allreduce timed in alternation in the same processes
        base = find(recs, "W3", "mpi4py", "in-process, size %d" % size)
        if base is not None:
            add("W3", "mpi4py Allreduce, %d floats, in distflow's processes (%s)"
                % (size, base.get("thread_level")), base)
        for variant, what, target in (
                ("communicator", "distflow communicator.allreduce(buf), the checked call", 1.1),
                ("fused op in place", "distflow FusedAllReduce op, gradients computed into its "
                 "buffer (%s tensors)", 1.1),
                ("fused op", "distflow FusedAllReduce op in a plan, plain path (%s tensors "
                 "copied in)", None)):
            r = find(recs, "W3", "distflow", "%s, size %d" % (variant, size))
            if r is not None:
                add("W3", (what % r.get("tensors", "?") if "%s" in what else what)
                    + ", %d floats / mpi4py" % size, r, base, target)
        r = find(recs, "W3", "gloo", "size %d" % size)
        if r is not None:
            add("W3", "gloo all_reduce, %d floats / mpi4py (multiple)" % size, r,
                find(recs, "W3", "mpi4py", "size %d" % size, "multiple"))
    base = find(recs, "W4", "numpy+mpi4py")
    if base is not None:
        add("W4", "NumPy + one mpi4py Allreduce (distflow's MPI settings)", base)
        for v in ("graph", "callable", "horovod"):
            r = find(recs, "W4", "distflow", v)
            if r is not None:
                add("W4", "distflow %s / NumPy+Allreduce" % v, r, base, 1.5)
        callable_step, hvd = find(recs, "W4", "distflow", "callable"), \
            find(recs, "W4", "distflow", "horovod")
        if hvd is not None and "vs_callable" in hvd:  # issue 14: Horovod's API costs <= 5 %
            add("W4", "distflow horovod / distflow callable (same blocks)",
                dict(hvd, paired_ratio=hvd["vs_callable"]), callable_step, 1.05)
        ddp = find(recs, "W4", "ddp-gloo")
        if ddp is not None:
            add("W4", "DDP on gloo / NumPy+Allreduce", ddp, base)
    torch_w6 = find(recs, "W6", "torch")
    if torch_w6 is not None or find(recs, "W6", "distflow") is not None:
        add("W6", "PyTorch eager, CNN step (forward %s)" % (
            fmt_us(torch_w6["forward_us"]) if torch_w6 and "forward_us" in torch_w6 else "-"),
            torch_w6)
        for v, name in (("graph", "distflow Session.run(train, feed)"),
                        ("function", "distflow df.function")):
            r = find(recs, "W6", "distflow", v)
            if r is not None:
                note = " (forward %s, %.2fx; backward + update %s) / PyTorch" % (
                    fmt_us(r["forward_us"]), r.get("forward_ratio") or 0,
                    fmt_us(r["backward_us"])) if "forward_us" in r else ""
                row = dict(r)
                if "step_ratio" in r:  # timed in alternation with PyTorch in one process
                    row["paired_ratio"] = r["step_ratio"]
                add("W6", name + note, row, torch_w6, 1.5)
    torch_w1, torch_w2 = find(recs, "W1 GPU", "torch"), find(recs, "W2 GPU", "torch")
    gpu_run = find(recs, "W1 GPU", "distflow")
    if gpu_run is not None and "skipped" in gpu_run:
        rows.append(dict(workload="GPU", what="W1 and W2 on a GPU: " + gpu_run["skipped"],
                         median="", cpu="", ratio=None, ratio_cpu=None, target=None, ok=None,
                         record=gpu_run))
    elif torch_w1 or torch_w2 or gpu_run:
        add("W1 GPU", "PyTorch eager on the GPU, W1 step", torch_w1)
        for variant, target in (("plan", None), ("cuda graph", 0.3)):
            r = find(recs, "W1 GPU", "distflow", variant)
            if r is not None:
                add("W1 GPU", "distflow Session plan%s / PyTorch" % (
                    ", CUDA graph" if variant == "cuda graph" else ""), r, torch_w1, target)
        add("W2 GPU", "PyTorch eager on the GPU, W2 step, batch 4096", torch_w2)
        r = find(recs, "W2 GPU", "distflow", "plan")
        if r is not None:  # throughput >= 0.9 x PyTorch's: time <= 1 / 0.9 of its
            add("W2 GPU", "distflow Session plan / PyTorch (time; throughput target >= 0.9x)",
                r, torch_w2, round(1 / 0.9, 2))
    # Weak scaling: both times from one job in alternating blocks (the target's row), the
    # NumPy + mpi4py program measured alike, and the 1-rank job run on its own for reference.
    for impl, target in (("distflow", ">= 0.9"), ("numpy+mpi4py", None)):
        r = find(recs, "scaling", impl, "W2 weak, interleaved")
        if r and "efficiency" in r:
            rows.append(dict(workload="scaling", what="%s W2 weak scaling, 256 rows per rank: "
                             "1 rank %s / %d ranks %s, interleaved in one job (efficiency)"
                             % ("distflow" if impl == "distflow" else "NumPy + mpi4py",
                                fmt_us(r["solo_us"]), r["ranks"], fmt_time(r)),
                             median="", cpu="", ratio=r["efficiency"], ratio_cpu=None,
                             target=target, ok=r["efficiency"] >= 0.9 if target else None,
                             record=r))
    r = find(recs, "scaling", "distflow", "W6 weak, interleaved")
    if r and "efficiency" in r:  # issue 15 asks for the figure, with no target
        rows.append(dict(workload="scaling", what="distflow W6 (CNN) weak scaling, 64 images per "
                         "rank: 1 rank %s / %d ranks %s, interleaved in one job (efficiency)"
                         % (fmt_us(r["solo_us"]), r["ranks"], fmt_time(r)), median="", cpu="",
                         ratio=r["efficiency"], ratio_cpu=None, target=None, ok=None, record=r))
    for w in ("W2", "W6"):
        one = find(recs, "scaling", "distflow", "%s weak, 1 rank(s)" % w)
        two = find(recs, "scaling", "distflow", "%s weak, interleaved" % w)
        if one and two and "wall_us" in one and "wall_us" in two:
            rows.append(dict(workload="scaling", what="distflow %s weak scaling against the "
                             "1-rank job run on its own: %s / %s" % (w, fmt_time(one),
                                                                     fmt_time(two)),
                             median="", cpu="", ratio=one["wall_us"] / two["wall_us"],
                             ratio_cpu=None, target=None, ok=None, record=one))
    torch_run = find(recs, "W5", "torch")
    df_run = find(recs, "W5", "distflow")
    if torch_run or df_run:
        add("W5", "PyTorch script, 100 epochs", torch_run)
        add("W5", "distflow train configs/boston.yaml / PyTorch", df_run, torch_run, 0.5)
    imp = find(recs, "import", "distflow")
    if imp is not None and "import_s" in imp:
        loaded = imp.get("loaded") or []
        rows.append(dict(workload="import", what="import distflow (target <= 0.3 s; loads %s)"
                         % (", ".join(loaded) or "neither mpi4py nor cupy"),
                         median="%.3f s" % imp["import_s"], cpu="", ratio=None, ratio_cpu=None,
                         target=0.3, ok=imp["import_s"] <= 0.3 and not loaded, record=imp))
    np_mem, df_mem = find(recs, "memory", "numpy"), find(recs, "memory", "distflow", "W2 peak RSS")
    if np_mem and df_mem and "peak_rss_mib" in np_mem and "peak_rss_mib" in df_mem:
        q = df_mem["peak_rss_mib"] / np_mem["peak_rss_mib"]
        rows.append(dict(workload="memory", what="W2 peak RSS: distflow %.0f MiB / NumPy %.0f MiB"
                         % (df_mem["peak_rss_mib"], np_mem["peak_rss_mib"]), median="", cpu="",
                         ratio=q, ratio_cpu=None, target=1.2, ok=q <= 1.2, record=df_mem))
    flat = find(recs, "memory", "distflow", "W1 RSS over steps")
    if flat and "growth_mib" in flat:
        rows.append(dict(workload="memory", what="W1 RSS growth over %d graph steps" % flat["steps"],
                         median="%+.2f MiB" % flat["growth_mib"], cpu="", ratio=None,
                         ratio_cpu=None, target=None, ok=abs(flat["growth_mib"]) < 1.0,
                         record=flat))
    return rows


def print_table(rows, out=sys.stdout):
    head = ("workload", "implementation", "median (wall)", "median (cpu)", "ratio", "ratio (cpu)",
            "target", "meets")
    cells = [head]
    for r in rows:
        cells.append((r["workload"], r["what"], r["median"], r["cpu"],
                      "" if r["ratio"] is None else "%.2fx" % r["ratio"],
                      "" if r["ratio_cpu"] is None else "%.2fx" % r["ratio_cpu"],
                      "" if r["target"] is None else (r["target"] if isinstance(r["target"], str)
                                                      else "<= %g" % r["target"]),
                      "" if r["ok"] is None else ("yes" if r["ok"] else "NO")))
    widths = [max(len(str(c[i])) for c in cells) for i in range(len(head))]
    for n, c in enumerate(cells):
        out.write("| " + " | ".join(str(v).ljust(w) for v, w in zip(c, widths)) + " |\n")
        if n == 0:
            out.write("|" + "|".join("-" * (w + 2) for w in widths) + "|\n")


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        cpu = "%s x %d" % (names[0], len(names)) if names else cpu
    except OSError:
        pass
    import numpy
    return "%s; Python %s, NumPy %s; %s" % (cpu, platform.python_version(), numpy.__version__,
                                          platform.platform())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--only", nargs="+", choices=WORKLOADS, default=list(DEFAULT_WORKLOADS),
                   help="the workloads to run (default: all)")
    p.add_argument("--rounds", type=int, default=1, help="run everything N times, interleaved")
    p.add_argument("--quick", action="store_true", help="a few steps each: checks, not timings")
    p.add_argument("--records", help="also write every raw measurement to this file (JSON lines)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    args = p.parse_args(argv)
    jobs = jobs_for(set(args.only), args.quick)
    rounds = []
    start = time.time()
    for _ in range(args.rounds):
        records = []
        for job in jobs:
            records += run_job(job, not args.quiet)
        rounds.append(records)
    if args.records:
        with open(args.records, "w") as f:
            for i, records in enumerate(rounds):
                for r in records:
                    f.write(json.dumps(dict(r, round=i)) + "\n")
    recs = combine(rounds)
    rows = rows_for(recs)
    print("distflow benchmarks: %s; %d round(s), %.0f s; threads pinned to 1; medians"
          % (machine(), args.rounds, time.time() - start))
    print_table(rows)
    failures = [r for r in recs.values() if "failed" in r]
    for r in failures:
        print("FAILED: %s %s: %s" % (r["workload"], r["impl"], r.get("stderr", r["failed"])),
              file=sys.stderr)
    for r in rows:
        print(json.dumps({k: v for k, v in r.items() if k != "record"}
                         | {"raw": r["record"]}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
