"""TF1's `tf.summary`: summary ops built into a graph, merged, run, and written by a FileWriter.

    loss_summary = tf.summary.scalar("loss", loss)
    merged = tf.summary.merge_all()
    writer = tf.summary.FileWriter(logdir, sess.graph)
    writer.add_summary(sess.run(merged, feed_dict), step)
"""
from distflow.summary.proto import Event, HistogramProto, Summary
from distflow.summary.summary_ops import histogram, merge, merge_all, scalar
from distflow.summary.writer import FileWriter

__all__ = ["Event", "FileWriter", "HistogramProto", "Summary", "histogram", "merge", "merge_all",
           "scalar"]
