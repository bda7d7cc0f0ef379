"""The run directory of `distflow train`: which one, held by one run at a time, checked before
anything in it changes.

- A lock: rank 0 holds an exclusive flock on `<run dir>/.distflow.lock` for the run's life. The
  kernel drops it when the process ends, however it ends (kill -9 included), so a lock is never
  stale; a second run on the same directory is refused, naming the holder (pid, host, start).
- Numbered siblings: when the directory comes from the config (no --output) and already holds
  a run, or another run holds it, the run goes to the next free `<dir>-2`, `<dir>-3`, ...; with
  --resume and no --output, the newest of them is continued. An explicit --output that holds a
  run is refused without --resume.
- Resume checks first: the checkpoints' config is compared with the new one, and only keys that
  cannot change what the model means may differ (RESUMABLE). Nothing is written before that.
- Partial checkpoint files of a killed writer are removed once the lock is held (only then is
  it certain that nobody is writing them).
"""
import datetime
import errno
import fcntl
import json
import os
import socket

from distflow.run import checkpoint

CHECKPOINT_DIR = "checkpoints"
LOCK_FILE = ".distflow.lock"
RUN_FILES = ("metrics.jsonl", "summary.json")
MAX_SIBLINGS = 10000

# Keys a resumed run may change: how long, how often it reports or saves, where it runs. Every
# other key changes the model, its data or its optimization, so the checkpoint would not mean
# what the new config says.
RESUMABLE = ("train.epochs", "train.log_every", "train.eval_every", "output.", "distributed.",
             "device", "cuda_graphs")


class RunLock:
    """An exclusive flock held on an open file; released by release() or by the process's end."""

    def __init__(self, fd, warning=None):
        self._fd, self.warning = fd, warning

    def release(self):
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor drops the flock
            self._fd = None


