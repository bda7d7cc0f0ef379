"""`tf.saved_model.save` / `tf.saved_model.load` for a df.Module (or any object) with
df.function methods: those with an input_signature, and the traces made so far of those without
(a loaded one runs the trace its tensors fit, as TF's), in distflow's own directory format (not
TensorFlow's protocol buffers: TensorFlow cannot read it, distflow can, without the Python code
that defined the module).

    class Linear(tf.Module):
        def __init__(self):
            self.w = tf.Variable(tf.ones([3, 1]))
        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        def __call__(self, x):
            return tf.matmul(x, self.w)

    tf.saved_model.save(Linear(), "export_dir")
    loaded = tf.saved_model.load("export_dir")
    loaded(x); loaded.signatures["serving_default"](x=x)   # {"output_0": ...}

The directory holds `saved_model.json` (each function's traced graph: its ops by registry type
name, their inputs, attributes and output shapes; its placeholders and outputs) and
`variables.npz` (the captured variables' values and any constant arrays), written to a
temporary directory and renamed into place, by rank 0 only. Loading rebuilds each graph from
the op registry and binds fresh Variables holding the saved values, so a loaded function
computes what the saved one did, and its variables can be read and assigned. Functions whose
graphs hold cond / while_loop sub-graphs are refused at save time with the op named.
"""
import json
import os
import shutil
import tempfile

import numpy as np

from distflow.framework import dtypes
from distflow.framework.graph import Graph
from distflow.framework.tensor_shape import TensorShape

__all__ = ["save", "load", "SAVED_MODEL_FILENAME"]

SAVED_MODEL_FILENAME = "saved_model.json"
_VARIABLES = "variables.npz"
_FORMAT = "distflow-saved-model-1"


