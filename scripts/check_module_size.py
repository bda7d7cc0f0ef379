"""Fails when a module under distflow/ is over 600 lines (a module that size has seams to split at).

    python scripts/check_module_size.py            # checks distflow/ of this checkout
    python scripts/check_module_size.py DIR [MAX]  # another tree, another limit

Prints each offender with its line count, longest first, and exits 1; prints nothing and exits 0
when every module fits. .ci/run runs it before the tests.
"""
import os
import sys

LIMIT = 600


def oversized(root, limit=LIMIT):
    """[(lines, path)] of the .py files under `root` with more than `limit` lines, longest first."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, "rb") as f:
                    lines = sum(1 for _ in f)
                if lines > limit:
                    found.append((lines, path))
    return sorted(found, reverse=True)


def main(argv):
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    root = argv[1] if len(argv) > 1 else os.path.join(here, "distflow")
    limit = int(argv[2]) if len(argv) > 2 else LIMIT
    if not os.path.isdir(root):
        print("check_module_size: %r is not a directory" % root, file=sys.stderr)
        return 2
    found = oversized(root, limit)
    for lines, path in found:
        print("%s: %d lines (the limit is %d): split it at its seams"
              % (os.path.relpath(path), lines, limit))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
