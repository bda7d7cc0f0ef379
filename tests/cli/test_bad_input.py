"""Bad input to `distflow train`: one message naming the key, the value and what is allowed, exit
status 2, no traceback, printed once (by rank 0 under mpirun), and no rank left hanging."""
import os

import pytest

from cli_support import BOSTON_YAML, distflow

# (id, YAML text of the config or None for configs/boston.yaml, --set overrides, expected words)
CASES = [
    ("unknown-key", "model:\n  hiddn: [8]\n", [], ["model.hiddn", "allowed here", "hidden"]),
    ("wrong-type", None, ["train.epochs=abc"], ["train.epochs", "'abc'", "integer >= 1"]),
    ("negative-learning-rate", None, ["optimizer.learning_rate=-0.5"],
     ["optimizer.learning_rate", "-0.5", "a finite number > 0"]),
    ("unknown-choice", None, ["optimizer.name=adamw"], ["optimizer.name", "'adamw'", "one of"]),
    ("unknown-set-key", None, ["optimizer.lr=0.1"], ["optimizer.lr", "learning_rate"]),
    ("missing-csv", None, ["data.dataset=csv", "data.csv=no_such_file.csv"],
     ["data.csv", "no_such_file.csv", "no such file"]),
]


def _args(tmp_path, yaml_text, overrides):
    config = BOSTON_YAML
    if yaml_text is not None:
        config = tmp_path / "bad.yaml"
        config.write_text(yaml_text)
    args = ["train", config, "--output", tmp_path / "run"]
    for o in overrides:
        args += ["--set", o]
    return args


def assert_one_message(proc, words):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    both = proc.stdout + proc.stderr
    assert "Traceback" not in both
    messages = [line for line in proc.stderr.splitlines() if line.startswith("distflow:")]
    assert len(messages) == 1, proc.stderr  # once, not once per rank
    for w in words:
        assert w in messages[0], messages[0]
    assert "epoch" not in proc.stdout  # nothing was trained


@pytest.mark.parametrize("name,yaml_text,overrides,words", CASES, ids=[c[0] for c in CASES])
def test_bad_config_one_process(tmp_path, name, yaml_text, overrides, words):
    proc = distflow(_args(tmp_path, yaml_text, overrides), cwd=tmp_path, timeout=60)
    assert_one_message(proc, words)
    assert not (tmp_path / "run").exists()  # bad input leaves no run directory behind


@pytest.mark.parametrize("name,yaml_text,overrides,words", CASES, ids=[c[0] for c in CASES])
def test_bad_config_two_ranks(tmp_path, name, yaml_text, overrides, words):
    proc = distflow(_args(tmp_path, yaml_text, overrides), ranks=2, cwd=tmp_path, timeout=60)
    assert_one_message(proc, words)


def test_batch_smaller_than_ranks(tmp_path):
    proc = distflow(_args(tmp_path, None, ["train.batch_size=1"]), ranks=2, cwd=tmp_path,
                    timeout=60)
    assert_one_message(proc, ["train.batch_size = 1", "number of ranks (2)"])


def test_csv_with_a_bad_cell_names_row_and_column(tmp_path):
    (tmp_path / "data.csv").write_text("a,b,y\n1,2,3\n4,oops,6\n7,8,9\n")
    proc = distflow(_args(tmp_path, None, ["data.dataset=csv", "data.csv=data.csv",
                                           "data.target=y"]), cwd=tmp_path, timeout=60)
    assert_one_message(proc, ["data.csv", "row 2", "'b'", "'oops' is not a number"])


def test_missing_config_file(tmp_path):
    proc = distflow(["train", tmp_path / "nope.yaml"], cwd=tmp_path, timeout=60)
    assert_one_message(proc, ["config file not found", "nope.yaml"])


def test_bad_command_line_prints_usage_once(tmp_path):
    proc = distflow(["train", BOSTON_YAML, "--device", "tpu"], ranks=2, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("usage: distflow train") == 1, proc.stderr
    assert "invalid choice: 'tpu'" in proc.stderr and "Traceback" not in proc.stderr


def test_a_finished_run_is_not_overwritten_without_resume(tmp_path):
    args = ["train", BOSTON_YAML, "--output", tmp_path / "run", "--set", "train.epochs=1"]
    assert distflow(args, cwd=tmp_path, timeout=120).returncode == 0
    before = sorted(os.listdir(tmp_path / "run" / "checkpoints"))
    proc = distflow(args, cwd=tmp_path, timeout=120)
    assert_one_message(proc, ["already holds a run", "--resume"])
    assert sorted(os.listdir(tmp_path / "run" / "checkpoints")) == before
