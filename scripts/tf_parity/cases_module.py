"""tf.Module: names, name scopes, and the variables and sub-modules it finds, in TF's order."""
from harness import same


def program(tf):
    class Dense(tf.Module):
        def __init__(self, n_in, n_out, name=None):
            super().__init__(name=name)
            self.w = tf.Variable(tf.ones([n_in, n_out]), name="w")
            self.b = tf.Variable(tf.zeros([n_out]), name="b")

        def __call__(self, x):
            return tf.matmul(x, self.w) + self.b

    class MLP(tf.Module):
        def __init__(self):
            super().__init__()
            self.layers = [Dense(3, 4, name="first"), Dense(4, 1)]
            self.extra = {"z": tf.Variable(2.0, name="z"), "a": tf.Variable(1.0, name="a")}
            self.step = tf.Variable(0, trainable=False)

        @tf.Module.with_name_scope
        def __call__(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    class WithScope(tf.Module):
        def __init__(self):
            super().__init__()
            with self.name_scope:
                self.v = tf.Variable(1.0, name="v")

    m = MLP()
    with tf.name_scope("outer"):
        inner = Dense(1, 1)
    model_out = m(tf.ones([2, 3]))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(m(tf.ones([2, 3])))
    grads = tape.gradient(loss, m.trainable_variables)
    bad = None
    try:
        Dense(1, 1, name="not valid")
    except ValueError as e:
        bad = type(e).__name__
    return {
        "names": (m.name, m.name_scope.name, [s.name for s in m.submodules]),
        "variables": [v.name for v in m.variables],
        "trainable": [v.name for v in m.trainable_variables],
        "non_trainable": [v.name for v in m.non_trainable_variables],
        "scoped": (inner.w.name, inner.name_scope.name, WithScope().v.name),
        "output": model_out.numpy().tolist(),
        "grads": [None if g is None else g.numpy().round(4).tolist() for g in grads],
        "bad name": bad,
    }


def run_both():
    import os
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    import distflow as df
    ours, theirs = program(df), program(tf)
    for key in theirs:
        same("module/" + key, key, ours[key], theirs[key])


run_both()
