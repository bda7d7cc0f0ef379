"""The pieces under `distflow train`'s reliability, in-process: the strict YAML reader, checksummed
checkpoints and their fallback, the run-directory lock and the resume rule."""
import os

import numpy as np
import pytest
import yaml

from distflow.run import checkpoint, rundir, strict_yaml
from distflow.run.config import ConfigError, load_config


@pytest.mark.parametrize("text,value", [
    ("1e-3", 0.001), ("1e6", 1e6), ("-2.5E+2", -250.0), ("3.", 3.0), (".5", 0.5), ("7", 7),
    ("1_000", 1000), ("'1e-3'", "1e-3"), ("0x10", 16), ("true", True), ("1e", "1e"),
])
def test_numbers_follow_yaml_12(text, value):
    got = strict_yaml.load("v: %s" % text)["v"]
    assert got == value and type(got) is type(value)


def test_aliases_within_the_bound_and_merge_keys_still_work():
    doc = strict_yaml.load("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\nlist: [*b, *b]\n")
    assert doc["other"] == {"x": 1, "y": 3} and doc["list"] == [{"x": 1, "y": 2}] * 2


def test_expansion_is_counted_not_performed():
    # 2**60 nodes once expanded: counting them must not expand them
    text = "a0: &a0 [x, x]\n" + "".join("a%d: &a%d [*a%d, *a%d]\n" % (i, i, i - 1, i - 1)
                                        for i in range(1, 61))
    with pytest.raises(yaml.YAMLError, match="expands to more than"):
        strict_yaml.load(text)


def test_duplicate_keys_at_any_depth():
    with pytest.raises(yaml.YAMLError, match="'b' twice"):
        strict_yaml.load("a:\n  b: 1\n  c: 2\n  b: 3\n")


def test_short_is_bounded():
    huge = [[list(range(1000))] * 1000] * 1000
    assert len(strict_yaml.short(huge)) <= 120


def test_env_timeout_is_below_set(monkeypatch, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("distributed:\n  timeout_s: 50\n")
    monkeypatch.setenv("DISTFLOW_COLLECTIVE_TIMEOUT", "12.5")
    assert load_config(str(path))["distributed"]["timeout_s"] == 12.5
    assert load_config(str(path), ["distributed.timeout_s=3"])["distributed"]["timeout_s"] == 3.0
    monkeypatch.setenv("DISTFLOW_COLLECTIVE_TIMEOUT", "-1")
    with pytest.raises(ConfigError, match="DISTFLOW_COLLECTIVE_TIMEOUT"):
        load_config(str(path))
    monkeypatch.delenv("DISTFLOW_COLLECTIVE_TIMEOUT")
    assert load_config(str(path))["distributed"]["timeout_s"] == 50.0


# -- checkpoints ------------------------------------------------------------------------------
def _save(directory, step, value):
    return checkpoint.save(str(directory), step, {"w": np.full((3, 2), value, np.float32)},
                           {"format": 2, "epoch": step}, keep=10)


def test_checksum_catches_what_the_zip_format_does_not(tmp_path):
    path = _save(tmp_path, 1, 1.0)
    arrays, meta = checkpoint.load(path)
    assert meta["epoch"] == 1 and arrays["w"].sum() == 6.0
    with np.load(path) as f:
        entries = {k: f[k] for k in f.files}
    entries["var:w"] = entries["var:w"] * 2  # a whole, well-formed file with other numbers
    np.savez(path, **entries)
    with pytest.raises(checkpoint.CheckpointError, match="do not match the checksum"):
        checkpoint.load(path)
    del entries["__sha256__"]  # a format-2 checkpoint without its checksum
    np.savez(path, **entries)
    with pytest.raises(checkpoint.CheckpointError, match="checksum written inside it is missing"):
        checkpoint.load(path)


def test_newest_valid_skips_damaged_ones_and_lists_them_when_none_is_left(tmp_path):
    paths = [_save(tmp_path, step, step) for step in (1, 2, 3)]
    open(paths[2], "w").close()
    with open(paths[1], "r+b") as f:
        f.truncate(100)
    path, arrays, meta, skipped = checkpoint.newest_valid(str(tmp_path))
    assert path == paths[0] and meta["epoch"] == 1
    assert [p for p, _ in skipped] == [paths[2], paths[1]]
    assert "empty" in skipped[0][1] and "not a complete .npz" in skipped[1][1]
    os.unlink(paths[0])
    with pytest.raises(checkpoint.CheckpointError, match="ckpt-00000003.npz.*ckpt-00000002.npz"):
        checkpoint.newest_valid(str(tmp_path))
    assert checkpoint.newest_valid(str(tmp_path / "none")) == (None, None, None, [])


def test_only_partial_checkpoint_files_are_removed(tmp_path):
    _save(tmp_path, 1, 1.0)
    for name in (".ckpt-00000002.npz.a1b2.tmp", "keep.tmp", ".other.tmp"):
        (tmp_path / name).write_text("x")
    removed = checkpoint.remove_temporaries(str(tmp_path))
    assert [os.path.basename(p) for p in removed] == [".ckpt-00000002.npz.a1b2.tmp"]
    assert sorted(os.listdir(tmp_path)) == [".other.tmp", "ckpt-00000001.npz", "keep.tmp"]


# -- the run directory -------------------------------------------------------------------------
def test_the_lock_is_exclusive_and_names_its_holder(tmp_path):
    first, holder = rundir.lock(str(tmp_path / "run"))
    assert first is not None and holder is None
    second, holder = rundir.lock(str(tmp_path / "run"))
    assert second is None and "pid %d on " % os.getpid() in holder
    first.release()
    third, _ = rundir.lock(str(tmp_path / "run"))
    assert third is not None
    third.release()


def test_changed_keys_allows_only_what_keeps_the_model():
    old = {"train": {"epochs": 5, "batch_size": 16, "log_every": 0}, "seed": 1,
           "output": {"dir": "a", "keep": 3}, "distributed": {"timeout_s": 300.0}, "device": "cpu"}
    new = {"train": {"epochs": 9, "batch_size": 32, "log_every": 5}, "seed": 2,
           "output": {"dir": "b", "keep": 1}, "distributed": {"timeout_s": 10.0}, "device": "gpu"}
    assert [k for k, _, _ in rundir.changed_keys(old, new)] == ["seed", "train.batch_size"]
