"""Runs every cases_*.py here (or the ones named) and prints the differences from TensorFlow.

    /tmp/tfenv/bin/python scripts/tf_parity/run.py [cases_math.py ...]

See harness.py for what it needs and what a case is. Exit status 1 when anything differs.
"""
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # distflow from this checkout

import harness  # noqa: E402


def main(names):
    names = names or sorted(n for n in os.listdir(HERE) if n.startswith("cases_")
                            and n.endswith(".py"))
    for name in names:
        before = len(harness.MISMATCHES)
        spec = importlib.util.spec_from_file_location(name[:-3], os.path.join(HERE, name))
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
        print("%s: %d mismatches" % (name, len(harness.MISMATCHES) - before))
    return harness.report()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
