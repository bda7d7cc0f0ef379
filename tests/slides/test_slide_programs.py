"""The course's slide programs run as they are and print what the slides show."""
import os
import subprocess
import sys

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def run_example(name):
    out = subprocess.run([sys.executable, os.path.join(EXAMPLES, name)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_tf1_graph_program():
    lines = run_example("tf1_graphs.py")
    assert lines[:6] == ["48", "(4,)", "(?,)", "<unknown>", "(?,)", "(2,)"]
    assert abs(float(lines[6]) - 2.0) < 0.15   # 10 steps of lr 0.1 from 3.0: 2 + 0.8**10


def test_tf2_eager_program():
    assert run_example("tf2_eager.py") == ["tf.Tensor(2.0, shape=(), dtype=float32)",
                                           "tf.Tensor(48, shape=(), dtype=int32)"]
