"""Run directories under accident: two runs on one directory, the README's first two commands,
damaged checkpoints, a resume that would change the model, files left by a killed writer. The
rule: exit status 2 and one message for what cannot be done, and nothing the user had is lost
or silently changed."""
import json
import os
import signal
import stat
import time

import numpy as np
import pytest
import yaml

from cli_support import BOSTON_YAML, distflow, start
from test_bad_input import assert_one_message

from distflow.run import checkpoint

QUICK = ["--set", "output.plot=false", "--no-progress"]


def _train(cwd, *extra, ranks=1, epochs=2, config=BOSTON_YAML):
    args = ["train", config, "--set", "train.epochs=%d" % epochs,
            "--set", "output.checkpoint_every=1"] + QUICK + [str(e) for e in extra]
    return distflow(args, ranks=ranks, cwd=cwd, timeout=300)


def _ckpts(run):
    return checkpoint.all_checkpoints(str(run / "checkpoints"))


# -- numbered run directories (the README's first two commands) ---------------------------------
def test_the_configs_directory_gets_numbered_siblings(tmp_path):
    first = _train(tmp_path)
    assert first.returncode == 0, first.stderr
    second = _train(tmp_path, ranks=2)  # as the README goes on: mpirun -n ... the same config
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("runs/boston already holds a run: this run writes to "
                               "runs/boston-2") == 1
    assert "run directory: runs/boston-2" in second.stdout
    saved = yaml.safe_load((tmp_path / "runs" / "boston-2" / "config.yaml").read_text())
    assert saved["output"]["dir"] == "runs/boston-2"
    assert json.loads((tmp_path / "runs" / "boston" / "summary.json").read_text())["ranks"] == 1
    assert _train(tmp_path).returncode == 0
    assert (tmp_path / "runs" / "boston-3" / "summary.json").exists()
    # --resume without --output continues the newest
    resumed = _train(tmp_path, "--resume", epochs=3)
    assert resumed.returncode == 0, resumed.stderr
    assert "continuing the newest run, in runs/boston-3" in resumed.stdout
    assert checkpoint.load(_ckpts(tmp_path / "runs" / "boston-3")[-1])[1]["epoch"] == 3
    assert checkpoint.load(_ckpts(tmp_path / "runs" / "boston")[-1])[1]["epoch"] == 2


@pytest.mark.parametrize("how", [["--output", "mine"], ["--set", "output.dir=mine"]])
def test_an_explicit_directory_holding_a_run_is_refused(tmp_path, how):
    assert _train(tmp_path, *how).returncode == 0
    before = {p: os.path.getmtime(p) for p in _ckpts(tmp_path / "mine")}
    proc = _train(tmp_path, *how)
    assert_one_message(proc, ["'mine' already holds a run", "--resume"])
    assert {p: os.path.getmtime(p) for p in _ckpts(tmp_path / "mine")} == before
    assert not (tmp_path / "mine-2").exists()


# -- one run per directory ----------------------------------------------------------------------
def _wait_for(predicate, what, seconds=120):
    deadline = time.time() + seconds
    while not predicate():
        assert time.time() < deadline, "timed out waiting for " + what
        time.sleep(0.02)


