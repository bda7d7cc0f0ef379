"""Runs TensorFlow's tutorials/keras/regression notebook cell by cell with only the import lines
changed to distflow, on small local data in the UCI auto-mpg layout instead of the download,
and says which cells run.

    python scripts/tf_parity/regression_tutorial.py --notebook regression.ipynb [--tensorflow]

The notebook is tensorflow/docs's site/en/tutorials/keras/regression.ipynb (not shipped here:
give its path). --tensorflow runs it with TensorFlow instead (the same cells, the same data),
for comparison. Needs pandas, seaborn and matplotlib, as the tutorial does. Shell lines (`!pip`)
are not run; `%%time` is dropped. Exit status 1 when a cell fails.
"""
import argparse
import contextlib
import io
import json
import os
import re
import sys
import tempfile
import time
import traceback

import numpy as np

SWAPS = [(r"^import tensorflow as tf$", "import distflow as tf"),
         (r"^from tensorflow import keras$", "from distflow import keras"),
         (r"^from tensorflow\.keras import (.*)$", r"from distflow.keras import \1")]
URL = re.compile(r"^url = 'http[^']*auto-mpg\.data'$", re.M)


def write_auto_mpg(path, rows=120, seed=0):
    """Cars in the UCI file's layout: eight whitespace-separated columns (MPG, cylinders,
    displacement, horsepower, weight, acceleration, model year, origin), '?' for a few unknown
    horsepowers, then a tab and the quoted car name."""
    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        for i in range(rows):
            cyl = int(rng.choice([4, 6, 8]))
            disp = cyl * rng.uniform(20, 45)
            hp = disp * rng.uniform(0.4, 0.6) + 20
            weight = 1500 + disp * 7 + rng.normal(0, 150)
            accel = rng.uniform(10, 22)
            year = int(rng.integers(70, 83))
            origin = int(rng.choice([1, 2, 3]))
            mpg = max(9.0, 60 - hp * 0.12 - weight * 0.004 + (year - 70) * 0.7
                      + rng.normal(0, 1.5))
            hp_text = "?" if i % 40 == 7 else "%.1f" % hp
            f.write("%.1f   %d   %.1f      %s      %.1f      %.1f   %d  %d\t\"car %d\"\n"
                    % (mpg, cyl, disp, hp_text, weight, accel, year, origin, i))


def cells(notebook, library, data_path):
    nb = json.load(open(notebook))
    out = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if library == "distflow":
            for pattern, repl in SWAPS:
                source = re.sub(pattern, repl, source, flags=re.M)
        source = URL.sub("url = %r" % data_path, source)
        out.append(source)
    return out


def run(sources):
    namespace = {"__name__": "__main__"}
    results = []
    for i, source in enumerate(sources):
        lines = [ln for ln in source.splitlines() if not ln.startswith("%%")]
        shell = [ln for ln in lines if ln.lstrip().startswith("!")]
        code = "\n".join(ln for ln in lines if not ln.lstrip().startswith("!"))
        if shell and not "".join(ln for ln in code.splitlines()
                                 if not ln.lstrip().startswith("#")).strip():
            results.append((i, "shell", shell[0].strip()))
            continue
        start = time.perf_counter()
        buf = io.StringIO()
        try:
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                exec(compile(code, "<cell %d>" % i, "exec"), namespace)
            results.append((i, "ok", "%.1fs" % (time.perf_counter() - start)))
        except Exception as e:  # noqa: BLE001 (the report lists it)
            tb = traceback.extract_tb(e.__traceback__)
            where = next((f"line {f.lineno}" for f in reversed(tb)
                          if f.filename.startswith("<cell")), "")
            results.append((i, "FAIL", "%s: %s (%s)" % (type(e).__name__,
                                                        str(e).splitlines()[0][:160]
                                                        if str(e) else "", where)))
    return results, namespace


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--notebook", required=True)
    p.add_argument("--tensorflow", action="store_true", help="run with TensorFlow instead")
    args = p.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    work = tempfile.mkdtemp(prefix="regression_tutorial_")
    data_path = os.path.join(work, "auto-mpg.data")
    write_auto_mpg(data_path)
    os.chdir(work)  # dnn_model.keras lands here
    library = "tensorflow" if args.tensorflow else "distflow"
    results, namespace = run(cells(args.notebook, library, data_path))
    for i, status, note in results:
        print("cell %2d  %-5s %s" % (i, status, note))
    code = [r for r in results if r[1] != "shell"]
    ok = sum(1 for r in code if r[1] == "ok")
    for name, mae in sorted((namespace.get("test_results") or {}).items()):
        print("test mean absolute error %-22s %.3f" % (name, float(np.asarray(mae))))
    print("%s: %d of %d code cells run (%d shell cells not run)"
          % (library, ok, len(code), len(results) - len(code)))
    return 0 if ok == len(code) else 1


if __name__ == "__main__":
    sys.exit(main())
