"""W5's peer: the PyTorch script equivalent to `distflow train configs/boston.yaml`.

The same job: load the Boston data (Keras's 404/102 split), standardize features with the training
rows, build the 13-64-64-1 ReLU MLP, train 100 epochs with Adam on shuffled batches (the config's
size and learning rate; the short last batch kept), evaluate MSE/RMSE/MAE on the test split every epoch, print one
line per epoch, write metrics.jsonl, and save the final weights. run.py times it from process start
to exit.

    python benchmarks/train_torch.py --epochs 100 --out /tmp/torch_run
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch


def load(csv):
    table = np.loadtxt(csv, delimiter=",", skiprows=1)
    x, y = table[:, :-1], table[:, -1:]
    order = np.arange(len(x))
    np.random.RandomState(113).shuffle(order)
    train, test = order[:404], order[404:]
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    x = (x - mean) / np.where(std > 0, std, 1.0)
    as_t = lambda a: torch.from_numpy(a.astype(np.float32))  # noqa: E731
    return as_t(x[train]), as_t(y[train]), as_t(x[test]), as_t(y[test])


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch", type=int, default=32, help="batch size (whole_run.py passes the "
                   "config's)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate")
    p.add_argument("--out", default="runs/torch_boston")
    p.add_argument("--csv", default=os.path.join(here, "..", "distflow", "data", "boston.csv"))
    args = p.parse_args(argv)
    torch.manual_seed(42)
    start = time.perf_counter()
    xtr, ytr, xte, yte = load(args.csv)
    model = torch.nn.Sequential(torch.nn.Linear(13, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
                                torch.nn.ReLU(), torch.nn.Linear(64, 1))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = torch.nn.MSELoss()
    os.makedirs(args.out, exist_ok=True)
    gen = torch.Generator().manual_seed(42)
    with open(os.path.join(args.out, "metrics.jsonl"), "w") as log:
        for epoch in range(1, args.epochs + 1):
            order = torch.randperm(len(xtr), generator=gen)
            total = 0.0
            for i in range(0, len(xtr), args.batch):
                idx = order[i:i + args.batch]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(xtr[idx]), ytr[idx])
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            with torch.no_grad():
                err = model(xte) - yte
                mse = float((err ** 2).mean())
                mae = float(err.abs().mean())
            record = {"epoch": epoch, "train_mse": total / len(xtr), "test_mse": mse,
                      "test_rmse": math.sqrt(mse), "test_mae": mae}
            log.write(json.dumps(record) + "\n")
            print("epoch %d/%d  loss %.4f  test rmse %.3f  mae %.3f"
                  % (epoch, args.epochs, record["train_mse"], record["test_rmse"], mae))
    torch.save(model.state_dict(), os.path.join(args.out, "model.pt"))
    print("done in %.2f s: test RMSE %.3f, MAE %.3f"
          % (time.perf_counter() - start, record["test_rmse"], mae))


if __name__ == "__main__":
    main()
