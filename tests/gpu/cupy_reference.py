"""What the real CuPy package accepts, read from the installed package (no GPU needed).

`pip install cupy-cuda12x nvidia-nccl-cu12` installs and imports on a machine without a GPU:
every module, class and function is there, only creating an array fails. CuPy's Python-level
functions have an `inspect.signature`; its Cython functions and methods (NcclCommunicator's
collectives, Stream.begin_capture, ndarray.get, the ufuncs) have none, but Cython writes their
documented signature as the first line of the docstring, e.g.
    NcclCommunicator.allReduce(self, intptr_t sendbuf, intptr_t recvbuf, size_t count, ...)
and `signature_of` reads that line (the C types dropped) when inspect cannot.

Used by the API audit (test_cupy_api.py) and by the stand-in (simulated_cupy.py), which refuses
names and calls that this CuPy would refuse whenever CuPy is importable.
"""
import functools
import inspect
import re
import warnings

_MISSING = object()
_real = _MISSING


def real_cupy():
    """The installed cupy module, or None (not installed, or broken for this machine)."""
    global _real
    if _real is _MISSING:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import cupy
                import cupyx  # noqa: F401 (distflow uses cupyx.empty_pinned)
                from cupy.cuda import nccl  # noqa: F401 (its module loads without libnccl)
            _real = cupy
        except Exception:  # noqa: BLE001 (ImportError, or a CuPy that fails to import)
            _real = None
    return _real


def _split_params(text):
    """The comma-separated items of a parameter list, commas inside brackets and quotes kept."""
    items, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(text[start:i].strip())
            start = i + 1
    tail = text[start:].strip()
    if tail:
        items.append(tail)
    return items


_DOC_LINE = re.compile(r"^\s*([\w.]+)\((.*)\)\s*(->.*)?$")


def doc_signature(obj, name=None):
    """The signature in the first line of `obj`'s docstring (Cython's embedsignature), without
    `self`; None when the line is not a signature of this name."""
    doc = getattr(obj, "__doc__", None)
    if not isinstance(doc, str) or not doc.strip():
        return None
    m = _DOC_LINE.match(doc.strip().splitlines()[0])
    name = name or getattr(obj, "__name__", None)
    documented = m.group(1).rsplit(".", 1)[-1] if m else None
    if m is None or (name and documented != name and not name.endswith("_" + documented)):
        return None  # ('cupy_add' is the ufunc that documents itself as 'add')
    params, kind = [], inspect.Parameter.POSITIONAL_OR_KEYWORD
    for item in _split_params(m.group(2).replace("\\*", "*")):
        if item == "/":
            params = [p.replace(kind=inspect.Parameter.POSITIONAL_ONLY) for p in params]
            continue
        if item == "*":
            kind = inspect.Parameter.KEYWORD_ONLY
            continue
        if item.startswith("**"):
            params.append(inspect.Parameter(item[2:].split()[-1],
                                            inspect.Parameter.VAR_KEYWORD))
            continue
        if item.startswith("*"):
            params.append(inspect.Parameter(item[1:].split()[-1],
                                            inspect.Parameter.VAR_POSITIONAL))
            kind = inspect.Parameter.KEYWORD_ONLY
            continue
        decl, has_default, default = item.partition("=")
        pname = decl.split()[-1]  # 'intptr_t sendbuf' -> 'sendbuf'
        if pname == "self" and not params:
            continue
        params.append(inspect.Parameter(pname, kind, default=default.strip() if has_default
                                        else inspect.Parameter.empty))
    return inspect.Signature(params)


@functools.lru_cache(maxsize=None)
def _cached_signature(obj):
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        sig = None
    if sig is not None and isinstance(obj, type) and not sig.parameters and obj.__doc__:
        sig = None  # a Cython class shows object's (); its docstring says what it takes
    if sig is not None:
        params = list(sig.parameters.values())
        if params and params[0].name == "self":
            sig = sig.replace(parameters=params[1:])
        return sig
    return doc_signature(obj) if not isinstance(obj, type) else \
        doc_signature(obj, obj.__name__)


def signature_of(obj):
    """The parameters CuPy's `obj` accepts (without self), or None when it documents none."""
    try:
        return _cached_signature(obj)
    except TypeError:  # unhashable
        return None


_ATTRIBUTE = re.compile(r"^\s*~?(?:\w+\.)?(\w+)\s*\(")


def documented_attributes(cls):
    """The instance attributes a CuPy class documents (its docstring's 'Attributes:' or
    'Variables:' section: `~Stream.ptr (intptr_t): ...`): set in __init__, so not on the class."""
    names, inside = set(), False
    for line in (getattr(cls, "__doc__", None) or "").splitlines():
        if line.strip() in ("Attributes:", "Variables:"):
            inside = True
            continue
        if inside:
            if line.strip() and not line.startswith((" ", "\t")) or line.strip().endswith(":") \
                    and not _ATTRIBUTE.match(line):
                inside = False
                continue
            m = _ATTRIBUTE.match(line)
            if m:
                names.add(m.group(1))
    return names


def accepts_subset(stand, real):
    """Problems (sentences) that let a call bound to `stand` fail on `real`: every call the
    stand-in accepts must be one real CuPy accepts. [] when they agree."""
    P = inspect.Parameter
    sp, rp = list(stand.parameters.values()), list(real.parameters.values())
    real_var_pos = any(p.kind == P.VAR_POSITIONAL for p in rp)
    real_var_kw = any(p.kind == P.VAR_KEYWORD for p in rp)
    real_pos = [p for p in rp if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]
    real_kw = {p.name for p in rp if p.kind in (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY)}
    problems = []
    positional = [p for p in sp if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]
    for i, p in enumerate(positional):
        if i >= len(real_pos) and not real_var_pos:
            problems.append("takes %r as positional argument %d; CuPy takes %d" %
                            (p.name, i + 1, len(real_pos)))
    for p in sp:
        if p.kind in (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY) and p.name not in real_kw \
                and not real_var_kw:
            problems.append("takes the keyword %r, which CuPy does not" % p.name)
        if p.kind == P.VAR_POSITIONAL and not real_var_pos:
            problems.append("takes *%s; CuPy takes no extra positional arguments" % p.name)
        if p.kind == P.VAR_KEYWORD and not real_var_kw:
            problems.append("takes **%s; CuPy takes no extra keywords" % p.name)
    stand_required = {p.name for p in sp if p.default is P.empty
                      and p.kind not in (P.VAR_POSITIONAL, P.VAR_KEYWORD)}
    n_stand_required_pos = len([p for p in positional if p.default is P.empty])
    for i, p in enumerate(rp):
        if p.default is not P.empty or p.kind in (P.VAR_POSITIONAL, P.VAR_KEYWORD):
            continue
        if p.kind == P.KEYWORD_ONLY and p.name not in stand_required:
            problems.append("lets out the keyword %r, which CuPy requires" % p.name)
        if p.kind != P.KEYWORD_ONLY and i >= n_stand_required_pos and \
                p.name not in stand_required:
            problems.append("lets out the argument %r, which CuPy requires" % p.name)
    return problems


def check_call(real_obj, args, kwargs, what):
    """TypeError, as CuPy would raise it, when CuPy's `real_obj` does not take these arguments
    (nothing when CuPy documents no signature for it)."""
    sig = signature_of(real_obj)
    if sig is None:
        return
    try:
        sig.bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError("%s: CuPy's signature %s refuses this call (%s)" % (what, sig, e)) \
            from None
