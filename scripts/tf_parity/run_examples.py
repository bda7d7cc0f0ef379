"""Runs each course program in examples/ twice, as it is and with its distflow import line
replaced by TensorFlow's, and compares what the two print line by line: the promise that a
course program runs with only the import line changed, checked end to end.

    /tmp/tfenv/bin/python scripts/tf_parity/run_examples.py [examples/NAME.py ...]

TF1 programs run under TF 2.21's compat.v1 with disable_v2_behavior() (TF 1.x semantics); a
TF1 line prints shapes as `(?, 1)` where TF 2.21 prints `(None, 1)`, which is compared as equal
(known_differences.py says why distflow keeps TF 1.x's spelling). Exit status 1 when any
program's output differs. Needs TensorFlow: see harness.py.
"""
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SWAPS = [
    ("import distflow.compat.v1 as tf",
     "import tensorflow.compat.v1 as tf; tf.disable_v2_behavior()"),
    ("import distflow as tf", "import tensorflow as tf"),
    ("import distflow as df", "import tensorflow as df"),
]
QUIET = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")


def as_tensorflow(source):
    """The program with its distflow import line replaced, or None when it has none."""
    for ours, theirs in SWAPS:
        pattern = re.compile(r"^%s$" % re.escape(ours), re.M)
        if pattern.search(source):
            return pattern.sub(theirs, source)
    return None


def run(path, python):
    out = subprocess.run([python, path], capture_output=True, text=True, env=QUIET,
                         cwd=os.path.dirname(path), timeout=600)
    if out.returncode != 0:
        return None, out.stderr.strip().splitlines()[-1:]
    return out.stdout.splitlines(), None


def same_line(ours, theirs):
    return ours == theirs or ours == theirs.replace("None", "?")


def main(paths):
    paths = paths or sorted(glob.glob(os.path.join(ROOT, "examples", "*.py")))
    failed = 0
    for path in paths:
        path = os.path.abspath(path)
        source = open(path).read()
        tf_source = as_tensorflow(source)
        if tf_source is None:
            print("%s: no distflow import line, skipped" % os.path.basename(path))
            continue
        twin = os.path.join(os.path.dirname(path), ".tf_" + os.path.basename(path))
        with open(twin, "w") as f:
            f.write(tf_source)
        try:
            ours, our_error = run(path, sys.executable)  # this interpreter has both installed
            theirs, their_error = run(twin, sys.executable)
        finally:
            os.unlink(twin)
        name = os.path.basename(path)
        if our_error or their_error:
            failed += 1
            print("%s: FAILED (distflow: %s; TensorFlow: %s)" % (name, our_error, their_error))
            continue
        diffs = [(i, a, b) for i, (a, b) in enumerate(zip(ours, theirs)) if not same_line(a, b)]
        if len(ours) != len(theirs):
            diffs.append((min(len(ours), len(theirs)), "%d lines" % len(ours),
                          "%d lines" % len(theirs)))
        if diffs:
            failed += 1
            print("%s: DIFFERS" % name)
            for i, a, b in diffs:
                print("  line %d: distflow %r\n          TF       %r" % (i + 1, a, b))
        else:
            print("%s: same output (%d lines)" % (name, len(ours)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