def lock(run_dir):
    """(RunLock, None), or (None, a description of the holder) when another process holds it.
    Creates the directory."""
    os.makedirs(run_dir, exist_ok=True)
    fd = os.open(os.path.join(run_dir, LOCK_FILE), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            holder = _describe(json.loads(os.pread(fd, 4096, 0).decode() or "{}"))
        except (OSError, ValueError):
            holder = "a process that has not said who it is yet"
        os.close(fd)
        return None, holder
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
            # a file system without locks (some NFS mounts): run, but say what is not guarded
            return RunLock(None, "the file system of %s cannot lock files (%s): nothing stops "
                           "a second run on this directory" % (run_dir, e.strerror)), None
        raise
    except BaseException:
        os.close(fd)
        raise
    me = {"pid": os.getpid(), "host": socket.gethostname(),
          "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(me).encode(), 0)
    return RunLock(fd), None


def _describe(holder):
    if not isinstance(holder, dict) or "pid" not in holder:
        return "a process that has not said who it is yet"
    return "pid %s on %s, started %s" % (holder.get("pid"), holder.get("host", "?"),
                                        holder.get("started", "?"))


def checkpoints_under(run_dir):
    """Checkpoint files of the run (its own, and each fold's or split's)."""
    if not os.path.isdir(run_dir):
        return []
    found = checkpoint.all_checkpoints(os.path.join(run_dir, CHECKPOINT_DIR))
    for sub in sorted(os.listdir(run_dir)):
        found += checkpoint.all_checkpoints(os.path.join(run_dir, sub, CHECKPOINT_DIR))
    return found


def checkpoint_dirs(run_dir):
    dirs = [os.path.join(run_dir, CHECKPOINT_DIR)]
    if os.path.isdir(run_dir):
        dirs += [os.path.join(run_dir, sub, CHECKPOINT_DIR) for sub in sorted(os.listdir(run_dir))
                 if os.path.isdir(os.path.join(run_dir, sub, CHECKPOINT_DIR))]
    return [d for d in dirs if os.path.isdir(d)]


def holds_run(run_dir):
    """What shows that a run used this directory (a checkpoint, metrics or a summary), or None."""
    found = checkpoints_under(run_dir)
    if found:
        return found[-1]
    for name in RUN_FILES:
        if os.path.exists(os.path.join(run_dir, name)):
            return os.path.join(run_dir, name)
    return None


def sibling(base, n):
    return base if n == 1 else "%s-%d" % (base, n)


def _newest_sibling(base):
    """The highest-numbered of base, base-2, ... that holds a run (base when none does)."""
    newest, misses = base, 0
    for n in range(2, MAX_SIBLINGS):
        if holds_run(sibling(base, n)):
            newest, misses = sibling(base, n), 0
        elif not os.path.exists(sibling(base, n)):
            misses += 1
            if misses > 3:  # a gap left by a deleted run is fine; a long one ends the search
                break
    return newest


class Opened:
    """What `open_run` decided: the directory, the lock (None on failure), what to tell the user
    (notes) or why the run cannot start (problem)."""

    def __init__(self, run_dir, run_lock=None, notes=(), problem=None):
        self.run_dir, self.lock, self.notes, self.problem = run_dir, run_lock, list(notes), problem


def open_run(base, explicit, resume, new_config, dump):
    """Rank 0: chooses and locks the run directory, checks a resume, removes partial files and
    writes config.yaml (`dump(config)` gives its text). Returns Opened."""
    base = base.rstrip("/") or base
    if explicit or resume:
        run_dir = base if explicit else _newest_sibling(base)
        notes = [] if run_dir == base else ["continuing the newest run, in %s" % run_dir]
        held = holds_run(run_dir)
        if held and not resume:
            return Opened(run_dir, problem="output.dir = %r already holds a run (%s): add --resume "
                          "to continue it, or choose another directory with --output"
                          % (run_dir, held))
        return _locked(run_dir, resume, new_config, dump, notes)
    busy = []
    for n in range(1, MAX_SIBLINGS):
        run_dir = sibling(base, n)
        if holds_run(run_dir):
            busy.append(run_dir)
            continue
        opened = _locked(run_dir, False, new_config, dump, [])
        if opened.problem and opened.lock is None and "in use by" in opened.problem:
            busy.append(run_dir)
            continue
        if busy and not opened.problem:
            opened.notes.append("%s already holds a run: this run writes to %s (--output chooses "
                                "the directory, --resume continues the newest)" % (base, run_dir))
        return opened
    return Opened(base, problem="output.dir = %r and its numbered siblings up to %s all hold "
                  "runs: choose a directory with --output" % (base, sibling(base, MAX_SIBLINGS)))


def _locked(run_dir, resume, new_config, dump, notes):
    try:
        run_lock, holder = lock(run_dir)
    except OSError as e:
        return Opened(run_dir, problem="output.dir = %r cannot be written: %s"
                      % (run_dir, e.strerror or e))
    if run_lock is None:
        return Opened(run_dir, problem="output.dir = %r is in use by another distflow run (%s): "
                      "wait for it to end, or choose another directory with --output"
                      % (run_dir, holder))
    if run_lock.warning:
        notes.append(run_lock.warning)
    try:
        problem = _check_and_write(run_dir, resume, new_config, dump, notes)
    except BaseException:
        run_lock.release()
        raise
    if problem:
        run_lock.release()
        return Opened(run_dir, problem=problem)
    return Opened(run_dir, run_lock, notes)


def _check_and_write(run_dir, resume, new_config, dump, notes):
    """Under the lock: a reason to stop, or None once config.yaml is written."""
    if not resume and holds_run(run_dir):  # a run that started between the check and the lock
        return ("output.dir = %r already holds a run (%s): add --resume to continue it, or choose "
                "another directory with --output" % (run_dir, holds_run(run_dir)))
    try:
        for where in checkpoint_dirs(run_dir):
            for path in checkpoint.remove_temporaries(where):
                notes.append("removed %s, the partial file of a checkpoint write that never "
                             "finished" % path)
        if resume:
            problem = _check_resume(run_dir, new_config, notes)
            if problem:
                return problem
        new_config["output"]["dir"] = run_dir  # the directory chosen, a numbered one included
        with open(os.path.join(run_dir, "config.yaml"), "w") as f:
            f.write(dump(new_config))
    except OSError as e:
        return "output.dir = %r cannot be written: %s" % (run_dir, e.strerror or e)
    return None


def _check_resume(run_dir, new_config, notes):
    """Damaged newest checkpoints are set aside (renamed *.corrupt, said in notes); a reason to
    refuse when none is usable or the config changes what the model means."""
    for where in checkpoint_dirs(run_dir):
        try:
            path, _, meta, skipped = checkpoint.newest_valid(where)
        except checkpoint.CheckpointError as e:
            return "cannot resume: %s" % e
        for bad, why in skipped:
            os.replace(bad, bad + ".corrupt")
            notes.append("skipped %s: %s (kept as %s.corrupt); resuming from %s instead"
                         % (bad, why, os.path.basename(bad), os.path.basename(path)))
        if path is None:
            continue
        done, wanted = meta.get("epoch", 0), new_config["train"]["epochs"]
        if isinstance(done, int) and wanted < done:
            return ("cannot resume %s with train.epochs = %d: the checkpoint %s has already trained "
                    "%d epochs (a resume trains further, never back)" % (run_dir, wanted, path, done))
        changed = changed_keys(meta.get("config", {}), new_config)
        if changed:
            return ("cannot resume %s with a different %s: the checkpoint %s was trained with %s. "
                    "A resume may change only %s; start a new run with --output for the rest"
                    % (run_dir, ", ".join(k for k, _, _ in changed), path,
                       ", ".join("%s = %s (now %s)" % (k, _short(old), _short(new))
                                 for k, old, new in changed),
                       "train.epochs, train.log_every, train.eval_every, output.*, distributed.*, "
                       "device and cuda_graphs"))
    return None


def changed_keys(old, new, prefix=""):
    """[(key, old value, new value)] of the keys that differ and may not change on resume."""
    out = []
    for key in sorted(set(old) | set(new)):
        name = prefix + str(key)
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += changed_keys(a, b, name + ".")
        elif a != b and not any(name == r or (r.endswith(".") and name.startswith(r))
                                for r in RESUMABLE):
            out.append((name, a, b))
    return out


def _short(value):
    from distflow.run.strict_yaml import short
    return short(value, 60)
