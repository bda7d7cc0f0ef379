"""Variable storage ops: VariableV2 (a graph variable's storage, held by the Session), a captured
eager variable, and the ops that assign to them.

An op that updates a variable names its `ref_input`; its `forward(xp, current, *args)` returns the
new value (used in eager mode, where reads are immutable snapshots) and `inplace` updates the
storage in place (used by Session plans, where nothing else holds the old value).
"""
from distflow.framework import errors
from distflow.ops.registry import NOT_DIFFERENTIABLE, op_def
from distflow.ops.shapes import same_as_input


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
    return read


VariableV2 = op_def("VariableV2", infer=lambda shape, dtype: [(shape, dtype)],
                    kernel=_read_kernel, grad=NOT_DIFFERENTIABLE, aliases=True)

# An eager Variable used inside a traced function: the graph reads its storage at run time.
CapturedVariable = op_def("CapturedVariable",
                          infer=lambda variable: [(variable.shape, variable.dtype)],
                          kernel=_read_kernel, grad=NOT_DIFFERENTIABLE, aliases=True)


def _assign_infer(ref, value, validate_shape=True):
    if validate_shape and not ref.shape.is_compatible_with(value.shape):
        raise ValueError("Shapes %s and %s are incompatible" % (ref.shape, value.shape))
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


Assign = op_def("Assign", infer=_assign_infer, forward=_assign_forward, inplace=_assign_inplace,
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
