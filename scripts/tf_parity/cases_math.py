"""TF2 eager math, as a student of a TF1/TF2 course on the Boston housing data would write it.

Covers: elementwise unary ops (as `m.X` and `m.math.X`), binary ops with broadcasting and Python
scalars, the Python operators on tensors, dtype rules (int/int true division, int+float, Python
floats with int tensors, float64, bool), reductions (axis None/int/negative/list, keepdims),
argmax/argmin, matmul (transposes, batches, bad ranks and shapes), comparisons and logical ops,
where (1- and 3-argument), cast, clip_by_value, add_n, cumsum, further tf.math functions; and the
gradients of the float cases, including at the awkward points (abs at 0, ties in maximum and
reduce_max, sqrt, pow with a negative base or a zero exponent, clip_by_value at its bounds).
Names TF has and distflow lacks show up as "distflow raises AttributeError".
"""
import numpy as np

from harness import check

f32, f64, i32, i64 = np.float32, np.float64, np.int32, np.int64

# A Boston-housing-like batch: 5 rows of 3 features, a weight column, targets.
X = np.array([[0.00632, 18.0, 2.31], [0.02731, 0.0, 7.07], [0.02729, 0.0, 7.07],
              [0.03237, 0.0, 2.18], [0.06905, 0.0, 2.18]], f32)
W = np.array([[0.5], [-0.25], [1.0]], f32)
Y = np.array([[24.0], [21.6], [34.7], [33.4], [36.2]], f32)
V = np.array([-2.0, -0.5, 0.0, 0.5, 3.0], f32)       # includes 0 and negatives
P = np.array([0.25, 1.0, 4.0, 9.0], f32)              # positive
A23 = np.array([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]], f32)
I23 = np.array([[1, -2, 3], [4, 5, -6]], i32)


# TF2 has these under tf.math only (tf.log, tf.rsqrt, ... are TF1 names).
MATH_ONLY = {"rsqrt", "log", "log1p", "reciprocal"}


def unary_case(name, x, grad=True, math_too=True):
    """m.name(x) (where TF2 has it at the top level) and m.math.name(x)."""
    if name not in MATH_ONLY:
        check("%s(%s)" % (name, x.dtype), lambda m, t: getattr(m, name)(t), [x], grad=grad)
    if math_too:
        check("math.%s(%s)" % (name, x.dtype), lambda m, t: getattr(m.math, name)(t), [x],
              grad=grad)


# -- Elementwise unary ops ------------------------------------------------------------------------
for _name in ("abs", "negative", "sign", "square", "sin", "cos", "tanh", "sigmoid", "exp"):
    unary_case(_name, V)
for _name in ("sqrt", "rsqrt", "log", "log1p", "reciprocal"):
    unary_case(_name, P)
unary_case("sqrt", np.array([0.0, 1.0], f32))             # gradient inf at 0
unary_case("log", np.array([0.0, -1.0], f32), grad=False)  # -inf and nan
unary_case("abs", np.array([-3, 0, 2], i32), grad=False, math_too=False)
unary_case("square", np.array([-3, 0, 2], i32), grad=False, math_too=False)
unary_case("negative", np.array([-3, 0, 2], i32), grad=False, math_too=False)
unary_case("sign", np.array([-3, 0, 2], i32), grad=False, math_too=False)
unary_case("exp", V.astype(f64))
check("sqrt(int32) error", lambda m, t: m.sqrt(t), [np.array([4], i32)])
check("exp(python float)", lambda m: m.exp(1.0), [])
check("square(python list)", lambda m: m.square([1.0, 2.0]), [])
check("round half to even", lambda m, t: m.round(t), [np.array([0.5, 1.5, 2.5, -0.5], f32)])
check("math.floor", lambda m, t: m.math.floor(t), [V], grad=True)
check("math.ceil", lambda m, t: m.math.ceil(t), [V])
check("tan", lambda m, t: m.tan(t), [V], grad=True)
check("math.expm1", lambda m, t: m.math.expm1(t), [V], grad=True)
check("math.softplus", lambda m, t: m.math.softplus(t), [V], grad=True)
check("math.log_sigmoid", lambda m, t: m.math.log_sigmoid(t), [V], grad=True)
check("math.erf", lambda m, t: m.math.erf(t), [V], grad=True)
check("atan", lambda m, t: m.atan(t), [V], grad=True)
check("math.is_nan", lambda m, t: m.math.is_nan(m.math.log(t)), [V])
check("math.is_finite", lambda m, t: m.math.is_finite(m.math.log(t)), [V])

