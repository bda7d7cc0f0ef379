"""tf.train.Checkpoint and CheckpointManager: TF2's save / restore / read with a Keras model,
its optimizer and plain variables; numbering, max_to_keep, the `checkpoint` state file, and
training that resumes exactly where it stopped."""
import os

import numpy as np
import pytest

import distflow as tf

X = np.random.RandomState(0).randn(16, 3).astype(np.float32)
Y = X @ np.array([[1.0], [-2.0], [0.5]], np.float32)


def _model_and_optimizer(seed):
    tf.random.set_seed(seed)
    model = tf.keras.Sequential([tf.keras.layers.Dense(4, activation="tanh", input_shape=(3,)),
                                 tf.keras.layers.Dense(1)])
    optimizer = tf.keras.optimizers.Adam(0.05)
    model.compile(optimizer=optimizer, loss="mse")
    return model, optimizer


def test_restore_resumes_training_exactly(tmp_path):
    model, opt = _model_and_optimizer(1)
    model.fit(X, Y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    ckpt = tf.train.Checkpoint(step=tf.Variable(7), model=model, optimizer=opt)
    path = ckpt.save(str(tmp_path / "ckpt"))
    assert path == str(tmp_path / "ckpt-1")
    assert tf.train.latest_checkpoint(str(tmp_path)) == path
    model.fit(X, Y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    expected = model.get_weights()

    other, other_opt = _model_and_optimizer(2)  # different weights, an optimizer with no slots
    restored = tf.train.Checkpoint(step=tf.Variable(0), model=other, optimizer=other_opt)
    restored.restore(path).assert_consumed()
    assert int(restored.step.numpy()) == 7 and int(restored.save_counter.numpy()) == 1
    assert int(other_opt.iterations.numpy()) == 8
    other.fit(X, Y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    for got, want in zip(other.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_manager_numbers_keeps_and_recovers(tmp_path):
    v = tf.Variable(1.0)
    ckpt = tf.train.Checkpoint(v=v)
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=2)
    assert manager.latest_checkpoint is None
    assert manager.restore_or_initialize() is None
    for i in range(3):
        v.assign(float(i))
        manager.save()
    names = sorted(os.listdir(tmp_path))
    assert names == ["checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index",
                     "ckpt-3.data-00000-of-00001", "ckpt-3.index"]
    state = (tmp_path / "checkpoint").read_text()
    assert 'model_checkpoint_path: "ckpt-3"' in state
    assert manager.save(checkpoint_number=10).endswith("ckpt-10")
    again = tf.train.CheckpointManager(tf.train.Checkpoint(v=tf.Variable(0.0)), str(tmp_path),
                                       max_to_keep=2)
    assert [os.path.basename(p) for p in again.checkpoints] == ["ckpt-3", "ckpt-10"]
    target = tf.Variable(-1.0)
    tf.train.Checkpoint(v=target).restore(again.latest_checkpoint)
    assert float(target.numpy()) == 2.0


def test_write_and_read_without_counter(tmp_path):
    ckpt = tf.train.Checkpoint(a=tf.Variable([1.0, 2.0]), nested=tf.train.Checkpoint(
        b=tf.Variable(3)))
    prefix = ckpt.write(str(tmp_path / "w" / "exact"))
    assert prefix == str(tmp_path / "w" / "exact")
    assert not (tmp_path / "w" / "checkpoint").exists()
    target = tf.train.Checkpoint(a=tf.Variable([0.0, 0.0]),
                                 nested=tf.train.Checkpoint(b=tf.Variable(0)))
    target.read(prefix).assert_existing_objects_matched()
    assert target.a.numpy().tolist() == [1.0, 2.0] and int(target.nested.b.numpy()) == 3


def test_mismatches_are_clear_errors(tmp_path):
    prefix = tf.train.Checkpoint(a=tf.Variable([1.0, 2.0])).write(str(tmp_path / "c"))
    with pytest.raises(ValueError, match="checkpoint holds shape \\(2,\\), the object now"):
        tf.train.Checkpoint(a=tf.Variable([1.0, 2.0, 3.0])).restore(prefix)
    status = tf.train.Checkpoint(b=tf.Variable(1.0)).restore(prefix)
    with pytest.raises(AssertionError, match="Unresolved object in checkpoint"):
        status.assert_consumed()
    status.expect_partial()
    with pytest.raises(AssertionError, match="No checkpoint specified"):
        tf.train.Checkpoint(a=tf.Variable(1.0)).restore(None).assert_consumed()
    with pytest.raises(ValueError, match="expecting a trackable object"):
        tf.train.Checkpoint(n=5)
    with pytest.raises(tf.errors.DataLossError, match="not a complete distflow checkpoint"):
        tf.train.Checkpoint(a=tf.Variable(1.0)).restore(str(tmp_path / "missing"))
    (tmp_path / "bad.index").write_bytes(b"\x80\x04pickle")
    with pytest.raises(tf.errors.DataLossError):
        tf.train.Checkpoint(a=tf.Variable(1.0)).restore(str(tmp_path / "bad"))


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_saved_files_get_the_permissions_of_the_umask(tmp_path, umask):
    # as TF's: the weights a user saves are readable as any file they write (not mkstemp's 0600)
    model, opt = _model_and_optimizer(1)
    old = os.umask(umask)
    try:
        tf.train.CheckpointManager(tf.train.Checkpoint(model=model, optimizer=opt),
                                   str(tmp_path / "tc"), max_to_keep=2).save()
        model.save_weights(str(tmp_path / "w" / "ckpt"))
        try:
            import h5py  # noqa: F401
            (tmp_path / "h5").mkdir()
            model.save_weights(str(tmp_path / "h5" / "model.h5"))
        except ImportError:
            pass
    finally:
        os.umask(old)
    files = [os.path.join(d, f) for d, _, fs in os.walk(tmp_path) for f in fs]
    assert len(files) >= 6
    for path in files:
        assert oct(os.stat(path).st_mode & 0o777) == oct(0o666 & ~umask), path
