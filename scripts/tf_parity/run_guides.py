"""Runs TensorFlow's guide notebooks cell by cell under distflow, with only the import line
changed, and says which cells run and which fail (and why): the promise that TF programs run
with only the import line changed, checked against the programs people read first.

    python scripts/tf_parity/run_guides.py PATH/function.ipynb [PATH/autodiff.ipynb ...]
    python scripts/tf_parity/run_guides.py --show 12 PATH/function.ipynb   # a cell and its output

The notebooks come from a checkout of github.com/tensorflow/docs (site/en/guide/*.ipynb); this
script downloads nothing. Cells run in order in one namespace, as in Jupyter, with their source
registered in linecache as IPython does (AutoGraph reads a function's source). Shell and magic
lines (`!pip ...`, `%matplotlib`) are skipped. A cell "runs" when it raises nothing; what it
prints is not compared with TensorFlow's here (run_examples.py does that for examples/).
Exit status 1 when any cell fails.
"""
import argparse
import contextlib
import io
import json
import linecache
import os
import sys

SWAPS = [("import tensorflow.compat.v1 as tf", "import distflow.compat.v1 as tf"),
         ("import tensorflow as tf", "import distflow as tf")]


def code_cells(path):
    with open(path) as f:
        notebook = json.load(f)
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            if "Licensed under the Apache License" in source:
                continue
            yield source


def as_distflow(source):
    lines = []
    for line in source.split("\n"):
        if line.strip().startswith(("!", "%")):
            continue
        for theirs, ours in SWAPS:
            line = line.replace(theirs, ours)
        lines.append(line)
    return "\n".join(lines)


def run_notebook(path, show=()):
    namespace = {"__name__": "__main__"}
    results = []
    name = os.path.splitext(os.path.basename(path))[0]
    for i, source in enumerate(code_cells(path)):
        source = as_distflow(source)
        filename = "<%s cell %d>" % (name, i)
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                exec(compile(source, filename, "exec"), namespace)
            error = None
        except BaseException as e:  # noqa: BLE001  (a cell may raise anything, SystemExit too)
            error = "%s: %s" % (type(e).__name__, str(e).split("\n")[0][:160])
        results.append((i, error))
        if i in show:
            print("---- %s cell %d\n%s\n---- output\n%s" % (name, i, source, out.getvalue()))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--show", type=int, action="append", default=[],
                        help="print this cell's source and output")
    args = parser.parse_args(argv)
    failed = 0
    for path in args.notebooks:
        results = run_notebook(path, set(args.show))
        bad = [(i, e) for i, e in results if e is not None]
        failed += len(bad)
        print("%s: %d of %d cells run" % (os.path.basename(path), len(results) - len(bad),
                                         len(results)))
        for i, e in bad:
            print("  cell %d: %s" % (i, e))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
