"""Converting one Python function: its source, rewritten (transformer.py), compiled once per
code object and rebuilt around the function's own globals and closure cells, so names it reads
from its module or enclosing function stay live. The compiled code keeps the source file's
name and line numbers: a traceback through converted code shows the user's lines.
"""
import ast
import functools
import inspect
import os
import sysconfig
import textwrap
import types
import warnings

from distflow.autograph import operators, transformer
from distflow.framework import context

_cache = {}  # code object -> the converted code object (or None: run as it is)
_sources = {}  # code object -> the converted function's source, for to_code


class _Namespace(types.ModuleType):
    """`ag__` as converted code sees it: the operators."""


ag__ = _Namespace("ag__")
for _n in ("Undefined", "UndefinedReturnValue", "and_", "for_stmt", "if_exp", "if_stmt", "ld",
           "len_",
           "not_", "or_", "range_", "retval", "while_stmt"):
    setattr(ag__, _n, getattr(operators, _n))

# where the library code lives: functions from there run as they are (TF skips them too)
_LIBRARY_DIRS = tuple(sorted({os.path.dirname(os.__file__), sysconfig.get_paths()["purelib"],
                              sysconfig.get_paths()["platlib"],
                              os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}))


def _user_function(f):
    """The plain function behind `f` when it is the user's own code (not distflow's, NumPy's,
    the standard library's or an installed package's, not a generator); else None."""
    fn = getattr(f, "__func__", f)
    if not inspect.isfunction(fn) or getattr(fn, "__ag_do_not_convert__", False):
        return None
    if fn.__name__ == "<lambda>" or inspect.isgeneratorfunction(fn) or \
            inspect.iscoroutinefunction(fn) or getattr(fn, "__wrapped__", None) is not None:
        return None
    filename = os.path.abspath(fn.__code__.co_filename)
    if filename.startswith(_LIBRARY_DIRS) or (fn.__module__ or "").startswith("distflow"):
        return None
    return fn


def _is_data_iterator(x):
    from distflow.data.dataset_elements import Iterator
    return isinstance(x, Iterator)


def converted_call(f, *args, **kwargs):
    """`f(*args, **kwargs)`, with `f` converted first when it is the user's own function (or
    method, or an object whose __call__ is), as TF's AutoGraph converts what a function calls."""
    if f is next and args and _is_data_iterator(args[0]) and not context.executing_eagerly():
        return operators.iterator_next(args[0])
    if _user_function(f) is not None:
        f = convert(f)
    elif not inspect.isroutine(f) and not isinstance(f, type) and \
            _user_function(getattr(type(f), "__call__", None)) is not None:
        f = convert(f.__call__)
    return f(*args, **kwargs)


ag__.converted_call = converted_call


def do_not_convert(func):
    """Marks `func` to run as it is under AutoGraph (tf.autograph.experimental.do_not_convert)."""
    func.__ag_do_not_convert__ = True
    return func


def convert(func):
    """`func` with its Python control flow converted (a bound method stays bound); `func`
    itself when it cannot be (no source, a lambda, a builtin), with TF's warning."""
    if isinstance(func, functools.partial):
        return functools.partial(convert(func.func), *func.args, **func.keywords)
    if inspect.ismethod(func):
        converted = convert(func.__func__)
        return func if converted is func.__func__ else types.MethodType(converted,
                                                                        func.__self__)
    if not inspect.isfunction(func) or getattr(func, "__ag_do_not_convert__", False):
        return func
    code = func.__code__
    if code not in _cache:
        try:
            _cache[code] = _convert_code(func)
        except (SyntaxError, ValueError, TypeError, AttributeError) as e:
            warnings.warn("AutoGraph could not transform %s and will run it as-is: %s"
                          % (func.__qualname__, e))
            _cache[code] = None
    new_code = _cache[code]
    if new_code is None:
        return func
    closure = []
    cells = dict(zip(code.co_freevars, func.__closure__ or ()))
    for name in new_code.co_freevars:
        closure.append(types.CellType(ag__) if name == "ag__" else cells[name])
    converted = types.FunctionType(new_code, func.__globals__, func.__name__,
                                   func.__defaults__, tuple(closure))
    converted.__kwdefaults__ = func.__kwdefaults__
    converted.__qualname__ = func.__qualname__
    converted.__dict__.update(func.__dict__)
    converted.__wrapped__ = func
    return converted


def to_code(func):
    """The source of `func` as AutoGraph converts it (tf.autograph.to_code)."""
    func = getattr(func, "python_function", func)
    func = getattr(func, "__func__", func)
    convert(func)
    source = _sources.get(getattr(func, "__code__", None))
    if source is None:
        raise ValueError("AutoGraph could not convert %r (no Python source)" % (func,))
    return source + "\n"


def _convert_code(func):
    if func.__name__ == "<lambda>":
        return None  # a lambda has no statements to convert
    try:
        lines, first = inspect.getsourcelines(func)
        filename = inspect.getsourcefile(func) or func.__code__.co_filename
    except (OSError, TypeError):
        warnings.warn("AutoGraph could not transform %s and will run it as-is: its source code "
                      "is not available." % func.__qualname__)
        return None
    source = textwrap.dedent("".join(lines))
    tree = ast.parse(source)
    fn = tree.body[0]
    if not isinstance(fn, ast.FunctionDef):
        return None
    fn.decorator_list = []
    transformer.convert_function_def(fn)
    ast.fix_missing_locations(fn)
    _sources[func.__code__] = ast.unparse(fn)
    ast.increment_lineno(tree, first - 1)
    # the function is defined inside a factory whose parameters are its free variables (and
    # ag__), so that compiling gives it the same closure layout; in a class body there, so
    # that its own name stays a global inside it (a recursive call) and zero-argument super()
    # gets its `__class__` cell
    free = [n for n in func.__code__.co_freevars if n != "__class__"]
    inner = ast.ClassDef(name="__ag_class", bases=[], keywords=[], body=[fn],
                         decorator_list=[], **_type_params())
    factory = ast.FunctionDef(
        name="__ag_factory",
        args=ast.arguments(posonlyargs=[], args=[ast.arg(arg=a) for a in ["ag__"] + free],
                           vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
        body=[inner, ast.Return(value=ast.Constant(None))], decorator_list=[], returns=None,
        **_type_params())
    module = ast.Module(body=[factory], type_ignores=[])
    ast.copy_location(factory, fn)
    ast.fix_missing_locations(module)
    code = compile(module, filename, "exec")
    return _find_code(code, func.__name__)


def _type_params():
    import sys
    return {"type_params": []} if sys.version_info >= (3, 12) else {}


def _find_code(code, name):
    """The code object of the function `name` inside the compiled factory."""
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            if const.co_name == name and const.co_name != "__ag_factory" and \
                    "__ag_factory" not in const.co_qualname.split(".")[-1:]:
                return const
            found = _find_code(const, name)
            if found is not None:
                return found
    return None
