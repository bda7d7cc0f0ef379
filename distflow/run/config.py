"""The YAML config schema: every key, its type, default and allowed values, in one table.

`load_config(path, overrides)` returns a validated nested dict. Any problem raises ConfigError
with one message naming the key, the value and what is allowed; the CLI prints it once (rank 0)
and exits with status 2.
"""
import copy
import math
import os

import yaml

from distflow.run import strict_yaml
from distflow.run.strict_yaml import short

# Precedence of the collective timeout: --set distributed.timeout_s > this variable > the config.
TIMEOUT_ENV = "DISTFLOW_COLLECTIVE_TIMEOUT"


class ConfigError(ValueError):
    pass


def _choice(*allowed):
    def check(v):
        return v in allowed, "one of: %s" % ", ".join(str(a) for a in allowed)
    return check


def _number(v):
    """A real, finite number (YAML's .inf and .nan are floats, but never a meaningful setting)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _at_least(lo, kind=int):
    def check(v):
        ok = isinstance(v, kind) and _number(v) and v >= lo
        return ok, "%s >= %s" % ("an integer" if kind is int else "a number", lo)
    return check


def _positive_number(v):
    return _number(v) and v > 0, "a finite number > 0"


def _fraction(v):
    return _number(v) and 0 < v < 1, "a number strictly between 0 and 1"


def _rate(v):
    return _number(v) and 0 <= v < 1, "a number in [0, 1)"


def _non_negative(v):
    return _number(v) and v >= 0, "a finite number >= 0"


def _timeout(v):
    return _number(v) and v >= 0, "a number of seconds >= 0 (0 waits forever)"


def _optional(check):
    def inner(v):
        if v is None:
            return True, ""
        ok, what = check(v)
        return ok, what + " or null"
    return inner


def _bool(v):
    return isinstance(v, bool), "true or false"


def _string(v):
    return isinstance(v, str) and v != "", "a non-empty string"


def _hidden(v):
    ok = isinstance(v, list) and all(isinstance(h, int) and not isinstance(h, bool) and h > 0
                                     for h in v)
    return ok, "a list of positive integers (e.g. [64, 64]; [] for a linear model)"


def _string_list(v):
    return isinstance(v, list) and all(isinstance(s, str) for s in v), "a list of column names"


def _number_list(v):
    return isinstance(v, list) and all(_number(s) for s in v), "a list of finite numbers"


# model.layers: one mapping per block, {type: {Keras argument: value}}; the output layer (one
# unit, or one logit per class) is added after them. type -> argument -> (default, check).
_ACTIVATION = _choice("relu", "tanh", "sigmoid", "elu", "linear")
_PADDING = _choice("valid", "same")
BLOCKS = {
    "conv2d": {"filters": (None, _at_least(1)), "kernel_size": (3, _at_least(1)),
               "strides": (1, _at_least(1)), "padding": ("valid", _PADDING),
               "activation": ("relu", _ACTIVATION)},
    "max_pool2d": {"pool_size": (2, _at_least(1)), "strides": (None, _optional(_at_least(1))),
                   "padding": ("valid", _PADDING)},
    "avg_pool2d": {"pool_size": (2, _at_least(1)), "strides": (None, _optional(_at_least(1))),
                   "padding": ("valid", _PADDING)},
    "flatten": {},
    "dense": {"units": (None, _at_least(1)), "activation": ("relu", _ACTIVATION)},
    "dropout": {"rate": (None, _rate)},
}
_IMAGE_BLOCKS = ("conv2d", "max_pool2d", "avg_pool2d")


def _layer_list(v):
    ok = isinstance(v, list) and len(v) > 0 and all(
        isinstance(b, dict) and len(b) == 1 for b in v)
    return ok, ("a non-empty list of blocks, each one mapping such as {conv2d: {filters: 16}}, "
                "{max_pool2d: {pool_size: 2}}, {flatten: {}}, {dense: {units: 64}}, "
                "{dropout: {rate: 0.2}}")


def check_layers(blocks, image):
    """model.layers with every block's defaults filled in: [(type, {argument: value})];
    ConfigError naming the block for an unknown type or argument, a bad value, or a block that
    does not fit where it stands (image blocks need image data and come before flatten)."""
    out, flat = [], not image
    for i, block in enumerate(blocks):
        kind, args = next(iter(block.items()))
        where = "model.layers[%d]" % i
        if kind not in BLOCKS:
            raise ConfigError("%s: unknown block %s (allowed: %s)"
                              % (where, short(kind), ", ".join(BLOCKS)))
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise ConfigError("%s.%s must be a mapping of its arguments, got %s"
                              % (where, kind, short(args)))
        spec = BLOCKS[kind]
        for key in args:
            if key not in spec:
                raise ConfigError("%s.%s: unknown argument %s (allowed: %s)" % (
                    where, kind, short(key), ", ".join(spec) or "none"))
        filled = {}
        for key, (default, check) in spec.items():
            value = args.get(key, default)
            ok, allowed = check(value)
            if not ok:
                raise ConfigError("%s.%s.%s = %s is not allowed: expected %s"
                                  % (where, kind, key, short(value), allowed))
            filled[key] = float(value) if kind == "dropout" else value
        if kind in _IMAGE_BLOCKS and flat:
            raise ConfigError("%s: %s needs image inputs (%s)" % (
                where, kind, "data.dataset = digits or mnist" if not image else
                "it must come before flatten and dense blocks"))
        if kind in ("dense", "dropout") and not flat:
            raise ConfigError("%s: %s after %s needs a {flatten: {}} block before it"
                              % (where, kind, out[-1][0] if out else "the image input"))
        flat = flat or kind == "flatten"
        out.append((kind, filled))
    if not flat:
        raise ConfigError("model.layers ends with image blocks: add {flatten: {}} (and dense "
                          "blocks) so the output layer sees one vector per image")
    return out


# Datasets whose target is a class (softmax cross-entropy on logits, accuracy); the rest regress.
CLASSIFICATION_DATASETS = ("digits", "mnist")
IMAGE_DATASETS = ("digits", "mnist")


def is_classification(config):
    return config["data"]["dataset"] in CLASSIFICATION_DATASETS


# section -> key -> (default, check)
SCHEMA = {
    "seed": (0, _at_least(0)),
    "device": ("auto", _choice("auto", "cpu", "gpu")),
    "cuda_graphs": (True, _bool),
    "data": {
        "dataset": ("boston", _choice("boston", "csv", "synthetic", "digits", "mnist")),
        "csv": (None, _optional(_string)),
        "target": ("MEDV", _string),
        "features": (None, _optional(_string_list)),
        "split": ("keras", _choice("keras", "random", "kfold", "repeated")),
        "test_fraction": (0.2, _fraction),
        "folds": (4, _at_least(2)),
        "repeats": (5, _at_least(1)),
        "standardize": (True, _bool),
        "synthetic_rows": (8192, _at_least(2)),
        "synthetic_features": (256, _at_least(1)),
    },
    "model": {
        "hidden": ([64, 64], _hidden),
        "activation": ("relu", _choice("relu", "tanh", "sigmoid", "elu", "linear")),
        "dropout": (0.0, _rate),
        "layers": (None, _optional(_layer_list)),
    },
    "optimizer": {
        "name": ("adam", _choice("sgd", "momentum", "adam", "rmsprop", "adagrad")),
        "learning_rate": (0.001, _positive_number),
        "momentum": (0.9, _non_negative),
        "nesterov": (False, _bool),
        "schedule": ("none", _choice("none", "exponential", "cosine", "piecewise")),
        "decay_steps": (1000, _at_least(1)),
        "decay_rate": (0.96, _positive_number),
        "boundaries": ([], _number_list),
        "values": ([], _number_list),
        "clip_norm": (None, _optional(_positive_number)),
        "weight_decay": (0.0, _non_negative),
    },
    "train": {
        "epochs": (100, _at_least(1)),
        "batch_size": (32, _at_least(1)),
        "eval_every": (1, _at_least(1)),
        "drop_last": (False, _bool),
        "log_every": (0, _at_least(0)),
    },
    "distributed": {
        "communicator": ("auto", _choice("auto", "single", "mpi", "nccl", "host-staged")),
        "bucket_mb": (0.0, _non_negative),
        "timeout_s": (300.0, _timeout),
    },
    "output": {
        "dir": ("runs/boston", _string),
        "checkpoint_every": (10, _at_least(0)),
        "keep": (3, _at_least(1)),
        "tensorboard": (True, _bool),
        "plot": (True, _bool),
    },
}


def defaults(schema=SCHEMA):
    out = {}
    for key, spec in schema.items():
        out[key] = defaults(spec) if isinstance(spec, dict) else copy.deepcopy(spec[0])
    return out


def _merge(base, given, schema, prefix):
    if not isinstance(given, dict):
        raise ConfigError("%s must be a mapping of keys, got %s" % (prefix.rstrip(".") or "config",
                                                                     short(given)))
    for key, value in given.items():
        name = prefix + (key if isinstance(key, str) else short(key))
        if not isinstance(key, str) or key not in schema:
            raise ConfigError("unknown key '%s' (allowed here: %s)" % (name, ", ".join(schema)))
        spec = schema[key]
        if isinstance(spec, dict):
            _merge(base[key], value if value is not None else {}, spec, name + ".")
        else:
            base[key] = value


def _check(config, schema, prefix):
    for key, spec in schema.items():
        name = prefix + key
        if isinstance(spec, dict):
            _check(config[key], spec, name + ".")
            continue
        value = config[key]
        ok, allowed = spec[1](value)
        if not ok:
            raise ConfigError("%s = %s is not allowed: expected %s" % (name, short(value), allowed))
        if isinstance(value, int) and not isinstance(value, bool) and spec[1] in (
                _positive_number, _non_negative, _fraction, _rate, _timeout):
            config[key] = float(value)


def parse_override(text):
    """`optimizer.learning_rate=0.01` -> (['optimizer', 'learning_rate'], 0.01)."""
    if "=" not in text:
        raise ConfigError("--set %s: expected KEY=VALUE, e.g. --set optimizer.learning_rate=0.01"
                          % short(text))
    key, _, raw = text.partition("=")
    try:
        value = strict_yaml.load(raw) if raw.strip() else None
    except (yaml.YAMLError, RecursionError):
        value = raw
    return key.strip().split("."), value


def _apply_override(config, path, value):
    node, schema = config, SCHEMA
    for i, part in enumerate(path):
        name = ".".join(path[:i + 1])
        if not isinstance(schema, dict) or part not in schema:
            raise ConfigError("--set: unknown key '%s' (allowed here: %s)"
                              % (name, ", ".join(schema) if isinstance(schema, dict) else "none"))
        if i == len(path) - 1:
            if isinstance(schema[part], dict):
                raise ConfigError("--set: '%s' is a section; set one of its keys" % name)
            node[part] = value
        else:
            node, schema = node[part], schema[part]


def load_config(path=None, overrides=(), base_dir=None):
    """The validated config from a YAML file (or the defaults) with `--set` overrides applied."""
    config = defaults()
    if path is not None:
        _merge(config, _read_yaml(path), SCHEMA, "")
        base_dir = base_dir or os.path.dirname(os.path.abspath(path))
    set_keys = set()
    for text in overrides:
        keys, value = parse_override(text)
        _apply_override(config, keys, value)
        set_keys.add(".".join(keys))
    if "distributed.timeout_s" not in set_keys:
        from_env = _timeout_from_env()
        if from_env is not None:
            config["distributed"]["timeout_s"] = from_env
    _check(config, SCHEMA, "")
    data = config["data"]
    if data["dataset"] == "csv":
        if not data["csv"]:
            raise ConfigError("data.csv must name a CSV file when data.dataset = 'csv'")
        if not os.path.exists(data["csv"]) and base_dir and \
                os.path.exists(os.path.join(base_dir, data["csv"])):
            data["csv"] = os.path.join(base_dir, data["csv"])
        if not os.path.exists(data["csv"]):
            raise ConfigError("data.csv = %r: no such file" % data["csv"])
    if config["model"]["layers"] is not None:
        check_layers(config["model"]["layers"], data["dataset"] in IMAGE_DATASETS)
    elif data["dataset"] in IMAGE_DATASETS:
        raise ConfigError("data.dataset = %r holds images: model.layers must describe the "
                          "network (e.g. configs/digits_cnn.yaml); model.hidden is for tables"
                          % data["dataset"])
    if data["dataset"] in IMAGE_DATASETS and data["target"] not in ("MEDV", "label"):
        raise ConfigError("data.target = %r is not allowed for data.dataset = %r: expected "
                          "'label'" % (data["target"], data["dataset"]))
    opt = config["optimizer"]
    if opt["schedule"] == "piecewise" and len(opt["values"]) != len(opt["boundaries"]) + 1:
        raise ConfigError("optimizer.values must have one more entry than optimizer.boundaries "
                          "(got %d values, %d boundaries)" % (len(opt["values"]), len(opt["boundaries"])))
    return config


def _read_yaml(path):
    """The mapping a config file holds; ConfigError for anything else, naming the file."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise ConfigError("config file not found: %s" % path) from None
    except IsADirectoryError:
        raise ConfigError("config file %s is a directory; expected a YAML file such as "
                          "configs/boston.yaml" % path) from None
    except OSError as e:
        raise ConfigError("config file %s cannot be read: %s" % (path, e.strerror or e)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise ConfigError("config file %s is not UTF-8 text (byte 0x%02x on line %d); save it as "
                          "UTF-8" % (path, raw[e.start], line)) from None
    try:
        given = strict_yaml.load(text)
    except yaml.YAMLError as e:
        raise ConfigError("config file %s is not valid YAML: %s"
                          % (path, strict_yaml.describe(e))) from None
    except RecursionError:
        raise ConfigError("config file %s is nested too deeply to be a config" % path) from None
    if given is None:
        # Training on built-in defaults that nobody chose is worse than stopping.
        raise ConfigError("config file %s is empty (or only comments); expected a mapping such "
                          "as configs/boston.yaml" % path)
    return given


def _timeout_from_env():
    """DISTFLOW_COLLECTIVE_TIMEOUT in seconds (0 waits forever), or None when it is not set."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return None
    if text.lower() in ("off", "none", "never", "inf"):
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value < 0:
        raise ConfigError("%s = %s is not allowed: expected a number of seconds >= 0 (0 or off "
                          "waits forever)" % (TIMEOUT_ENV, short(text)))
    return value


def check_against_world(config, world_size):
    """Checks that need the number of ranks: every rank needs at least one sample per step."""
    batch = config["train"]["batch_size"]
    if batch < world_size:
        raise ConfigError("train.batch_size = %d is smaller than the number of ranks (%d): each rank "
                          "needs at least one sample of every global batch" % (batch, world_size))


def dump(config):
    return yaml.safe_dump(config, sort_keys=False)
