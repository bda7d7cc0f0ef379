"""AutoGraph's source rewriting: a function's AST, with its Python control flow turned into
calls of the operators in `operators.py` (TF's AutoGraph does the same in two steps, as here).

1. Jumps become flags. `break` sets `break_N` and the loop runs while `not break_N`;
   `continue` sets `continue_N`; `return x` sets `do_return` and `retval_`; every statement
   after one that may jump is guarded by `if not <flag>:`. What is left is structured control
   flow whose only exits are the ends of blocks.
2. Each `if`, `while` and `for` becomes nested functions (its branches, or its test and body)
   plus one operator call, with the names the statement assigns shared through `nonlocal` and
   reached as a tuple through `get_state` / `set_state`. The operator decides at run time:
   a condition or iterable that is a graph tensor builds a cond or while_loop, anything else
   runs as plain Python. `and`, `or` and `not` become `and_`, `or_` and `not_` (lazy, as
   Python's are), the builtins `len` and `range` become `len_` and `range_`, and every other
   call goes through `converted_call`, which converts the user's own functions it calls.

Every new node carries the line of the statement it came from, so a traceback points at the
user's source.
"""
import ast
import sys

AG = "ag__"


def _name(id_, store=False):
    return ast.Name(id=id_, ctx=ast.Store() if store else ast.Load())


def _call(func, *args):
    return ast.Call(func=ast.Attribute(value=_name(AG), attr=func, ctx=ast.Load()),
                    args=list(args), keywords=[])


def _assign(target, value):
    return ast.Assign(targets=[_name(target, store=True)], value=value)


def _not_flag(flag):
    return _call("not_", _name(flag))


def _lambda(body):
    return ast.Lambda(args=ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[],
                                         kw_defaults=[], kwarg=None, defaults=[]), body=body)


def _fn(name, body, args=()):
    extra = {"type_params": []} if sys.version_info >= (3, 12) else {}
    return ast.FunctionDef(
        name=name, args=ast.arguments(posonlyargs=[], args=[ast.arg(arg=a) for a in args],
                                      vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
                                      defaults=[]),
        body=body or [ast.Pass()], decorator_list=[], returns=None, **extra)


def _located(nodes, origin):
    """Generated nodes take the first line of the statement they replace (the whole of it:
    a method call is reported at its attribute's last line)."""
    for n in nodes:
        for sub in ast.walk(n):
            if isinstance(sub, (ast.expr, ast.stmt)) and getattr(sub, "lineno", None) is None:
                sub.lineno = sub.end_lineno = origin.lineno
                sub.col_offset = sub.end_col_offset = origin.col_offset
    return nodes


# -- which names a statement assigns ---------------------------------------------------------
class _Assigned(ast.NodeVisitor):
    """Names bound in a piece of code, not counting nested functions, classes, lambdas and
    comprehensions (their own scopes), whose names are bound here only as the def's name."""

    def __init__(self):
        self.names = []

    def _add(self, name):
        if name not in self.names:
            self.names.append(name)

    def visit_Name(self, node):
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self._add(node.id)

    def visit_FunctionDef(self, node):
        self._add(node.name)

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_Lambda(self, node):
        pass

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_Lambda

    def visit_Nonlocal(self, node):
        for n in node.names:  # a generated branch function's nonlocal names are assigned in it
            self._add(n)

    def visit_Import(self, node):
        for a in node.names:
            self._add((a.asname or a.name).split(".")[0])

    visit_ImportFrom = visit_Import


def assigned_names(nodes, excluded=()):
    v = _Assigned()
    for n in nodes:
        v.visit(n)
    return [n for n in v.names if n not in excluded and not n.startswith(AG)]


class _Counter:
    def __init__(self):
        self.n = 0

    def next(self):
        self.n += 1
        return self.n


# -- step 1: jumps become flags --------------------------------------------------------------
def _contains(nodes, kinds, into_loops):
    """True when one of `kinds` occurs in `nodes` at this function level (not in nested
    functions; in nested loops only if `into_loops`)."""
    stack = list(nodes)
    while stack:
        n = stack.pop()
        if isinstance(n, kinds):
            return True
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(n, (ast.For, ast.While)) and not into_loops:
            stack.extend(n.orelse)
            continue
        stack.extend(ast.iter_child_nodes(n))
    return False


