"""TensorFlow 1.x's face: `import distflow.compat.v1 as tf` and TF1 programs run unchanged.

Every entry point here builds graphs (TF1's default), without switching anything globally: each
function runs in graph mode, so `import distflow` code in the same process stays eager.
"""
import functools as _functools
import types as _types

from distflow import ops as _ops
from distflow.autodiff.gradients import gradients as _gradients
from distflow.client.session import InteractiveSession, Session, get_default_session  # noqa: F401
from distflow.framework import context as _context
from distflow.framework import errors  # noqa: F401
from distflow.framework.dtypes import (DType, as_dtype, bool_ as bool, double, float16,  # noqa: F401
                                       float32, float64, half, int8, int16, int32, int64, uint8)
from distflow.framework.graph import (Graph, GraphKeys, Operation, Tensor,  # noqa: F401
                                      get_default_graph, reset_default_graph)
from distflow.framework import graph as _graph
from distflow.framework.tensor_shape import Dimension, TensorShape  # noqa: F401
from distflow.ops import variables as _variables
from distflow import train as _train
from distflow.train import clip_ops as _clip_ops
from distflow.ops import nn_ops as _nn_ops
from distflow.ops import activation_ops as _activation_ops
from distflow.ops import normalization_ops as _normalization_ops
from distflow.ops import random_ops as _random_ops
from distflow import linalg as _linalg
from distflow import math as _math
from distflow.ops.dispatch import convert_to_tensor as _convert_to_tensor
from distflow.nn import layers as _layers
from distflow.compat.v1 import losses as _losses  # TF1's tf.losses: weights, Reduction, LOSSES
from distflow.summary import v1 as _summary_v1
from distflow.ops import constant_op as _constant_op, logging_ops as _logging_ops
from distflow.ops import state_ops as _state_ops
from distflow.compat.v1 import deprecated as _deprecated, init_ops as _init_ops
from distflow.compat.v1 import metrics as _metrics, monitored_session as _monitored
from distflow.compat.v1.platform import app, flags, logging  # noqa: F401
from distflow.client.config_proto import (ConfigProto, GPUOptions, GraphOptions,  # noqa: F401
                                          RunOptions)
from distflow.compat.v1.variable_scope import (AUTO_REUSE, VariableScope,  # noqa: F401
                                               get_variable, get_variable_scope, variable_scope)


def _v1(fn):
    """Runs `fn` building a graph, unless enable_eager_execution() was called."""
    @_functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _context.ctx.v1_eager:
            return fn(*args, **kwargs)
        with _context.graph_mode():
            return fn(*args, **kwargs)
    return wrapper


class _V1VariableType(type):
    def __call__(cls, *args, **kwargs):
        if _context.ctx.v1_eager:
            return _variables.EagerVariable(*args, **kwargs)
        with _context.graph_mode():
            return _variables.GraphVariable(*args, **kwargs)

    def __instancecheck__(cls, obj):
        return isinstance(obj, _variables.Variable)


class Variable(metaclass=_V1VariableType):
    """A TF1 Variable: a graph node whose value lives in each Session."""


def _namespace(name, **members):
    return _types.SimpleNamespace(__name__=name, **members)


for _m in _ops.PUBLIC_MODULES:
    for _name in _m.__all__:
        _obj = getattr(_m, _name)
        if _name != "Variable":  # constants such as newaxis (None) are not wrapped
            globals()[_name] = _v1(_obj) if callable(_obj) else _obj
sigmoid = _v1(_nn_ops.sigmoid)
tanh = _v1(_nn_ops.tanh)

gradients = _v1(_gradients)
cond = _v1(_ops.cond_ops.cond_v1)  # TF1's: no Python bool, singletons unpacked
while_loop = _v1(_ops.while_ops.while_loop_v1)  # one loop variable comes back bare
where = _v1(_ops.comparison_ops.where_v1)  # TF1's where is Select: a vector condition picks rows
clip_by_global_norm = _v1(_clip_ops.clip_by_global_norm)
clip_by_norm = _v1(_clip_ops.clip_by_norm)
global_norm = _v1(_clip_ops.global_norm)
name_scope = _v1(_graph.name_scope)
control_dependencies = _v1(_graph.control_dependencies)
get_collection = _graph.get_collection
add_to_collection = _graph.add_to_collection
initializers = _namespace("initializers", global_variables=global_variables_initializer,  # noqa: F821
                          variables=variables_initializer,  # noqa: F821
                          local_variables=_v1(_deprecated.local_variables_initializer),
                          **_init_ops.SHORT_NAMES)
globals().update(_init_ops.V1_NAMES)  # tf.zeros_initializer, tf.glorot_uniform_initializer, ...
for _name in ("assign", "assign_add", "assign_sub", "is_variable_initialized"):
    globals()[_name] = _v1(getattr(_state_ops, _name))
for _name in _deprecated.__all__:  # tf.to_float, tf.initialize_all_variables, ...
    globals()[_name] = _v1(getattr(_deprecated, _name))
placeholder_with_default = _v1(_constant_op.placeholder_with_default)
py_func = _v1(_ops.script_ops.py_func)
from distflow.ops.tensor_array import TensorArray  # noqa: E402,F401
Print = _v1(_logging_ops.Print)
print = _v1(_logging_ops.print_v2)  # noqa: A001 (tf.print)


def _wrapped_namespace(name, module):
    """A namespace of `module.__all__`, with functions wrapped to build graphs."""
    members = {}
    for n in module.__all__:
        obj = getattr(module, n)
        members[n] = obj if isinstance(obj, type) else _v1(obj)
    return _namespace(name, **members)


