"""`tf.types`: the base class of the tracing protocol df.function honours.

An argument with a `__tf_tracing_type__(context)` method is keyed by what it returns (hashable,
compared with ==) instead of by its own identity, so two objects the user declares alike share
one trace, as TF's guide/function shows.
"""
import types as _types


class TraceType:
    """What a df.function keys a non-tensor argument by: subclasses define __eq__ and
    __hash__ (is_subtype_of, most_specific_common_supertype and placeholder_value are TF's
    API; distflow matches traces by equality alone)."""

    def is_subtype_of(self, other):
        return self == other

    def most_specific_common_supertype(self, others):
        return self if all(self == o for o in others) else None

    def placeholder_value(self, placeholder_context=None):
        raise NotImplementedError

    def __eq__(self, other):
        return NotImplemented

    def __hash__(self):
        raise NotImplementedError


experimental = _types.SimpleNamespace(TraceType=TraceType)

__all__ = ["experimental", "TraceType"]
