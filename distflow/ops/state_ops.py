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


class VariableStorage:
    """Where one variable's array lives: a graph variable's Cell in one Session, or an eager
    variable itself. Every module outside the storage classes reads and writes a variable's
    array through these three calls (or, for many variables at once, through
    ops/variables.read_values / write_values); only the storage classes touch the attribute
    that holds it (tests/ops/test_variable_storage.py checks). A plain base, not an ABC:
    isinstance against it sits on eager hot paths, and an ABC's check is Python code; a
    subclass that leaves one of the three out fails when it is defined."""

    __slots__ = ()
    # True where reads hand out the array itself (an eager variable's, copy on write); the
    # in-place rule asks `array_is_private` only then
    shares_reads = False
    # how many times any variable's array was replaced (assign_array): a fused update whose
    # variables' arrays are views of its flat buffers checks them again only after this moved
    replaced = 0
    # how many reads have handed out an array their reader may keep (an eager read): an array
    # found private stays private until this moves, so a fused update asks again only then
    shared_reads = 0

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        missing = [m for m in ("read_array", "assign_array", "array_is_private")
                   if getattr(cls, m) is getattr(VariableStorage, m)]
        if missing:
            raise TypeError("%s declares variable storage but does not define %s"
                            % (cls.__name__, ", ".join(missing)))

    def read_array(self):
        """The current array itself (not a copy), or None before the variable is initialized."""
        raise NotImplementedError

    @staticmethod
    def read_arrays(storages):
        """read_array() of each of `storages`, in one call (a fused update's step reads its
        variable and slots this way). Every storage class keeps its array in `_array`."""
        return [s._array for s in storages]

    def assign_array(self, value):
        """Makes `value` (an array of the variable's array module) the variable's array."""
        raise NotImplementedError

    def array_is_private(self):
        """True when no value someone holds shares the current array, so an update may
        overwrite it in place (the question ops/registry.may_update_in_place asks)."""
        raise NotImplementedError


class Cell(VariableStorage):
    """One graph variable's value inside one Session. Only the Session's plans and the storage
    calls reach its array, so it is always private."""

    __slots__ = ("_array", "name")

    def __init__(self, name):
        self._array = None
        self.name = name

    def read_array(self):
        return self._array

    def assign_array(self, value):
        self._array = value
        VariableStorage.replaced += 1

    def array_is_private(self):
        return True


def uninitialized(name, op=None):
    return errors.FailedPreconditionError(
        None, op, "Attempting to use uninitialized value %s" % name)


def _read_kernel(op, runtime):
    cell = runtime.variable_cell(op)

    read_array = cell.read_array

    def read():
        v = read_array()
        if v is None:
            raise uninitialized(cell.name, op)
        return v
    read.cell = cell  # a plan reads `cell.read_array()` inline and calls read() only when None
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
    read_array = cell.read_array
    return lambda: np.array(read_array() is not None)


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
