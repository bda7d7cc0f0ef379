"""Every CuPy name distflow's code uses, found by reading the code (an AST walk), and each one
looked up in the installed CuPy.

A value is CuPy's when the code gets it from CuPy: `import cupy` / `from cupy.cuda import nccl`,
distflow's functions that hand out CuPy objects (CUPY_SOURCES: backend.cupy(),
get_array_module(), eager_xp(), gpu.nccl_module(), ...), a name that the code base reserves for
the array module (xp, cp, cupy: a kernel's `xp` is CuPy on a GPU), or an attribute, a call or an
instance of one of these. Attribute chains on such values are followed through the real objects:
`cp.cuda.Stream(...)` is an instance of cupy.cuda.Stream, `stream.end_capture()` a Graph
(RETURNS says what CuPy's functions and properties return, from CuPy's documentation). Names a
value is assigned to, `self.x = ...` included, carry it along. Each attribute taken is a *use*:
it must exist in the real package, and each call of a CuPy function must bind to its documented
signature. A use the walk cannot follow (an attribute of a value whose type RETURNS does not
know, or `getattr(cupy_value, computed_name)`) is a failure too, so a new use cannot pass
unchecked: teach RETURNS or DYNAMIC about it.
"""
import ast
import importlib
import os

from cupy_reference import documented_attributes, signature_of

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# the code that runs against CuPy: the package, the GPU scripts and benchmarks, the GPU tests
SCANNED = ("distflow", "scripts", "benchmarks", os.path.join("tests", "gpu"))
NOT_SCANNED = {os.path.join("tests", "gpu", f) for f in
               ("simulated_cupy.py", "cupy_uses.py", "cupy_reference.py", "test_cupy_api.py")}

# names the code base gives the array module (a kernel's xp is cupy on a GPU) unless a scope
# binds them to something else
NAME_ROOTS = {"xp": "cupy", "cp": "cupy", "cupy": "cupy", "_xp": "cupy", "cupyx": "cupyx"}
# distflow functions that return CuPy objects: name -> (dotted path, instance of it?)
CUPY_SOURCES = {
    "cupy": ("cupy", False), "get_array_module": ("cupy", False), "eager_xp": ("cupy", False),
    "xp_for_device": ("cupy", False), "nccl_module": ("cupy.cuda.nccl", False),
    "load_nccl": ("cupy.cuda.nccl", False), "current_stream": ("cupy.cuda.Stream", True),
    "device_context": ("cupy.cuda.Device", True),
}
# parameters that hold CuPy arrays by contract: DelegatingCommunicator (communicator.py) tests
# is_cupy_array(buf) and hands only device buffers to these methods of nccl.py / host_staged.py
DEVICE_ARRAY_PARAMS = {("_device_allreduce", "buf"), ("_device_broadcast", "buf"),
                       ("_device_allgather", "buf")}
# what CuPy's functions, methods and properties return (CuPy's documentation); None: a value
# with no CuPy attributes (bytes, int, str, dict, a NumPy array)
RETURNS = {
    "cupy.ndarray.data": "cupy.cuda.MemoryPointer",
    "cupy.ndarray.device": "cupy.cuda.Device",
    "cupy.ndarray.get": None,                      # a numpy.ndarray
    "cupy.ndarray.dtype": "numpy.dtype",
    "numpy.dtype.type": None,                      # the scalar type: a NumPy scalar when called
    "cupy.ndarray.T": "cupy.ndarray",
    "cupy.cuda.get_current_stream": "cupy.cuda.Stream",
    "cupy.cuda.Stream.record": "cupy.cuda.Event",
    "cupy.cuda.Stream.end_capture": "cupy.cuda.Graph",
    "cupy.cuda.MemoryPool.malloc": "cupy.cuda.MemoryPointer",
    "cupy.cuda.MemoryPointer.ptr": None,           # int
    "cupy.cuda.Stream.ptr": None,                  # int
    "cupy.cuda.Device.id": None,                   # int
    "cupy.cuda.Device.pci_bus_id": None,           # str
    "cupy.cuda.runtime.getDeviceProperties": None,  # dict
    "cupy.cuda.nccl.get_unique_id": None,          # the id's bytes
    "cupy.cuda.nccl.get_version": None,            # int
    "cupyx.empty_pinned": None,                    # a numpy.ndarray in pinned memory
    "cupy.cuda.using_allocator": None,             # a context manager
}
# getattr(cupy_value, computed name): the names each place can compute, by file and function
DYNAMIC = {
    (os.path.join("distflow", "ops", "scan_ops.py"), "forward"): ("cumsum", "cumprod"),
}


