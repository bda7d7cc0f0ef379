"""tf.keras.datasets.mnist / fashion_mnist / cifar10 read Keras's cache in Keras's formats, and
download (checked against the sha256) only what is missing. Files here are small ones the tests
make in those formats; the network is never used (urlopen is replaced)."""
import gzip
import hashlib
import io
import os
import pickle
import tarfile
import urllib.error

import numpy as np
import pytest

import distflow as tf
from distflow.keras.datasets import cache, cifar10, mnist


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    return tmp_path / "datasets"


def _mnist_bytes(n_train=6, n_test=3):
    rng = np.random.RandomState(0)
    buf = io.BytesIO()
    np.savez(buf, x_train=rng.randint(0, 256, (n_train, 28, 28)).astype(np.uint8),
             y_train=np.arange(n_train, dtype=np.uint8) % 10,
             x_test=rng.randint(0, 256, (n_test, 28, 28)).astype(np.uint8),
             y_test=np.arange(n_test, dtype=np.uint8))
    return buf.getvalue()


def test_mnist_reads_the_cache_and_honors_path(keras_home):
    (keras_home / "mnist.npz").write_bytes(_mnist_bytes())
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
    assert x_train.shape == (6, 28, 28) and x_train.dtype == np.uint8
    assert y_train.tolist() == [0, 1, 2, 3, 4, 5] and x_test.shape == (3, 28, 28)
    (keras_home / "mnist-1.npz").write_bytes(_mnist_bytes(n_train=4))  # Horovod: one per rank
    (x_train, _), _ = tf.keras.datasets.mnist.load_data(path="mnist-1.npz")
    assert len(x_train) == 4


def test_a_missing_file_without_network_says_where_to_put_it(keras_home, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")
    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(OSError) as info:
        tf.keras.datasets.mnist.load_data()
    message = str(info.value)
    assert mnist.ORIGIN in message and str(keras_home / "mnist.npz") in message
    assert "KERAS_HOME" in message
    assert not os.listdir(keras_home)  # nothing half-written


class _Response(io.BytesIO):
    headers = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_download_is_checked_against_the_sha256(keras_home, monkeypatch, capsys):
    payload = _mnist_bytes()
    monkeypatch.setattr("urllib.request.urlopen", lambda *a, **k: _Response(payload))
    monkeypatch.setattr(mnist, "SHA256", "0" * 64)  # Keras's hash is for the real file
    with pytest.raises(ValueError, match="not Keras's"):
        mnist.load_data()
    assert not os.listdir(keras_home)
    monkeypatch.setattr(mnist, "SHA256", hashlib.sha256(payload).hexdigest())
    (x_train, _), _ = mnist.load_data()
    assert x_train.shape == (6, 28, 28)
    assert (keras_home / "mnist.npz").read_bytes() == payload
    assert "Downloading data from " + mnist.ORIGIN in capsys.readouterr().err


def test_cache_is_keras_home_then_tmp(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache.cache_dir() == os.path.join(str(tmp_path), ".keras")
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # a read-only home
    assert cache.cache_dir() == os.path.join("/tmp", ".keras")
    assert cache.cache_dirs()[0] == os.path.join(str(tmp_path), ".keras")  # still read there


def _idx(array, header):
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reads_keras_gzipped_idx_files(keras_home):
    folder = keras_home / "fashion-mnist"
    folder.mkdir()
    images = np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(_idx(np.array([7, 3]), b"\0" * 8))
    (folder / "train-images-idx3-ubyte.gz").write_bytes(_idx(images, b"\0" * 16))
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(_idx(np.array([1]), b"\0" * 8))
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(_idx(images[:1], b"\0" * 16))
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.fashion_mnist.load_data()
    assert y_train.tolist() == [7, 3] and y_test.tolist() == [1]
    np.testing.assert_array_equal(x_train, images)
    assert x_test.shape == (1, 28, 28)


def _cifar_batch(n, first_label):
    data = (np.arange(n * 3072) % 251).astype(np.uint8).reshape(n, 3072)
    labels = [(first_label + i) % 10 for i in range(n)]
    return pickle.dumps({b"batch_label": b"x", b"labels": labels, b"data": data,
                         b"filenames": [b"f"] * n}, protocol=2)


def _cifar_files():
    return {name: _cifar_batch(2, i) for i, name in enumerate(cifar10.BATCHES)}


def _check_cifar():
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.cifar10.load_data()
    assert x_train.shape == (10, 32, 32, 3) and y_train.shape == (10, 1)
    assert x_test.shape == (2, 32, 32, 3) and y_test[:, 0].tolist() == [5, 6]
    assert y_train[:, 0].tolist() == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5]
    planar = (np.arange(3072) % 251).astype(np.uint8).reshape(3, 32, 32)
    np.testing.assert_array_equal(x_train[0], planar.transpose(1, 2, 0))  # channels_last


def test_cifar10_reads_the_extracted_folder(keras_home):
    folder = keras_home / "cifar-10-batches-py"
    folder.mkdir()
    for name, data in _cifar_files().items():
        (folder / name).write_bytes(data)
    _check_cifar()


def test_cifar10_reads_the_archive_in_place(keras_home):
    with tarfile.open(keras_home / "cifar-10-batches-py.tar.gz", "w:gz") as tar:
        for name, data in _cifar_files().items():
            info = tarfile.TarInfo("cifar-10-batches-py/" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    _check_cifar()
    assert not (keras_home / "cifar-10-batches-py").exists()


class _Planted:
    def __reduce__(self):
        return (os.system, ("echo planted",))


def test_cifar10_builds_nothing_but_arrays(keras_home):
    folder = keras_home / "cifar-10-batches-py"
    folder.mkdir()
    for name, data in _cifar_files().items():
        (folder / name).write_bytes(data)
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": _Planted()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="NumPy arrays only.*system"):
        tf.keras.datasets.cifar10.load_data()