# -- save -------------------------------------------------------------------------------------
def save(obj, export_dir, signatures=None, options=None):
    from distflow.function import ConcreteFunction, Function
    functions, traced = {}, {}
    for name in sorted(dir(obj)) + (["__call__"] if hasattr(type(obj), "__call__") else []):
        if name.startswith("_") and name != "__call__":
            continue
        try:
            value = getattr(obj, name)
        except Exception:  # noqa: BLE001 (a property that cannot be read is not a function)
            continue
        if isinstance(value, Function) and value.input_signature is not None:
            functions[name] = value.get_concrete_function()
        elif isinstance(value, Function):
            # no input_signature: the traces made so far are saved, as TF saves them, and a
            # loaded call runs the one its tensors fit (guide/basics' mod.multiply)
            seen = {}
            for concrete in value._by_key.values():
                seen.setdefault(id(concrete), concrete)
            if seen:
                traced[name] = list(seen.values())
    sigs = {}
    if signatures is not None:
        if not isinstance(signatures, dict):
            signatures = {"serving_default": signatures}
        for key, fn in signatures.items():
            if isinstance(fn, Function):
                if fn.input_signature is None:
                    raise ValueError("Signature %r: a df.function without an input_signature "
                                     "has no one trace to save; give it an input_signature or "
                                     "pass fn.get_concrete_function(...)" % key)
                fn = fn.get_concrete_function()
            if not isinstance(fn, ConcreteFunction):
                raise ValueError("Expected a df.function or a ConcreteFunction as signature %r, "
                                 "got %r" % (key, fn))
            sigs[key] = fn
    elif "__call__" in functions:
        sigs["serving_default"] = functions["__call__"]
    if not functions and not sigs and not traced:
        raise ValueError("%r has no df.function with an input_signature or a trace to save "
                         "(tf.saved_model saves traced functions, not Python code: call the "
                         "function once, or give it an input_signature)" % (obj,))
    writer = _Writer()
    doc = {"format": _FORMAT,
           "functions": {k: writer.function(k, c) for k, c in functions.items()},
           "signatures": {k: writer.function(k, c, signature=True) for k, c in sigs.items()},
           "traced": {k: [writer.function(k, c) for c in cs] for k, cs in traced.items()}}
    doc["variables"] = writer.variable_meta
    from distflow.train.checkpoint import is_writer
    if not is_writer():
        return
    parent = os.path.dirname(os.path.abspath(export_dir)) or "."
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=".saved_model.")
    try:
        from distflow.train.saver import new_file_mode
        mode = new_file_mode()  # mkdtemp's 0700 must not survive the rename: the umask's, as TF's
        os.chmod(tmp, mode | ((mode & 0o444) >> 2))  # a directory: searchable wherever readable
        with open(os.path.join(tmp, SAVED_MODEL_FILENAME), "w") as f:
            json.dump(doc, f)
        np.savez(os.path.join(tmp, _VARIABLES), **writer.arrays)
        if os.path.isdir(export_dir):
            shutil.rmtree(export_dir)
        os.replace(tmp, export_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class _Writer:
    def __init__(self):
        self.arrays = {}
        self.variable_meta = []
        self._var_index = {}

    def function(self, key, concrete, signature=False):
        graph = concrete.graph
        ops = []
        for op in _topological(graph._ops):
            ops.append({"name": op.name, "type": op.type,
                        "inputs": [[x.op.name, x.value_index] for x in op.inputs],
                        "control": [c.name for c in op.control_inputs],
                        "attrs": {k: self.encode(v, op) for k, v in op.attrs.items()},
                        "outs": [[_shape(t.shape), t.dtype.name] for t in op.outputs]})
        outputs = [[t.op.name, t.value_index] for t in concrete.outputs]
        structured = concrete.structured_outputs
        if isinstance(structured, dict):
            structure = {"dict": sorted(structured)}
        elif isinstance(structured, (list, tuple)):
            structure = {"list": len(structured)}
        else:
            structure = {"single": True}
        if signature and "dict" not in structure:
            structure = {"dict": ["output_%d" % i for i in range(len(outputs))]}
        return {"ops": ops, "inputs": [ph.op.name for ph in concrete.inputs],
                "outputs": outputs, "structure": structure,
                "updates": [op.name for op in concrete._updates],
                "prints": [op.name for op in concrete._prints],
                "seed": getattr(graph, "seed", None)}

    def encode(self, value, op):
        from distflow.ops.variables import Variable
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, dtypes.DType):
            return {"__dtype__": value.name}
        if isinstance(value, TensorShape):
            return {"__shape__": _shape(value)}
        if isinstance(value, (np.ndarray, np.generic)):
            key = "a%d" % len(self.arrays)
            self.arrays[key] = np.asarray(value)
            return {"__array__": key}
        if isinstance(value, Variable):
            if id(value) not in self._var_index:
                index = len(self.variable_meta)
                self._var_index[id(value)] = index
                self.arrays["v%d" % index] = np.asarray(value.numpy())
                self.variable_meta.append({"name": value.name, "trainable": value.trainable})
            return {"__variable__": self._var_index[id(value)]}
        if isinstance(value, (list, tuple)):
            return {"__seq__": [self.encode(v, op) for v in value],
                    "tuple": isinstance(value, tuple)}
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"__dict__": {k: self.encode(v, op) for k, v in value.items()}}
        raise NotImplementedError("tf.saved_model.save: op '%s' (%s) has an attribute of type %s "
                                  "(sub-graphs of cond / while_loop and Python objects are not "
                                  "saved by distflow's format)"
                                  % (op.name, op.type, type(value).__name__))


def _topological(ops):
    """The graph's ops, each after the ops it reads (a trace may rewire an earlier op to read a
    variable through a later-made read, so creation order is not enough)."""
    done, order = set(), []
    for root in ops:
        stack = [(root, False)]
        while stack:
            op, expanded = stack.pop()
            if id(op) in done:
                continue
            if expanded:
                done.add(id(op))
                order.append(op)
                continue
            stack.append((op, True))
            for dep in list(op.control_inputs) + [x.op for x in op.inputs]:
                if id(dep) not in done:
                    stack.append((dep, False))
    return order


