"""`read_data_sets(train_dir, one_hot=...)` as TF 1.x's tutorials had it: MNIST from the four
IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz,
t10k-labels-idx1-ubyte.gz) in `train_dir`, split into train / validation / test DataSets with
`next_batch`. TF downloaded missing files; distflow downloads nothing, so a missing file is an
error naming it and where it goes."""
import collections
import gzip
import os

import numpy as np

from distflow.framework import dtypes as _dtypes

DEFAULT_SOURCE_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"

Datasets = collections.namedtuple("Datasets", ["train", "validation", "test"])


def _read32(f):
    return int(np.frombuffer(f.read(4), dtype=">u4")[0])


def extract_images(f):
    """(N, rows, cols, 1) uint8 from an IDX3 file object (gzip)."""
    with gzip.GzipFile(fileobj=f) as stream:
        magic = _read32(stream)
        if magic != 2051:
            raise ValueError("Invalid magic number %d in MNIST image file: %s"
                             % (magic, getattr(f, "name", f)))
        n, rows, cols = _read32(stream), _read32(stream), _read32(stream)
        data = np.frombuffer(stream.read(rows * cols * n), dtype=np.uint8)
        return data.reshape(n, rows, cols, 1)


def dense_to_one_hot(labels_dense, num_classes):
    out = np.zeros((labels_dense.shape[0], num_classes))
    out[np.arange(labels_dense.shape[0]), labels_dense.ravel()] = 1
    return out


def extract_labels(f, one_hot=False, num_classes=10):
    with gzip.GzipFile(fileobj=f) as stream:
        magic = _read32(stream)
        if magic != 2049:
            raise ValueError("Invalid magic number %d in MNIST label file: %s"
                             % (magic, getattr(f, "name", f)))
        n = _read32(stream)
        labels = np.frombuffer(stream.read(n), dtype=np.uint8)
        return dense_to_one_hot(labels, num_classes) if one_hot else labels


class DataSet:
    """Images and labels with `next_batch`: shuffled once per epoch (TF's order of work: a
    batch that crosses an epoch's end takes the rest of this epoch and the start of the next)."""

    def __init__(self, images, labels, fake_data=False, one_hot=False, dtype=_dtypes.float32,
                 reshape=True, seed=None):
        if fake_data:
            raise ValueError("fake_data is not supported: give the MNIST files")
        dtype = _dtypes.as_dtype(dtype)
        if dtype not in (_dtypes.uint8, _dtypes.float32):
            raise TypeError("Invalid image dtype %r, expected uint8 or float32" % dtype)
        if images.shape[0] != labels.shape[0]:
            raise ValueError("images.shape: %s labels.shape: %s" % (images.shape, labels.shape))
        self._num_examples = images.shape[0]
        if reshape:
            images = images.reshape(images.shape[0], int(np.prod(images.shape[1:])))
        if dtype == _dtypes.float32:
            images = images.astype(np.float32) * (1.0 / 255.0)
        self._images, self._labels = images, labels
        self._epochs_completed = 0
        self._index_in_epoch = 0
        self._rng = np.random.RandomState(seed)

    images = property(lambda self: self._images)
    labels = property(lambda self: self._labels)
    num_examples = property(lambda self: self._num_examples)
    epochs_completed = property(lambda self: self._epochs_completed)

    def _shuffle(self):
        order = self._rng.permutation(self._num_examples)
        self._images, self._labels = self._images[order], self._labels[order]

    def next_batch(self, batch_size, fake_data=False, shuffle=True):
        start = self._index_in_epoch
        if self._epochs_completed == 0 and start == 0 and shuffle:
            self._shuffle()
        if start + batch_size <= self._num_examples:
            self._index_in_epoch += batch_size
            end = self._index_in_epoch
            return self._images[start:end], self._labels[start:end]
        self._epochs_completed += 1
        rest_images, rest_labels = self._images[start:], self._labels[start:]
        if shuffle:
            self._shuffle()
        self._index_in_epoch = batch_size - len(rest_images)
        end = self._index_in_epoch
        return (np.concatenate([rest_images, self._images[:end]]),
                np.concatenate([rest_labels, self._labels[:end]]))


def _open(train_dir, name, source_url):
    path = os.path.join(train_dir, name)
    if not os.path.isfile(path):
        raise OSError("MNIST file %s is missing: distflow downloads nothing; put %s%s there "
                      "(the four MNIST .gz files go in %s)" % (path, source_url, name, train_dir))
    return open(path, "rb")


def read_data_sets(train_dir, fake_data=False, one_hot=False, dtype=_dtypes.float32,
                   reshape=True, validation_size=5000, seed=None,
                   source_url=DEFAULT_SOURCE_URL):
    """Datasets(train, validation, test) from the MNIST files in `train_dir`; the first
    `validation_size` training images are the validation set, as TF's."""
    if fake_data:
        raise ValueError("fake_data is not supported: give the MNIST files")
    with _open(train_dir, TRAIN_IMAGES, source_url) as f:
        train_images = extract_images(f)
    with _open(train_dir, TRAIN_LABELS, source_url) as f:
        train_labels = extract_labels(f, one_hot=one_hot)
    with _open(train_dir, TEST_IMAGES, source_url) as f:
        test_images = extract_images(f)
    with _open(train_dir, TEST_LABELS, source_url) as f:
        test_labels = extract_labels(f, one_hot=one_hot)
    if not 0 <= validation_size <= len(train_images):
        raise ValueError("Validation size should be between 0 and %d. Received: %d."
                         % (len(train_images), validation_size))
    options = dict(dtype=dtype, reshape=reshape, seed=seed)
    return Datasets(
        train=DataSet(train_images[validation_size:], train_labels[validation_size:], **options),
        validation=DataSet(train_images[:validation_size], train_labels[:validation_size],
                           **options),
        test=DataSet(test_images, test_labels, **options))


def load_mnist(train_dir="MNIST-data"):
    return read_data_sets(train_dir)
