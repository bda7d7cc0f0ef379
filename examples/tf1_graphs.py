"""The course's TF1 slide programs, unchanged except for the import line."""
import distflow.compat.v1 as tf

x = tf.constant(6); y = tf.constant(8); result = tf.multiply(x, y)
sess = tf.Session(); print(sess.run(result))                    # 48

x1 = tf.placeholder(tf.int32, shape=[4]); print(x1.get_shape())     # (4,)
x2 = tf.placeholder(tf.int32, shape=[None]); print(x2.get_shape())  # (?,)
print(tf.placeholder(tf.int32).get_shape())                       # <unknown>
y, _ = tf.setdiff1d(x1, [1]); print(y.get_shape())                # (?,)   data-dependent size
print(sess.run(y, feed_dict={x1: [0, 1, 1, 3]}).shape)            # (2,)
sess.close()

x = tf.Variable(3.0, dtype=tf.float32); y = x * x - 4.0 * x
train = tf.train.GradientDescentOptimizer(0.1).minimize(y)
init = tf.initializers.global_variables()
with tf.Session() as session:
    session.run(init)
    for step in range(10):
        session.run(train)
    print(session.run(x))                                         # close to 2.0
