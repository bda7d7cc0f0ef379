"""Session.run's fetch structures: flatten any nesting to unique graph elements, rebuild after.

Leaves are Tensors, Operations, Variables or names (`'Mul:0'`, `'init'`); containers are lists,
tuples, namedtuples and dicts. The same element fetched twice is computed once.
"""
from distflow.framework.graph import Operation, Tensor


class FetchMapper:
    def __init__(self, graph, fetches):
        self.structure = fetches
        self.unique = []          # unique graph elements, in first-seen order
        self._index = {}
        self.leaf_slots = []      # for each leaf, its position in `unique`
        self._collect(graph, fetches)
        # a plain list of leaves (`[train_op, loss]`, a training loop's fetch): a list built
        # straight from the slots, without the general walk over the structure
        if type(fetches) is list and len(self.leaf_slots) == len(fetches) and not any(
                isinstance(x, (list, tuple, dict)) for x in fetches):
            slots = self.leaf_slots
            self.build = lambda values: [values[i] for i in slots]

    def _collect(self, graph, x):
        if isinstance(x, dict):
            for k in x:
                self._collect(graph, x[k])
        elif isinstance(x, (list, tuple)):
            for v in x:
                self._collect(graph, v)
        else:
            el = _as_element(graph, x)
            key = id(el)
            if key not in self._index:
                self._index[key] = len(self.unique)
                self.unique.append(el)
            self.leaf_slots.append(self._index[key])

    def build(self, values):
        """The fetch structure with each leaf replaced by its value (None for an Operation)."""
        it = iter(self.leaf_slots)
        return _rebuild(self.structure, it, values)


def _rebuild(x, it, values):
    if isinstance(x, dict):
        items = [(k, _rebuild(x[k], it, values)) for k in x]
        return type(x)(items) if type(x) is not dict else dict(items)
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*[_rebuild(v, it, values) for v in x])
    if isinstance(x, (list, tuple)):
        return type(x)(_rebuild(v, it, values) for v in x)
    return values[next(it)]


def _as_element(graph, x):
    if isinstance(x, (Tensor, Operation)) or hasattr(x, "_as_graph_element") or isinstance(x, str):
        try:
            return graph.as_graph_element(x, allow_tensor=True, allow_operation=True)
        except TypeError as e:
            raise TypeError("Fetch argument %r has invalid type %r, must be a string or Tensor. "
                            "(%s)" % (x, type(x), e)) from None
        except (ValueError, KeyError) as e:
            raise ValueError("Fetch argument %r cannot be interpreted as a Tensor. (%s)"
                             % (x, e.args[0] if e.args else e)) from None
    if x is None:
        raise TypeError("Fetch argument None has invalid type <class 'NoneType'>")
    raise TypeError("Fetch argument %r has invalid type %r, must be a string or Tensor. (Can not "
                    "convert a %s into a Tensor or Operation.)" % (x, type(x), type(x).__name__))
