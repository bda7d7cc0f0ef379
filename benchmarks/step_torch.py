"""W1 / W2 with PyTorch eager (an optional peer): nn.Linear layers, MSELoss, torch.optim.SGD
(or torch.optim.Adam with the workloads' Adam hyper-parameters; its epsilon sits after the bias
correction, Algorithm 1's place, which costs the same).

    python benchmarks/step_torch.py --workload W1 [--optimizer adam]
"""
import sys

import common


def main(argv=None):
    args = common.step_arguments(__doc__, argv)
    workload = common.workload_label(args.workload, args.optimizer)
    common.pin_to_one_core()
    try:
        import torch
    except ImportError:
        common.emit(workload, "torch", "eager", skipped="not installed")
        return
    torch.set_num_threads(1)
    spec = getattr(common, args.workload)
    params = common.init_params(spec["sizes"])
    model = common.torch_mlp(params)
    loss_fn = torch.nn.MSELoss()
    if args.optimizer == "adam":
        a = common.ADAM
        opt = torch.optim.Adam(model.parameters(), lr=a["lr"], betas=(a["beta1"], a["beta2"]),
                               eps=a["epsilon"])
    else:
        opt = torch.optim.SGD(model.parameters(), lr=spec["lr"])
    x, y = common.workload_data(args.workload)
    feeds = [(torch.from_numpy(xb), torch.from_numpy(yb))
             for xb, yb in common.batches(x, y, spec["batch"])]

    def step(xb, yb):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    first = step(*feeds[0]).item()
    warmup, blocks, per_block = common.scale(args.workload, args.quick)
    stats = common.time_steps(step, feeds, warmup, blocks, per_block)
    common.emit(workload, "torch", "eager", first_loss=first, version=torch.__version__,
                peak_rss_mib=common.peak_rss_mib(), **stats)


if __name__ == "__main__":
    sys.exit(main())
