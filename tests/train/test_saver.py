"""tf.train.Saver: save and restore through Sessions, TF's prefix and `checkpoint` file rules,
max_to_keep, latest_checkpoint, restore errors, and a TF1 Boston program that resumes."""
import json
import os

import numpy as np
import pytest

import distflow.compat.v1 as tf
from distflow.data.boston import load_boston
from distflow.framework import errors


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _graph_with_two_variables(w=(1.0, 2.0), b=3.0):
    g = tf.Graph()
    with g.as_default():
        wv = tf.Variable(np.array(w, np.float32), name="w")
        bv = tf.Variable(np.float32(b), name="b")
        init = tf.global_variables_initializer()
    return g, wv, bv, init


def _session(g, init=None):
    s = tf.Session(graph=g)
    if init is not None:
        s.run(init)
    return s


def test_save_then_restore_into_a_fresh_session_and_graph(in_tmp):
    g, w, b, init = _graph_with_two_variables()
    with g.as_default():
        saver = tf.train.Saver()
    sess = _session(g, init)
    path = saver.save(sess, "model/boston.ckpt")
    assert path == "model/boston.ckpt"
    assert sorted(os.listdir("model")) == ["boston.ckpt.data-00000-of-00001",
                                           "boston.ckpt.index", "checkpoint"]
    # another session of the same graph: uninitialized, then restored
    with tf.Session(graph=g) as s2:
        with pytest.raises(errors.FailedPreconditionError):
            s2.run(w)
        saver.restore(s2, path)
        np.testing.assert_array_equal(s2.run(w), [1.0, 2.0])
        assert s2.run(b) == np.float32(3.0)
    # a new graph built the same way, with other initial values
    g2, w2, b2, _ = _graph_with_two_variables(w=(0.0, 0.0), b=0.0)
    with g2.as_default():
        saver2 = tf.train.Saver()
    with tf.Session(graph=g2) as s3:
        saver2.restore(s3, tf.train.latest_checkpoint("model/"))
        np.testing.assert_array_equal(s3.run(w2), [1.0, 2.0])
        assert s3.run(b2).dtype == np.float32


def test_global_step_names_and_the_checkpoint_file(in_tmp):
    g, w, b, init = _graph_with_two_variables()
    with g.as_default():
        step = tf.train.get_or_create_global_step()
        bump = tf.assign_add(step, 7)
        init = tf.global_variables_initializer()
        saver = tf.train.Saver()
    sess = _session(g, init)
    assert saver.save(sess, "model/m.ckpt", global_step=3) == "model/m.ckpt-3"
    assert saver.save(sess, "model/m.ckpt", global_step=np.int64(4)) == "model/m.ckpt-4"
    sess.run(bump)
    assert saver.save(sess, "model/m.ckpt", global_step=step) == "model/m.ckpt-7"
    lines = open("model/checkpoint").read().splitlines()
    assert lines[:4] == ['model_checkpoint_path: "m.ckpt-7"',
                         'all_model_checkpoint_paths: "m.ckpt-3"',
                         'all_model_checkpoint_paths: "m.ckpt-4"',
                         'all_model_checkpoint_paths: "m.ckpt-7"']
    assert all(line.split(":")[0] in ("all_model_checkpoint_timestamps",
                                      "last_preserved_timestamp") for line in lines[4:])
    state = tf.train.get_checkpoint_state("model")
    assert state.model_checkpoint_path == os.path.join("model", "m.ckpt-7")
    assert state.all_model_checkpoint_paths[0] == os.path.join("model", "m.ckpt-3")
    assert tf.train.latest_checkpoint("model/") == "model/m.ckpt-7"
    # an absolute save path is written absolute
    absolute = str(in_tmp / "abs" / "m.ckpt")
    assert tf.train.Saver([w]).save(sess, absolute, global_step=1) == absolute + "-1"
    assert open(in_tmp / "abs" / "checkpoint").readline() == \
        'model_checkpoint_path: "%s-1"\n' % absolute
    assert tf.train.latest_checkpoint(str(in_tmp / "abs")) == absolute + "-1"


def test_max_to_keep_deletes_the_oldest(in_tmp):
    g, w, b, init = _graph_with_two_variables()
    with g.as_default():
        saver = tf.train.Saver(max_to_keep=2)
    sess = _session(g, init)
    for step in range(5):
        saver.save(sess, "ck/m", global_step=step)
    assert sorted(os.listdir("ck")) == ["checkpoint", "m-3.data-00000-of-00001", "m-3.index",
                                        "m-4.data-00000-of-00001", "m-4.index"]
    assert saver.last_checkpoints == ["ck/m-3", "ck/m-4"]
    assert tf.train.get_checkpoint_state("ck").all_model_checkpoint_paths == ["ck/m-3", "ck/m-4"]
    # saving under a kept name again moves it to the newest place instead of adding it twice
    saver.save(sess, "ck/m", global_step=3)
    assert saver.last_checkpoints == ["ck/m-4", "ck/m-3"]
    # max_to_keep=0 (or None): nothing is deleted, and the state file names the latest only
    with g.as_default():
        keep_all = tf.train.Saver(max_to_keep=None)
    for step in range(3):
        keep_all.save(sess, "all/m", global_step=step)
    assert len([f for f in os.listdir("all") if f.endswith(".index")]) == 3
    assert tf.train.get_checkpoint_state("all").all_model_checkpoint_paths == ["all/m-2"]


