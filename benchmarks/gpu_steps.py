"""Issue 8's GPU targets, distflow and PyTorch eager side by side on one GPU, in one process:

  W1 step   MLP 13-64-64-1, SGD 0.01, batch 32: distflow's Session plan kernel by kernel, the
            same plan replayed from a CUDA graph, and PyTorch eager. Target: the CUDA-graph step
            <= 0.3 x PyTorch's.
  W2 4096   MLP 256-1024-1024-1, SGD 0.01, batch 4096 (two batches of the 8,192 wide rows):
            distflow's plan and PyTorch eager. Target: throughput >= 0.9 x PyTorch's.

Every implementation starts from the same weights (common.py) and is fed batches already on its
device (CuPy or CUDA tensors), so no step pays a host-to-device copy. Each block of steps ends
with a device synchronization inside the timing, so a time includes the GPU's work, not only its
launches. Prints one JSON line per measurement (workloads "W1 GPU" and "W2 GPU"; run.py
`--only gpu` makes its table rows from them), then the ratios.

    python benchmarks/gpu_steps.py                 # on the GPU (CuPy and a CUDA device)
    python benchmarks/gpu_steps.py --device cpu --quick   # the same code on the CPU: a check
"""
import argparse
import time

import common

W2_GPU_BATCH = 4096


def timed(step, feeds, sync, quick):
    """Median and min per-step microseconds over blocks, each block closed by `sync()`."""
    warmup, blocks, per_block = (2, 3, 2) if quick else (30, 15, 20)
    for i in range(warmup):
        step(*feeds[i % len(feeds)])
    sync()
    times, i = [], 0
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(per_block):
            step(*feeds[i % len(feeds)])
            i += 1
        sync()
        times.append((time.perf_counter() - t0) / per_block * 1e6)
    return common.summary(times)


def distflow_steps(spec, params, device):
    """{variant: step(x, y)}: the plan kernel by kernel, and from a CUDA graph on a GPU."""
    import distflow.compat.v1 as tf
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, spec["sizes"][0]])
        y = tf.placeholder(tf.float32, [None, 1])
        h = x
        for i, (w0, b0) in enumerate(params):
            h = tf.matmul(h, tf.Variable(w0)) + tf.Variable(b0)
            if i < len(params) - 1:
                h = tf.nn.relu(h)
        loss = tf.reduce_mean(tf.square(h - y))
        train = tf.train.GradientDescentOptimizer(spec["lr"]).minimize(loss)
        init = tf.global_variables_initializer()
    steps = {}
    for variant, graphs in (("plan", False), ("cuda graph", True)):
        if graphs and device == "cpu":
            continue
        sess = tf.Session(graph=graph, device=device)
        sess.run(init)
        steps[variant] = sess.make_callable(train, [x, y], cuda_graph=graphs)
    return steps


def torch_step(spec, params, device):
    import torch
    torch.set_num_threads(1)  # on the CPU (a check), as NumPy's BLAS is pinned by run.py
    dev = torch.device("cuda" if device != "cpu" else "cpu")
    model = common.torch_mlp(params).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=spec["lr"])
    loss_fn = torch.nn.MSELoss()

    def step(xb, yb):
        opt.zero_grad(set_to_none=True)
        loss_fn(model(xb), yb).backward()
        opt.step()
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    return step, (lambda a: torch.from_numpy(a).to(dev)), sync


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="gpu", help="gpu (default) or cpu, for a check")
    p.add_argument("--quick", action="store_true", help="a few steps: checks that all runs")
    args = p.parse_args(argv)
    sync, to_device = (lambda: None), (lambda a: a)
    if args.device != "cpu":
        from distflow import backend
        from distflow.backend import gpu
        if not backend.gpu_available():
            for name in ("W1 GPU", "W2 GPU"):
                common.emit(name, "distflow", "plan", skipped="no GPU here (CuPy and a CUDA "
                            "device are needed)")
            return
        sync, to_device = gpu.synchronize, backend.cupy().asarray
    results = {}
    for workload, spec, batch in (("W1", common.W1, common.W1["batch"]),
                                  ("W2", common.W2, W2_GPU_BATCH)):
        params = common.init_params(spec["sizes"])
        x, y = common.workload_data(workload)
        host = common.batches(x, y, batch)
        name = workload + " GPU"
        feeds = [(to_device(a), to_device(b)) for a, b in host]
        for variant, step in distflow_steps(spec, params, args.device).items():
            r = timed(step, feeds, sync, args.quick)
            results[workload, "distflow", variant] = r
            common.emit(name, "distflow", variant, device=args.device, batch=batch, **r)
        try:
            step, move, tsync = torch_step(spec, params, args.device)
        except ImportError:
            common.emit(name, "torch", "eager", skipped="not installed")
            continue
        r = timed(step, [(move(a), move(b)) for a, b in host], tsync, args.quick)
        results[workload, "torch", "eager"] = r
        common.emit(name, "torch", "eager", device=args.device, batch=batch, **r)
    report(results)


def report(results):
    def us(key):
        r = results.get(key)
        return r and r["wall_us"]
    torch_w1, torch_w2 = us(("W1", "torch", "eager")), us(("W2", "torch", "eager"))
    for variant in ("plan", "cuda graph"):
        mine = us(("W1", "distflow", variant))
        if mine and torch_w1:
            print("W1 step, distflow %s / PyTorch eager: %.2fx the time%s"
                  % (variant, mine / torch_w1, " (target <= 0.3)" if variant != "plan" else ""))
    mine = us(("W2", "distflow", "plan"))
    if mine and torch_w2:
        print("W2 batch %d, distflow throughput / PyTorch eager's: %.2fx (target >= 0.9)"
              % (W2_GPU_BATCH, torch_w2 / mine))


if __name__ == "__main__":
    main()
