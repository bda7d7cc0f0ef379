"""W1 / W2 with JAX (an optional peer): the MLP step as one jax.jit-compiled function.

    python benchmarks/step_jax.py --workload W1 [--optimizer adam]

What a JAX user writes for speed: loss, jax.grad and the update in one jitted function of
(params, optimizer state, x, y), with the params and state donated so XLA may update them in
place. Same data, initial weights and update rule as the other peers: plain SGD, or Adam written
in JAX in TF1's form (optax's scale_by_adam arithmetic with epsilon added to sqrt(v) after the
bias correction moved into the step size, as distflow's and the NumPy baseline's Adam do). The
batches are placed on the device once, before timing (JAX's best case: no host copy per step),
and every timed step waits for its result (block_until_ready), as the synchronous peers do.
The process is pinned to one core before jax is imported: XLA's CPU client ignores its thread
flags and would otherwise use every core.
"""
import os
import sys

import common


def make_step(jax, jnp, n_layers, optimizer, lr):
    def loss_fn(params, x, y):
        h = x
        for i in range(n_layers):
            w, b = params[i]
            h = h @ w + b
            if i < n_layers - 1:
                h = jnp.maximum(h, 0)
        return jnp.mean(jnp.square(h - y))

    value_and_grad = jax.value_and_grad(loss_fn)

    if optimizer == "sgd":
        def step(params, state, x, y):
            loss, grads = value_and_grad(params, x, y)
            params = jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)
            return params, state, loss
    else:
        a = common.ADAM
        b1, b2, eps = a["beta1"], a["beta2"], a["epsilon"]

        def step(params, state, x, y):
            loss, grads = value_and_grad(params, x, y)
            m, v, t = state
            t = t + 1
            lr_t = a["lr"] * jnp.sqrt(1 - b2 ** t) / (1 - b1 ** t)
            m = jax.tree_util.tree_map(lambda m_, g: b1 * m_ + (1 - b1) * g, m, grads)
            v = jax.tree_util.tree_map(lambda v_, g: b2 * v_ + (1 - b2) * g * g, v, grads)
            params = jax.tree_util.tree_map(
                lambda p, m_, v_: p - lr_t * m_ / (jnp.sqrt(v_) + eps), params, m, v)
            return params, (m, v, t), loss

    return jax.jit(step, donate_argnums=(0, 1))


def main(argv=None):
    args = common.step_arguments(__doc__, argv)
    workload = common.workload_label(args.workload, args.optimizer)
    core = common.pin_to_one_core()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        common.emit(workload, "jax", "jit", skipped="not installed")
        return
    spec = getattr(common, args.workload)
    init = common.init_params(spec["sizes"])
    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in init]
    state = ()
    if args.optimizer == "adam":
        zeros = [(jnp.zeros_like(w), jnp.zeros_like(b)) for w, b in params]
        state = (zeros, [(jnp.zeros_like(w), jnp.zeros_like(b)) for w, b in params],
                 jnp.zeros((), jnp.float32))
    jstep = make_step(jax, jnp, len(init), args.optimizer, spec["lr"])
    x, y = common.workload_data(args.workload)
    feeds = [(jax.device_put(xb), jax.device_put(yb))
             for xb, yb in common.batches(x, y, spec["batch"])]
    holder = [params, state]

    def step(xb, yb):
        holder[0], holder[1], loss = jstep(holder[0], holder[1], xb, yb)
        loss.block_until_ready()
        return loss

    first = float(step(*feeds[0]))
    warmup, blocks, per_block = common.scale(args.workload, args.quick)
    stats = common.time_steps(step, feeds, warmup, blocks, per_block)
    common.emit(workload, "jax", "jit", first_loss=first, version=jax.__version__, core=core,
                peak_rss_mib=common.peak_rss_mib(), **stats)


if __name__ == "__main__":
    sys.exit(main())
