"""`df.Module` (TF2's tf.Module): the base class of a hand-written model, which finds the
Variables and sub-modules it holds by looking through its attributes.

    class Linear(df.Module):
        def __init__(self, n_in, n_out, name=None):
            super().__init__(name=name)
            self.w = df.Variable(df.zeros([n_in, n_out]), name="w")
            self.b = df.Variable(df.zeros([n_out]), name="b")

        def __call__(self, x):
            return df.matmul(x, self.w) + self.b

`model.trainable_variables` is then what a GradientTape differentiates and an optimizer updates.
The search follows TF's order, so the lists match TF's element for element: the attributes by
sorted name, lists and tuples in order, dicts by sorted key, first the leaves this module holds
itself, then those of its sub-modules, each variable once.
"""
import re

from distflow.framework import nest
from distflow.framework.graph import name_scope
from distflow.ops.variables import Variable

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _snake_case(class_name):
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", class_name).lower()


class _ModuleScope:
    """A module's name scope (TF's `module.name_scope`): its full name fixed when the module was
    made (`mlp/`, or `outer/mlp/` inside a scope), re-entered as that whole name."""

    def __init__(self, full_name):
        self.name = full_name
        self._entered = []  # a stack: a method may re-enter its own module's scope (recursion)

    def __enter__(self):
        scope = name_scope(self.name)
        self._entered.append(scope)
        return scope.__enter__()

    def __exit__(self, *exc):
        return self._entered.pop().__exit__(*exc)


class Module:
    def __init__(self, name=None):
        if name is None:
            name = _snake_case(type(self).__name__)
        elif not _IDENTIFIER.match(name):
            raise ValueError("%r is not a valid module name. Module names must be valid Python "
                             "identifiers (e.g. a valid class name)." % name)
        self._name = name
        with name_scope(name) as full_name:
            self._name_scope = _ModuleScope(full_name or name + "/")

    @property
    def name(self):
        return self._name

    @property
    def name_scope(self):
        return self._name_scope

    @property
    def variables(self):
        """Every Variable this module and its sub-modules hold, in TF's order."""
        return tuple(_flatten(self, lambda x: isinstance(x, Variable)))

    @property
    def trainable_variables(self):
        return tuple(_flatten(self, lambda x: isinstance(x, Variable) and x.trainable))

    @property
    def non_trainable_variables(self):
        return tuple(_flatten(self, lambda x: isinstance(x, Variable) and not x.trainable))

    @property
    def submodules(self):
        """Every Module held below this one (not itself), breadth first."""
        return tuple(_flatten(self, lambda x: isinstance(x, Module)))

    @classmethod
    def with_name_scope(cls, method):
        """A decorator: the method runs inside its module's name scope (TF's)."""
        def run(self, *args, **kwargs):
            with self.name_scope:
                return method(self, *args, **kwargs)
        run.__name__, run.__doc__ = method.__name__, method.__doc__
        return run


def _flatten(module, predicate, seen=None):
    """The leaves of `module`'s attributes that satisfy `predicate`: this module's own first,
    then each sub-module's, depth first; every object once."""
    seen = {id(module)} if seen is None else seen
    found, submodules = [], []
    for key in sorted(vars(module)):
        for leaf in nest.flatten(vars(module)[key]):
            if id(leaf) in seen:
                continue
            seen.add(id(leaf))
            if predicate(leaf):
                found.append(leaf)
            if isinstance(leaf, Module):
                submodules.append(leaf)
    for sub in submodules:
        found.extend(_flatten(sub, predicate, seen))
    return found
