"""TF1 summary ops: graph nodes whose value is a serialized Summary protocol buffer.

TensorFlow gives these ops a `string` output. distflow has no string dtype, so a summary's bytes are
a 1-D `uint8` tensor of unknown length instead: `sess.run(merged)` returns a NumPy uint8 array, and
`FileWriter.add_summary` takes it as it comes. Merging needs no parsing: a serialized protobuf
message followed by another is the message with the repeated fields of both, so MergeSummary
concatenates the bytes of its inputs.
"""
import re

import numpy as np

from distflow import backend
from distflow.framework import context, dtypes
from distflow.framework.graph import GraphKeys, Tensor, get_default_graph
from distflow.framework.tensor_shape import TensorShape
from distflow.ops import dispatch
from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def
from distflow.summary.proto import HistogramProto, Summary

__all__ = ["scalar", "histogram", "merge", "merge_all"]

DEFAULT_BUCKETS = 30  # as TF2's tf.summary.histogram


def histogram_proto(values, bucket_count=DEFAULT_BUCKETS, tag=""):
    """A HistogramProto of `values` with `bucket_count` equal-width buckets between min and max."""
    a = np.asarray(values, dtype=np.float64).ravel()
    if a.size == 0:
        return HistogramProto()
    if not np.all(np.isfinite(a)):
        raise ValueError("Nan in summary histogram for: %s" % tag)
    lo, hi = float(a.min()), float(a.max())
    # All values equal: a range of width 1 around them, as NumPy does, so every bucket has width.
    counts, edges = np.histogram(a, bins=int(bucket_count),
                                 range=(lo, hi) if lo < hi else (lo - 0.5, hi + 0.5))
    return HistogramProto(min=lo, max=hi, num=float(a.size), sum=float(a.sum()),
                          sum_squares=float(np.dot(a, a)), bucket_limit=edges[1:].tolist(),
                          bucket=counts.astype(np.float64).tolist())


def _as_uint8(xp, data):
    return xp.asarray(np.frombuffer(data, dtype=np.uint8).copy())


# -- the ops ---------------------------------------------------------------------------------------
_BYTES_SPEC = [(TensorShape([None]), dtypes.uint8)]


def _check_real(value, op_name):
    if value.dtype.is_bool:
        raise TypeError("%s takes a real number tensor, got %s" % (op_name, value.dtype.name))


def _scalar_infer(value, tag):
    _check_real(value, "ScalarSummary")
    if value.shape.rank not in (None, 0):
        raise ValueError("tags and values not the same shape: [] != %s (tag '%s')"
                         % (value.shape.as_list(), tag))
    return _BYTES_SPEC


def _scalar_forward(xp, value, tag):
    if value.ndim != 0:
        raise ValueError("tags and values not the same shape: [] != %s (tag '%s')"
                         % (list(value.shape), tag))
    summary = Summary([Summary.Value(tag=tag, simple_value=float(value))])
    return _as_uint8(xp, summary.SerializeToString())


ScalarSummary = op_def("ScalarSummary", infer=_scalar_infer, forward=_scalar_forward,
                       grad=NOT_DIFFERENTIABLE)


def _histogram_infer(values, tag):
    _check_real(values, "HistogramSummary")
    return _BYTES_SPEC


def _histogram_forward(xp, values, tag):
    histo = histogram_proto(backend.to_numpy(values), tag=tag)
    return _as_uint8(xp, Summary([Summary.Value(tag=tag, histo=histo)]).SerializeToString())


HistogramSummary = op_def("HistogramSummary", infer=_histogram_infer, forward=_histogram_forward,
                          grad=NOT_DIFFERENTIABLE)


def _merge_infer(*inputs):
    for t in inputs:
        if t.dtype != dtypes.uint8 or t.shape.rank not in (None, 1):
            raise TypeError("MergeSummary takes serialized summaries (uint8 vectors from summary "
                            "ops), got %s" % (t,))
    return _BYTES_SPEC


MergeSummary = op_def("MergeSummary", infer=_merge_infer,
                      forward=lambda xp, *summaries: xp.concatenate(summaries),
                      grad=NOT_DIFFERENTIABLE)


# -- TF1's tf.summary functions --------------------------------------------------------------------
_INVALID_TAG_CHARACTERS = re.compile(r"[^-/\w\.]")


def _clean_tag(name):
    """Characters TF does not allow in tags become '_', and a leading '/' is dropped, as in TF."""
    if name is None:
        return None
    return _INVALID_TAG_CHARACTERS.sub("_", name).lstrip("/")


def _summary_op(opdef, name, tensor, collections, family):
    """Builds one summary op named like its tag: `loss`, or `train/loss` inside a name scope."""
    name, family = _clean_tag(name), _clean_tag(family)
    tensor = dispatch.convert_to_tensor(tensor)
    if not isinstance(tensor, Tensor):  # executing eagerly (TF1 face after enable_eager_execution)
        tag = name if family is None else "%s/%s" % (family, name)
        return dispatch.apply(opdef, [tensor], {"tag": tag})
    graph = tensor.graph
    base = name if family is None else "%s/%s" % (family, name)
    with graph.name_scope(base) as scope:
        # TF repeats the family in the tag (`family/family/name`) so TensorBoard groups by family.
        tag = scope.rstrip("/") if family is None else "%s/%s" % (family, scope.rstrip("/"))
        out = dispatch.apply(opdef, [tensor], {"tag": tag}, name=scope)
    graph.add_to_collections([GraphKeys.SUMMARIES] if collections is None else collections, out)
    return out


def scalar(name, tensor, collections=None, family=None):
    """A summary op for one scalar; its value is a serialized Summary (a uint8 vector).

    Added to the SUMMARIES collection (or to `collections`), so merge_all() finds it."""
    return _summary_op(ScalarSummary, name, tensor, collections, family)


def histogram(name, values, collections=None, family=None):
    """A summary op with the histogram of `values` (30 equal-width buckets from min to max)."""
    return _summary_op(HistogramSummary, name, values, collections, family)


def merge(inputs, collections=None, name=None):
    """One summary op holding all the values of `inputs` (each a summary op's output)."""
    inputs = list(inputs)
    if not inputs:
        raise ValueError("tf.summary.merge needs at least one summary to merge")
    tensors = [dispatch.convert_to_tensor(t) for t in inputs]
    if not isinstance(tensors[0], Tensor):
        return dispatch.apply(MergeSummary, tensors)
    graph = tensors[0].graph
    with graph.name_scope(name or "Merge"):
        out = dispatch.apply(MergeSummary, tensors)
    if collections:
        graph.add_to_collections(collections, out)
    return out


def merge_all(key=GraphKeys.SUMMARIES, scope=None, name=None):
    """Merges the summary ops in the default graph's `key` collection; None if there are none."""
    if context.ctx.v1_eager and context.executing_eagerly():
        raise RuntimeError("Merging tf.summary.* ops is not compatible with eager execution. "
                           "Use distflow.summary.create_file_writer and distflow.summary.scalar.")
    summaries = get_default_graph().get_collection(key, scope)
    if not summaries:
        return None
    return merge(summaries, collections=[], name=name)
