#!/usr/bin/env bash
# Fetches, where pip reaches PyPI, the wheels scripts/gpu_check.sh installs on a GPU machine that
# reaches no package registry: the MPICH library and launcher (mpirun), mpi4py built for it, and
# pytest-mpi. They go to .whl/ (git-ignored: a device call names it in `carry`), for Python 3.12
# on x86-64 Linux by default: the GPU machines' python3 is 3.12 (/work/.library/device/KINDS.md).
# CuPy and NCCL are not fetched: the machines have cupy-cuda13x and nvidia-nccl-cu13 for their
# CUDA 13 driver, and a second CuPy (cupy-cuda12x) would overwrite the first one's files.
#     bash scripts/gpu_wheels.sh [python version, default 3.12]
set -euo pipefail
cd "$(dirname "$0")/.."
PYVER=${1:-3.12}
git check-ignore -q .whl/x.whl || { echo "/.whl/ must be git-ignored (.gitignore)"; exit 1; }
rm -rf .whl  # one version of each: two stop the install there
mkdir -p .whl
python3 -m pip download --no-deps --only-binary=:all: --python-version "$PYVER" \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64 \
    -d .whl mpi4py==4.1.2 mpich==5.0.2 pytest-mpi==0.6
ls -la .whl
du -sh .whl  # a device call carries at most 64 MiB in all
