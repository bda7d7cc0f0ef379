#!/usr/bin/env bash
# The GPU checks of distflow in one run (about 5 minutes on one H100 or H200; every step has a
# timeout, 9.5 minutes in all at worst):
#   0. preflight: skips (exit 0, "GPU CHECK: SKIPPED") on a machine without an NVIDIA GPU, so a
#      dry run anywhere is safe; fails with advice when there is a GPU but CuPy cannot use it;
#   1. install distflow (editable, no dependencies: the machine has CuPy, NumPy, pytest) and the
#      wheels in .whl/ if any (MPICH, mpi4py, pytest-mpi: scripts/gpu_wheels.sh fetches them;
#      through the device tool, name .whl in `carry`: it is git-ignored);
#   2. `distflow info`: devices, CUDA and NCCL versions; the CuPy API audit (test_cupy_api.py)
#      against the machine's own CuPy;
#   3. the communicator contract on GPU buffers: nccl and host-staged in-process, nccl with one
#      rank under mpirun, host-staged with two ranks sharing the one GPU (NCCL refuses two ranks
#      on one GPU unless told otherwise, so every 2-rank check on one GPU is host-staged);
#   4. every other test marked gpu (op table on the GPU against the CPU, Session / eager /
#      df.function on the GPU, CUDA graphs, Boston training and N ranks = one process);
#   5. `distflow train configs/boston.yaml --device gpu --set train.epochs=20`, and the same on
#      the CPU, side by side;
#   6. the Boston step benchmark: CPU, GPU, GPU with CUDA graphs, PyTorch; then issue 8's GPU
#      targets (benchmarks/gpu_steps.py: the W1 step with CUDA graphs against PyTorch eager, W2
#      at batch 4096 against PyTorch eager).
# Logs go to $OUT if set (else /tmp/distflow-gpu-check), at most 8 files. Exit status: 0 when
# every step passed (or when skipped: no GPU here). GPU_CHECK_STEPS="3 4" reruns only those
# steps (preflight and install always run).
#     bash scripts/gpu_check.sh
set -u -o pipefail
cd "$(dirname "$0")/.."
LOG=${OUT:-/tmp/distflow-gpu-check}
mkdir -p "$LOG"
PY=${PYTHON:-python3}
STEPS=" ${GPU_CHECK_STEPS:-2 3 4 5 6} "
export PYTHONUNBUFFERED=1
# two ranks on the one GPU must take the host-staged path: NCCL >= 2.30 would otherwise try
# sharing the GPU when this is set, which is experimental
unset NCCL_MULTI_RANK_GPU_ENABLE
FAILED=""
step() { echo; echo "=== $1 ($(date +%T))"; }
fail() { FAILED="$FAILED $1"; echo "*** step failed: $1"; }
want() { [[ "$STEPS" == *" $1 "* ]]; }
skip_all() {
    echo "GPU CHECK: SKIPPED: $1" | tee "$LOG/info.txt"
    exit 0
}

step "0. preflight"
if ! command -v nvidia-smi >/dev/null 2>&1 && ! ls /dev/nvidia0 >/dev/null 2>&1; then
    skip_all "no NVIDIA GPU on this machine (no nvidia-smi, no /dev/nvidia0): nothing to check"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 \
    | tee "$LOG/info.txt"
CUDA_MAJOR=$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9]*\).*/\1/p' | head -1)
echo "$PY is $($PY -c 'import sys; print(sys.executable, sys.version.split()[0])')"
NCUPY=$($PY -m pip list 2>/dev/null | grep -ci '^cupy')
if [ "${NCUPY:-0}" -gt 1 ]; then
    $PY -m pip list 2>/dev/null | grep -i '^cupy'
    echo "GPU CHECK: FAILED: $NCUPY CuPy packages are installed in $PY; they overwrite each" \
         "other's files: keep one, e.g. cupy-cuda${CUDA_MAJOR:-13}x for this driver (CUDA" \
         "${CUDA_MAJOR:-?})" | tee -a "$LOG/info.txt"
    exit 1
