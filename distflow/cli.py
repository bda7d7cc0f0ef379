"""The `distflow` command: argument parsing only; the work is done by distflow.run.

    distflow train CONFIG [--set KEY=VALUE ...] [--device cpu|gpu|auto] [--resume] [--output DIR]
    distflow eval CHECKPOINT_OR_RUN_DIR [--csv FILE] [--split test|train]
    distflow predict RUN_DIR --csv IN [--out OUT]
    distflow info
    distflow graph CONFIG --out DIR
    distflow bench ...

Exit status: 0 done; 1 training failed (a NaN loss) or the environment is broken; 2 bad command
line, config or input file. Messages about bad input are printed once (by rank 0 under mpirun),
without a traceback.
"""
import argparse
import importlib.util
import json
import sys

from distflow.run import world
from distflow.run.config import ConfigError


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        """argparse's usage error (exit 2), printed only by rank 0 of an MPI job."""
        if world.is_chief():
            self.print_usage(sys.stderr)
            sys.stderr.write("%s: error: %s\n" % (self.prog, message))
        sys.exit(2)


def build_parser():
    p = _Parser(prog="distflow", description="Train, evaluate and inspect distflow models; "
                "run under mpirun for data-parallel training (one rank per device).")
    from distflow import __version__
    p.add_argument("--version", action="version", version="distflow " + __version__)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    t = sub.add_parser("train", help="train the model a YAML config describes")
    t.add_argument("config", metavar="CONFIG", help="a YAML config, e.g. configs/boston.yaml")
    _add_set(t)
    t.add_argument("--device", choices=("auto", "cpu", "gpu"), help="overrides the config's device")
    t.add_argument("--resume", action="store_true",
                   help="continue from the latest checkpoint in the output directory")
    t.add_argument("--output", metavar="DIR", help="the run directory (overrides output.dir)")
    t.add_argument("--no-progress", action="store_true", help="print only the final summary")

    e = sub.add_parser("eval", help="evaluate a saved model on its split or on a CSV file")
    e.add_argument("path", metavar="CHECKPOINT_OR_RUN_DIR")
    e.add_argument("--csv", metavar="FILE", help="a CSV with the model's features and target "
                   "(a classifier reports accuracy and cross-entropy)")
    e.add_argument("--split", choices=("test", "train"), default="test",
                   help="which split of the run's data (default: test)")
    _add_device_and_json(e)

    r = sub.add_parser("predict", help="predictions of a saved model for the rows of a CSV file "
                       "(a classifier: the class and the probability of each class)")
    r.add_argument("path", metavar="RUN_DIR", help="a run directory or a checkpoint file")
    r.add_argument("--csv", metavar="IN", required=True, help="a CSV with the model's features")
    r.add_argument("--out", metavar="OUT", help="output CSV (default: standard output)")
    r.add_argument("--device", choices=("auto", "cpu", "gpu"), default="cpu")

    i = sub.add_parser("info", help="versions, devices, MPI and what is wrong, if anything")
    i.add_argument("--json", action="store_true", help="print JSON instead of text")

    g = sub.add_parser("graph", help="write the model's graph for TensorBoard and Graphviz")
    g.add_argument("config", metavar="CONFIG")
    g.add_argument("--out", metavar="DIR", required=True, help="where to write the files")
    _add_set(g)

    b = sub.add_parser("bench", help="benchmarks against the peers", add_help=False)
    b.add_argument("args", nargs=argparse.REMAINDER)
    return p


def _add_set(parser):
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a config key, e.g. "
                        "--set optimizer.learning_rate=0.01 (repeatable)")


def _add_device_and_json(parser):
    parser.add_argument("--device", choices=("auto", "cpu", "gpu"), default="cpu")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


# -- commands ----------------------------------------------------------------------------------
def _train(args):
    from distflow.run import load_config, train
    config = load_config(args.config, args.overrides)
    output = args.output
    if output is None and any(o.partition("=")[0].strip() == "output.dir" for o in args.overrides):
        output = config["output"]["dir"]  # chosen on the command line: as explicit as --output
    train(config, resume=args.resume, output=output, device=args.device,
          progress=not args.no_progress)
    return 0


