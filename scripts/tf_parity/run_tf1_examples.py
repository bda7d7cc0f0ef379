"""Runs TF 1.x programs as they are, with only the import lines changed to distflow (`import
tensorflow as tf` of a TF 1.x program is `import distflow.compat.v1 as tf`), on small
local MNIST in place of the download, and says whether each ran and what it printed last.

    python scripts/tf_parity/run_tf1_examples.py PATH/linear_regression.py \\
        PATH/neural_network_raw.py PATH/multilayer_perceptron.py [--timeout 600]

Made for aymericdamien/TensorFlow-Examples (tensorflow_v1/examples/...): their
`input_data.read_data_sets("/tmp/data/", one_hot=True)` reads the four MNIST IDX files written
here into a temporary directory (5,500 training and 200 test images of ten learnable classes;
the directory a program names in read_data_sets is pointed at it). Exit status 1 when a program fails.
"""
import argparse
import gzip
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

SWAPS = [(r"^(\s*)import tensorflow\.compat\.v1 as tf\b", r"\1import distflow.compat.v1 as tf"),
         (r"^(\s*)import tensorflow as tf\b", r"\1import distflow.compat.v1 as tf"),
         (r"^(\s*)from tensorflow\.examples\.", r"\1from distflow.examples.")]


def write_idx_mnist(directory, train=5500, test=200, seed=0):
    """The four MNIST files in their IDX layout (big-endian header, uint8 data, gzip)."""
    rng = np.random.default_rng(seed)
    patterns = rng.uniform(0, 255, (10, 28, 28))
    for prefix, n in (("train", train), ("t10k", test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = (patterns[labels] * 0.5 + rng.uniform(0, 255, (n, 28, 28)) * 0.5)
        with gzip.open(os.path.join(directory, prefix + "-images-idx3-ubyte.gz"), "wb") as f:
            f.write(np.array([2051, n, 28, 28], ">u4").tobytes())
            f.write(images.astype(np.uint8).tobytes())
        with gzip.open(os.path.join(directory, prefix + "-labels-idx1-ubyte.gz"), "wb") as f:
            f.write(np.array([2049, n], ">u4").tobytes())
            f.write(labels.tobytes())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("programs", nargs="+")
    parser.add_argument("--timeout", type=float, default=600,
                        help="seconds a program may run (default 600)")
    args = parser.parse_args(argv)
    programs = args.programs
    work = tempfile.mkdtemp(prefix="tf1_examples_")
    data = os.path.join(work, "data") + "/"
    os.makedirs(data)
    write_idx_mnist(data)
    env = dict(os.environ, MPLBACKEND="Agg")
    status = 0
    for path in programs:
        source = open(path).read()
        for pattern, repl in SWAPS:
            source = re.sub(pattern, repl, source, flags=re.M)
        source = re.sub(r"""read_data_sets\(\s*(['"])[^'"]*\1""",
                        lambda m: "read_data_sets(%r" % data, source)
        script = os.path.join(work, os.path.basename(path))
        with open(script, "w") as f:
            f.write(source)
        start = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, script], cwd=work, env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=args.timeout)
            lines, ok = proc.stdout.strip().splitlines() or [""], proc.returncode == 0
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            lines = (out.strip().splitlines() or [""]) + ["still running after %gs: stopped"
                                                         % args.timeout]
            ok = False
        status |= not ok
        print("%s: %s in %.0fs; last line: %s" % (os.path.basename(path),
                                                  "runs" if ok else "FAILS",
                                                  time.perf_counter() - start, lines[-1]),
              flush=True)
        if not ok:
            print("\n".join("    " + ln for ln in lines[-15:]))
    return status


if __name__ == "__main__":
    sys.exit(main())
