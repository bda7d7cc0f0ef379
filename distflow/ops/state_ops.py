"""Variable storage ops: VariableV2 (a graph variable's storage, held by the Session), a captured
eager variable, and the ops that assign to them.

An op that updates a variable names its `ref_input`; its `forward(xp, current, *args)` returns the
new value (used in eager mode, where reads are immutable snapshots) and `inplace` updates the
storage in place (used by Session plans, where nothing else holds the old value).
"""
import numpy as np

from distflow.framework import dtypes, errors
from distflow.framework.tensor_shape import TensorShape
from distflow.ops import dispatch
from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def
from distflow.ops.shapes import check_mergeable, same_as_input


class Cell:
    """One graph variable's value inside one Session."""

    __slots__ = ("_value", "name")

    def __init__(self, name):
        self._value = None
        self.name = name


def uninitialized(name, op=None):
    return errors.FailedPreconditionError(
        None, op, "Attempting to use uninitialized value %s" % name)


def _read_kernel(op, runtime):
    cell = runtime.variable_cell(op)

    def read():
        v = cell._value
        if v is None:
            raise uninitialized(cell.name, op)
        return v
    read.cell = cell  # a plan reads `cell._value` inline and calls read() only when it is None
    return read


VariableV2 = op_def("VariableV2", variable="session", effects="state", capturable=True,
                    infer=lambda shape, dtype: [(shape, dtype)],
                    kernel=_read_kernel, grad=NOT_DIFFERENTIABLE, aliases=True)

# An eager Variable used inside a traced function: the graph reads its storage at run time.
CapturedVariable = op_def("CapturedVariable", variable="eager", effects="state", capturable=True,
                          infer=lambda variable: [(variable.shape, variable.dtype)],
                          kernel=_read_kernel, grad=NOT_DIFFERENTIABLE, aliases=True)


def _assign_infer(ref, value, validate_shape=True):
    if validate_shape:
        check_mergeable(ref.shape, value.shape)
    if ref.dtype != value.dtype:
        raise TypeError("Input 'value' of 'Assign' Op has type %s that does not match type %s of "
                        "argument 'ref'." % (value.dtype.name, ref.dtype.name))
    return [(ref.shape if validate_shape else value.shape, ref.dtype)]


def _assign_forward(xp, current, value, validate_shape=True):
    return xp.array(value, copy=True)


def _assign_inplace(xp, current, value, validate_shape=True):
    if current.shape != value.shape:
        raise ValueError("Assign requires shapes of both tensors to match. lhs shape= %s rhs "
                         "shape= %s" % (list(current.shape), list(value.shape)))
    xp.copyto(current, value)


Assign = op_def("Assign", initializes=True,
                infer=_assign_infer, forward=_assign_forward, inplace=_assign_inplace,
                ref_input=0, aliases=True, grad=NOT_DIFFERENTIABLE)


def _update_infer(ref, value):
    if ref.dtype != value.dtype:
        raise TypeError("Input 'value' has type %s that does not match type %s of the variable."
                        % (value.dtype.name, ref.dtype.name))
    return same_as_input(ref)


AssignAdd = op_def("AssignAdd", infer=_update_infer, forward=lambda xp, cur, d: cur + d,
                   inplace=lambda xp, cur, d: xp.add(cur, d, out=cur),
                   ref_input=0, aliases=True, grad=NOT_DIFFERENTIABLE)
AssignSub = op_def("AssignSub", infer=_update_infer, forward=lambda xp, cur, d: cur - d,
                   inplace=lambda xp, cur, d: xp.subtract(cur, d, out=cur),
                   ref_input=0, aliases=True, grad=NOT_DIFFERENTIABLE)


# -- TF1's functional forms: tf.assign(ref, value) builds the op that Variable.assign builds --------
def _update(opdef, ref, value, attrs, name):
    if not hasattr(ref, "_convert"):
        raise TypeError("%s needs a Variable as its ref, got %r" % (opdef.name, ref))
    return dispatch.apply(opdef, [ref, ref._convert(value)], attrs, name=name)


def assign(ref, value, validate_shape=None, use_locking=None, name=None):
    """`ref = value`; run, it gives the new value. validate_shape=False lets the shape change
    only at graph-building time (the Session's storage keeps its shape)."""
    attrs = {} if validate_shape is None else {"validate_shape": bool(validate_shape)}
    return _update(Assign, ref, value, attrs, name)


def assign_add(ref, value, use_locking=None, name=None):
    return _update(AssignAdd, ref, value, {}, name)


def assign_sub(ref, value, use_locking=None, name=None):
    return _update(AssignSub, ref, value, {}, name)


# IsVariableInitialized names the variable's op as an attr, not as an input: an input would
# read the storage, and reading an uninitialized variable is exactly the error it avoids.
def _is_initialized_kernel(op, runtime):
    cell = runtime.variable_cell(op.attrs["variable_op"])
    return lambda: np.array(cell._value is not None)


IsVariableInitialized = op_def(
    "IsVariableInitialized", effects="state",
    infer=lambda variable_op: [(TensorShape([]), dtypes.bool_)],
    kernel=_is_initialized_kernel, grad=NOT_DIFFERENTIABLE)


def is_variable_initialized(variable, name=None):
    """A bool scalar: has this Session run the variable's initializer (or an assign) yet?"""
    op = getattr(variable, "op", None)
    if op is None or getattr(op, "type", None) != "VariableV2":  # an eager Variable: always
        return dispatch.convert_to_tensor(True, name=name)
    return dispatch.build_op(op.graph, IsVariableInitialized, [], {"variable_op": op}, name)
