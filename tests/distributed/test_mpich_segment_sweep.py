"""The sweep of MPICH segments, in one process on a directory of its own: what it removes (a
recorded segment whose recorders have all ended) and everything it must leave alone."""
import json
import mmap
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest

from distflow.distribute import mpich_segments


@pytest.fixture
def shm_dir():
    """A directory of its own on /dev/shm's tmpfs (its inode numbers are not reused at once, as
    ext4's are); named so that no real sweep of /dev/shm looks into it."""
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm here")
    path = tempfile.mkdtemp(prefix="pytest-sweep-", dir="/dev/shm")
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)


def _ended_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _segment(directory, name):
    path = directory / name
    path.write_bytes(b"\0" * 4096)
    st = os.stat(path)
    return path, [name, st.st_dev, st.st_ino]


def _record(directory, pid, start, *segments):
    (directory / ("distflow-mpich-%d" % pid)).write_text(
        json.dumps({"pid": pid, "start": start, "segments": list(segments)}))


def test_the_sweep_removes_only_segments_whose_recorders_have_all_ended(shm_dir):
    tmp_path = shm_dir
    me, my_start = os.getpid(), mpich_segments.start_time(os.getpid())
    ended, ended_too = _ended_pid(), _ended_pid()
    stale, stale_rec = _segment(tmp_path, "mpich_shm_stale_0")
    shared, shared_rec = _segment(tmp_path, "mpich_shm_shared_0")    # one recorder still runs
    renewed, renewed_rec = _segment(tmp_path, "mpich_shm_renewed_0")  # recreated since
    mapped, mapped_rec = _segment(tmp_path, "mpich_shm_mapped_0")    # a process maps it
    reused, reused_rec = _segment(tmp_path, "mpich_shm_reused_0")    # the pid runs another
    stranger, _ = _segment(tmp_path, "mpich_shm_stranger_0")         # recorded by nobody
    _record(tmp_path, ended, None, stale_rec, shared_rec, renewed_rec, mapped_rec)
    _record(tmp_path, ended_too, None, stale_rec, shared_rec)
    _record(tmp_path, me, my_start, shared_rec)
    _record(tmp_path, os.getppid(), 1, reused_rec)  # our parent, but not started at tick 1
    renewed.unlink()
    renewed.write_bytes(b"\0" * 4096)  # a newer job's segment of the same name
    with open(mapped, "r+b") as f, mmap.mmap(f.fileno(), 4096):
        removed = mpich_segments.sweep(str(tmp_path))
    assert sorted(removed) == ["mpich_shm_reused_0", "mpich_shm_stale_0"]
    assert not stale.exists() and not reused.exists()
    assert shared.exists() and renewed.exists() and mapped.exists() and stranger.exists()
    # the records of ended processes go, the running one's stays
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("distflow-mpich-"))
    assert left == ["distflow-mpich-%d" % me]


def test_a_record_cut_short_by_a_kill_names_nothing_and_goes_with_its_writer(shm_dir):
    tmp_path = shm_dir
    seg, _ = _segment(tmp_path, "mpich_shm_cut_0")
    pid = _ended_pid()
    (tmp_path / ("distflow-mpich-%d" % pid)).write_text('{"pid": %d, "segm' % pid)
    assert mpich_segments.sweep(str(tmp_path)) == []
    assert seg.exists() and not (tmp_path / ("distflow-mpich-%d" % pid)).exists()


def test_a_zombie_has_ended():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    while True:  # not yet reaped: a zombie
        with open("/proc/%d/stat" % proc.pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
    assert mpich_segments.start_time(proc.pid) is None
    proc.wait()
    assert mpich_segments.start_time(os.getpid()) is not None