def _holder(run):
    try:
        return json.loads((run / ".distflow.lock").read_text() or "{}")
    except (OSError, ValueError):
        return {}


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_one_run_per_directory_then_kill_and_resume(tmp_path, ranks):
    run = tmp_path / "run"
    args = ["train", BOSTON_YAML, "--output", run, "--set", "train.epochs=100000",
            "--set", "output.checkpoint_every=1", "--set", "output.keep=3"] + QUICK
    first = start(args, ranks=ranks, cwd=tmp_path)
    try:
        _wait_for(lambda: len(_ckpts(run)) >= 2, "two checkpoints")
        pid = _holder(run)["pid"]
        # a second run on the same directory, even a resume, on any number of ranks: refused
        second = distflow(args + ["--resume"], ranks=ranks, cwd=tmp_path, timeout=120)
        assert_one_message(second, ["output.dir = %r is in use by another distflow run" % str(run),
                                    "pid %d on " % pid, "started 20"])
        os.kill(pid, signal.SIGKILL)  # rank 0: the holder dies, and the kernel drops the lock
        first.wait(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    # damage the newest checkpoint as a crash of the file system might: the resume falls back
    paths = _ckpts(run)
    newest, older = paths[-1], paths[-2]
    with open(newest, "r+b") as f:
        f.truncate(os.path.getsize(newest) // 2)
    epoch = checkpoint.load(older)[1]["epoch"]
    resumed = distflow(["train", BOSTON_YAML, "--output", run, "--resume",
                        "--set", "train.epochs=%d" % (epoch + 2), "--set", "output.keep=3"]
                       + QUICK, ranks=ranks, cwd=tmp_path, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.count("skipped %s" % newest) == 1  # once, by rank 0
    assert "resuming from %s (epoch %d" % (older, epoch) in resumed.stdout
    assert os.path.exists(newest + ".corrupt")  # set aside, not deleted
    assert checkpoint.load(_ckpts(run)[-1])[1]["epoch"] == epoch + 2
    history = [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().split("\n")
               if line.strip().startswith("{") and line.strip().endswith("}")]
    assert history[-3:] == [epoch, epoch + 1, epoch + 2]


def test_a_run_on_the_configs_directory_while_another_holds_it_goes_next_door(tmp_path):
    base = tmp_path / "runs" / "boston"
    first = start(["train", BOSTON_YAML, "--set", "train.epochs=100000"] + QUICK, cwd=tmp_path)
    try:
        _wait_for(lambda: _holder(base).get("pid") == first.pid, "the first run's lock")
        second = _train(tmp_path, epochs=1)
        assert second.returncode == 0, second.stderr
        assert "run directory: runs/boston-2" in second.stdout
    finally:
        first.kill()
        first.wait()
    assert checkpoint.load(_ckpts(tmp_path / "runs" / "boston-2")[-1])[1]["epoch"] == 1


# -- resume: check first, then write -------------------------------------------------------------
@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_a_resume_that_changes_the_model_is_refused_before_anything_is_written(tmp_path, ranks):
    run = tmp_path / "run"
    assert _train(tmp_path, "--output", run, ranks=1).returncode == 0
    before = {name: (run / name).read_bytes() for name in ("config.yaml", "metrics.jsonl")}
    proc = _train(tmp_path, "--output", run, "--resume", "--set", "model.activation=tanh",
                  "--set", "optimizer.name=sgd", ranks=ranks, epochs=4)
    assert_one_message(proc, ["cannot resume", "model.activation, optimizer.name",
                              "model.activation = 'relu' (now 'tanh')",
                              "optimizer.name = 'adam' (now 'sgd')"])
    assert {name: (run / name).read_bytes() for name in before} == before
    assert checkpoint.load(_ckpts(run)[-1])[1]["epoch"] == 2


def test_a_resume_cannot_go_back_in_epochs(tmp_path):
    run = tmp_path / "run"
    assert _train(tmp_path, "--output", run, epochs=3).returncode == 0
    before = (run / "config.yaml").read_bytes()
    proc = _train(tmp_path, "--output", run, "--resume", epochs=1)
    assert_one_message(proc, ["train.epochs = 1", "already trained 3 epochs"])
    assert (run / "config.yaml").read_bytes() == before


def test_a_resume_may_change_epochs_logging_and_output_options(tmp_path):
    run = tmp_path / "run"
    assert _train(tmp_path, "--output", run).returncode == 0
    proc = _train(tmp_path, "--output", run, "--resume", "--set", "train.log_every=5",
                  "--set", "output.keep=4", "--set", "distributed.timeout_s=60", epochs=3)
    assert proc.returncode == 0, proc.stderr
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["train"]["epochs"] == 3 and saved["output"]["keep"] == 4


# -- checkpoints: checksums, fallback, leftovers, permissions -----------------------------------
def _forge(path):
    """Changes one weight and writes the file back whole (a valid zip) with the old checksum:
    what only the checksum inside can catch."""
    with np.load(path) as f:
        entries = {k: f[k] for k in f.files}
    key = next(k for k in entries if k.startswith("var:") and entries[k].size > 1)
    entries[key] = entries[key].copy()
    entries[key].flat[0] += 1.0
    np.savez(path, **entries)


DAMAGE = {
    "truncated": lambda p: open(p, "r+b").truncate(os.path.getsize(p) // 3),
    "zero-length": lambda p: open(p, "w").close(),
    "forged": _forge,
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_eval_and_predict_fall_back_to_the_newest_whole_checkpoint(tmp_path, damage):
    run = tmp_path / "run"
    assert _train(tmp_path, "--output", run, epochs=3).returncode == 0
    paths = _ckpts(run)
    expected = distflow(["eval", paths[-2], "--json"], timeout=120)
    assert expected.returncode == 0, expected.stderr
    DAMAGE[damage](paths[-1])
    proc = distflow(["eval", run, "--json"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads(expected.stdout)
    assert proc.stderr.count("distflow: skipped %s" % paths[-1]) == 1
    if damage == "forged":
        assert "do not match the checksum" in proc.stderr
    csv = tmp_path / "x.csv"
    csv.write_text("CRIM,ZN,INDUS,CHAS,NOX,RM,AGE,DIS,RAD,TAX,PTRATIO,B,LSTAT\n"
                   "0.1,0,5,0,0.5,6,60,4,4,300,18,390,10\n")
    good = distflow(["predict", paths[-2], "--csv", csv], timeout=120)
    fell_back = distflow(["predict", run, "--csv", csv], timeout=120)
    assert fell_back.returncode == 0 and fell_back.stdout == good.stdout
    assert "skipped %s" % paths[-1] in fell_back.stderr
    # the damaged file named directly is refused, not replaced by another
    named = distflow(["eval", paths[-1]], timeout=120)
    assert_one_message(named, [paths[-1], "not a usable distflow checkpoint"])
    assert os.path.exists(paths[-1])  # eval and predict change nothing


@pytest.mark.parametrize("ranks", [2, 3])
def test_eval_falls_back_once_under_mpirun(tmp_path, ranks):
    run = tmp_path / "run"
    assert _train(tmp_path, "--output", run).returncode == 0
    paths = _ckpts(run)
    DAMAGE["truncated"](paths[-1])
    proc = distflow(["eval", run, "--json"], ranks=ranks, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["checkpoint"] == paths[-2]
    assert proc.stderr.count("skipped %s" % paths[-1]) == 1


def test_no_usable_checkpoint_lists_them_all(tmp_path):
    run = tmp_path / "run"
    assert _train(tmp_path, "--output", run).returncode == 0
    paths = _ckpts(run)
    for p in paths:
        DAMAGE["zero-length"](p)
    for args in (["eval", run], ["train", BOSTON_YAML, "--output", run, "--resume"]):
        proc = distflow(args, cwd=tmp_path, timeout=120)
        assert_one_message(proc, ["no usable checkpoint"] + [os.path.basename(p) for p in paths])
    assert all(os.path.getsize(p) == 0 for p in paths)


def test_partial_checkpoint_files_are_removed_at_start(tmp_path):
    run = tmp_path / "run"
    assert _train(tmp_path, "--output", run).returncode == 0
    partial = run / "checkpoints" / ".ckpt-00000078.npz.k3j2x9.tmp"
    partial.write_bytes(b"PK\x03\x04 half")
    unrelated = run / "checkpoints" / "notes.tmp"
    unrelated.write_text("mine")
    proc = _train(tmp_path, "--output", run, "--resume", epochs=3)
    assert proc.returncode == 0, proc.stderr
    assert "removed %s" % partial in proc.stdout
    assert not partial.exists() and unrelated.read_text() == "mine"


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_checkpoints_get_the_permissions_of_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        proc = _train(tmp_path, "--output", tmp_path / "run", epochs=1)
    finally:
        os.umask(old)
    assert proc.returncode == 0, proc.stderr
    for p in _ckpts(tmp_path / "run"):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o666 & ~umask