# -- Binary ops ---------------------------------------------------------------------------------
for _name in ("add", "subtract", "multiply", "divide", "truediv", "maximum", "minimum", "pow"):
    check("%s broadcast (2,3)x(3,)" % _name, lambda m, a, b, n=_name: getattr(m, n)(a, b),
          [np.abs(A23) + 0.5, np.array([1.0, 2.0, 0.5], f32)], grad=True)
    check("math.%s broadcast (5,1)x(1,3)" % _name,
          lambda m, a, b, n=_name: getattr(m.math, n)(a, b),
          [Y / 10, np.array([[1.0, 2.0, 0.5]], f32)], grad=True)
check("squared_difference", lambda m, a, b: m.math.squared_difference(a, b), [Y, Y[::-1]],
      grad=True)
check("floordiv float", lambda m, a, b: m.math.floordiv(a, b), [V, np.array([2.0], f32)], grad=True)
check("floordiv int negative", lambda m, a, b: m.math.floordiv(a, b),
      [np.array([7, -7, 7, -7], i32), np.array([2, 2, -2, -2], i32)])
check("floormod int negative", lambda m, a, b: m.math.floormod(a, b),
      [np.array([7, -7, 7, -7], i32), np.array([2, 2, -2, -2], i32)])
check("mod float", lambda m, a, b: m.math.mod(a, b), [V, np.array([0.75], f32)], grad=True)
check("floordiv int by zero", lambda m, a, b: m.math.floordiv(a, b),
      [np.array([1], i32), np.array([0], i32)])
check("divide float by zero", lambda m, a, b: m.divide(a, b),
      [np.array([1.0, -1.0, 0.0], f32), np.zeros(3, f32)])
check("divide_no_nan", lambda m, a, b: m.math.divide_no_nan(a, b),
      [np.array([1.0, 0.0], f32), np.array([0.0, 2.0], f32)])
check("add python scalar", lambda m, a: m.add(a, 1), [X], grad=True)
check("multiply python scalar first", lambda m, a: m.multiply(2.5, a), [X], grad=True)
check("add python scalars only", lambda m: m.add(1, 2), [])
check("add python lists", lambda m: m.add([1.0, 2.0], [3.0, 4.0]), [])
check("add shape mismatch", lambda m, a, b: m.add(a, b), [A23, np.ones(2, f32)])
check("pow int", lambda m, a, b: m.pow(a, b), [np.array([2, 3], i32), np.array([3, 2], i32)])
check("pow int negative exponent", lambda m, a, b: m.pow(a, b),
      [np.array([2], i32), np.array([-1], i32)])
check("scalar_mul", lambda m, a: m.math.scalar_mul(3.0, a), [X], grad=True)

