"""TF1 names that TF 1.x itself deprecated but course programs still call: the `to_*` casts,
`initialize_all_variables`, and the local-variable entry points (distflow makes no local
variables, so their initializer is an empty group, named `init` like TF's)."""
from distflow.framework.graph import GraphKeys, get_collection
from distflow.ops import variables
from distflow.ops.math_ops import cast


def to_float(x, name="ToFloat"):
    return cast(x, "float32", name=name)


def to_double(x, name="ToDouble"):
    return cast(x, "float64", name=name)


def to_int32(x, name="ToInt32"):
    return cast(x, "int32", name=name)


def to_int64(x, name="ToInt64"):
    return cast(x, "int64", name=name)


def arg_max(input, dimension, output_type="int64", name=None):
    """TF1's tf.arg_max: argmax with the axis called `dimension`."""
    from distflow.ops.reduction_ops import argmax
    return argmax(input, dimension, output_type=output_type, name=name)


def arg_min(input, dimension, output_type="int64", name=None):
    from distflow.ops.reduction_ops import argmin
    return argmin(input, dimension, output_type=output_type, name=name)


def local_variables(scope=None):
    return get_collection(GraphKeys.LOCAL_VARIABLES, scope)


def local_variables_initializer():
    return variables.variables_initializer(local_variables())


def initialize_all_variables():
    return variables.global_variables_initializer()


def initialize_local_variables():
    return local_variables_initializer()


def initialize_variables(var_list, name="init"):
    return variables.variables_initializer(var_list, name=name)


__all__ = ["to_float", "to_double", "to_int32", "to_int64", "arg_max", "arg_min",
           "local_variables",
           "local_variables_initializer", "initialize_all_variables",
           "initialize_local_variables", "initialize_variables"]