def _shape(shape):
    shape = TensorShape(shape)
    return None if shape.rank is None else shape.as_list()


# -- load -------------------------------------------------------------------------------------
class _Loaded:
    """What tf.saved_model.load returns: the saved functions as attributes (the object called
    directly runs its saved __call__), `signatures`, and the variables."""

    def __init__(self, functions, signatures, variables):
        self._functions = functions
        self.signatures = signatures
        self.variables = list(variables)
        self.trainable_variables = [v for v in variables if v.trainable]
        for name, fn in functions.items():
            if name != "__call__":
                setattr(self, name, fn)

    def __call__(self, *args, **kwargs):
        fn = self._functions.get("__call__")
        if fn is None:
            raise TypeError("The saved object was not callable (it had no __call__ df.function "
                            "with an input_signature)")
        return fn(*args, **kwargs)


class _LoadedFunction:
    def __init__(self, concrete, structure, name):
        self.concrete = concrete
        self._structure = structure
        self._names = [ph.op.name for ph in concrete.inputs]
        self.__name__ = name

    @property
    def structured_input_signature(self):
        return self.concrete.structured_input_signature

    def __call__(self, *args, **kwargs):
        if kwargs:
            unknown = sorted(set(kwargs) - set(self._names))
            if unknown:
                raise TypeError("%s() got unexpected keyword arguments %s; it takes %s"
                                % (self.__name__, unknown, self._names))
            args = list(args) + [kwargs[n] for n in self._names[len(args):]]
        out = self.concrete(*args)
        flat = list(out) if isinstance(out, (list, tuple)) else [out]
        if "dict" in self._structure:
            return dict(zip(self._structure["dict"], flat))
        if "list" in self._structure:
            return flat
        return flat[0]


class _LoadedTraces:
    """A saved df.function that had no input_signature: its saved traces, each call running
    the first whose inputs its tensors fit (dtype, and shape where the trace fixed one). Python
    values a trace was made for are part of its graph, not inputs: such a trace is called with
    its tensor arguments only."""

    def __init__(self, name, traces):
        self.__name__ = name
        self._traces = traces

    def __call__(self, *args, **kwargs):
        from distflow.framework import context
        from distflow.ops import dispatch
        with context.eager_mode():
            given = [dispatch.convert_to_tensor(a) for a in args]
            named = {k: dispatch.convert_to_tensor(v) for k, v in kwargs.items()}
        for fn in self._traces:
            inputs = fn.concrete.inputs
            if len(inputs) != len(given) + len(named) or not set(named) <= set(fn._names):
                continue
            ordered = given + [named[n] for n in fn._names[len(given):] if n in named]
            if len(ordered) == len(inputs) and all(
                    p.dtype == t.dtype and p.shape.is_compatible_with(t.shape)
                    for p, t in zip(inputs, ordered)):
                return fn(*args, **kwargs)
        given = given + list(named.values())
        options = "\n".join("  Option %d: %s" % (i + 1, ", ".join(
            "%s: TensorSpec(shape=%s, dtype=%s)" % (n, p.shape, p.dtype.name)
            for n, p in zip(fn._names, fn.concrete.inputs)))
            for i, fn in enumerate(self._traces))
        raise ValueError("Could not find matching concrete function to call loaded from the "
                         "SavedModel (%s). Got: %s\nExpected these arguments to match one of "
                         "the following %d option(s):\n%s"
                         % (self.__name__, ", ".join("TensorSpec(shape=%s, dtype=%s)"
                                                    % (t.shape, t.dtype.name) for t in given),
                            len(self._traces), options))


