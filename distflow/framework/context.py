"""Execution context: eager or graph building, the default-graph stack, active tapes.

Thread-local, like TensorFlow's: each thread has its own mode and default graph. `import distflow`
starts eager (TF2); `distflow.compat.v1` builds graphs by wrapping its entry points in `graph_mode()`,
so importing it switches nothing globally.
"""
import contextlib
import threading


_default = {"mode": "eager"}  # process-wide, as TF's enable/disable_eager_execution are


class _Context(threading.local):
    def __init__(self):
        self.modes = [_default["mode"]]
        self.eager_name_stack = ""  # "outer/inner" while eager code is in name scopes (TF2)
        self.graphs = []
        self.tapes = []
        self.v1_eager = False  # compat.v1.enable_eager_execution() flips it
        if _default.get("v1_eager"):
            self.v1_eager = True
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


def set_default_mode(name):
    """The mode of code outside every function and `with` block, in this thread and in threads
    started later (compat.v1's enable/disable_eager_execution)."""
    _default["mode"] = name
    ctx.modes[0] = name


def set_default_v1_eager(flag):
    """Whether compat.v1's names run eagerly, here and in threads started later."""
    _default["v1_eager"] = bool(flag)
    ctx.v1_eager = bool(flag)


def reset_defaults():
    """The state `import distflow` starts in: eager TF2 names, graph-building TF1 names."""
    set_default_mode("eager")
    set_default_v1_eager(False)


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