def _eval(args):
    from distflow.distribute import runtime
    from distflow.run import evaluate
    ctx = runtime.init(device=world.resolve_device(args.device))
    result = evaluate(args.path, csv=args.csv, split=args.split, communicator=ctx.communicator,
                      device=ctx.device)
    if args.json:
        world.say(json.dumps(result, indent=2))
    elif "accuracy" in result:
        world.say("checkpoint: %s (epoch %d, step %d)\ndata: %s, %d rows\naccuracy %.4f  "
                  "cross-entropy %.4f" % (result["checkpoint"], result["epoch"], result["step"],
                                          result["data"], result["count"], result["accuracy"],
                                          result["cross_entropy"]))
    else:
        world.say("checkpoint: %s (epoch %d, step %d)\ndata: %s, %d rows\nMSE %.4f  RMSE %.4f  "
                  "MAE %.4f" % (result["checkpoint"], result["epoch"], result["step"],
                                result["data"], result["count"], result["mse"], result["rmse"],
                                result["mae"]))
    return 0


def _predict(args):
    if not world.is_chief():
        return 0  # one process is enough; under mpirun the other ranks have nothing to do
    from distflow.run import predict
    predictions, where = predict(args.path, args.csv, args.out,
                                 device=world.resolve_device(args.device))
    if args.out is None:
        sys.stdout.write(where)
    else:
        print("distflow: wrote %d predictions to %s" % (len(predictions), where), file=sys.stderr)
    return 0


def _info(args):
    from distflow.run import info
    report = info.collect()
    if args.json:
        world.say(json.dumps(report, indent=2))
    else:
        world.say(info.format_info(report))
    return 0


def _graph(args):
    from distflow.run import export_graph, load_config
    config = load_config(args.config, args.overrides)
    if world.is_chief():
        paths = export_graph(config, args.out)
        print("distflow: wrote the graph (%d ops) to %s (TensorBoard: tensorboard --logdir %s) and "
              "%s (Graphviz: dot -Tsvg %s -o graph.svg)" % (paths["ops"], paths["events"],
                                                            args.out, paths["dot"], paths["dot"]))
    return 0


def _bench(args):
    # Filled in by the benchmark work (distflow/run/bench.py with main(argv) -> exit status).
    if importlib.util.find_spec("distflow.run.bench") is None:
        raise ConfigError("distflow bench is not available in this version of distflow")
    from distflow.run import bench
    return bench.main(args.args)


COMMANDS = {"train": _train, "eval": _eval, "predict": _predict, "info": _info,
            "graph": _graph, "bench": _bench}


def main(argv=None):
    import signal
    import distflow
    if signal.getsignal(signal.SIGINT) is distflow._interrupted_while_starting:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # from here on, main's except
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Anywhere, start-up included (imports, MPI, loading data): one line, exit 130 as a
        # shell reports SIGINT. The launcher's rank, not the runtime's: it may not exist yet.
        import signal
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt this
        if world.launcher_rank() == 0:
            sys.stdout.flush()
            sys.stderr.write("distflow: interrupted\n")
            sys.stderr.flush()
        return 130


def _main(argv):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # bench parses its own options: "--" keeps argparse off them
        argv = ["bench", "--"] + argv[1:]
    args = build_parser().parse_args(argv)
    from distflow.run.trainer import TrainingDiverged
    try:
        return COMMANDS[args.command](args)
    except ConfigError as e:
        if world.is_chief():  # every rank meets the same bad input: one message is enough
            world.fail(str(e), for_all_ranks=True)
        return 2
    except TrainingDiverged as e:
        if world.is_chief():  # every rank sees the same all-reduced loss and stops together
            world.fail(str(e), for_all_ranks=True)
        return 1
    except ImportError as e:
        if "mpi4py" not in str(e):
            raise
        if world.is_chief():
            world.fail(str(e))
        return 1
    except KeyboardInterrupt:  # "distflow: interrupted", once for the whole job
        import signal
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt this
        from distflow.distribute import runtime
        runtime.interrupted()  # and the watchdog tells ranks still in a collective why
        return 130
    except BrokenPipeError:  # `distflow ... | head`: the reader left; say nothing more
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
