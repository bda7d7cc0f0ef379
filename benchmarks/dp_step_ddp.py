"""W4 with PyTorch DistributedDataParallel on gloo (an optional peer): each rank runs its part of
the global batch of 32; DDP averages the gradients (with equal parts, the global-batch gradient).

    mpirun -n 2 python benchmarks/dp_step_ddp.py
"""
import argparse

import common
from dp_step_numpy_mpi import local_batches
from torch_dist import init_gloo


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    dist = init_gloo()
    if dist is None:
        common.emit("W4", "ddp-gloo", skipped="not installed")
        return
    import torch
    from torch.nn.parallel import DistributedDataParallel
    spec = common.W1
    params = common.init_params(spec["sizes"])
    model = DistributedDataParallel(common.torch_mlp(params))
    opt = torch.optim.SGD(model.parameters(), lr=spec["lr"])
    loss_fn = torch.nn.MSELoss()
    rank, size = dist.get_rank(), dist.get_world_size()
    feeds = [(torch.from_numpy(xb), torch.from_numpy(yb))
             for xb, yb in local_batches(rank, size, spec["batch"])]

    def step(xb, yb):
        opt.zero_grad(set_to_none=True)
        loss_fn(model(xb), yb).backward()
        opt.step()

    warmup, blocks, per_block = common.scale("W1", args.quick)
    if not args.quick:  # a DDP step is ~50x slower than the others: fewer steps, same time
        warmup, blocks, per_block = 30, 20, 10
    stats = common.time_steps(step, feeds, warmup, blocks, per_block, sync=dist.barrier)
    if rank == 0:
        common.emit("W4", "ddp-gloo", "step", ranks=size, version=torch.__version__,
                    param_sum=float(sum(p.detach().sum() for n, p in model.named_parameters()
                                        if n.endswith("weight"))), **stats)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