# -- Operators ----------------------------------------------------------------------------------
check("op +", lambda m, a, b: a + b, [X, X[::-1].copy()], grad=True)
check("op - broadcast", lambda m, a, b: a - b, [X, X[0]], grad=True)
check("op *", lambda m, a, b: a * b, [X, X], grad=True)
check("op /", lambda m, a, b: a / b, [X + 1, Y], grad=True)
check("op //", lambda m, a, b: a // b, [V, np.array([0.75], f32)])
check("op %", lambda m, a: a % 0.75, [V], grad=True)
check("op **", lambda m, a: a ** 2, [V], grad=True)
check("op ** 0.5", lambda m, a: a ** 0.5, [P], grad=True)
check("op rpow", lambda m, a: 2.0 ** a, [V], grad=True)
check("op @", lambda m, a, b: a @ b, [X, W], grad=True)
check("op unary -", lambda m, a: -a, [V], grad=True)
check("op abs()", lambda m, a: abs(a), [V], grad=True)
check("op radd/rsub/rtruediv", lambda m, a: (1 + a, 1 - a, 1 / a), [P], grad=True)
check("op compare < <= > >=", lambda m, a: (a < 0, a <= 0, a > 0, a >= 0), [V])
check("op == !=", lambda m, a, b: (a == b, a != b), [V, V[::-1].copy()])
check("op == python scalar", lambda m, a: a == 0.5, [V])
check("op == None", lambda m, a: (a == None, a != None), [V])  # noqa: E711
check("op == incompatible shapes", lambda m, a, b: a == b, [V, np.ones(2, f32)])
check("op & | ~ bool", lambda m, a, b: (a & b, a | b, ~a),
      [np.array([True, False, True]), np.array([True, True, False])])
check("op ^ bool", lambda m, a, b: a ^ b,
      [np.array([True, False, True]), np.array([True, True, False])])
check("op ~ int (bitwise)", lambda m, a: ~a, [np.array([0, 5], i32)])
check("op int tensor * python float", lambda m, a: a * 0.5, [np.array([1, 2], i32)])
check("op float tensor * python int", lambda m, a: a * 2, [V], grad=True)
check("op int tensor * integral python float", lambda m, a: a * 2.0, [np.array([1, 2], i32)])
check("add int tensor, python float", lambda m, a: m.add(a, 1.5), [np.array([1, 2], i32)])
check("op float tensor + python bool", lambda m, a: a + True, [V])
check("op int tensor + python int", lambda m, a: a + 2, [np.array([1, 2], i32)])
check("op python int / int tensor", lambda m, a: 1 / a, [np.array([1, 2], i32)])

# -- dtype rules --------------------------------------------------------------------------------
check("int32/int32 truediv -> float64", lambda m, a, b: m.divide(a, b),
      [np.array([1, 3], i32), np.array([2, 2], i32)])
check("int32 / int32 operator", lambda m, a, b: a / b,
      [np.array([1, 3], i32), np.array([2, 2], i32)])
check("int64/int64 truediv", lambda m, a, b: m.math.truediv(a, b),
      [np.array([1, 3], i64), np.array([2, 2], i64)])
check("add int32+float32", lambda m, a, b: m.add(a, b), [np.array([1], i32), np.array([1.0], f32)])
check("op int32+float32", lambda m, a, b: a + b, [np.array([1], i32), np.array([1.0], f32)])
check("multiply float32*float64", lambda m, a, b: m.multiply(a, b),
      [np.array([1.0], f32), np.array([1.0], f64)])
check("matmul float32@float64", lambda m, a, b: m.matmul(a, b), [X, W.astype(f64)])
check("float64 ops stay float64", lambda m, a, b: (a * b + 1.0, m.reduce_mean(a), m.sqrt(a)),
      [P.astype(f64), P.astype(f64)], grad=True)
check("constant python float dtype", lambda m: m.constant(1.5), [])
check("constant python int dtype", lambda m: m.constant([1, 2]), [])
check("constant numpy float64 kept", lambda m: m.constant(np.array([1.5])), [])
check("bool + bool", lambda m, a, b: m.add(a, b), [np.array([True]), np.array([False])])
check("reduce_sum bool", lambda m, a: m.reduce_sum(a), [np.array([True, False, True])])
check("reduce_mean int truncates", lambda m, a: m.reduce_mean(a), [np.array([1, 2], i32)])

# -- Reductions ---------------------------------------------------------------------------------
T3 = np.arange(24, dtype=f32).reshape(2, 3, 4) / 7.0
for _name in ("reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod",
              "reduce_logsumexp"):
    for _axis, _kd in ((None, False), (0, False), (-1, True), ([0, 2], False), ((1,), True)):
        check("%s axis=%s keepdims=%s" % (_name, _axis, _kd),
              lambda m, t, n=_name, a=_axis, k=_kd: getattr(m.math, n)(t, axis=a, keepdims=k),
              [T3], grad=True)
check("reduce_sum int32", lambda m, t: m.reduce_sum(t, axis=1), [I23])
check("reduce_max int32", lambda m, t: m.reduce_max(t, axis=0), [I23])
check("reduce_sum axis out of range", lambda m, t: m.reduce_sum(t, axis=2), [A23])
check("reduce_sum axis as tensor", lambda m, t: m.reduce_sum(t, axis=m.constant(1)), [A23],
      grad=True)
check("reduce_max ties grad", lambda m, t: m.reduce_max(t, axis=1),
      [np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], f32)], grad=True)
