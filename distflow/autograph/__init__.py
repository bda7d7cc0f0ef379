"""AutoGraph (`tf.autograph`): Python control flow on tensors inside a df.function becomes
cond and while_loop. df.function converts the functions it traces (`autograph=False` turns it
off); `to_graph` converts one function by hand."""
import types

from distflow.autograph.conversion import convert, do_not_convert, to_code


def to_graph(entity, recursive=True, experimental_optional_features=None):
    """`entity` with its control flow converted: call it while building a graph."""
    return convert(entity)


def set_loop_options(parallel_iterations=None, swap_memory=None, maximum_iterations=None,
                     shape_invariants=None):
    """Options for the loop whose body calls this first. Converted code reads them from the
    call itself; run as plain Python, the call does nothing (as TF's)."""


experimental = types.SimpleNamespace(set_loop_options=set_loop_options,
                                     do_not_convert=do_not_convert)

__all__ = ["to_graph", "to_code", "experimental", "convert", "do_not_convert"]
