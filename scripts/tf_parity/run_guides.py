"""Runs TensorFlow's guide and tutorial notebooks cell by cell under distflow, with only the
import lines changed, on small local data where a cell downloads, and says which cells run and
which fail (and why): the promise that TF programs run with only the import line changed,
checked against the programs people read first.

    python scripts/tf_parity/run_guides.py --docs PATH/tensorflow-docs   # the five below
    python scripts/tf_parity/run_guides.py PATH/function.ipynb [PATH/autodiff.ipynb ...]
    python scripts/tf_parity/run_guides.py --show 12 PATH/function.ipynb   # a cell and its output
    python scripts/tf_parity/run_guides.py --tensorflow --docs ...        # the same, under TF

The notebooks come from a checkout of github.com/tensorflow/docs (GUIDES below); this script
downloads nothing. Cells run in order in one namespace per notebook, as in Jupyter, with their
source registered in linecache as IPython does (AutoGraph reads a function's source), in a fresh
temporary directory (files the notebooks save land there). Shell and magic lines (`!pip ...`,
`%matplotlib`, `%%time`) are skipped. Downloads are replaced by local stand-ins: MNIST in Keras's
cache format (mnist.npz under a temporary $KERAS_HOME/datasets, 600 training and 100 test
images of ten learnable classes) and the auto-mpg file in the UCI layout (the cell's URL is
replaced by the local path). Needs pandas, seaborn and matplotlib, as the notebooks do.

A cell "runs" when it raises nothing; what it prints is not compared with TensorFlow's here
(run_examples.py does that for examples/). Cells that need what distflow does not have (string
tensors, tf.image beyond resize) are listed in NOT_YET with the reason. Exit status 1 when a
cell not listed there fails, or when a listed one runs (the list must stay true).
"""
import argparse
import contextlib
import io
import json
import linecache
import os
import re
import sys
import tempfile
import time
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from regression_tutorial import write_auto_mpg  # noqa: E402  (this directory's module)

GUIDES = ["site/en/guide/basics.ipynb", "site/en/guide/autodiff.ipynb",
          "site/en/guide/function.ipynb", "site/en/tutorials/keras/regression.ipynb",
          "site/en/tutorials/quickstart/beginner.ipynb"]

SWAPS = [(r"^(\s*)import tensorflow\.compat\.v1 as tf\b", r"\1import distflow.compat.v1 as tf"),
         (r"^(\s*)import tensorflow as tf\b", r"\1import distflow as tf"),
         (r"^(\s*)from tensorflow import keras\b", r"\1from distflow import keras"),
         (r"^(\s*)from tensorflow\.keras import ", r"\1from distflow.keras import ")]
AUTO_MPG_URL = re.compile(r"""^(\s*url\s*=\s*)['"]https?://[^'"]*auto-mpg\.data['"]""", re.M)

# (notebook, a piece of the cell's source, why it fails): cells that need what distflow does
# not have. A cell that runs while listed here fails the check, so the list stays true.
NOT_YET = [
    ("autodiff", "tf.image.adjust_contrast", "tf.image.adjust_contrast (tf.image beyond resize)"),
    ("function", 'print(double(tf.constant("a")))', "a tf.string tensor"),
    ("function", 'print(double(tf.constant("b")))', "a tf.string tensor"),
    ("function", 'double_strings = double.get_concrete_function(tf.constant("a"))',
     "a tf.string tensor"),
    ("function", "dtype=tf.string", "tf.string"),
    ("function", "double_strings", "double_strings, the concrete function for tf.string, "
                                   "is not made (string tensors)"),
]


def code_cells(path):
    with open(path) as f:
        notebook = json.load(f)
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            if "Licensed under the Apache License" in source:
                continue
            yield source


def prepare(source, library, data):
    """The cell as it runs here: imports swapped (for distflow), downloads pointed at local
    files, shell and magic lines dropped."""
    if library == "distflow":
        for pattern, repl in SWAPS:
            source = re.sub(pattern, repl, source, flags=re.M)
    source = AUTO_MPG_URL.sub(lambda m: m.group(1) + repr(data["auto_mpg"]), source)
    return "\n".join(line for line in source.split("\n")
                     if not line.strip().startswith(("!", "%")))


