"""distflow: a TensorFlow-style framework on NumPy/CuPy with data-parallel training over MPI.

This is the TF2 face: eager by default, GradientTape, function. The TF1 face (graphs, Session,
placeholders) is `distflow.compat.v1`. Both only re-export.
"""
__version__ = "0.1.0"


def _interrupted_while_starting(signum, frame):
    """`distflow ...` on the command line: a Ctrl-C while this package is still importing (about
    a quarter of a second, before distflow.cli can catch anything) ends as every other interrupt
    of the command does: one line from rank 0 and exit status 130, not a traceback.
    distflow.cli.main puts Python's own handler back once it runs."""
    import os
    rank = next((os.environ[v] for v in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
                 if os.environ.get(v, "").isdigit()), "0")
    if rank == "0":
        os.write(2, b"distflow: interrupted\n")
    os._exit(130)


def _guard_the_command_line_start():
    import os
    import signal
    import sys
    if sys.argv and os.path.basename(sys.argv[0]) == "distflow":
        try:
            signal.signal(signal.SIGINT, _interrupted_while_starting)
        except ValueError:  # not the main thread: leave signals alone
            pass


_guard_the_command_line_start()

from distflow import ops as _ops
from distflow.autodiff.gradients import gradients  # noqa: F401
from distflow.backend import device  # noqa: F401  (eager values on a GPU: `with df.device("gpu")`)
from distflow.autodiff.tape import GradientTape, UnconnectedGradients  # noqa: F401
from distflow.client.session import InteractiveSession, Session, get_default_session  # noqa: F401
from distflow.framework import errors  # noqa: F401
from distflow.framework.context import executing_eagerly  # noqa: F401
from distflow.framework.dtypes import (DType, as_dtype, bool_ as bool, double, float16,  # noqa: F401
                                       float32, float64, half, int8, int16, int32, int64, uint8)
from distflow.framework.eager import EagerTensor  # noqa: F401
from distflow.framework.graph import (Graph, GraphKeys, Operation, Tensor,  # noqa: F401
                                      control_dependencies, get_default_graph, init_scope,
                                      name_scope, reset_default_graph)
from distflow.framework.tensor_shape import Dimension, TensorShape  # noqa: F401
from distflow.ops.dispatch import convert_to_tensor  # noqa: F401
from distflow.function import TensorSpec, function  # noqa: F401  (after the ops it traces)
from distflow.module import Module  # noqa: F401
from distflow.ops.tensor_array import TensorArray  # noqa: F401
from distflow import image, linalg, losses, math, metrics, nn, optimizers, random, train  # noqa: F401
from distflow import autograph, config, types  # noqa: F401
from distflow.train.clip_ops import clip_by_global_norm, clip_by_norm, global_norm  # noqa: F401
from distflow.ops.logging_ops import print_v2 as print  # noqa: F401,A001 (tf.print)


def _export(modules, namespace):
    for m in modules:
        for name in m.__all__:
            namespace[name] = getattr(m, name)


_export(_ops.PUBLIC_MODULES, globals())
from distflow.ops.nn_ops import sigmoid, tanh  # noqa: E402,F401  (tf.sigmoid, tf.tanh)


_ON_FIRST_USE = ("distribute", "data", "summary", "compat", "keras", "config", "saved_model")


def __getattr__(name):
    # Imported on first use: `distflow.distribute` may load mpi4py, which plain users never need;
    # `data` and `summary` (file formats, checksums) keep `import distflow` within its 0.3 s;
    # `compat` (TF1's face, `tf.compat.v1.placeholder` in TF2 code) is reached the same way.
    if name in _ON_FIRST_USE:
        import importlib
        return importlib.import_module("distflow." + name)
    raise AttributeError("module 'distflow' has no attribute %r" % name)