def load(export_dir, tags=None, options=None):
    path = os.path.join(export_dir, SAVED_MODEL_FILENAME)
    if not os.path.exists(path):
        raise OSError("SavedModel file does not exist at: %s/{saved_model.json} (distflow loads "
                      "the directories tf.saved_model.save of distflow writes, not TensorFlow's "
                      "saved_model.pb)" % export_dir)
    with open(path) as f:
        doc = json.load(f)
    if doc.get("format") != _FORMAT:
        raise ValueError("%s is not a distflow SavedModel (format %r)" % (path, doc.get("format")))
    with np.load(os.path.join(export_dir, _VARIABLES), allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    from distflow.framework import context
    from distflow.ops.variables import Variable
    variables = []
    with context.eager_mode():
        for i, meta in enumerate(doc["variables"]):
            name = meta["name"].rsplit(":", 1)[0]
            variables.append(Variable(arrays["v%d" % i], trainable=meta["trainable"], name=name))
    functions = {k: _LoadedFunction(_rebuild(k, f, arrays, variables), f["structure"], k)
                 for k, f in doc["functions"].items()}
    signatures = {k: _LoadedFunction(_rebuild(k, f, arrays, variables), f["structure"], k)
                  for k, f in doc["signatures"].items()}
    for k, traces in doc.get("traced", {}).items():
        functions[k] = _LoadedTraces(k, [_LoadedFunction(_rebuild(k, f, arrays, variables),
                                                         f["structure"], k) for f in traces])
    return _Loaded(functions, signatures, variables)


def _decode(value, arrays, variables):
    if isinstance(value, dict):
        if "__dtype__" in value:
            return dtypes.as_dtype(value["__dtype__"])
        if "__shape__" in value:
            return TensorShape(value["__shape__"])
        if "__array__" in value:
            return arrays[value["__array__"]]
        if "__variable__" in value:
            return variables[value["__variable__"]]
        if "__seq__" in value:
            items = [_decode(v, arrays, variables) for v in value["__seq__"]]
            return tuple(items) if value.get("tuple") else items
        if "__dict__" in value:
            return {k: _decode(v, arrays, variables) for k, v in value["__dict__"].items()}
    return value


def _rebuild(key, spec, arrays, variables):
    from distflow.function import ConcreteFunction
    from distflow.ops import registry
    graph = Graph()
    graph.seed = spec.get("seed")
    by_name = {}
    for entry in spec["ops"]:
        opdef = registry.get_op(entry["type"])
        inputs = [by_name[n].outputs[i] for n, i in entry["inputs"]]
        attrs = {k: _decode(v, arrays, variables) for k, v in entry["attrs"].items()}
        outs = [(TensorShape(s), dtypes.as_dtype(d)) for s, d in entry["outs"]]
        op = graph.create_op(opdef, inputs, attrs, entry["name"] + "/", outs)
        op.control_inputs = [by_name[n] for n in entry["control"]]
        by_name[entry["name"]] = op
    # the variable captures, as Variable._graph_tensor made them: handle op, then its read
    captures = graph.__dict__.setdefault("_variable_captures", {})
    for op in graph._ops:
        var = op.attrs.get("variable") if op.opdef.variable == "eager" else None
        if var is not None:
            handle = op.outputs[0]
            # the read is an Identity of the handle (ops/variables.py builds it so)
            read = next((o.outputs[0] for o in graph._ops
                         if o.type == "Identity" and o.inputs and o.inputs[0] is handle), handle)
            captures[id(var)] = (handle, read, var)
    placeholders = [by_name[n].outputs[0] for n in spec["inputs"]]
    outputs = [by_name[n].outputs[i] for n, i in spec["outputs"]]
    structure = spec["structure"]
    structured = outputs[0] if "single" in structure else list(outputs)
    concrete = ConcreteFunction(graph, placeholders, structured, outputs,
                                [by_name[n] for n in spec["updates"]], key)
    concrete._prints = [by_name[n] for n in spec["prints"]]
    return concrete
