"""The course's TF2 slide program: eager execution and GradientTape."""
import distflow as df

x = df.Variable(3.0)
with df.GradientTape() as tape:
    y = x * x - 4.0 * x
print(tape.gradient(y, x))        # tf.Tensor(2.0, shape=(), dtype=float32)
print(df.constant(6) * 8)         # tf.Tensor(48, shape=(), dtype=int32)