def _guarded(stmts, kinds, flag, replace, into_loops):
    """`stmts` with each jump of `kinds` replaced (`replace(node)` -> statements) and every
    statement after one that may jump wrapped in `if not flag:`."""
    out = []
    for i, s in enumerate(stmts):
        if isinstance(s, kinds):
            out.extend(_located(replace(s), s))
            return out  # the rest of this block is unreachable
        jumps = _contains([s], kinds, into_loops)
        if jumps:
            s = _guard_inside(s, kinds, flag, replace, into_loops)
        out.append(s)
        if jumps and i + 1 < len(stmts):
            rest = _guarded(stmts[i + 1:], kinds, flag, replace, into_loops)
            out.append(ast.copy_location(ast.If(test=_not_flag(flag), body=rest, orelse=[]),
                                         stmts[i + 1]))
            return out
    return out


def _guard_inside(s, kinds, flag, replace, into_loops):
    if isinstance(s, ast.If):
        s.body = _guarded(s.body, kinds, flag, replace, into_loops) or [ast.Pass()]
        s.orelse = _guarded(s.orelse, kinds, flag, replace, into_loops)
    elif isinstance(s, (ast.With, ast.AsyncWith)):
        s.body = _guarded(s.body, kinds, flag, replace, into_loops) or [ast.Pass()]
    elif isinstance(s, ast.Try):
        s.body = _guarded(s.body, kinds, flag, replace, into_loops) or [ast.Pass()]
        for h in s.handlers:
            h.body = _guarded(h.body, kinds, flag, replace, into_loops) or [ast.Pass()]
        s.orelse = _guarded(s.orelse, kinds, flag, replace, into_loops)
        s.finalbody = _guarded(s.finalbody, kinds, flag, replace, into_loops)
    elif isinstance(s, (ast.For, ast.While)) and into_loops:
        s.body = _guarded(s.body, kinds, flag, replace, into_loops) or [ast.Pass()]
        s.ag_extra_tests = getattr(s, "ag_extra_tests", []) + [flag]  # leave when it is set
    return s


class _LowerLoopJumps(ast.NodeTransformer):
    """break and continue, innermost loops first; a loop's else runs when no break did."""

    def __init__(self, counter):
        self.counter = counter

    def visit_FunctionDef(self, node):
        return node  # nested functions are converted on their own

    visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = visit_FunctionDef

    def _loop(self, node):
        self.generic_visit(node)
        before, after = [], []
        if _contains(node.body, (ast.Continue,), into_loops=False):
            flag = "continue__%d" % self.counter.next()
            node.body = [_assign(flag, ast.Constant(False))] + _guarded(
                node.body, (ast.Continue,), flag,
                lambda s, f=flag: [_assign(f, ast.Constant(True))], into_loops=False)
        orelse, node.orelse = node.orelse, []
        if _contains(node.body, (ast.Break,), into_loops=False):
            flag = "break__%d" % self.counter.next()
            before.append(_assign(flag, ast.Constant(False)))
            node.body = _guarded(node.body, (ast.Break,), flag,
                                 lambda s, f=flag: [_assign(f, ast.Constant(True))],
                                 into_loops=False) or [ast.Pass()]
            node.ag_extra_tests = getattr(node, "ag_extra_tests", []) + [flag]
            if orelse:
                after.append(ast.If(test=_not_flag(flag), body=orelse, orelse=[]))
        else:
            after.extend(orelse)
        return _located(before, node) + [node] + _located(after, node)

    visit_For = visit_While = _loop


