"""W1 / W2 with hand-written NumPy (preallocated buffers): the baseline of the step ratios.

    python benchmarks/step_numpy.py --workload W1 [--optimizer adam]
"""
import common
from numpy_mlp import NumpyMLP


def main(argv=None):
    args = common.step_arguments(__doc__, argv)
    common.pin_to_one_core()
    spec = getattr(common, args.workload)
    x, y = common.workload_data(args.workload)
    adam = common.ADAM if args.optimizer == "adam" else None
    model = NumpyMLP(common.init_params(spec["sizes"]), spec["batch"],
                     adam["lr"] if adam else spec["lr"], adam)
    feeds = common.batches(x, y, spec["batch"])
    first = model.step(*feeds[0])
    warmup, blocks, per_block = common.scale(args.workload, args.quick)
    stats = common.time_steps(model.step, feeds, warmup, blocks, per_block)
    common.emit(common.workload_label(args.workload, args.optimizer), "numpy", "step", first_loss=first,
                peak_rss_mib=common.peak_rss_mib(), **stats)


if __name__ == "__main__":
    main()