fi
if ! $PY -c "import cupy, sys; n = cupy.cuda.runtime.getDeviceCount(); \
print('CuPy', cupy.__version__, 'CUDA runtime', cupy.cuda.runtime.runtimeGetVersion(), '-', n, \
'GPU(s)'); sys.exit(n == 0)" 2>&1 | tee -a "$LOG/info.txt"; then
    echo "GPU CHECK: FAILED: there is a GPU but $PY's CuPy cannot use it (above). The driver" \
         "runs CUDA up to ${CUDA_MAJOR:-?}: CuPy must be cupy-cuda${CUDA_MAJOR:-13}x (or one of" \
         "an older CUDA major) built for this Python (carry its wheel in .whl/ if it is" \
         "missing; PYTHON=... picks another interpreter)" | tee -a "$LOG/info.txt"
    exit 1
fi

step "1. install"
if ls .whl/*.whl >/dev/null 2>&1; then
    # into the interpreter's own prefix: mpi4py finds MPICH's libmpi in <prefix>/lib there
    $PY -m pip install -q --no-index --no-deps --no-compile --force-reinstall .whl/*.whl \
        > "$LOG/install.log" 2>&1 || fail "wheels"
fi
$PY -m pip install -q --no-deps --no-build-isolation -e . >> "$LOG/install.log" 2>&1 \
    || echo "pip install -e . failed (install.log): running from the source tree"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export PATH="$(dirname "$($PY -c 'import sys; print(sys.executable)')"):$PATH"
$PY -c "import distflow; print('distflow from', distflow.__file__)" || exit 1
command -v mpirun >/dev/null || echo "note: no mpirun on PATH: multi-rank checks will skip"

if want 2; then
step "2. distflow info; the CuPy API audit against this machine's CuPy"
$PY -m distflow info 2>&1 | tee -a "$LOG/info.txt" || fail "info"
timeout 60 $PY -m pytest -q -p no:cacheprovider -rs tests/gpu/test_cupy_api.py 2>&1 \
    | tee -a "$LOG/info.txt" || fail "CuPy API audit"
fi

if want 3; then
step "3. communicator contract (nccl 1 rank, host-staged 2 ranks on one GPU)"
timeout 90 $PY -m pytest -q -p no:cacheprovider -rs --timeout=80 \
    tests/gpu/test_gpu_communicators.py 2>&1 | tee "$LOG/pytest_communicators.log" \
    || fail "communicators"
fi

if want 4; then
step "4. every other gpu test"
timeout 200 $PY -m pytest -m gpu -q -p no:cacheprovider -rs --maxfail=25 --timeout=120 \
    --ignore=tests/gpu/test_gpu_communicators.py -s tests/gpu 2>&1 \
    | grep -v '^\s*$' | tee "$LOG/pytest_gpu.log" || fail "pytest -m gpu"
fi

if want 5; then
step "5. Boston, 20 epochs, GPU and CPU"
for dev in gpu cpu; do
    rm -rf "/tmp/distflow-boston-$dev"
    timeout 40 $PY -m distflow train configs/boston.yaml --device $dev --no-progress \
        --set train.epochs=20 --set output.plot=false --output "/tmp/distflow-boston-$dev" \
        2>&1 | tee -a "$LOG/boston.log" || fail "boston $dev"
    rm -rf "/tmp/distflow-boston-$dev"
done
fi

if want 6; then
step "6. Boston step benchmark"
timeout 50 $PY scripts/gpu_bench_step.py --json "$LOG/bench.json" 2>&1 | tee "$LOG/bench.log" \
    || fail "benchmark"
timeout 90 $PY benchmarks/gpu_steps.py 2>&1 | tee "$LOG/gpu_steps.log" || fail "gpu_steps"
fi

echo
if [ -n "$FAILED" ]; then
    echo "GPU CHECK: FAILED:$FAILED (rerun: GPU_CHECK_STEPS=\"...\" bash $0)" \
        | tee -a "$LOG/info.txt"
    exit 1
fi
echo "GPU CHECK: steps$STEPS passed" | tee -a "$LOG/info.txt"