train = _wrapped_namespace("train", _train)
for _name in _monitored.__all__:  # tf.train.MonitoredTrainingSession, its hooks
    setattr(train, _name, _v1(getattr(_monitored, _name)) if _name == "MonitoredTrainingSession"
            else getattr(_monitored, _name))
metrics = _wrapped_namespace("metrics", _metrics)  # tf.metrics.accuracy, tf.metrics.mean
nn = _wrapped_namespace("nn", _nn_ops)
nn.softmax_cross_entropy_with_logits = _v1(_nn_ops.softmax_cross_entropy_with_logits_v1)
for _m in (_activation_ops, _normalization_ops):  # tf.nn.relu6, tf.nn.moments, ...
    for _name in _m.__all__:
        setattr(nn, _name, _v1(getattr(_m, _name)))
nn.moments = _v1(_normalization_ops.moments_v1)  # TF1's argument order: name before keep_dims
nn.top_k = _v1(_ops.sort_ops.top_k)
for _m in (_ops.conv_ops, _ops.pooling_ops):  # tf.nn.conv2d, tf.nn.max_pool, ... (TF1's forms below)
    for _name in _m.__all__:
        setattr(nn, _name, _v1(getattr(_m, _name)))
for _name in ("conv2d", "conv1d", "conv2d_transpose", "max_pool", "avg_pool"):
    setattr(nn, _name, _v1(getattr(_ops.conv_ops if _name.startswith("conv")
                                   else _ops.pooling_ops, _name + "_v1")))


@_v1
def _in_top_k_v1(predictions, targets, k, name=None):  # TF1's order: predictions first
    return _ops.sort_ops.in_top_k(targets, predictions, k, name=name)


nn.in_top_k = _in_top_k_v1
log_sigmoid = _v1(_activation_ops.log_sigmoid)  # tf.log_sigmoid (TF1's top-level name)
random = _wrapped_namespace("random", _random_ops)
math = _wrapped_namespace("math", _math)  # tf.math.reduce_sum, ... (TF 1.13 and later)
for _name in ("expm1", "erf", "erfc", "cumprod"):  # TF1's top level has these, TF2's only tf.math
    globals()[_name] = getattr(math, _name)
convert_to_tensor = _v1(_convert_to_tensor)
linalg = _wrapped_namespace("linalg", _linalg)  # tf.linalg.inv, ...; TF1's linalg.transpose too
linalg.transpose = linalg.matrix_transpose
layers = _wrapped_namespace("layers", _layers)  # tf.layers.dense, tf.layers.Dense
from distflow.compat.v1 import conv_layers as _conv_layers  # noqa: E402
for _name in _conv_layers.__all__:  # tf.layers.conv2d, max_pooling2d, batch_normalization, ...
    _obj = getattr(_conv_layers, _name)
    setattr(layers, _name, _obj if isinstance(_obj, type) else _v1(_obj))
losses = _wrapped_namespace("losses", _losses)  # tf.losses.mean_squared_error, ...
summary = _wrapped_namespace("summary", _summary_v1)
Summary = _summary_v1.Summary  # tf.Summary(value=[tf.Summary.Value(tag=..., simple_value=...)])
for _name in _random_ops.V1_NAMES if hasattr(_random_ops, "V1_NAMES") else ():
    globals()[_name] = _v1(getattr(_random_ops, _name))
for _name in _ops.linalg_ops.V1_NAMES:  # tf.matrix_inverse, tf.trace, ...: TF1 names only
    globals()[_name] = _v1(getattr(_ops.linalg_ops, _name))


def device(device_name_or_function):
    """TF1's tf.device: building a graph it places nothing (a Session runs the whole graph on
    its one device: Session(device=...)); eagerly it is df.device."""
    import contextlib
    from distflow import backend
    if _context.ctx.v1_eager and isinstance(device_name_or_function, str):
        return backend.device(device_name_or_function)
    return contextlib.nullcontext()


def executing_eagerly():
    return _context.ctx.v1_eager and _context.executing_eagerly()


def enable_eager_execution(config=None, device_policy=None, execution_mode=None):
    """TF1 names run eagerly from now on, as TF2's do."""
    _context.set_default_mode("eager")
    _context.set_default_v1_eager(True)


def disable_eager_execution():
    """Every name builds graphs from now on, TF2's too (`tf.constant` in a TF2 program makes a
    graph tensor that a Session runs), as after TF's call of the same name."""
    _context.set_default_v1_eager(False)
    _context.set_default_mode("graph")


def enable_v2_behavior():
    enable_eager_execution()


def disable_v2_behavior():
    """TF1's behavior: graphs and Sessions (what distflow.compat.v1 does by default)."""
    disable_eager_execution()


def __getattr__(name):
    # tf.compat.v1.distribute (strategies, ReduceOp, get_strategy): the same module as TF2's
    # tf.distribute, loaded on first use like distflow.distribute itself
    if name == "distribute":
        import importlib
        return importlib.import_module("distflow.distribute")
    # tf.data (loaded on first use, as distflow.data's pipelines are), with TF1's iterator
    # functions tf.data.make_one_shot_iterator / make_initializable_iterator
    if name == "data":
        import distflow.data as data_module
        from distflow.data import graph_iterator
        from distflow.data.dataset import Dataset
        return _namespace("data", Dataset=Dataset, experimental=data_module.experimental,
                          AUTOTUNE=data_module.AUTOTUNE,
                          make_one_shot_iterator=graph_iterator.make_one_shot_iterator,
                          make_initializable_iterator=(
                              graph_iterator.make_initializable_iterator))
    raise AttributeError("module 'distflow.compat.v1' has no attribute %r" % name)
