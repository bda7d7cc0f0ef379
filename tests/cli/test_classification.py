"""`distflow train configs/digits_cnn.yaml`: the shipped CNN classifies the bundled digits
(>= 0.97 test accuracy), trains the same weights on 2 and 3 ranks as on one (1e-5), and its
outputs (summary, metrics, confusion.png, `eval`, `predict`) agree with an independent NumPy
forward pass of the saved weights."""
import csv
import json
import os

import numpy as np
import pytest

from cli_support import REPO, distflow, final_arrays

from distflow.data import load_digits
from distflow.run.config import ConfigError, load_config

DIGITS_YAML = os.path.join(REPO, "configs", "digits_cnn.yaml")
NO_EXTRAS = ["--set", "output.tensorboard=false"]


@pytest.fixture(scope="module")
def digits_runs(tmp_path_factory):
    """configs/digits_cnn.yaml as shipped (10 epochs), on 1, 2 and 3 ranks."""
    base = tmp_path_factory.mktemp("digits")
    runs = {}
    for ranks in (1, 2, 3):
        out = base / ("ranks%d" % ranks)
        runs[ranks] = (out, distflow(["train", DIGITS_YAML, "--output", out] + NO_EXTRAS,
                                     ranks=ranks, cwd=base, timeout=600))
    return runs


