"""Memory: the peak RSS of W2 training (distflow against hand-written NumPy, each in a fresh
process), and whether the RSS of a long W1 run stays flat (no growth per step).

  --check w2-peak --impl numpy|distflow   peak RSS after `--steps` W2 steps (graph mode for
                                          distflow), and the RSS of the process before any model
  --check w1-flat                         RSS every `--steps`/10 steps of W1 in graph mode
                                          (Session.run with a feed); growth = last - first sample
                                          taken after the warm-up

    python benchmarks/memory.py --check w2-peak --impl distflow
    python benchmarks/memory.py --check w1-flat --steps 100000
"""
import argparse

import common


def w2_peak(impl, steps):
    spec = common.W2
    x, y = common.workload_data("W2")
    feeds = common.batches(x, y, spec["batch"])
    base = common.current_rss_mib()
    params = common.init_params(spec["sizes"])
    if impl == "numpy":
        from numpy_mlp import NumpyMLP
        step = NumpyMLP(params, spec["batch"], spec["lr"]).step
    else:
        from step_distflow import graph_step
        step = graph_step(params, spec, use_callable=False)[0]
    for i in range(steps):
        step(*feeds[i % len(feeds)])
    common.emit("memory", impl, "W2 peak RSS", steps=steps, peak_rss_mib=common.peak_rss_mib(),
                rss_before_model_mib=base, param_mib=sum(w.nbytes + b.nbytes for w, b in params) / 2**20)


def w1_flat(steps):
    from step_distflow import graph_step
    spec = common.W1
    x, y = common.workload_data("W1")
    feeds = common.batches(x, y, spec["batch"])
    step = graph_step(common.init_params(spec["sizes"]), spec, use_callable=False)[0]
    every = max(1, steps // 10)
    samples = []
    for i in range(steps):
        step(*feeds[i % len(feeds)])
        if (i + 1) % every == 0:
            samples.append(round(common.current_rss_mib(), 2))
    common.emit("memory", "distflow", "W1 RSS over steps", steps=steps, every=every,
                rss_mib=samples, growth_mib=samples[-1] - samples[0] if samples else 0.0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--check", choices=("w2-peak", "w1-flat"), required=True)
    p.add_argument("--impl", choices=("numpy", "distflow"), default="distflow")
    p.add_argument("--steps", type=int, default=None)
    args = p.parse_args(argv)
    if args.check == "w2-peak":
        w2_peak(args.impl, args.steps or 40)
    else:
        w1_flat(args.steps or 100000)


if __name__ == "__main__":
    main()
