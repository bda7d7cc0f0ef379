"""Where distflow differs from TensorFlow 2.21 on purpose, or has not caught up yet: each entry
is a case name (or a prefix ending in '*') of the cases_*.py files and the reason. The harness
reports a mismatch listed here under its reason and leaves it out of the exit status; every
other mismatch is news.
"""

_TF1_PRINTING = ("distflow prints shapes as TF 1.x did, unknown dimensions as '?': "
                 "TF 2.21 prints None (tf-semantics-and-style.md 1.1)")
_TF1_WORDING = "the message is TF 1.x's wording; TF 2.21 reworded it"
_RESOURCE = ("TF 2.21 builds resource variables (AssignVariableOp, no _ref dtypes, other "
             "messages); distflow's graph variables are TF 1.x's reference variables")
_DTYPE_CLASS = ("a dtype mismatch is a TypeError when the op is built or called, in both modes "
                "(TF's graph-mode class); TF 2.21 eagerly raises InvalidArgumentError")
_ADD_V2 = "TF 2.21's compat.v1 builds AddV2 for +; distflow builds Add (same names and values)"
_MISSING = "not in distflow yet"

KNOWN = {
    # printing and wording kept from TF 1.x
    "print/*": _TF1_PRINTING, "shape/TensorShape str": _TF1_PRINTING,
    "shape/inference": _TF1_PRINTING, "shape/set_shape": _TF1_PRINTING,
    "shape/unstack*": _TF1_PRINTING, "function/input_signature": _TF1_PRINTING,
    "api/placeholder_with_default": _TF1_PRINTING,
    "run/*": _TF1_WORDING, "feed/wrong shape": _TF1_WORDING, "feed/wrong rank": _TF1_WORDING,
    "feed/None dims wrong": _TF1_WORDING, "feed/scalar to vector": _TF1_WORDING,
    "feed/python int too large": _TF1_WORDING, "var/no initial value": _TF1_WORDING,
    "var/assign wrong dtype": _TF1_WORDING, "tape/gradient twice": _TF1_WORDING,
    "names/invalid name": _TF1_WORDING, "shape/matmul mismatch": _TF1_WORDING,
    "function/input_signature mismatch": _TF1_WORDING + " (and made it a TypeError)",
    "shape/reshape impossible": "distflow's message says more than TF's (both ValueError)",
    "shape/set_shape incompatible": "distflow's message says more than TF's (both ValueError)",
    # resource variables
    "var/uninitialized": _RESOURCE, "var/assign op type": _RESOURCE,
    "var/assign wrong shape": _RESOURCE,
    "var/assign wrong shape (ref)": "TF's message goes on with the node's NodeDef text", "eager var/assign repr": _RESOURCE,
    "eager var/assign wrong shape": _RESOURCE,
    "var/tf.assign": "fetching three updates of one variable in one run: TF leaves the order "
                     "undefined",
    "names/op types of functions": _ADD_V2, "names/python operators": _ADD_V2,
    # error classes
    **{name: _DTYPE_CLASS for name in (
        "add int tensor, python float", "add int32+float32", "op int32+float32",
        "multiply float32*float64", "matmul float32@float64", "equal int vs float",
        "logical_and on floats", "where int condition 3-arg", "bool + bool", "reduce_sum bool",
        "sqrt(int32) error", "concat dtype mismatch", "stack dtype mismatch",
        "eager/int + float tensor", "eager var/int variable assign float",
        "clip_by_norm int", "nn.softmax int input", "nn.l2_loss int", "nn.bias_add dtype mismatch",
        "nn.sparse_softmax_cross_entropy_with_logits float labels")},
    **{name: "a shape is checked when the op is called, with graph mode's ValueError; TF 2.21 "
             "eagerly raises InvalidArgumentError" for name in (
        "nn.bias_add wrong bias size", "nn.bias_add bias rank 2",
        "nn.sparse_softmax_cross_entropy_with_logits rank mismatch")},
    "nn.softmax_cross_entropy_with_logits int labels": "labels must be floats of the logits' "
                                                       "dtype; TF casts integer labels",
    "nn.softmax_cross_entropy_with_logits axis0": "for labels that do not sum to 1, TF's kernel "
                                                  "returns softmax - z; distflow's gradient is "
                                                  "the exact sum(z) * softmax - z",
    "nn.dropout keep_prob in TF2": "df.nn.dropout still takes TF1's keep_prob; TF2 removed it",
    "matmul matrix-vector": "a rank-1 operand is refused when the op is built (ValueError), "
                            "as TF's graph mode does",
    "convert too large int": "TypeError instead of ValueError; the message says why",
    # deliberate differences
    "feed/float to int32": "distflow refuses a feed whose values a cast would change; TF "
                           "truncates 1.5 to 1 silently",
    "feed/int too large": "distflow refuses an int feed that int32 cannot hold; TF wraps it",
    "dynamic_stitch overlap": "TF's gradient also flows to the overwritten entries; distflow's "
                              "is the exact one",
    "unsorted_segment_sum negative id (TF drops)": "distflow refuses negative ids instead of "
                                                   "dropping the rows silently",
    "getitem list index": "TF reads t[[0, 1]] as t[0, 1]; NumPy users expect a gather, so "
                          "distflow refuses it",
    "op == incompatible shapes": "TF returns a plain False for == on unbroadcastable shapes; "
                                 "distflow raises",
    "compat.v1.setdiff1d called eagerly": "compat.v1 functions build graphs, so TF1 programs "
                                          "need no disable_v2_behavior()",
    "eager var/assign read_value=False": "returns the variable instead of None",
    "cond/error number of outputs": "TF 2.21 trips an internal assert (AssertionError: [2, 3]) "
                                    "before its own TypeError, which distflow raises",
    "math.erf inf float64": "TF 2.21's float64 erf gives NaN at +-inf (its float32 erf gives "
                            "+-1); distflow gives +-1 in both, as C's erf does",
    "graph compat.v1 scalar_mul name": "compat.v1 shares TF2's scalar_mul, whose Mul is named "
                                       "scalar_mul; TF1's is named Mul",
    # not implemented
    **{name: _MISSING for name in (
        "API names tf.<top>", "API names tf.math", "API names tf.strings", "api/TF1 names present",
        "api/TF2 names present", "api/TF2 math names present", "api/train names present",
        "sets.difference", "constant string",
        "gather batch_dims=1", "op ~ int (bitwise)")},
}


def reason(case):
    """Why `case` differs from TF, or None when it should not."""
    if case in KNOWN:
        return KNOWN[case]
    for key, why in KNOWN.items():
        if key.endswith("*") and case.startswith(key[:-1]):
            return why
    return None
