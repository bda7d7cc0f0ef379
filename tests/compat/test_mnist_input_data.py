"""TF 1.x's tensorflow.examples.tutorials.mnist.input_data, as aymericdamien's TF1 examples use
it: read_data_sets(dir, one_hot=True), mnist.train.next_batch, mnist.test.images / labels."""
import gzip
import os

import numpy as np
import pytest

import distflow.compat.v1 as tf
from distflow.examples.tutorials.mnist import input_data


def _write(directory, prefix, images, labels):
    with gzip.open(os.path.join(directory, prefix + "-images-idx3-ubyte.gz"), "wb") as f:
        f.write(np.array([2051, len(images), 28, 28], ">u4").tobytes() + images.tobytes())
    with gzip.open(os.path.join(directory, prefix + "-labels-idx1-ubyte.gz"), "wb") as f:
        f.write(np.array([2049, len(labels)], ">u4").tobytes() + labels.tobytes())


@pytest.fixture
def mnist_dir(tmp_path):
    rng = np.random.default_rng(0)
    train_images = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    train_labels = (np.arange(30) % 10).astype(np.uint8)
    _write(str(tmp_path), "train", train_images, train_labels)
    _write(str(tmp_path), "t10k", train_images[:7], train_labels[:7])
    return str(tmp_path) + "/", train_images, train_labels


def test_read_data_sets_splits_scales_and_one_hots(mnist_dir):
    path, images, labels = mnist_dir
    mnist = input_data.read_data_sets(path, one_hot=True, validation_size=10)
    assert mnist.train.num_examples == 20 and mnist.validation.num_examples == 10
    assert mnist.test.images.shape == (7, 784) and mnist.test.images.dtype == np.float32
    np.testing.assert_allclose(mnist.test.images, images[:7].reshape(7, 784) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(mnist.test.labels.argmax(1), labels[:7])
    assert mnist.test.labels.shape == (7, 10)
    np.testing.assert_array_equal(mnist.validation.labels.argmax(1), labels[:10])
    dense = input_data.read_data_sets(path, validation_size=0)
    assert dense.train.labels.shape == (30,) and dense.train.num_examples == 30
    with pytest.raises(ValueError, match="Validation size should be between 0 and 30"):
        input_data.read_data_sets(path, validation_size=5000)


def test_next_batch_covers_each_epoch_once_and_feeds_a_session(mnist_dir):
    path, images, _ = mnist_dir
    mnist = input_data.read_data_sets(path, one_hot=True, validation_size=10, seed=3)
    seen = [mnist.train.next_batch(8) for _ in range(5)]          # 40 rows: 2 epochs of 20
    # as TF counts: the epoch that ends exactly at the last batch is completed on the next call
    assert [len(x) for x, _ in seen] == [8] * 5 and mnist.train.epochs_completed == 1
    first_epoch = np.concatenate([x for x, _ in seen])[:20]
    pixels = np.rint(first_epoch * 255).astype(np.uint8)
    assert sorted(r.tobytes() for r in pixels) == \
        sorted(r.tobytes() for r in images[10:].reshape(20, 784))   # every row once, none twice
    X = tf.placeholder("float", [None, 784])
    Y = tf.placeholder("float", [None, 10])
    count = tf.reduce_sum(Y) + 0 * tf.reduce_sum(X)
    with tf.Session() as sess:
        batch_x, batch_y = mnist.train.next_batch(4)
        assert sess.run(count, feed_dict={X: batch_x, Y: batch_y}) == 4.0


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(OSError, match="train-images-idx3-ubyte.gz is missing"):
        input_data.read_data_sets(str(tmp_path), one_hot=True)
