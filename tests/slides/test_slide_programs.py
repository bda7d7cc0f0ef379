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


def test_tf2_boston_dataset_program_prints_what_tensorflow_prints():
    # tf.data: from_tensor_slices(...).batch(32) in a GradientTape loop and a tf.function, then
    # Keras fit / evaluate / predict on datasets (no shuffle: the batches are TF's)
    assert run_example("tf2_boston_dataset.py") == [
        "(TensorSpec(shape=(None, 13), dtype=tf.float32, name=None), "
        "TensorSpec(shape=(None, 1), dtype=tf.float32, name=None))",
        "13 13 [64, 38]",
        "[np.int64(0), np.int64(4), np.int64(16)]",
        "epoch 5: loss 29.5094",
        "epoch 10: loss 24.0134",
        "epoch 15: loss 23.5190",
        "after 20 epochs: last batch loss 18.7219, test RMSE 4.916",
        "['loss', 'mae', 'val_loss', 'val_mae'] 10",
        "keras: loss 28.1730, val_mae 3.5000",
        "keras: test RMSE 4.948, MAE 3.500",
        "(102, 1) ['9.78', '19.30', '19.36']",
    ]