check("reduce_min ties grad all", lambda m, t: m.reduce_min(t),
      [np.array([[1.0, 3.0], [1.0, 2.0]], f32)], grad=True)
check("reduce_prod with zeros grad", lambda m, t: m.reduce_prod(t, axis=1),
      [np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 3.0], [1.0, 2.0, 3.0]], f32)], grad=True)
check("reduce_logsumexp -inf", lambda m, t: m.reduce_logsumexp(t, axis=1),
      [np.array([[-np.inf, -np.inf], [0.0, -np.inf]], f32)])
check("reduce_logsumexp large", lambda m, t: m.reduce_logsumexp(t),
      [np.array([1000.0, 1000.0], f32)], grad=True)
check("reduce_max empty", lambda m, t: m.reduce_max(t), [np.zeros((0,), f32)])
check("reduce_sum empty", lambda m, t: m.reduce_sum(t), [np.zeros((0, 3), f32)])
check("reduce_any/all", lambda m, t: (m.reduce_any(t, axis=1), m.reduce_all(t)),
      [np.array([[True, False], [False, False]])])
check("math.reduce_any", lambda m, t: m.math.reduce_any(t), [np.array([False, True])])
check("math.reduce_std/variance", lambda m, t: (m.math.reduce_std(t, axis=0),
                                                m.math.reduce_variance(t)), [X], grad=True)
check("math.reduce_euclidean_norm", lambda m, t: m.math.reduce_euclidean_norm(t, axis=1),
      [X], grad=True)
check("norm", lambda m, t: m.norm(t), [X], grad=True)
check("math.count_nonzero", lambda m, t: m.math.count_nonzero(t), [V])
check("MSE as a course writes it", lambda m, x, w, y: m.reduce_mean(m.square(m.matmul(x, w) - y)),
      [X, W, Y], grad=True)

# -- argmax / argmin ----------------------------------------------------------------------------
check("argmax default axis 0", lambda m, t: m.argmax(t), [A23])
check("argmax axis=1", lambda m, t: m.math.argmax(t, axis=1), [A23])
check("argmin axis=-1", lambda m, t: m.argmin(t, axis=-1), [A23])
check("argmax ties first", lambda m, t: m.argmax(t), [np.array([1.0, 3.0, 3.0], f32)])
check("argmax output_type int32", lambda m, t: m.argmax(t, axis=1, output_type=m.int32), [A23])
check("argmax int input", lambda m, t: m.argmax(t, axis=0), [I23])
check("argmax axis out of range", lambda m, t: m.argmax(t, axis=2), [A23])
check("argmax 1-D", lambda m, t: m.math.argmin(t), [V])

# -- matmul -------------------------------------------------------------------------------------
B = np.arange(12, dtype=f32).reshape(3, 4) / 5
check("matmul 2-D", lambda m, a, b: m.matmul(a, b), [A23, B], grad=True)
check("matmul transpose_a", lambda m, a, b: m.matmul(a, b, transpose_a=True),
      [A23.T.copy(), B], grad=True)
check("matmul transpose_b", lambda m, a, b: m.matmul(a, b, transpose_b=True),
      [A23, B.T.copy()], grad=True)
check("matmul both transposed", lambda m, a, b: m.linalg.matmul(a, b, transpose_a=True,
                                                                  transpose_b=True),
      [A23.T.copy(), B.T.copy()], grad=True)