def lower_returns(fn):
    """`return x` inside control flow becomes `do_return = True; retval_ = x`; the function
    then ends with `return ag__.retval(retval_)`."""
    nested = [s for s in fn.body if not isinstance(s, ast.Return)]
    if not _contains(nested, (ast.Return,), into_loops=True):
        return

    def replace(s):
        return [_assign("do_return", ast.Constant(True)),
                _assign("retval_", s.value if s.value is not None else ast.Constant(None))]
    body = _guarded(fn.body, (ast.Return,), "do_return", replace, into_loops=True)
    start = [_assign("do_return", ast.Constant(False)),
             _assign("retval_", _call("UndefinedReturnValue"))]
    end = ast.Return(value=_call("retval", _name("retval_")))
    fn.body = _located(start, fn.body[0]) + body + _located([end], fn.body[-1])


# -- step 2: control flow becomes operator calls ----------------------------------------------
class _ControlFlow(ast.NodeTransformer):
    def __init__(self, counter, excluded):
        self.counter = counter
        self.excluded = excluded  # the function's global names: not state of its statements

    def visit_FunctionDef(self, node):
        return node

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_BoolOp(self, node):
        self.generic_visit(node)
        fn = "and_" if isinstance(node.op, ast.And) else "or_"
        return ast.copy_location(ast.Call(
            func=ast.Attribute(value=_name(AG), attr=fn, ctx=ast.Load()),
            args=[_lambda(v) for v in node.values], keywords=[]), node)

    _BUILTINS = {"len": "len_", "range": "range_"}
    # calls that read the caller's frame: made as they are
    _FRAME_BOUND = {"super", "locals", "globals", "vars", "eval", "exec", "dir", "print"}

    def visit_Call(self, node):
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Name) and func.id in self._BUILTINS:
            node.func = ast.copy_location(ast.Attribute(
                value=_name(AG), attr=self._BUILTINS[func.id], ctx=ast.Load()), func)
            return node
        if (isinstance(func, ast.Name) and func.id in self._FRAME_BOUND) or (
                isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id == AG):
            return node
        # f(...) -> ag__.converted_call(f, ...): a function of the user's is converted too
        return ast.copy_location(ast.Call(
            func=ast.Attribute(value=_name(AG), attr="converted_call", ctx=ast.Load()),
            args=[func] + node.args, keywords=node.keywords), node)

    def visit_IfExp(self, node):
        self.generic_visit(node)
        return ast.copy_location(_call("if_exp", node.test, _lambda(node.body),
                                       _lambda(node.orelse)), node)

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Not):
            return ast.copy_location(_call("not_", node.operand), node)
        return node

    def _state(self, node, names, n):
        """get_state / set_state functions for `names` and the lines that define each name
        before the statement (Undefined where Python has no value for it yet)."""
        tup = ast.Tuple(elts=[_name(x) for x in names], ctx=ast.Load())
        get = _fn("get_state_%d" % n, [ast.Return(value=tup)])
        target = ast.Tuple(elts=[_name(x, store=True) for x in names], ctx=ast.Store())
        set_body = ([ast.Nonlocal(names=list(names)),
                     ast.Assign(targets=[target], value=_name("vars_"))] if names else [])
        set_ = _fn("set_state_%d" % n, set_body, args=("vars_",))
        defined = [_assign(x, _call("ld", _lambda(_name(x)), ast.Constant(x))) for x in names]
        return defined + [get, set_]

    def _nonlocal(self, names, body):
        return ([ast.Nonlocal(names=list(names))] if names else []) + body

    def visit_If(self, node):
        names = assigned_names(node.body + node.orelse, self.excluded)
        self.generic_visit(node)
        n = self.counter.next()
        body = _fn("if_body_%d" % n, self._nonlocal(names, node.body))
        orelse = _fn("else_body_%d" % n, self._nonlocal(names, node.orelse))
        call = ast.Expr(value=_call("if_stmt", node.test, _name(body.name), _name(orelse.name),
                                    _name("get_state_%d" % n), _name("set_state_%d" % n),
                                    ast.Tuple(elts=[ast.Constant(x) for x in names],
                                              ctx=ast.Load())))
        return _located(self._state(node, names, n) + [body, orelse, call], node)

    def _options(self, body):
        """The keywords of a `set_loop_options(...)` call at the top of a loop body, taken out
        of the body (TF reads them while converting, as here)."""
        keywords, kept = [], []
        for s in body:
            if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call) and (
                    getattr(s.value.func, "attr", None) == "set_loop_options"
                    or getattr(s.value.func, "id", None) == "set_loop_options"):
                keywords.extend(s.value.keywords)
            else:
                kept.append(s)
        opts = ast.Dict(keys=[ast.Constant(k.arg) for k in keywords],
                        values=[k.value for k in keywords])
        return opts, kept or [ast.Pass()]

    def _extra_test(self, node):
        tests = getattr(node, "ag_extra_tests", [])
        return [_call("not_", _name(f)) for f in tests]

    def visit_While(self, node):
        names = assigned_names(node.body, self.excluded)
        extra = self._extra_test(node)
        opts, node.body = self._options(node.body)  # before its call would be converted
        self.generic_visit(node)
        n = self.counter.next()
        test = node.test if not extra else _call("and_", *[_lambda(t) for t in
                                                           [node.test] + extra])
        test_fn = _fn("loop_test_%d" % n, [ast.Return(value=test)])
        body = _fn("loop_body_%d" % n, self._nonlocal(names, node.body))
        call = ast.Expr(value=_call(
            "while_stmt", _name(test_fn.name), _name(body.name), _name("get_state_%d" % n),
            _name("set_state_%d" % n), ast.Tuple(elts=[ast.Constant(x) for x in names],
                                                 ctx=ast.Load()), opts))
        return _located(self._state(node, names, n) + [test_fn, body, call], node)

    def visit_For(self, node):
        targets = assigned_names([node.target], self.excluded)
        names = assigned_names([node.target] + node.body, self.excluded)
        extra = self._extra_test(node)
        opts, node.body = self._options(node.body)
        self.generic_visit(node)
        n = self.counter.next()
        item = "itr_%d" % n
        bind = ast.Assign(targets=[node.target], value=_name(item))
        body = _fn("loop_body_%d" % n, self._nonlocal(names, [bind] + node.body), args=(item,))
        if extra:
            test = extra[0] if len(extra) == 1 else _call("and_", *[_lambda(t) for t in extra])
            extra_fn = _fn("extra_test_%d" % n, [ast.Return(value=test)])
            pre, extra_ref = [extra_fn], _name(extra_fn.name)
        else:
            pre, extra_ref = [], ast.Constant(None)
        it = node.iter
        call = ast.Expr(value=_call(
            "for_stmt", it, extra_ref, _name(body.name), _name("get_state_%d" % n),
            _name("set_state_%d" % n), ast.Tuple(elts=[ast.Constant(x) for x in names],
                                                 ctx=ast.Load()),
            ast.Tuple(elts=[ast.Constant(x) for x in targets], ctx=ast.Load()), opts))
        return _located(self._state(node, names, n) + pre + [body, call], node)


