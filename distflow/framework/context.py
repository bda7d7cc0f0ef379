"""Execution context: eager or graph building, the default-graph stack, active tapes.

Thread-local, like TensorFlow's: each thread has its own mode and default graph. `import distflow`
starts eager (TF2); `distflow.compat.v1` builds graphs by wrapping its entry points in `graph_mode()`,
so importing it switches nothing globally.
"""
import contextlib
import threading


class _Context(threading.local):
    def __init__(self):
        self.modes = ["eager"]
        self.eager_name_stack = ""  # "outer/inner" while eager code is in name scopes (TF2)
        self.graphs = []
        self.tapes = []
        self.v1_eager = False  # compat.v1.enable_eager_execution() flips it
        self.recording_paused = 0
        # Variable classes to use instead of the mode's default (df.function's tracing lifts
        # variables created while tracing out of its graph, as TF's init_scope does)
        self.variable_creators = []
        # Called with each new eager Variable (a tf.distribute scope broadcasts it from rank 0)
        self.variable_observers = []
        # tf.distribute's replica context inside strategy.run: optimizers sum their gradients
        # across replicas through its `aggregate_gradients` before applying them (TF's rule)
        self.replica_contexts = []
        # the tf.distribute strategies whose scope() is open, innermost last
        self.distribution_strategies = []


ctx = _Context()


def executing_eagerly():
    return ctx.modes[-1] == "eager"


@contextlib.contextmanager
def mode(name):
    ctx.modes.append(name)
    try:
        yield
    finally:
        ctx.modes.pop()


def graph_mode():
    return mode("graph")


def eager_mode():
    return mode("eager")