check("matmul batched 3-D", lambda m, a, b: m.matmul(a, b),
      [np.stack([A23, 2 * A23]), np.stack([B, -B])], grad=True)
check("matmul batched x 2-D", lambda m, a, b: m.matmul(a, b), [np.stack([A23, 2 * A23]), B],
      grad=True)
check("matmul int32", lambda m, a, b: m.matmul(a, b), [I23, I23.T.copy()])
check("matmul matrix-vector", lambda m, a, b: m.matmul(a, b), [A23, np.ones(3, f32)])
check("matmul shape mismatch", lambda m, a, b: m.matmul(a, b), [A23, A23])
check("matvec", lambda m, a, b: m.linalg.matvec(a, b), [A23, np.ones(3, f32)], grad=True)
check("tensordot", lambda m, a, b: m.tensordot(a, b, axes=1), [A23, B], grad=True)
check("transpose then matmul (normal eq.)",
      lambda m, x, y: m.matmul(m.transpose(x), y), [X, Y], grad=True)
check("linalg.inv (normal equation)",
      lambda m, x: m.linalg.inv(m.matmul(x, x, transpose_a=True)), [X.astype(f64)], grad=True,
      rtol=1e-4)

# -- Comparisons and logical ops ---------------------------------------------------------------
for _name in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal"):
    check("%s broadcast" % _name, lambda m, a, b, n=_name: getattr(m, n)(a, b),
          [A23, np.array([1.0, 5.0, 3.0], f32)])
check("math.equal python scalar", lambda m, a: m.math.equal(a, 0), [I23])
check("equal int vs float", lambda m, a, b: m.equal(a, b), [I23, A23])
_BA, _BB = np.array([True, False, True, False]), np.array([True, True, False, False])
check("logical_and/or/not", lambda m, a, b: (m.logical_and(a, b), m.logical_or(a, b),
                                             m.math.logical_not(a)), [_BA, _BB])
check("math.logical_xor", lambda m, a, b: m.math.logical_xor(a, b), [_BA, _BB])
check("logical_and on floats", lambda m, a, b: m.logical_and(a, b), [V, V])

# -- where, cast, clip_by_value, add_n, cumsum ---------------------------------------------------
check("where 3-arg broadcast", lambda m, c, a, b: m.where(c, a, b),
      [np.array([True, False, True]), A23, np.zeros((2, 1), f32)], grad=True)
check("where 3-arg python scalar", lambda m, a: m.where(a > 0, a, 0.0), [V], grad=True)
check("where python ints", lambda m, a: m.where(a > 0, 1, 0), [V])
check("where 1-arg", lambda m, c: m.where(c), [np.array([[True, False], [False, True]])])
check("where 1-arg on floats", lambda m, t: m.where(t), [V])
check("where int condition 3-arg", lambda m, c, a: m.where(c, a, a),
      [np.array([1, 0], i32), np.array([1.0, 2.0], f32)])
check("where one of x/y None", lambda m, c, a: m.where(c, a), [np.array([True]), V[:1]])
check("cast float->int truncates", lambda m, t: m.cast(t, m.int32),
      [np.array([-1.7, -0.5, 0.5, 1.7, 2.999], f32)])
check("cast float->bool", lambda m, t: m.cast(t, m.bool), [V])
check("cast bool->float", lambda m, t: m.cast(t, m.float32), [_BA])
check("cast int->float64 string dtype", lambda m, t: m.cast(t, "float64"), [I23])
check("cast float32->float64 grad", lambda m, t: m.cast(t, m.float64) * 2.0, [V], grad=True)
check("cast float->int grad", lambda m, t: m.cast(m.cast(t, m.int32), m.float32), [V], grad=True)
check("cast python list", lambda m: m.cast([1, 2], m.float32), [])
check("clip_by_value", lambda m, t: m.clip_by_value(t, -0.5, 0.5), [V], grad=True)
check("clip_by_value tensor bounds grad", lambda m, t, lo, hi: m.clip_by_value(t, lo, hi),
      [V, np.array(-0.5, f32), np.array(0.5, f32)], grad=True)