class Ref:
    """A CuPy object the code holds: `obj` itself, or an instance of class `obj`."""

    def __init__(self, path, obj, instance=False):
        self.path, self.obj, self.instance = path, obj, instance


class Unknown:
    """A value from CuPy whose type RETURNS does not say."""

    def __init__(self, path):
        self.path = path


class Use:
    def __init__(self, where, path, problem=None):
        self.where, self.path, self.problem = where, path, problem

    def __repr__(self):
        return "%s: %s%s" % (self.where, self.path,
                             "" if self.problem is None else " -- " + self.problem)


def resolve(path):
    """The real object at a dotted path such as 'cupy.cuda.Stream'."""
    parts = path.split(".")
    obj = importlib.import_module(parts[0])
    for i, p in enumerate(parts[1:], 2):
        try:
            obj = getattr(obj, p)
        except AttributeError:  # a submodule not imported yet (cupy.cuda.nccl)
            obj = importlib.import_module(".".join(parts[:i]))
    return obj


def _assigned_names(target):
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for t in target.elts for n in _assigned_names(t)]
    return []


class _FileWalk:
    def __init__(self, rel, tree, learned):
        self.rel, self.tree = rel, tree
        # what earlier passes learned: attribute name -> Ref, from `x.attr = <CuPy value>`;
        # (function or class name, parameter) -> Ref, from calls of this file's own functions
        self.self_attrs, self.params = learned
        self.defs = {n.name: n for n in ast.walk(tree)
                     if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        self.uses = {}

    # -- recording ----------------------------------------------------------------------------------
    def use(self, node, path, problem=None):
        key = (node.lineno, node.col_offset, path)
        if key not in self.uses:
            self.uses[key] = Use("%s:%d" % (self.rel, node.lineno), path, problem)

    # -- scopes --------------------------------------------------------------------------------------
    def run(self):
        self.scope(self.tree, [{}], "<module>")
        return list(self.uses.values())

    def scope(self, node, envs, fname):
        env = {}
        envs = envs + [env]
        body = list(self._own_nodes(node))
        body.sort(key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for a in node.args.args + node.args.kwonlyargs + node.args.posonlyargs:
                if (fname, a.arg) in DEVICE_ARRAY_PARAMS:
                    env[a.arg] = Ref("cupy.ndarray", resolve("cupy.ndarray"), True)
                elif a.arg not in NAME_ROOTS:
                    env[a.arg] = self.params.get((fname, a.arg))
            # a value the code tests with backend.is_cupy_array(x) is a CuPy array here
            for n in body:
                if isinstance(n, ast.Call) and getattr(n.func, "attr", getattr(
                        n.func, "id", None)) == "is_cupy_array" and n.args and \
                        isinstance(n.args[0], ast.Name) and env.get(n.args[0].id) is None:
                    env[n.args[0].id] = Ref("cupy.ndarray", resolve("cupy.ndarray"), True)
        for n in body:  # bindings first, in source order; a name keeps any CuPy value it got
            self.bind(n, envs, env, fname)
        for n in body:
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                inner = getattr(n, "name", fname)  # a lambda belongs to its function
                self.scope(n, envs, inner)
            elif isinstance(n, (ast.Attribute, ast.Call)):
                self.eval(n, envs, fname)

    def _own_nodes(self, node):
        """The nodes of a scope, without those of the functions and classes nested in it."""
        stack = list(ast.iter_child_nodes(node))
        while stack:
            n = stack.pop()
            yield n
            if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                  ast.ClassDef)):
                stack.extend(ast.iter_child_nodes(n))
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                stack.extend(n.decorator_list)

    def bind(self, n, envs, env, fname):
        def put(name, value):
            if isinstance(env.get(name), (Ref, Unknown)) and value is None:
                return
            env[name] = value

        if isinstance(n, (ast.Import, ast.ImportFrom)):
            for alias in n.names:
                if isinstance(n, ast.Import):
                    top = alias.name.split(".")[0]
                    if top in ("cupy", "cupyx"):
                        self.use(n, alias.name, self._missing_module(alias.name))
                        name = alias.asname or top
                        put(name, Ref(alias.asname and alias.name or top,
                                      self._try(alias.asname and alias.name or top)))
                    else:
                        put(alias.asname or top, None)
                else:
                    mod = n.module or ""
                    if mod.split(".")[0] in ("cupy", "cupyx"):
                        path = mod + "." + alias.name
                        obj = self._try(path)
                        self.use(n, path, None if obj is not None else "not in CuPy")
                        put(alias.asname or alias.name, Ref(path, obj))
                    else:
                        put(alias.asname or alias.name, None)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            put(n.name, None)
        elif isinstance(n, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            value = n.value
            if value is None:
                return
            for t in targets:
                if isinstance(t, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple,
                                                                                ast.List)):
                    pairs = list(zip(t.elts, value.elts))
                else:
                    pairs = [(t, value)]
                for tt, vv in pairs:
                    v = self.eval(vv, envs, fname)
                    for name in _assigned_names(tt):
                        put(name, v)
                    if isinstance(tt, ast.Attribute) and isinstance(v, (Ref, Unknown)):
                        self.self_attrs[tt.attr] = v
        elif isinstance(n, (ast.With, ast.AsyncWith)):
            for item in n.items:
                v = self.eval(item.context_expr, envs, fname)
                if isinstance(v, Ref) and v.instance:  # `with stream:`, `with Device(i):`
                    for method in ("__enter__", "__exit__"):
                        self.use(item.context_expr, v.path + "." + method,
                                 None if hasattr(v.obj, method) else "not in CuPy")
                if item.optional_vars is not None:
                    for name in _assigned_names(item.optional_vars):
                        put(name, v)

    @staticmethod
    def _try(path):
        try:
            return resolve(path)
        except (ImportError, AttributeError):  # ModuleNotFoundError is an ImportError
            return None

    def _missing_module(self, path):
        return None if self._try(path) is not None else "not in CuPy"

    # -- values ------------------------------------------------------------------------------------
    def lookup(self, name, envs):
        for env in reversed(envs):
            if name in env:
                return env[name]
        if name in NAME_ROOTS:
            return Ref(NAME_ROOTS[name], resolve(NAME_ROOTS[name]))
        return None

    def eval(self, node, envs, fname):
        if isinstance(node, ast.Name):
            return self.lookup(node.id, envs)
        if isinstance(node, (ast.IfExp, ast.BoolOp)):
            parts = [node.body, node.orelse] if isinstance(node, ast.IfExp) else node.values
            values = [self.eval(p, envs, fname) for p in parts]
            return next((v for v in values if v is not None), None)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, self.eval(node.value, envs, fname), node.attr)
        if isinstance(node, ast.Call):
            return self.call(node, envs, fname)
        if isinstance(node, ast.Subscript):
            self.eval(node.value, envs, fname)
        return None

    def attribute(self, node, base, attr):
        if base is None:  # not known as CuPy's: `self._comm` and the like, from assignments
            if attr in NAME_ROOTS and attr.startswith("_"):
                return Ref(NAME_ROOTS[attr], resolve(NAME_ROOTS[attr]))
            return self.self_attrs.get(attr)
        path = base.path + "." + attr
        if isinstance(base, Unknown):
            self.use(node, path, "cannot tell what %s is: add it to RETURNS" % base.path)
            return None
        owner = base.obj
        if base.instance and owner is not None and not hasattr(owner, attr) and \
                attr in documented_attributes(owner):
            self.use(node, path)  # an instance attribute its class documents (Stream.ptr)
            return self._returned(path)
        if owner is None or not hasattr(owner, attr):
            self.use(node, path, "not in CuPy")
            return None
        self.use(node, path)
        value = getattr(owner, attr)
        if base.instance and not callable(value) or \
                base.instance and isinstance(value, property):
            return self._returned(path)  # a property of an instance
        return Ref(path, value)

    def _returned(self, path):
        if path in RETURNS:
            target = RETURNS[path]
            return None if target is None else Ref(target, resolve(target), instance=True)
        return Unknown(path)

    def call(self, node, envs, fname):
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("getattr", "hasattr") and node.args:
            base = self.eval(node.args[0], envs, fname)
            if not isinstance(base, (Ref, Unknown)) or len(node.args) < 2:
                return None
            name = node.args[1]
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                if func.id == "hasattr" or len(node.args) > 2:  # asked, with a fallback
                    return self._optional(base, name.value)
                return self.attribute(node, base, name.value)
            allowed = DYNAMIC.get((self.rel, fname))
            if allowed is None:
                self.use(node, base.path + ".<computed>", "getattr with a computed name: list "
                         "the names it can take in DYNAMIC")
                return None
            for n in allowed:
                self.attribute(node, base, n)
            return Unknown(base.path + ".<computed>")
        f = self.eval(func, envs, fname)
        args = [self.eval(a, envs, fname) for a in node.args]
        kwargs = {k.arg: self.eval(k.value, envs, fname) for k in node.keywords}
        if isinstance(func, ast.Name) and func.id in self.defs:
            self._learn_params(self.defs[func.id], args, kwargs)
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and \
                func.value.id == "self" and isinstance(self.defs.get(func.attr), ast.FunctionDef):
            self._learn_params(self.defs[func.attr], [None] + args, kwargs)  # a method
        if f is None:
            name = func.attr if isinstance(func, ast.Attribute) else \
                getattr(func, "id", None)
            if name in CUPY_SOURCES and not isinstance(func, ast.Attribute) or \
                    name in CUPY_SOURCES and isinstance(func.value, ast.Name) and \
                    func.value.id in ("backend", "gpu", "self", "nccl"):
                path, inst = CUPY_SOURCES[name]
                return Ref(path, resolve(path), instance=inst)
            return None
        if isinstance(f, Unknown):
            return Unknown(f.path + "()")
        self._check_signature(node, f)
        if isinstance(f.obj, type):
            return Ref(f.path, f.obj, instance=True)
        if f.path in RETURNS:
            return self._returned(f.path)
        top = f.path.split(".")
        if top[0] == "cupy" and (len(top) == 2 or top[1] in ("linalg", "random", "fft")):
            return Ref("cupy.ndarray", resolve("cupy.ndarray"), instance=True)  # array API
        if f.path.startswith("cupy.ndarray."):
            return Ref("cupy.ndarray", resolve("cupy.ndarray"), instance=True)
        return Unknown(f.path + "()")

    def _learn_params(self, target, args, kwargs):
        """A CuPy value passed to one of this file's functions or classes is CuPy's inside."""
        if isinstance(target, ast.ClassDef):
            init = next((n for n in target.body if isinstance(n, ast.FunctionDef)
                         and n.name == "__init__"), None)
            if init is None:
                return
            names, key = [a.arg for a in init.args.args][1:], "__init__"
        else:
            names, key = [a.arg for a in target.args.args], target.name
        pairs = list(zip(names, args)) + list(kwargs.items())
        for name, value in pairs:
            if isinstance(value, (Ref, Unknown)):
                self.params[(key, name)] = value

    def _optional(self, base, attr):
        if isinstance(base, Ref) and base.obj is not None and hasattr(base.obj, attr):
            return Ref(base.path + "." + attr, getattr(base.obj, attr))
        return None

    def _check_signature(self, node, f):
        if any(isinstance(a, ast.Starred) for a in node.args) or \
                any(k.arg is None for k in node.keywords):
            return  # *args / **kwargs: what they hold is known only when it runs
        sig = signature_of(f.obj)
        if sig is None:
            return
        try:
            sig.bind(*[object()] * len(node.args), **{k.arg: object() for k in node.keywords})
        except TypeError as e:
            self.use(node, f.path + "(...)", "CuPy's signature %s refuses this call: %s"
                     % (sig, e))


