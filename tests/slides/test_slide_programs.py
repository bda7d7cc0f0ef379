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


# The Boston programs print what TensorFlow prints for the same file with only the import line
# changed (TF 2.21, compat.v1 with disable_v2_behavior for TF1; scripts/tf_parity/run_examples.py
# compares the two runs line by line): these lines are TF's output.
def test_tf1_boston_program_prints_what_tensorflow_prints():
    assert run_example("tf1_boston_regression.py") == [
        "normal equation: test RMSE 4.82",
        "linear/w:0 linear/b:0 (?, 1) mean_squared_error/value:0",
        "epoch 50: train MSE 25.245",
        "epoch 100: train MSE 25.239",
        "epoch 150: train MSE 25.239",
        "epoch 200: train MSE 25.239",
        "boston.ckpt-200 boston.ckpt-200",
        "gradient descent: test RMSE 5.59 after 2600 steps",
    ]


def test_tf2_boston_program_prints_what_tensorflow_prints():
    assert run_example("tf2_boston_regression.py") == [
        "epoch 10: loss 29.4705",
        "epoch 20: loss 23.3202",
        "epoch 30: loss 22.7611",
        "(13, 1) float32 True",
        "after 60 steps: loss 22.2168, test RMSE 4.775",
        "['loss', 'mae', 'val_loss', 'val_mae'] 20",
        "keras: val_mae 3.793",
        "keras: test RMSE 6.553, MAE 4.475",
        "['8.15', '20.38', '20.26']",
    ]