def write_mnist(path, train=600, test=100, seed=0):
    """mnist.npz as Keras's cache holds it (uint8 images 28x28, uint8 labels), with ten
    classes a small dense network can tell apart: a fixed pattern per class plus noise."""
    rng = np.random.default_rng(seed)
    patterns = rng.uniform(0, 255, (10, 28, 28))

    def split(n):
        y = np.arange(n) % 10
        rng.shuffle(y)
        x = patterns[y] * 0.6 + rng.uniform(0, 255, (n, 28, 28)) * 0.4
        return x.astype(np.uint8), y.astype(np.uint8)

    (x_train, y_train), (x_test, y_test) = split(train), split(test)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def local_data(work):
    keras_home = os.path.join(work, "keras_home")
    os.makedirs(os.path.join(keras_home, "datasets"))
    write_mnist(os.path.join(keras_home, "datasets", "mnist.npz"))
    os.environ["KERAS_HOME"] = keras_home
    auto_mpg = os.path.join(work, "auto-mpg.data")
    write_auto_mpg(auto_mpg)
    return {"auto_mpg": auto_mpg}


def not_yet(name, source):
    for notebook, piece, why in NOT_YET:
        if notebook == name and piece in source:
            return why
    return None


def run_notebook(path, library, data, show=()):
    """[(cell, seconds, error or None, reason it is listed in NOT_YET or None)]."""
    name = os.path.splitext(os.path.basename(path))[0]
    namespace = {"__name__": "__main__"}
    results = []
    for i, original in enumerate(code_cells(path)):
        source = prepare(original, library, data)
        filename = "<%s cell %d>" % (name, i)
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        out = io.StringIO()
        start = time.perf_counter()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                exec(compile(source, filename, "exec"), namespace)
            error = None
        except BaseException as e:  # noqa: BLE001  (a cell may raise anything, SystemExit too)
            frames = traceback.extract_tb(e.__traceback__)
            line = next((f.lineno for f in reversed(frames) if f.filename == filename), "?")
            text = str(e).split("\n")[0][:160]
            error = "%s: %s (line %s)" % (type(e).__name__, text, line)
        results.append((i, time.perf_counter() - start, error, not_yet(name, original)))
        if i in show:
            print("---- %s cell %d\n%s\n---- output\n%s" % (name, i, source, out.getvalue()))
    try:
        import matplotlib.pyplot as plt
        plt.close("all")
    except ImportError:
        pass
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*")
    parser.add_argument("--docs", help="a checkout of tensorflow/docs: run the five notebooks")
    parser.add_argument("--show", type=int, action="append", default=[],
                        help="print this cell's source and output")
    parser.add_argument("--tensorflow", action="store_true",
                        help="run the cells with TensorFlow instead (the same local data)")
    parser.add_argument("-v", "--verbose", action="store_true", help="every cell's time")
    args = parser.parse_args(argv)
    paths = [os.path.abspath(p) for p in args.notebooks]
    if args.docs:
        paths += [os.path.join(os.path.abspath(args.docs), g) for g in GUIDES]
    if not paths:
        parser.error("give notebooks, or --docs with a tensorflow/docs checkout")
    for p in paths:
        if not os.path.isfile(p):
            parser.error("no notebook at %s" % p)
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    library = "tensorflow" if args.tensorflow else "distflow"
    work = tempfile.mkdtemp(prefix="tf_guides_")
    data = local_data(work)   # sets $KERAS_HOME, which Keras reads when it is imported
    if args.tensorflow:
        # Keras checks a cached file against MNIST's sha256 and would download the real one
        # over the stand-in: for the comparison it takes the stand-in (TF mode only)
        from keras.src.utils import file_utils
        file_utils.validate_file = lambda *a, **k: True
    status = 0
    for path in paths:
        os.chdir(tempfile.mkdtemp(dir=work))   # what a notebook saves lands beside nothing else
        results = run_notebook(path, library, data, set(args.show))
        ran = [r for r in results if r[2] is None]
        print("%s: %d of %d cells run (%s)" % (os.path.basename(path), len(ran), len(results),
                                               library))
        for i, seconds, error, why in results:
            if error is not None and why is not None:
                print("  cell %2d: not yet, needs %s" % (i, why))
            elif error is not None:
                status = 1
                print("  cell %2d: FAILS %s" % (i, error))
            elif why is not None and library == "distflow":
                status = 1
                print("  cell %2d: runs, but is listed in NOT_YET (%s): take it out" % (i, why))
            elif args.verbose:
                print("  cell %2d: runs (%.1fs)" % (i, seconds))
    return status


if __name__ == "__main__":
    sys.exit(main())
