#!/usr/bin/env bash
# Run a distflow command on N ranks of this machine, one device per rank.
#
#   launch/local.sh 4 train configs/boston.yaml              # 4 CPU ranks
#   launch/local.sh 4 train configs/boston.yaml --device gpu # 4 ranks, GPU i for local rank i
#   launch/local.sh 1 train configs/boston.yaml              # one process, no MPI at all
#
# It uses the mpirun installed next to the Python that runs distflow (the MPICH wheel of the
# 'mpi' extra), so mpirun and mpi4py use the same MPI library; a mismatch starts N separate
# one-rank jobs (`distflow info` under mpirun detects it). Set PYTHON to choose the interpreter.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 NUM_RANKS COMMAND [ARGS...]   e.g. $0 4 train configs/boston.yaml" >&2
    exit 2
fi
ranks=$1; shift
python=${PYTHON:-$(command -v python3)}
mpirun=$(dirname "$python")/mpirun
[ -x "$mpirun" ] || mpirun=$(command -v mpirun || true)

# One BLAS thread per rank: N ranks each starting all-core BLAS pools fight over the cores.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

if [ "$ranks" = 1 ]; then
    exec "$python" -m distflow "$@"
fi
if [ -z "$mpirun" ]; then
    echo "$0: no mpirun found: pip install 'distflow[mpi]' (mpi4py and the MPICH wheel)" >&2
    exit 1
fi
exec "$mpirun" -n "$ranks" "$python" -m distflow "$@"