def python_files():
    for top in SCANNED:
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for f in sorted(files):
                if f.endswith(".py"):
                    path = os.path.join(dirpath, f)
                    rel = os.path.relpath(path, ROOT)
                    if rel not in NOT_SCANNED:
                        yield rel, path


def uses_in_source(rel, text):
    """The uses of CuPy names in one file's source (`rel`: its path in the repository)."""
    tree = ast.parse(text, rel)
    learned = ({}, {})
    for _ in range(3):  # passes learn what flows into attributes and parameters
        before = (dict(learned[0]), dict(learned[1]))
        uses = _FileWalk(rel, tree, learned).run()
        if before == learned:
            break
    return uses


def cupy_uses():
    """Every use of a CuPy name in the scanned code (a list of Use)."""
    uses = []
    for rel, path in python_files():
        with open(path) as f:
            uses.extend(uses_in_source(rel, f.read()))
    return uses


def ndarray_attributes_used():
    """{attribute name: [file:line, ...]} for every attribute, taken of anything, that names a
    numpy.ndarray attribute: device arrays mostly arrive as untyped arguments (`buf`), so the
    array methods the code calls are checked by name against cupy.ndarray."""
    import numpy as np
    names = {n for n in dir(np.ndarray) if not n.startswith("__")}
    found = {}
    for rel, path in python_files():
        with open(path) as f:
            tree = ast.parse(f.read(), rel)
        modules = _module_names(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in names \
                    and _root_name(node.value) not in modules:
                found.setdefault(node.attr, []).append("%s:%d" % (rel, node.lineno))
    return found


def _module_names(tree):
    """Names the file binds to imported modules (`import distflow as df`): `df.image.resize` is
    a function of a module, not a method of an array."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update((a.asname or a.name).split(".")[0] for a in node.names)
    return out


def _root_name(node):
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None

