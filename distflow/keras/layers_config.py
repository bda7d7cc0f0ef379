"""Models and layers to and from Keras 3's serialized configs (the config.json of a `.keras`
file, distflow/keras/saving.py): Keras's class names, argument names and nesting, so Keras's
`from_config` rebuilds what distflow wrote and distflow rebuilds what Keras wrote.

Each layer class Keras knows maps to the constructor arguments distflow's class takes; a layer
with a `get_config()` of its own (a user's, or one added later) is saved with it. Arguments a
file holds that distflow has no use for are dropped only when they hold Keras's default
(None, False, ...); anything else is refused with the layer and argument named, so nothing a
saved model relied on is silently lost.
"""
import codecs
import importlib
import inspect
import json
import marshal
import re
import types

import numpy as np

from distflow.framework.tensor_shape import TensorShape

_NULL = {"module": "keras", "class_name": "DTypePolicy", "registered_name": None}
# Keras's snake-case names where distflow's class name differs
KERAS_CLASS = {}
_DEFAULT_KEEPS = (None, False, {}, [], "channels_last", "float32")
# arguments of Keras layers distflow's do not take, at the value that changes nothing
_KERAS_DEFAULTS = {"groups": 1, "dilation_rate": [1, 1], "depth_multiplier": 1,
                   "renorm_momentum": 0.99}
_NO = object()


