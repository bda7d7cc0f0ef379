"""Hostile or broken input files and places, met by the real command: one message naming the
file and what is wrong, exit status 2, no traceback; nothing the user had changes. Also the YAML
1.2 numbers a user writes (1e-3), Ctrl-C during start-up, and where the collective timeout of a
run comes from."""
import os
import subprocess
import sys

import pytest
import yaml

from cli_support import BOSTON_YAML, _env, distflow
from test_bad_input import assert_one_message

QUICK = ["--set", "train.epochs=1", "--set", "output.plot=false", "--no-progress"]

# A few hundred bytes that are 9**9 strings once expanded, in a key whose check fails (so the old
# loader's message would have printed all of them).
LAUGHS = "model:\n  hidden:\n    - &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    "    - &%s [%s]\n" % (n, ", ".join(["*" + p] * 9)) for p, n in zip("abcdefgh", "bcdefghi"))


def _config(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize("name,content,words", [
    ("billion-laughs", LAUGHS, ["not valid YAML", "expands to more than"]),
    ("self-alias", "model: &m {hidden: *m}\n", ["not valid YAML", "refers to the node"]),
    ("duplicate-key", "optimizer:\n  learning_rate: 0.01\n  learning_rate: 0.1\n",
     ["not valid YAML", "line 3", "'learning_rate' twice (first on line 2)"]),
    ("empty", "", ["c.yaml is empty"]),
    ("only-comments", "# nothing here\n", ["c.yaml is empty"]),
    ("not-utf8", b"seed: 1\nmodel:\n  activation: r\xe9lu\n", ["not UTF-8", "byte 0xe9 on line 3"]),
    ("not-a-mapping", "[1, 2, 3]\n", ["config must be a mapping"]),
])
def test_bad_config_files(tmp_path, name, content, words):
    config = _config(tmp_path, content)
    proc = distflow(["train", config, "--output", tmp_path / "run"], cwd=tmp_path, timeout=60)
    assert_one_message(proc, words)
    assert not (tmp_path / "run").exists()


def test_billion_laughs_is_refused_quickly_and_small(tmp_path):
    # the 427-byte kind that took 53 s and 5.5 GB: refused while loading, in well under a second
    config = _config(tmp_path, LAUGHS)
    # the peak is this process's own (VmHWM): ru_maxrss carries over, through exec, the high
    # water mark of the process that spawned it (here pytest, whose size varies)
    code = ("import re, resource, sys, time; from distflow.run import load_config\n"
            "t = time.time()\n"
            "try:\n    load_config(sys.argv[1])\nexcept Exception as e:\n    msg = str(e)\n"
            "try:\n    peak = int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1])\n"
            "except OSError:\n    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "print(time.time() - t, peak, len(msg))")
    out = subprocess.run([sys.executable, "-c", code, str(config)], capture_output=True, text=True,
                         timeout=60, env=_env())
    seconds, max_rss_kib, length = out.stdout.split()
    assert float(seconds) < 2 and int(max_rss_kib) < 400 * 1024 and int(length) < 400, out.stdout


def test_a_huge_value_is_never_printed_whole(tmp_path):
    # 9**3 strings behind aliases, under the node bound, in a key that refuses them
    text = "model:\n  hidden: &b [&a [x, x, x, x, x, x, x, x, x], *a, *a, *a, *a, *a, *a, *a, *a]\n" \
           "  activation: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    proc = distflow(["train", _config(tmp_path, text), "--output", tmp_path / "run"],
                    cwd=tmp_path, timeout=60)
    assert_one_message(proc, ["model.hidden", "..."])
    assert len(proc.stderr) < 400, proc.stderr


def test_config_path_that_is_a_directory(tmp_path):
    proc = distflow(["train", tmp_path], cwd=tmp_path, timeout=60)
    assert_one_message(proc, ["is a directory", "expected a YAML file"])


@pytest.mark.parametrize("where", ["file", "set"])
def test_yaml_12_numbers_are_numbers(tmp_path, where):
    text = "optimizer:\n  learning_rate: 1e-3\n  decay_steps: 1000\ndistributed:\n  timeout_s: 1e3\n"
    if where == "file":
        config, extra = _config(tmp_path, text), []
    else:
        config, extra = BOSTON_YAML, ["--set", "optimizer.learning_rate=1e-3",
                                      "--set", "distributed.timeout_s=1e3"]
    proc = distflow(["train", config, "--output", tmp_path / "run"] + QUICK + extra,
                    cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["optimizer"]["learning_rate"] == 0.001
    assert saved["distributed"]["timeout_s"] == 1000.0


@pytest.mark.parametrize("value", [".inf", ".nan", "1e999", "-.inf"])
def test_non_finite_numbers_are_refused(tmp_path, value):
    proc = distflow(["train", BOSTON_YAML, "--output", tmp_path / "run",
                     "--set", "optimizer.learning_rate=" + value], cwd=tmp_path, timeout=60)
    assert_one_message(proc, ["optimizer.learning_rate", "finite number > 0"])


# -- CSV files ----------------------------------------------------------------------------------
def _csv_args(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    return ["train", BOSTON_YAML, "--output", tmp_path / "run", "--set", "data.dataset=csv",
            "--set", "data.csv=" + name, "--set", "data.target=y"] + QUICK


ROWS = b"".join(b"%d,%d,%d\n" % (i, 2 * i + 1, 3 * i) for i in range(20))


def test_csv_with_a_byte_order_mark_trains(tmp_path):
    proc = distflow(_csv_args(tmp_path, "bom.csv", b"\xef\xbb\xbfa,b,y\n" + ROWS), cwd=tmp_path,
                    timeout=120)
    assert proc.returncode == 0, proc.stderr
    # and a model trained on it predicts for a file with the mark, the column names as written
    (tmp_path / "in.csv").write_bytes(b"\xef\xbb\xbfa,b\n1,2\n")
    out = distflow(["predict", tmp_path / "run", "--csv", tmp_path / "in.csv"], timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "a,b,prediction"


@pytest.mark.parametrize("name,content,words", [
    ("huge.csv", b"a,b,y\n" + ROWS + b"1,3.5e38,2\n", ["row 21", "'b'", "'3.5e38'", "float32"]),
    ("tiny.csv", b"a,b,y\n1,-1e39,2\n" + ROWS, ["row 1", "'b'", "float32"]),
    ("latin1.csv", b"a,b,y\n" + ROWS + b"1,2,3\xe9\n", ["not UTF-8", "byte 0xe9 on line 22"]),
    ("one-row.csv", b"a,b,y\n1,2,3\n", ["1 data row", "no training rows"]),
    ("inf.csv", b"a,b,y\n" + ROWS + b"1,inf,2\n", ["row 21", "infinite"]),
])
def test_bad_csv_files(tmp_path, name, content, words):
    proc = distflow(_csv_args(tmp_path, name, content), cwd=tmp_path, timeout=60)
    assert_one_message(proc, [name] + words)


def test_csv_that_is_a_directory(tmp_path):
    os.mkdir(tmp_path / "d.csv")
    proc = distflow(["train", BOSTON_YAML, "--output", tmp_path / "run", "--set",
                     "data.dataset=csv", "--set", "data.csv=d.csv"], cwd=tmp_path, timeout=60)
    assert_one_message(proc, ["d.csv is a directory"])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp("trained")
    proc = distflow(["train", BOSTON_YAML, "--output", base / "run"] + QUICK, cwd=base,
                    timeout=120)
    assert proc.returncode == 0, proc.stderr
    (base / "houses.csv").write_text("CRIM,ZN,INDUS,CHAS,NOX,RM,AGE,DIS,RAD,TAX,PTRATIO,B,LSTAT\n"
                                     "0.1,0,5,0,0.5,6,60,4,4,300,18,390,10\n")
    return base


@pytest.mark.parametrize("command", ["eval", "predict"])
def test_csv_option_that_is_a_directory(trained, tmp_path, command):
    proc = distflow([command, trained / "run", "--csv", tmp_path], timeout=60)
    assert_one_message(proc, ["is a directory"])


@pytest.mark.parametrize("where,words", [
    ("missing/out.csv", ["does not exist"]),
    ("houses.csv/out.csv", ["is not a directory"]),
    (".", ["is a directory"]),
])
def test_predict_out_in_a_place_that_cannot_be_written(trained, where, words):
    before = (trained / "houses.csv").read_text()
    proc = distflow(["predict", trained / "run", "--csv", trained / "houses.csv", "--out",
                     trained / where], cwd=trained, timeout=60)
    assert_one_message(proc, ["--out"] + words)
    assert (trained / "houses.csv").read_text() == before


def test_graph_out_in_a_place_that_cannot_be_written(trained):
    proc = distflow(["graph", BOSTON_YAML, "--out", trained / "houses.csv" / "g"], timeout=60)
    assert_one_message(proc, ["--out", "cannot be created", "Not a directory"])


# -- Ctrl-C during start-up ---------------------------------------------------------------------
# A real SIGINT, sent by the process to itself at a chosen point of start-up (a timer would
# race with the load of the machine).
INTERRUPT_AT = {
    "mpi-init": "import distflow.distribute.runtime as m; name = 'init'",
    "parsing": "import distflow.cli as m; name = 'build_parser'",
    "data": "import distflow.run.inputs as m; name = 'load_dataset'",
}


@pytest.mark.parametrize("point", sorted(INTERRUPT_AT))
def test_ctrl_c_during_start_up_is_one_line(tmp_path, point):
    code = ("import os, signal, sys, time\n%s\n"
            "def interrupted(*a, **k):\n    os.kill(os.getpid(), signal.SIGINT)\n    time.sleep(30)\n"
            "setattr(m, name, interrupted)\n"
            "from distflow.cli import main\nsys.exit(main(sys.argv[1:]))" % INTERRUPT_AT[point])
    proc = subprocess.run([sys.executable, "-c", code, "train", str(BOSTON_YAML), "--output",
                           str(tmp_path / "run")], capture_output=True, text=True, timeout=60,
                          env=_env(), cwd=tmp_path)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr == "distflow: interrupted\n"


def test_ctrl_c_while_the_package_itself_imports_is_one_line(tmp_path):
    # The console script is named distflow; the SIGINT arrives while `import distflow` is half
    # done (an import hook sends it when the op modules load), before distflow.cli exists.
    code = ("import os, signal, sys, time\n"
            "sys.argv[0] = os.path.join(os.path.dirname(sys.executable), 'distflow')\n"
            "class Interrupt:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'distflow.ops.math_ops':\n"
            "            os.kill(os.getpid(), signal.SIGINT)\n"
            "            time.sleep(30)\n"
            "sys.meta_path.insert(0, Interrupt())\n"
            "from distflow.cli import main\nsys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, "info"], capture_output=True, text=True,
                          timeout=60, env=_env(), cwd=tmp_path)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr == "distflow: interrupted\n"


# -- the collective timeout: --set > DISTFLOW_COLLECTIVE_TIMEOUT > the config -------------------
@pytest.mark.parametrize("env,overrides,expected", [
    (None, [], 300.0),                                   # configs/boston.yaml's value
    ("7", [], 7.0),                                      # the environment beats the config
    ("7", ["distributed.timeout_s=9"], 9.0),             # --set beats both
    ("off", [], 0.0),                                    # off (or 0) waits forever
])
def test_collective_timeout_precedence(tmp_path, env, overrides, expected):
    args = ["train", BOSTON_YAML, "--output", tmp_path / "run"] + QUICK
    for o in overrides:
        args += ["--set", o]
    proc = distflow(args, cwd=tmp_path, timeout=120,
                    env=None if env is None else {"DISTFLOW_COLLECTIVE_TIMEOUT": env})
    assert proc.returncode == 0, proc.stderr
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["distributed"]["timeout_s"] == expected


def test_collective_timeout_reaches_the_runtime(tmp_path):
    code = ("import sys; from distflow.run import load_config, world; from distflow.distribute "
            "import runtime\nworld.join(load_config(sys.argv[1]))\n"
            "print(runtime._context.collective_timeout)")
    out = subprocess.run([sys.executable, "-c", code, str(BOSTON_YAML)], capture_output=True,
                         text=True, timeout=60, env=_env({"DISTFLOW_COLLECTIVE_TIMEOUT": "7"}))
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.split()[-1]) == 7.0


def test_bad_collective_timeout_in_the_environment(tmp_path):
    proc = distflow(["train", BOSTON_YAML, "--output", tmp_path / "run"], cwd=tmp_path,
                    timeout=60, env={"DISTFLOW_COLLECTIVE_TIMEOUT": "soon"})
    assert_one_message(proc, ["DISTFLOW_COLLECTIVE_TIMEOUT = 'soon'", "seconds >= 0"])
