"""A throwaway one-node Slurm cluster for the launcher tests: munged, slurmctld and slurmd run in
the foreground as children of the test, with their config, state, sockets and logs in one
directory; stop() ends them by pid. Nothing of the machine's own Slurm or munge is used or touched
(the system's /etc/slurm and /run/munge stay as they were).

Needs root (slurmd starts each job's tasks as the submitting user) and Debian's packages
(`apt-get install slurm-wlm munge`); `why_not()` says which is missing.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

NODE = "dfnode"
PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "srun", "sinfo", "scontrol", "scancel")
INSTALL = "apt-get install slurm-wlm munge"


def why_not():
    """None when a cluster can be started here, else the reason it cannot."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "starting slurmd needs root (it runs each job's tasks as the submitting user)"
    missing = [p for p in PROGRAMS if shutil.which(p) is None and
               not os.access(os.path.join("/usr/sbin", p), os.X_OK)]
    if missing:
        return "Slurm or munge is not installed (no %s on PATH; %s)" % (", ".join(missing), INSTALL)
    return None


def _program(name):
    return shutil.which(name) or os.path.join("/usr/sbin", name)


def _free_ports(count):
    """`count` distinct TCP ports free on this host now (held open together while chosen)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


# Slurm keeps a GPU only with a device file; these stand in for them (task/none binds and hides
# nothing), so a job that asks for GPUs gets an allocation that says it has them.
_STAND_IN_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/urandom")


class SlurmCluster:
    """One node named NODE with `cpus` CPUs and, when `gpus` > 0 (at most 4), that many GPUs as
    generic resources on stand-in device files: a job given them sees SLURM_GPUS_ON_NODE and
    SLURM_JOB_GPUS as on a GPU node, while no GPU is there."""

    def __init__(self, root, cpus=2, gpus=2):
        self.root = str(root)
        self.cpus, self.gpus = cpus, gpus
        self.conf = os.path.join(self.root, "slurm.conf")
        self.procs = {}   # name -> Popen, in start order

    # -- commands against this cluster ---------------------------------------------------------
    def env(self, extra=None):
        """The environment for Slurm commands: this cluster's config, and nothing of a Slurm job
        or MPI launcher the tests themselves might run in."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_", "PMI_", "PMIX_",
                                    "OMPI_", "HYDRA_", "MPI_"))}
        env["SLURM_CONF"] = self.conf
        env.update(extra or {})
        return env

    def run(self, args, timeout=60, env=None, cwd=None):
        return subprocess.run([_program(args[0])] + [str(a) for a in args[1:]], cwd=cwd,
                              env=self.env(env), capture_output=True, text=True, timeout=timeout)

    def wait_job(self, job, timeout):
        """(final state, exit status) of a job, polled often: `sbatch --wait` polls ever more
        slowly and would add up to half a minute to a short job."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.run(["scontrol", "show", "job", "-o", job], timeout=20)
            fields = dict(f.split("=", 1) for f in proc.stdout.split() if "=" in f)
            state = fields.get("JobState", "")
            if state and state not in ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING"):
                code = fields.get("ExitCode", "1:0").split(":")
                status = int(code[0]) if code[0].isdigit() else 1
                if code[1:] and code[1].isdigit() and int(code[1]):
                    status = 128 + int(code[1])  # ended by a signal
                return state, status
            time.sleep(0.2)
        self.run(["scancel", job], timeout=20)
        raise RuntimeError("job %s still %s after %d s:\n%s" % (job, state, timeout, self.logs()))

    # -- life cycle ----------------------------------------------------------------------------
    def start(self, timeout=60):
        d = self.root
        munge_dir = os.path.join(d, "munge")
        for sub in ("state", "spool", munge_dir):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.chmod(munge_dir, 0o711)  # munged refuses a socket directory others can write
        key = os.path.join(munge_dir, "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o600)
        self.munge_socket = os.path.join(munge_dir, "munge.sock")
        ctld_port, slurmd_port = _free_ports(2)
        host = socket.gethostname().split(".")[0]
        with open(self.conf, "w") as f:
            f.write(_SLURM_CONF.format(
                d=d, host=host, node=NODE, ctld_port=ctld_port, slurmd_port=slurmd_port,
                munge_socket=self.munge_socket, cpus=self.cpus,
                gres_types="GresTypes=gpu" if self.gpus else "",
                node_gres=" Gres=gpu:%d" % self.gpus if self.gpus else ""))
        with open(os.path.join(d, "gres.conf"), "w") as f:
            f.write("AutoDetect=off\n")
            for dev in _STAND_IN_DEVICES[:self.gpus]:
                f.write("NodeName=%s Name=gpu File=%s\n" % (NODE, dev))

        self._spawn("munged", [_program("munged"), "--foreground", "--force",
                               "--key-file=" + key, "--socket=" + self.munge_socket,
                               "--pid-file=" + os.path.join(munge_dir, "munged.pid"),
                               "--seed-file=" + os.path.join(munge_dir, "munged.seed"),
                               "--log-file=" + os.path.join(munge_dir, "munged.log")])
        self._wait(lambda: os.path.exists(self.munge_socket), timeout, "munged's socket")
        self._spawn("slurmctld", [_program("slurmctld"), "-D", "-f", self.conf])
        self._spawn("slurmd", [_program("slurmd"), "-D", "-f", self.conf, "-N", NODE])
        self._wait(self._node_idle, timeout, "node %s to be idle" % NODE)
        return self

    def _spawn(self, name, cmd):
        log = open(os.path.join(self.root, name + ".out"), "w")
        try:
            self.procs[name] = subprocess.Popen(cmd, env=self.env(), stdout=log,
                                                stderr=subprocess.STDOUT, cwd=self.root)
        finally:
            log.close()

    def _node_idle(self):
        proc = self.run(["sinfo", "-h", "-n", NODE, "-o", "%T"], timeout=20)
        return proc.returncode == 0 and proc.stdout.strip() == "idle"

    def _wait(self, ready, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead:
                raise RuntimeError("%s exited while waiting for %s:\n%s"
                                   % (", ".join(dead), what, self.logs()))
            if ready():
                return
            time.sleep(0.2)
        raise RuntimeError("no %s after %d s:\n%s" % (what, timeout, self.logs()))

    def logs(self):
        """The daemons' logs, for a failure message."""
        parts = []
        for name in ("slurmctld.log", "slurmd.log", "slurmctld.out", "slurmd.out",
                     "munged.out", os.path.join("munge", "munged.log")):
            path = os.path.join(self.root, name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    parts.append("--- %s ---\n%s" % (name, f.read()[-3000:]))
        return "\n".join(parts)

    def stop(self):
        """Cancels what still runs, then ends the daemons by pid, newest first."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            try:
                self.run(["scancel", "--full", "--partition=debug"], timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                pass
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=20)
        self.procs.clear()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# Plugins that need nothing from the host: no cgroups, no accounting database, no NVML.
# config_overrides: the node is what this file says, whatever the machine's core count.
_SLURM_CONF = """\
ClusterName=distflowtest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={munge_socket}
CredType=cred/munge
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
{gres_types}
NodeName={node} NodeHostname={host} NodeAddr=127.0.0.1 CPUs={cpus}{node_gres} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
