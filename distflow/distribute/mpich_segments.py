"""MPICH's own shared-memory segments (/dev/shm/mpich_shm_*), removed after a killed job.

MPICH creates a 2 to 3 MiB segment per host in MPI_Init and unlinks it in MPI_Finalize; a job
whose ranks are killed (SIGKILL, the OOM killer, a batch system's time limit) never finalizes,
and its segment stays in /dev/shm until the host reboots. Nothing in a segment's name says
whose it is, and other jobs (of this user too) may be running, so a segment is removed only
where distflow can prove it belongs to a job that has ended:

- each rank, once MPI is up, writes a record /dev/shm/distflow-mpich-<pid>: its pid, the
  process's start time (so that a reused pid does not pass for the owner) and the identity
  (name, device, inode) of every mpich_shm segment it maps; a normal exit removes the record;
- every distflow start sweeps: a recorded segment is unlinked when every record naming it
  belongs to a process that has ended, the file there is still the one recorded (same inode:
  /dev/shm is a tmpfs, whose inode numbers only grow, so a newer job's segment of the same name
  has another), and no running process maps it. Records of ended processes are removed then too.

A segment no record names (a job of other software, or of an older distflow) is never touched.
"""
import atexit
import json
import os

DIRECTORY = "/dev/shm"
SEGMENT_PREFIX = "mpich_shm_"
RECORD_PREFIX = "distflow-mpich-"


def mapped_segments(maps_path="/proc/self/maps", directory=DIRECTORY):
    """The paths of the MPICH segments a process maps (from its /proc maps)."""
    try:
        with open(maps_path) as f:
            lines = f.read().splitlines()
    except OSError:  # not Linux, or the process has ended
        return []
    found = []
    for line in lines:
        fields = line.split(None, 5)
        path = fields[5] if len(fields) == 6 else ""
        if (os.path.dirname(path) == directory
                and os.path.basename(path).startswith(SEGMENT_PREFIX) and path not in found):
            found.append(path)
    return found


def start_time(pid):
    """The process's start time (clock ticks after boot, /proc/<pid>/stat field 22), or None
    when no such process runs (a zombie has ended too: it only waits to be reaped)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return None if fields[0] in ("Z", "X") else int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def record(directory=DIRECTORY, pid=None):
    """Writes this process's record of the segments it maps (none: no record); returns its
    path or None. A normal exit removes it."""
    pid = os.getpid() if pid is None else pid
    segments = []
    for path in mapped_segments(directory=directory):
        try:
            st = os.stat(path)
        except OSError:  # unlinked already
            continue
        segments.append([os.path.basename(path), st.st_dev, st.st_ino])
    if not segments:
        return None
    path = os.path.join(directory, "%s%d" % (RECORD_PREFIX, pid))
    try:
        with open(path, "w") as f:
            json.dump({"pid": pid, "start": start_time(pid), "segments": segments}, f)
    except OSError:  # a full or read-only /dev/shm: nothing is recorded, nothing swept
        return None
    atexit.register(forget, path)
    return path


def forget(path):
    """Removes a record (its segments are unlinked, or about to be by MPI_Finalize)."""
    try:
        os.unlink(path)
    except OSError:
        pass


def forget_job(path, directory=DIRECTORY):
    """Removes the record at `path` and every record naming one of its segments: for a rank
    that ends the whole job (MPI_Abort) after unlinking the segments itself."""
    _, mine = _read_record(path, "0")
    forget(path)
    if not mine:
        return
    try:
        names = [n for n in os.listdir(directory) if n.startswith(RECORD_PREFIX)]
    except OSError:
        return
    for name in names:
        other = os.path.join(directory, name)
        if set(_read_record(other, "0")[1]) & set(mine):
            forget(other)


def sweep(directory=DIRECTORY):
    """Unlinks the recorded segments whose owners have all ended; returns their names."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    records = {}  # record path -> (owner alive, its segments)
    for name in names:
        if name.startswith(RECORD_PREFIX):
            path = os.path.join(directory, name)
            records[path] = _read_record(path, name[len(RECORD_PREFIX):])
    owners = {}  # (name, dev, ino) -> [alive, alive, ...]
    for alive, segments in records.values():
        for seg in segments:
            owners.setdefault(seg, []).append(alive)
    stale = [seg for seg, alive in owners.items() if not any(alive)]
    removed = []
    if stale:
        in_use = _mapped_by_running_processes(directory)
        for name, dev, ino in stale:
            path = os.path.join(directory, name)
            try:
                st = os.stat(path)
            except OSError:  # gone already
                continue
            if (st.st_dev, st.st_ino) != (dev, ino) or path in in_use:
                continue  # another segment of that name now, or a process still maps it
            try:
                os.unlink(path)
                removed.append(name)
            except OSError:
                pass
    for path, (alive, _) in records.items():
        if not alive:
            forget(path)
    return removed


def _read_record(path, pid_text):
    """(whether its owner runs, [(name, dev, ino)]); an unreadable record (its writer killed
    mid-write) names no segment, and counts as alive unless its pid has ended."""
    try:
        pid = int(pid_text)
    except ValueError:
        return True, []  # not one of ours: leave it
    try:
        with open(path) as f:
            data = json.load(f)
        segments = [(str(n), int(d), int(i)) for n, d, i in data["segments"]]
        started = data["start"]
    except (OSError, ValueError, KeyError, TypeError):
        return start_time(pid) is not None, []
    now = start_time(pid)
    return now is not None and (started is None or now == started), segments


def _mapped_by_running_processes(directory):
    """Every MPICH segment path some running process maps (those whose maps can be read)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            found.update(mapped_segments("/proc/%s/maps" % entry, directory))
    return found
