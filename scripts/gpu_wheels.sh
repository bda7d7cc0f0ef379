#!/usr/bin/env bash
# Fetches, where pip reaches PyPI, the wheels scripts/gpu_check.sh installs on a GPU machine that
# reaches no package registry: the MPICH library and launcher (mpirun), mpi4py built for it, and
# pytest-mpi. They go to .whl/ (kept out of git), for Python 3.12 on x86-64 Linux by default.
#     bash scripts/gpu_wheels.sh [python version, default 3.12]
set -euo pipefail
cd "$(dirname "$0")/.."
PYVER=${1:-3.12}
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
mkdir -p .whl
python3 -m pip download --no-deps --only-binary=:all: --python-version "$PYVER" \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64 \
    -d .whl mpi4py==4.1.2 mpich==5.0.2 pytest-mpi==0.6
ls -la .whl