check("clip_by_value int", lambda m, t: m.clip_by_value(t, 0, 3), [I23])
check("clip_by_value int tensor, float bounds", lambda m, t: m.clip_by_value(t, 0.0, 3.0), [I23])
check("add_n", lambda m, a, b, c: m.add_n([a, b, c]), [X, X, X], grad=True)
check("math.add_n single", lambda m, a: m.math.add_n([a]), [X], grad=True)
check("add_n dtype mismatch", lambda m, a, b: m.add_n([a, b]), [I23, A23])
check("add_n shape mismatch", lambda m, a, b: m.add_n([a, b]), [A23, np.ones(3, f32)])
check("cumsum", lambda m, t: m.cumsum(t, axis=1), [A23], grad=True)
check("math.cumsum exclusive reverse", lambda m, t: m.math.cumsum(t, exclusive=True, reverse=True),
      [V], grad=True)
check("math.cumprod", lambda m, t: m.math.cumprod(t), [P], grad=True)
check("math.top_k", lambda m, t: tuple(m.math.top_k(t, k=2)), [V])

# -- Gradients at awkward points --------------------------------------------------------------
check("abs at 0 grad", lambda m, t: m.abs(t), [np.array([-1.0, 0.0, 1.0], f32)], grad=True)
check("maximum ties grad", lambda m, a, b: m.maximum(a, b),
      [np.array([1.0, 2.0, 3.0], f32), np.array([1.0, 1.0, 3.0], f32)], grad=True)
check("minimum ties grad", lambda m, a, b: m.minimum(a, b),
      [np.array([1.0, 2.0, 3.0], f32), np.array([1.0, 1.0, 3.0], f32)], grad=True)
check("maximum with python 0 (relu)", lambda m, a: m.maximum(a, 0.0), [V], grad=True)
check("sqrt at 0 grad", lambda m, t: m.sqrt(t), [np.array([0.0, 4.0], f32)], grad=True)
check("pow negative base", lambda m, a, b: m.pow(a, b),
      [np.array([-2.0, -2.0, 2.0], f32), np.array([2.0, 3.0, 2.0], f32)], grad=True)
check("pow zero base zero exponent", lambda m, a, b: m.pow(a, b),
      [np.array([0.0, 0.0, 0.0], f32), np.array([0.0, 1.0, 2.0], f32)], grad=True)
check("pow zero exponent", lambda m, a, b: m.pow(a, b),
      [np.array([-3.0, 2.0], f32), np.array([0.0, 0.0], f32)], grad=True)
check("pow fractional exponent of negative", lambda m, a: m.pow(a, 0.5),
      [np.array([-4.0, 4.0], f32)], grad=True)
check("clip_by_value at bounds grad", lambda m, t: m.clip_by_value(t, -1.0, 1.0),
      [np.array([-1.0, 1.0, 0.0, 2.0], f32)], grad=True)
check("clip_by_value bounds at bounds grad", lambda m, t, lo, hi: m.clip_by_value(t, lo, hi),
      [np.array([-1.0, 1.0, 0.0, 2.0, -3.0], f32), np.array(-1.0, f32), np.array(1.0, f32)],
      grad=True)
check("divide grad wrt both (broadcast)", lambda m, a, b: m.divide(a, b), [X, Y], grad=True)
check("floormod grad", lambda m, a, b: m.math.floormod(a, b),
      [np.array([5.5, -5.5], f32), np.array([2.0, 2.0], f32)], grad=True)
check("log at 0 grad", lambda m, t: m.math.log(t), [np.array([0.0, 1.0], f32)], grad=True)
check("reciprocal at 0 grad", lambda m, t: m.math.reciprocal(t), [np.array([0.0, 2.0], f32)],
      grad=True)
check("sign grad", lambda m, t: m.sign(t) * t, [V], grad=True)
check("reduce_mean grad", lambda m, t: m.reduce_mean(t, axis=0), [X], grad=True)
check("square then sqrt at 0 grad", lambda m, t: m.sqrt(m.square(t)),
      [np.array([0.0, -2.0], f32)], grad=True)