def _numpy_logits(arrays, images):
    """The shipped config's CNN (conv 3x3 valid + ReLU, 2x2 max pool, flatten, dense ReLU,
    dense) written directly in NumPy, from a checkpoint's arrays and raw pixels 0..16."""
    x = np.asarray(images, np.float64) / 16.0
    k, b = arrays["conv2d/kernel"].astype(np.float64), arrays["conv2d/bias"]
    kh, kw = k.shape[:2]
    h, w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    y = sum(np.einsum("nhwc,cf->nhwf", x[:, i:i + h, j:j + w, :], k[i, j])
            for i in range(kh) for j in range(kw)) + b
    y = np.maximum(y, 0)
    n, f = y.shape[0], y.shape[3]
    y = y[:, :h // 2 * 2, :w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, f).max(axis=(2, 4))
    y = y.reshape(n, -1)
    y = np.maximum(y @ arrays["dense/kernel"] + arrays["dense/bias"], 0)
    return y @ arrays["dense_1/kernel"] + arrays["dense_1/bias"]


@pytest.mark.slow
@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_the_cnn_classifies_the_digits(digits_runs, ranks):
    out, proc = digits_runs[ranks]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test_accuracy"] >= 0.97 and summary["test_count"] == 360
    assert summary["ranks"] == ranks
    assert proc.stdout.count("test accuracy %.4f, cross-entropy %.4f (360 samples)" % (
        summary["test_accuracy"], summary["test_cross_entropy"])) == 1
    # the confusion matrix counts every test image once, its diagonal is the accuracy
    confusion = np.array(summary["test_confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == 360
    assert np.trace(confusion) / 360 == pytest.approx(summary["test_accuracy"])
    png = (out / "confusion.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and (out / "loss.png").exists()
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == list(range(1, 11))
    assert proc.stdout.count("epoch 10/10 (step 450): train loss %.4g accuracy %.4g, test loss "
                             "%.4g accuracy %.4g" % tuple(records[-1][k] for k in (
                                 "train_loss", "train_accuracy", "test_loss",
                                 "test_accuracy"))) == 1
    assert all(0 <= r["train_accuracy"] <= 1 and r["test_loss"] == r["test_cross_entropy"]
               for r in records)


@pytest.mark.slow
@pytest.mark.parametrize("ranks", [2, 3])
def test_ranks_train_the_same_weights_as_one_process(digits_runs, ranks):
    one, _ = final_arrays(digits_runs[1][0])
    many, meta = final_arrays(digits_runs[ranks][0])
    assert meta["ranks"] == ranks and sorted(one) == sorted(many)
    for name in one:  # only the float summation order differs
        np.testing.assert_allclose(many[name], one[name], rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.mark.slow
def test_metrics_are_the_saved_model_s(digits_runs):
    """The summary's test accuracy and cross-entropy, recomputed from the checkpoint in NumPy."""
    out, _ = digits_runs[1]
    summary = json.loads((out / "summary.json").read_text())
    arrays, meta = final_arrays(out)
    assert meta["classes"] == 10 and meta["input_shape"] == [8, 8, 1]
    from distflow.data import digits
    (_, _), (x_test, y_test) = digits.load_data()
    logits = _numpy_logits(arrays, x_test)
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    assert np.mean(logits.argmax(1) == y_test) == pytest.approx(summary["test_accuracy"])
    ce = -np.mean(logp[np.arange(len(y_test)), y_test])
    assert ce == pytest.approx(summary["test_cross_entropy"], rel=1e-4)


@pytest.mark.slow
def test_eval_reports_accuracy(digits_runs):
    out, _ = digits_runs[1]
    summary = json.loads((out / "summary.json").read_text())
    proc = distflow(["eval", out, "--json"])
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["count"] == 360
    assert result["accuracy"] == pytest.approx(summary["test_accuracy"])
    assert result["cross_entropy"] == pytest.approx(summary["test_cross_entropy"], rel=1e-6)
    text = distflow(["eval", out, "--split", "train"]).stdout
    assert "1437 rows" in text and "accuracy %.4f" % summary["train_accuracy"] in text
    # on 3 ranks each predicts a third of the rows; the sums give the same metrics, printed once
    proc = distflow(["eval", out, "--json"], ranks=3)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count('"accuracy"') == 1
    three = json.loads(proc.stdout)
    assert three["count"] == 360 and three["accuracy"] == result["accuracy"]
    assert three["cross_entropy"] == pytest.approx(result["cross_entropy"], rel=1e-9)


@pytest.mark.slow
def test_predict_writes_class_and_probabilities(digits_runs, tmp_path):
    out, _ = digits_runs[1]
    images, labels = load_digits()
    names = ["pixel_%d_%d" % (r, c) for r in range(8) for c in range(8)]
    src = tmp_path / "images.csv"
    with open(src, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id"] + names[::-1])  # any column order: pixels are found by name
        for i in range(40):
            w.writerow([i] + images[i].ravel().tolist()[::-1])
    dst = tmp_path / "predicted.csv"
    proc = distflow(["predict", out, "--csv", src, "--out", dst])
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(open(dst)))
    assert len(rows) == 40 and [r["id"] for r in rows] == [str(i) for i in range(40)]
    probs = np.array([[float(r["probability_%d" % k]) for k in range(10)] for r in rows])
    classes = np.array([int(r["predicted_class"]) for r in rows])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(classes, probs.argmax(axis=1))
    arrays, _ = final_arrays(out)
    logits = _numpy_logits(arrays, images[:40])
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(probs, expected, atol=2e-5)
    assert np.mean(classes == labels[:40]) >= 0.9
    # eval on the same rows with their labels: the accuracy of those predictions
    labelled = tmp_path / "labelled.csv"
    with open(labelled, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(names + ["label"])
        for i in range(40):
            w.writerow(images[i].ravel().tolist() + [labels[i]])
    proc = distflow(["eval", out, "--csv", labelled, "--json"])
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["count"] == 40
    assert result["accuracy"] == pytest.approx(np.mean(classes == labels[:40]))
    with open(labelled, "a") as f:
        f.write(",".join(["0"] * 64) + ",10\n")  # no class 10 among the digits
    proc = distflow(["eval", out, "--csv", labelled])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "class numbers 0..9, found 10" in proc.stderr


BAD_LAYERS = [
    ("unknown-block", "[{conv3d: {filters: 4}}, {flatten: {}}]", ["model.layers[0]", "conv3d",
                                                                  "conv2d"]),
    ("unknown-argument", "[{conv2d: {filters: 4, kernel: 3}}, {flatten: {}}]",
     ["model.layers[0].conv2d", "'kernel'", "kernel_size"]),
    ("missing-filters", "[{conv2d: {}}, {flatten: {}}]",
     ["model.layers[0].conv2d.filters", "None", "integer >= 1"]),
    ("dense-before-flatten", "[{conv2d: {filters: 4}}, {dense: {units: 8}}]",
     ["model.layers[1]", "flatten"]),
    ("no-flatten", "[{conv2d: {filters: 4}}]", ["model.layers", "flatten"]),
    ("not-a-list", "{conv2d: 4}", ["model.layers", "list of blocks"]),
]


@pytest.mark.parametrize("name,layers,words", BAD_LAYERS, ids=[c[0] for c in BAD_LAYERS])
def test_bad_layers_are_named(name, layers, words):
    with pytest.raises(ConfigError) as e:
        load_config(DIGITS_YAML, ["model.layers=" + layers])
    for w in words:
        assert w in str(e.value), str(e.value)


def test_image_blocks_need_image_data():
    with pytest.raises(ConfigError, match=r"model.layers\[0\]: conv2d needs image inputs"):
        load_config(None, ["model.layers=[{conv2d: {filters: 4}}, {flatten: {}}]"])
    with pytest.raises(ConfigError, match="data.dataset = 'digits' holds images"):
        load_config(DIGITS_YAML, ["model.layers=null"])


def test_bad_layers_exit_2_from_the_command_line(tmp_path):
    proc = distflow(["train", DIGITS_YAML, "--output", tmp_path / "run",
                     "--set", "model.layers=[{conv2d: {filters: 0}}, {flatten: {}}]"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("distflow:")]
    assert len(lines) == 1, proc.stderr
    assert "model.layers[0].conv2d.filters = 0 is not allowed: expected an integer >= 1" in \
        lines[0]


def test_graph_of_the_cnn(tmp_path):
    proc = distflow(["graph", DIGITS_YAML, "--out", tmp_path])
    assert proc.returncode == 0, proc.stderr
    dot = (tmp_path / "graph.dot").read_text()
    for op in ("Conv2D", "MaxPool", "SparseSoftmaxCrossEntropyWithLogits", "Conv2DBackpropFilter"):
        assert op in dot, op


@pytest.mark.slow
def test_the_classifier_resumes_on_another_number_of_ranks(digits_runs, tmp_path):
    """Stopped after epoch 5 on one process, resumed on 2 ranks: the weights of the whole run."""
    import shutil
    from distflow.run import checkpoint
    whole_dir = digits_runs[1][0]
    whole, _ = final_arrays(whole_dir)
    part = tmp_path / "part"
    shutil.copytree(whole_dir, part)
    for path in checkpoint.all_checkpoints(str(part / "checkpoints")):
        if checkpoint.load(path)[1]["epoch"] > 5:
            os.unlink(path)
    proc = distflow(["train", DIGITS_YAML, "--output", part, "--resume", "--no-progress"]
                    + NO_EXTRAS, ranks=2)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("resuming from") == 1 and "epoch 5" in proc.stdout
    final, meta = final_arrays(part)
    assert meta["ranks"] == 2 and meta["epoch"] == 10
    for name in whole:
        np.testing.assert_allclose(final[name], whole[name], rtol=1e-5, atol=1e-5, err_msg=name)
    summary = json.loads((part / "summary.json").read_text())
    assert summary["test_accuracy"] == json.loads(
        (whole_dir / "summary.json").read_text())["test_accuracy"]


def _fake_mnist(home, train=600, test=200):
    """A small mnist.npz in Keras's layout, made from the shipped digits (each 8x8 image
    enlarged 3x and padded to 28x28, pixels 0..255), in a Keras home for the test."""
    images, labels = load_digits()
    big = np.kron(images[..., 0].astype(np.float64), np.ones((3, 3))) * (255 / 16)
    big = np.pad(big, ((0, 0), (2, 2), (2, 2))).round().astype(np.uint8)
    os.makedirs(home / "datasets")
    np.savez(home / "datasets" / "mnist.npz", x_train=big[:train], y_train=labels[:train],
             x_test=big[train:train + test], y_test=labels[train:train + test])
    return {"KERAS_HOME": str(home)}


MNIST_YAML = os.path.join(REPO, "configs", "mnist_cnn.yaml")


def test_mnist_config_trains_on_keras_s_split_from_the_cache(tmp_path):
    env = _fake_mnist(tmp_path / "keras")
    out = tmp_path / "run"
    proc = distflow(["train", MNIST_YAML, "--output", out, "--no-progress", "--set",
                     "train.epochs=2", "--set", "output.plot=false"] + NO_EXTRAS, env=env)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    # the file's own split: 600 to train (10 steps of 64 per epoch), 200 to test
    assert summary["test_count"] == 200 and summary["steps"] == 20
    assert summary["test_accuracy"] >= 0.6, summary  # chance is 0.1
    _, meta = final_arrays(out)
    assert meta["input_shape"] == [28, 28, 1] and meta["pixel_scale"] == pytest.approx(1 / 255)
    proc = distflow(["eval", out, "--json"], env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["accuracy"] == pytest.approx(summary["test_accuracy"])


def test_mnist_file_that_is_not_mnist_is_one_message(tmp_path):
    home = tmp_path / "keras"
    os.makedirs(home / "datasets")
    np.savez(home / "datasets" / "mnist.npz", images=np.zeros((2, 28, 28), np.uint8))
    proc = distflow(["train", MNIST_YAML, "--output", tmp_path / "run"],
                    env={"KERAS_HOME": str(home)})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("distflow:")]
    assert len(lines) == 1 and "data.dataset = 'mnist' cannot be loaded" in lines[0], lines


@pytest.mark.slow
def test_a_dropout_block_trains_the_same_on_two_ranks(tmp_path):
    """Dropout masks are drawn over the global batch: 2 ranks = 1 process with a dropout block."""
    layers = ("model.layers=[{conv2d: {filters: 8}}, {max_pool2d: {}}, {flatten: {}}, "
              "{dense: {units: 32}}, {dropout: {rate: 0.3}}]")
    arrays = {}
    for ranks in (1, 2):
        out = tmp_path / ("r%d" % ranks)
        proc = distflow(["train", DIGITS_YAML, "--output", out, "--no-progress", "--set", layers,
                         "--set", "train.epochs=2", "--set", "output.plot=false"] + NO_EXTRAS,
                        ranks=ranks)
        assert proc.returncode == 0, proc.stderr
        arrays[ranks], _ = final_arrays(out)
        assert json.loads((out / "summary.json").read_text())["test_accuracy"] > 0.8
    for name in arrays[1]:
        np.testing.assert_allclose(arrays[2][name], arrays[1][name], rtol=1e-5, atol=1e-5,
                                   err_msg=name)
