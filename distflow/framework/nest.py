"""Flattening and rebuilding nested lists, tuples, namedtuples and dicts (fetches, tape targets)."""


def is_nested(x):
    return isinstance(x, (list, tuple, dict))


def flatten(structure):
    """Leaves in a fixed order: sequences in order, dicts by sorted key (as TF's nest does)."""
    if _is_flat_list(structure):  # the common case (a tape's sources): no recursion
        return list(structure)
    out = []
    _flatten_into(structure, out)
    return out


def _flatten_into(x, out):
    if isinstance(x, dict):
        for k in _sorted_keys(x):
            _flatten_into(x[k], out)
    elif isinstance(x, (list, tuple)):
        for v in x:
            _flatten_into(v, out)
    else:
        out.append(x)


def _is_flat_list(x):
    if type(x) is not list:
        return False
    for v in x:  # a loop, not any() over a generator: a tape asks this about its sources
        if isinstance(v, _NESTED):
            return False
    return True


_NESTED = (list, tuple, dict)


def _sorted_keys(d):
    try:
        return sorted(d)
    except TypeError:
        return list(d)


def pack_sequence_as(structure, flat):
    """Rebuilds `structure` with the leaves taken in order from `flat`."""
    if _is_flat_list(structure) and len(flat) == len(structure):
        return list(flat)
    it = iter(flat)
    result = _pack(structure, it)
    return result


def _pack(x, it):
    if isinstance(x, dict):
        values = {k: _pack(x[k], it) for k in _sorted_keys(x)}
        return type(x)((k, values[k]) for k in x) if type(x) is not dict else {k: values[k] for k in x}
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # namedtuple
        return type(x)(*[_pack(v, it) for v in x])
    if isinstance(x, (list, tuple)):
        return type(x)(_pack(v, it) for v in x)
    return next(it)


def map_structure(fn, structure):
    return pack_sequence_as(structure, [fn(x) for x in flatten(structure)])