def snake(name):
    """Keras's naming.to_snake_case: Dense -> dense, InputLayer -> input_layer, Conv2D -> conv2d."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _policy(dtype):
    name = getattr(dtype, "name", dtype) or "float32"
    return dict(_NULL, config={"name": str(name)})


def _obj(module, class_name, config):
    return {"module": module, "class_name": class_name, "config": config,
            "registered_name": None}


def _camel(name):
    return "".join(part.capitalize() for part in str(name).split("_"))


def serialize_initializer(init):
    if init is None:
        return None
    if isinstance(init, str):
        class_name = {"glorot_uniform": "GlorotUniform", "he_normal": "HeNormal",
                      "uniform": "RandomUniform", "normal": "RandomNormal"}.get(init, _camel(init))
        return _obj("keras.initializers", class_name, {} if class_name in ("Zeros", "Ones")
                    else {"seed": None})
    if inspect.isfunction(init):   # kernel_initializer=tf.random.normal (guide/basics)
        return _function_config(init, None)
    config = init.get_config() if hasattr(init, "get_config") else {}
    return _obj("keras.initializers", type(init).__name__, dict(config))


def _activation_name(layer):
    name = getattr(layer, "activation_name", None)
    return "linear" if name is None else name


# -- layer configs -------------------------------------------------------------------------------
def layer_config(layer):
    from distflow.keras import regularizers
    cls = type(layer).__name__
    base = {"name": layer.name, "trainable": bool(getattr(layer, "trainable", True)),
            "dtype": _policy(getattr(layer, "dtype", "float32"))}
    if cls == "InputLayer":
        return {"batch_shape": list(layer.batch_shape.as_list()), "dtype": str(getattr(
            layer.dtype, "name", layer.dtype)), "sparse": False, "ragged": False,
            "name": layer.name}
    if cls == "Dense":
        base.update(units=layer.units, activation=_activation_name(layer),
                    use_bias=bool(layer.use_bias),
                    kernel_initializer=serialize_initializer(layer.kernel_initializer),
                    bias_initializer=serialize_initializer(layer.bias_initializer),
                    kernel_regularizer=regularizers.serialize(
                        getattr(layer, "kernel_regularizer", None)),
                    bias_regularizer=regularizers.serialize(
                        getattr(layer, "bias_regularizer", None)),
                    kernel_constraint=None, bias_constraint=None)
    elif cls == "Dropout":
        base.update(rate=layer.rate, seed=None, noise_shape=layer.noise_shape)
    elif cls == "Normalization":
        base.update(axis=list(layer.axis), invert=layer.invert, mean=None, variance=None)
    elif cls == "Embedding":
        base.update(input_dim=layer.input_dim, output_dim=layer.output_dim,
                    embeddings_initializer=serialize_initializer(layer.embeddings_initializer),
                    embeddings_regularizer=regularizers.serialize(layer.embeddings_regularizer),
                    mask_zero=False)
    elif cls == "Concatenate":
        base.update(axis=layer.axis)
    elif cls == "Add":
        pass
    elif cls == "Flatten":
        base.update(data_format="channels_last")
    elif cls == "Lambda":
        base.update(function=_function_config(layer.function, layer.name),
                    arguments=dict(layer.arguments))
        if layer.output_shape is not None:
            base["output_shape"] = _function_config(layer.output_shape, layer.name) \
                if callable(layer.output_shape) else list(layer.output_shape)
    elif hasattr(layer, "get_config"):
        base.update(layer.get_config())
    else:
        base.update(_config_from_attributes(layer))
    return base


def _function_config(fn, layer_name):
    """A Lambda's function as Keras 3 stores it: a lambda as its marshalled bytecode (base64;
    loads only with safe_mode=False, and in the same Python version), a named function by its
    module and name."""
    if getattr(fn, "__name__", None) == "<lambda>":
        closure = None
        if fn.__closure__:
            closure = [c.cell_contents for c in fn.__closure__]
            try:
                json.dumps(closure)
            except TypeError:
                raise ValueError("Layer '%s' (Lambda): its lambda refers to %r from an enclosing "
                                 "function, which a .keras file cannot hold; use a module-level "
                                 "name or `arguments=`" % (layer_name, closure)) from None
        return {"class_name": "__lambda__", "config": {
            "code": codecs.encode(marshal.dumps(fn.__code__), "base64").decode("ascii"),
            "defaults": list(fn.__defaults__) if fn.__defaults__ else None,
            "closure": closure}}
    return {"module": fn.__module__, "class_name": "function", "config": fn.__name__,
            "registered_name": "function"}


def _function_from_config(config, layer_name, custom_objects, safe_mode):
    if not isinstance(config, dict):
        return config
    if config.get("class_name") == "__lambda__":
        if safe_mode:
            raise ValueError("Requested the deserialization of a `Lambda` layer whose "
                             "`function` is a Python lambda (layer '%s'). This carries a "
                             "potential risk of arbitrary code execution and thus it is "
                             "disallowed by default. If you trust the source of the artifact, "
                             "you can override this error by passing `safe_mode=False` to the "
                             "loading function." % layer_name)
        inner = config["config"]
        import distflow
        code = marshal.loads(codecs.decode(inner["code"].encode("ascii"), "base64"))
        closure = tuple(types.CellType(v) for v in inner["closure"]) \
            if inner.get("closure") else None
        defaults = tuple(inner["defaults"]) if inner.get("defaults") else None
        # the lambda's global names resolve as in a program that imported distflow as tf
        globs = {"tf": distflow, "keras": distflow.keras, "np": np, "__builtins__": __builtins__}
        return types.FunctionType(code, globs, code.co_name, defaults, closure)
    if config.get("class_name") == "function":
        name, module = config["config"], config.get("module") or ""
        if name in custom_objects:
            return custom_objects[name]
        if safe_mode and module.split(".")[0] != "distflow":
            raise ValueError("Could not locate function '%s' (module %s, layer '%s'). Pass it "
                             "in `custom_objects` (or load with safe_mode=False to import its "
                             "module)." % (name, module, layer_name))
        module = importlib.import_module(module)
        if not hasattr(module, name):
            raise ValueError("Layer '%s' (Lambda): could not locate function '%s' in module %s; "
                             "pass it in `custom_objects`" % (layer_name, name, module.__name__))
        return getattr(module, name)
    return config


_NOT_CONFIG = ("self", "name", "dtype", "trainable", "input_shape", "input_dim", "seed",
               "kwargs")


def _config_from_attributes(layer):
    """A layer without get_config (distflow's conv, pooling, shape and normalization layers):
    each constructor argument from the attribute of the same name, as Keras names both."""
    from distflow.keras import regularizers
    out = {}
    for p in inspect.signature(type(layer).__init__).parameters:
        if p in _NOT_CONFIG:
            continue
        if not hasattr(layer, p):
            if p == "data_format":
                out[p] = "channels_last"
            continue
        v = getattr(layer, p)
        if p == "activation":
            v = "linear" if v is None else getattr(v, "__name__", v)
        elif p.endswith("_initializer"):
            v = serialize_initializer(v)
        elif p.endswith("_regularizer"):
            v = regularizers.serialize(v)
        elif p == "padding" and isinstance(v, str):
            v = v.lower()
        elif isinstance(v, tuple):
            v = list(v)
        if isinstance(v, np.generic):
            v = v.item()
        if not (v is None or isinstance(v, (bool, int, float, str, list, dict))):
            raise NotImplementedError("Saving layer '%s' (%s): its %s=%r has no Keras config "
                                      "form" % (layer.name, type(layer).__name__, p, v))
        out[p] = v
    return out


def serialize_layer(layer, build_shape=None):
    out = _obj("keras.layers", type(layer).__name__, layer_config(layer))
    if build_shape is not None:
        out["build_config"] = {"input_shape": _shape_list(build_shape)}
    return out


def _shape_list(shape):
    if isinstance(shape, (list, tuple)) and shape and not isinstance(shape[0], (int, type(None))):
        return [_shape_list(s) for s in shape]
    return TensorShape(shape).as_list()


def saved_layers(model):
    """The layers whose weights a file holds, in Keras's order (Sequential: without its input;
    functional: with its InputLayers)."""
    return [layer for layer in model.layers]


# -- models --------------------------------------------------------------------------------------
def serialize_model(model):
    from distflow.keras.functional import Model
    if getattr(model, "_functional", False):
        out = _obj("keras.src.models.functional", "Functional", _functional_config(model))
        out["registered_name"] = "Functional"
        out["build_config"] = {"input_shape": None}
    elif isinstance(model, Model):
        raise NotImplementedError("Saving a subclassed Model to .keras needs its class's "
                                  "get_config; use save_weights / load_weights")
    else:
        model._ensure_built()
        shape = model.input_shape
        if shape is None:
            raise ValueError("You are saving a model that has not yet been built. Call the model "
                             "on data, or give it an Input, before saving.")
        layers, in_shape = [], shape
        layers.append(_obj("keras.layers", "InputLayer", {
            "batch_shape": shape.as_list(), "dtype": "float32", "sparse": False,
            "ragged": False, "name": getattr(model, "_input_name", None) or "input_layer"}))
        for layer in model.layers:
            layers.append(serialize_layer(layer, in_shape))
            in_shape = layer.compute_output_shape(in_shape)
        out = _obj("keras", "Sequential", {"name": model.name, "trainable": model.trainable,
                                           "dtype": _policy("float32"), "layers": layers,
                                           "build_input_shape": shape.as_list()})
        out["build_config"] = {"input_shape": shape.as_list()}
    if getattr(model, "compiled", False):
        out["compile_config"] = compile_config(model)
    return out


def _functional_config(model):
    index = {}  # id(KerasTensor) -> [layer name, node index, tensor index]
    node_counts = {}
    layers = []
    for kt in model.inputs:
        layer = kt.input_layer
        index[id(kt)] = [layer.name, 0, 0]
        entry = serialize_layer(layer)
        entry.update(name=layer.name, inbound_nodes=[])
        layers.append(entry)
    entries = {}
    for kt in model._nodes:
        layer, parents, as_list, kwargs = kt.node
        n = node_counts.get(id(layer), 0)
        node_counts[id(layer)] = n + 1
        index[id(kt)] = [layer.name, n, 0]
        args = [_kt_config(p, index) for p in parents]
        node = {"args": [args] if as_list else args, "kwargs": {}}
        if id(layer) not in entries:
            shapes = [p.shape for p in parents]
            entry = serialize_layer(layer, shapes if as_list else shapes[0])
            entry.update(name=layer.name, inbound_nodes=[])
            entries[id(layer)] = entry
            layers.append(entry)
        entries[id(layer)]["inbound_nodes"].append(node)
    refs = [index[id(kt)] for kt in model.inputs]
    outs = [index[id(kt)] for kt in model.outputs]
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": refs if model._nested_inputs else refs[0],
            "output_layers": outs if model._nested_outputs else outs[0]}


def _kt_config(kt, index):
    return {"class_name": "__keras_tensor__", "config": {
        "shape": kt.shape.as_list(), "dtype": kt.dtype.name, "keras_history": index[id(kt)]}}


def deserialize_model(config, custom_objects, safe_mode=True):
    from distflow.keras import functional, models
    class_name = config.get("class_name")
    inner = config.get("config", {})
    if class_name in custom_objects:
        cls = custom_objects[class_name]
        return cls.from_config(inner) if hasattr(cls, "from_config") else cls(**inner)
    if class_name == "Sequential":
        model = models.Sequential(name=inner.get("name"))
        for entry in inner.get("layers", []):
            if entry["class_name"] == "InputLayer":
                model.add(functional.Input(batch_shape=entry["config"]["batch_shape"],
                                           name=entry["config"].get("name")))
            else:
                model.add(deserialize_layer(entry, custom_objects, safe_mode))
        shape = (config.get("build_config") or {}).get("input_shape") \
            or inner.get("build_input_shape")
        if shape is not None and not model.built:
            model.build(shape)
        return model
    if class_name in ("Functional", "Model"):
        made = {}  # (layer name, node index) -> KerasTensor
        calls = {}
        for entry in inner["layers"]:
            if entry["class_name"] == "InputLayer":
                c = entry["config"]
                made[(entry["name"], 0)] = functional.Input(
                    batch_shape=c["batch_shape"], dtype=c.get("dtype"), name=c.get("name"))
                continue
            layer = deserialize_layer(entry, custom_objects, safe_mode)
            for node in entry.get("inbound_nodes", []):
                args = [_resolve(a, made) for a in node["args"]]
                n = calls.get(entry["name"], 0)
                calls[entry["name"]] = n + 1
                made[(entry["name"], n)] = layer(args[0])
        def ref(r):  # noqa: E306
            return made[(r[0], r[1])]
        ins, outs = inner["input_layers"], inner["output_layers"]
        nested_in = bool(ins) and isinstance(ins[0], list)
        nested_out = bool(outs) and isinstance(outs[0], list)
        return functional.Model(inputs=[ref(r) for r in ins] if nested_in else ref(ins),
                                outputs=[ref(r) for r in outs] if nested_out else ref(outs),
                                name=inner.get("name"))
    raise ValueError("Could not locate class '%s'. Make sure custom classes are passed in "
                     "`custom_objects`." % class_name)


def _resolve(arg, made):
    if isinstance(arg, list):
        return [_resolve(a, made) for a in arg]
    if isinstance(arg, dict) and arg.get("class_name") == "__keras_tensor__":
        history = arg["config"]["keras_history"]
        return made[(history[0], history[1])]
    return arg


def deserialize_layer(entry, custom_objects, safe_mode=True):
    from distflow.keras import layers as layers_module
    from distflow.keras import regularizers
    from distflow.nn import initializers
    class_name = entry["class_name"]
    cls = custom_objects.get(class_name) or getattr(layers_module, class_name, None)
    if cls is None:
        raise ValueError("Could not locate class '%s' (layer '%s'): distflow.keras.layers has "
                         "no such layer. Pass it in `custom_objects`."
                         % (class_name, entry.get("config", {}).get("name")))
    config = dict(entry.get("config", {}))
    if hasattr(cls, "from_config") and class_name in custom_objects:
        return cls.from_config(config)
    if class_name == "Lambda":
        for key in ("function", "output_shape"):
            if key in config:
                config[key] = _function_from_config(config[key], config.get("name"),
                                                    custom_objects, safe_mode)
    dtype = config.pop("dtype", None)
    if isinstance(dtype, dict):
        dtype = dtype.get("config", {}).get("name", "float32")
    accepted = inspect.signature(cls.__init__).parameters
    if dtype is not None:
        config["dtype"] = dtype
    kwargs = {}
    for key, value in config.items():
        if key.endswith("_initializer") and isinstance(value, dict) \
                and value.get("class_name") == "function":
            value = _function_from_config(value, config.get("name"), custom_objects, safe_mode)
        elif key.endswith("_initializer") and isinstance(value, dict):
            init_cls = getattr(initializers, value["class_name"], None)
            if init_cls is None:
                raise ValueError("Layer '%s': unknown initializer %s" % (config.get("name"),
                                                                         value["class_name"]))
            params = inspect.signature(init_cls.__init__).parameters
            value = init_cls(**{k: v for k, v in value.get("config", {}).items()
                                if k in params})
        elif key.endswith("_regularizer"):
            value = regularizers.deserialize(value)
        if key in accepted:
            kwargs[key] = value
        elif value not in _DEFAULT_KEEPS and _KERAS_DEFAULTS.get(key, _NO) != value \
                and not (key == "trainable" and value is True):
            raise ValueError("Layer '%s' (%s) sets %s=%r, which distflow's %s does not support"
                             % (config.get("name"), class_name, key, value, class_name))
    if class_name == "Normalization" and isinstance(kwargs.get("axis"), list):
        kwargs["axis"] = tuple(kwargs["axis"]) if kwargs["axis"] else None
    return cls(**kwargs)


# -- weights -------------------------------------------------------------------------------------
def weights_to_save(layer):
    """The layer's weights as Keras stores them (Normalization's count is an int64)."""
    values = list(layer.get_weights()) if getattr(layer, "variables", None) else []
    if type(layer).__name__ == "Normalization" and len(values) == 3:
        values[2] = np.int64(values[2])
    return values


def load_weights_into(layer, values):
    current = layer.variables
    for v, value in zip(current, values):
        want = tuple(v.shape.as_list())
        if tuple(np.shape(value)) != want:
            raise ValueError("Layer '%s' weight %s has shape %s, the file holds %s"
                             % (layer.name, v.name, want, np.shape(value)))
    layer.set_weights([np.asarray(value, v.dtype.as_numpy_dtype)
                       for v, value in zip(current, values)])


# -- compile() ----------------------------------------------------------------------------------
def compile_config(model):
    opt = model.optimizer
    params = inspect.signature(type(opt).__init__).parameters
    opt_config = {"name": type(opt).__name__.lower()}  # Keras: "adam", "rmsprop"
    hyper = getattr(opt, "_hyper", {})
    for key in params:
        value = getattr(opt, key, None)
        if value is None:  # kept among the hyperparameters (beta_1 as "beta1", momentum, ...)
            value = hyper.get(key, hyper.get(key.replace("_", ""),
                                             getattr(opt, "_use_" + key, None)))
        if key == "learning_rate":
            value = float(np.asarray(value.numpy() if hasattr(value, "numpy") else value))
        if isinstance(value, (int, float, bool)) and not isinstance(value, np.ndarray):
            opt_config[key] = value
    return {"optimizer": _obj("keras.optimizers", type(opt).__name__, opt_config),
            "loss": _name_of(model.loss), "loss_weights": None,
            "metrics": [_name_of(m) for m in model._compiled_metrics] or None,
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
            "jit_compile": False}


def _name_of(obj):
    if obj is None or isinstance(obj, str):
        return obj
    if hasattr(obj, "get_config") or not callable(obj) or isinstance(obj, type):
        return _obj("keras.metrics" if hasattr(obj, "update_state") else "keras.losses",
                    type(obj).__name__, {"name": getattr(obj, "name", None)})
    return getattr(obj, "__name__", None)


def compile_from_config(model, config):
    from distflow.keras import losses, metrics, optimizers
    opt = config.get("optimizer")
    if isinstance(opt, dict):
        cls = getattr(optimizers, opt["class_name"], None)
        if cls is None:
            raise ValueError("Unknown optimizer %s in the saved compile config"
                             % opt["class_name"])
        params = inspect.signature(cls.__init__).parameters
        opt = cls(**{k: v for k, v in opt.get("config", {}).items()
                     if k in params and k != "name" and v is not None})

    def obj(entry, module):
        if isinstance(entry, dict):
            return getattr(module, entry["class_name"])()
        return entry
    loss = config.get("loss")
    loss = [obj(e, losses) for e in loss] if isinstance(loss, list) else obj(loss, losses)
    mets = config.get("metrics") or None
    mets = [obj(m, metrics) for m in mets] if mets else None
    model.compile(optimizer=opt, loss=loss, metrics=mets)
