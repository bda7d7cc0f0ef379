"""YAML for configs and `--set` values, read strictly: what PyYAML's safe_load accepts, except

- a document whose aliases expand to more than MAX_NODES nodes (a "billion laughs": a few
  hundred bytes of nested aliases that become gigabytes once something walks or prints them),
  or whose aliases refer to themselves, is refused while it is loaded;
- a mapping that names one key twice is refused (YAML says keys are unique; PyYAML keeps the
  last silently, so a typo'd second `learning_rate:` would win without a word);
- numbers follow YAML 1.2's rules: `1e-3` and `1e6` are floats (YAML 1.1, PyYAML's default,
  needs a dot and reads them as strings).

`load(text)` raises YAMLError (PyYAML's, with the position) for all of these.
"""
import re
import reprlib

import yaml

# A config has a few dozen nodes; this leaves room for generous lists while bounding the
# work any later walk (checks, messages, config.yaml) can do.
MAX_NODES = 10000

# YAML 1.2 core schema floats (and PyYAML's own spellings of inf and nan, kept).
_FLOAT_12 = re.compile(r"""^(?:[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?
                          |[-+]?\.(?:inf|Inf|INF)
                          |\.(?:nan|NaN|NAN))$""", re.X)


class _Loader(yaml.SafeLoader):
    def compose_document(self):
        node = super().compose_document()
        _check_size(node)
        return node

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: PyYAML's own error says so below
                    continue
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        "found the key %s twice (first on line %d)" % (short(key), first.line + 1),
                        key_node.start_mark)
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+.0123456789"))


def _check_size(root):
    """Counts the nodes the document expands to, each alias counted in full, without expanding
    anything (sizes are memoized per node); refuses cycles and documents over MAX_NODES."""
    if root is None:
        return
    sizes, active = {}, set()

    def size(node):
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise yaml.composer.ComposerError(None, None, "found an alias that refers to the "
                                              "node that contains it", node.start_mark)
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > MAX_NODES:
                raise yaml.composer.ComposerError(
                    None, None, "the document expands to more than %d values (aliases nested "
                    "in aliases?); a config needs far fewer" % MAX_NODES, node.start_mark)
        active.discard(key)
        sizes[key] = total
        return total

    size(root)


def load(text):
    """The value of one YAML document (str), read with the rules above."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring, _SHORT.maxother = 2, 6, 6, 60, 60


def short(value, limit=120):
    """repr() bounded in length and depth, for messages about values of any size."""
    text = _SHORT.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def describe(error):
    """One line for a YAMLError: where (line, column) and what."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is None:
        return " ".join(str(problem).split())
    return "line %d, column %d: %s" % (mark.line + 1, mark.column + 1, " ".join(problem.split()))