def _globals_of(fn):
    found = []
    for n in ast.walk(fn):
        if isinstance(n, ast.Global):
            found.extend(n.names)
    return set(found)


def convert_function_def(fn):
    """Rewrites a FunctionDef (and the functions defined inside it) in place."""
    counter = _Counter()
    for inner in [n for n in ast.walk(fn)
                  if isinstance(n, ast.FunctionDef) and n is not fn]:
        _convert_one(inner, counter)
    _convert_one(fn, counter)
    return fn


def _convert_one(fn, counter):
    fn.body = [_LowerLoopJumps(counter).visit(s) for s in fn.body]
    fn.body = [x for s in fn.body for x in (s if isinstance(s, list) else [s])]
    _flatten_lists(fn)
    lower_returns(fn)
    excluded = _globals_of(fn)
    new_body = []
    for s in fn.body:
        r = _ControlFlow(counter, excluded).visit(s)
        new_body.extend(r if isinstance(r, list) else [r])
    fn.body = new_body
    _flatten_lists(fn)


def _flatten_lists(node):
    """NodeTransformers may return lists for statements inside bodies; ast handles that in
    generic_visit, but statements we return from the top need flattening everywhere."""
    for n in ast.walk(node):
        for field in ("body", "orelse", "finalbody"):
            value = getattr(n, field, None)
            if isinstance(value, list):
                setattr(n, field, [x for s in value for x in (s if isinstance(s, list) else [s])])
