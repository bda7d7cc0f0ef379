"""TF1's tf.device in a graph: it places nothing (a Session runs its graph on its one device),
so multi-GPU example programs build and run on the CPU."""
import numpy as np

import distflow.compat.v1 as tf


def test_device_scopes_build_graphs_that_a_cpu_session_runs():
    a = tf.placeholder(tf.float32, [3, 3])
    outs = []
    for name in ("/gpu:0", "/gpu:1", "/cpu:0"):
        with tf.device(name):
            outs.append(tf.matmul(a, a))
    with tf.device("/cpu:0"):
        total = tf.add_n(outs)
    x = np.eye(3, dtype=np.float32) * 2.0
    with tf.Session(config=tf.ConfigProto(log_device_placement=True)) as sess:
        np.testing.assert_allclose(sess.run(total, {a: x}), 3 * x @ x)