def test_latest_checkpoint_without_a_checkpoint(in_tmp):
    assert tf.train.latest_checkpoint("nothing/") is None
    os.makedirs("gone")
    with open("gone/checkpoint", "w") as f:
        f.write('model_checkpoint_path: "m-1"\nall_model_checkpoint_paths: "m-1"\n')
    assert tf.train.latest_checkpoint("gone") is None  # its files are missing


def test_restore_errors_are_tfs(in_tmp):
    g, w, b, init = _graph_with_two_variables()
    with g.as_default():
        path = tf.train.Saver([w]).save(_session(g, init), "m/only_w")
    g2, w2, b2, _ = _graph_with_two_variables()
    with g2.as_default():
        c = tf.Variable([0, 0], name="c")
        wrong_shape = tf.Variable([0.0, 0.0, 0.0], name="w3")
        with tf.Session() as s:
            with pytest.raises(errors.NotFoundError) as e:
                tf.train.Saver().restore(s, path)
            assert str(e.value).startswith("Restoring from checkpoint failed. This is most likely "
                                           "due to a Variable name or other graph key that is "
                                           "missing from the checkpoint.")
            assert str(e.value).endswith("Key b not found in checkpoint")
            with pytest.raises(errors.FailedPreconditionError):
                s.run(w2)  # nothing was restored: all or none
            with pytest.raises(errors.InvalidArgumentError, match="expected dtype int32 does "
                               "not equal original dtype float"):
                tf.train.Saver({"w": c}).restore(s, path)
            with pytest.raises(errors.InvalidArgumentError, match=r"lhs shape= \[3\] rhs shape= "
                               r"\[2\]"):
                tf.train.Saver({"w": wrong_shape}).restore(s, path)
            with pytest.raises(ValueError, match="not a valid checkpoint: m/nothere"):
                tf.train.Saver([w2]).restore(s, "m/nothere")
            with pytest.raises(ValueError, match="Can't load save_path when it is None"):
                tf.train.Saver([w2]).restore(s, None)
            # a dict picks the names in the checkpoint
            tf.train.Saver({"w": w2}).restore(s, path)
            np.testing.assert_array_equal(s.run(w2), [1.0, 2.0])


def test_var_list_checks(in_tmp):
    g, w, b, init = _graph_with_two_variables()
    with g.as_default():
        with pytest.raises(ValueError, match="At least two variables have the same name: w"):
            tf.train.Saver([w, w])
        with pytest.raises(TypeError, match="Not a variable"):
            tf.train.Saver({"w": 3})
        with pytest.raises(TypeError, match="dict or a list"):
            tf.train.Saver(w)
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="No variables to save"):
            tf.train.Saver()


def test_files_are_npz_and_json_never_pickles(in_tmp):
    g, w, b, init = _graph_with_two_variables()
    with g.as_default():
        path = tf.train.Saver({"layer/w": w, "b": b}).save(_session(g, init), "f/m")
    index = json.load(open(path + ".index"))
    assert "not TensorFlow" in index["format"]
    assert index["tensors"]["layer/w"]["shape"] == [2]
    with np.load(path + ".data-00000-of-00001", allow_pickle=False) as data:
        np.testing.assert_array_equal(data[index["tensors"]["layer/w"]["key"]], [1.0, 2.0])
    assert not [f for f in os.listdir("f") if f.endswith(".tmp")]  # temporary files renamed
    # a file that is not a distflow checkpoint is refused with a clear error
    with open(path + ".index", "w") as f:
        f.write("\x00garbage")
    with pytest.raises(errors.DataLossError, match="not a complete distflow checkpoint"):
        with g.as_default():
            tf.train.Saver([w]).restore(tf.Session(graph=g), path)


# -- a course program -------------------------------------------------------------------------
def _boston_program():
    """The slide program: standardized Boston features, a linear model, SGD; returns its pieces."""
    x_all, y_all = load_boston()
    x_all = (x_all - x_all.mean(0)) / x_all.std(0)
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 13], name="x")
    y = tf.placeholder(tf.float32, [None], name="y")
    w = tf.Variable(tf.zeros([13, 1]), name="weights")
    b = tf.Variable(0.0, name="bias")
    pred = tf.reshape(tf.matmul(x, w) + b, [-1])
    loss = tf.reduce_mean(tf.square(pred - y))
    step = tf.train.get_or_create_global_step()
    train = tf.train.GradientDescentOptimizer(0.05).minimize(loss, global_step=step)
    feed = {x: x_all.astype(np.float32), y: y_all.astype(np.float32)}
    return loss, train, step, feed


def test_a_tf1_boston_program_trains_saves_and_resumes(in_tmp):
    loss, train, step, feed = _boston_program()
    saver = tf.train.Saver(max_to_keep=3)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for i in range(50):
            sess.run(train, feed)
            if (i + 1) % 10 == 0:
                saved = saver.save(sess, "model/boston.ckpt", global_step=step)
        trained = sess.run(loss, feed)
        sess.run(train, feed)
        after_one_more = sess.run(loss, feed)
    assert saved == "model/boston.ckpt-50" and trained < 30.0
    assert tf.train.latest_checkpoint("model/") == saved
    assert len([f for f in os.listdir("model") if f.endswith(".index")]) == 3

    # a new process would build the same graph, then restore instead of initializing
    loss, train, step, feed = _boston_program()
    saver = tf.train.Saver()
    with tf.Session() as sess:
        saver.restore(sess, tf.train.latest_checkpoint("model/"))
        assert sess.run(step) == 50
        assert sess.run(loss, feed) == trained
        sess.run(train, feed)  # training resumes exactly where it stopped
        assert sess.run(loss, feed) == after_one_more
        assert sess.run(step) == 51
