#!/usr/bin/env bash
# The GPU checks of distflow in one run (well under 8 minutes on one H100 or H200):
#   1. install distflow (editable, no dependencies: the machine has CuPy, NumPy, pytest) and the
#      wheels in .whl/ if any (MPICH, mpi4py, pytest-mpi: scripts/gpu_wheels.sh fetches them);
#   2. `distflow info`: devices, CUDA and NCCL versions;
#   3. the communicator contract on GPU buffers: nccl and host-staged in-process, nccl with one
#      rank under mpirun, host-staged with two ranks sharing the one GPU;
#   4. every other test marked gpu (op table on the GPU against the CPU, Session / eager /
#      df.function on the GPU, CUDA graphs, Boston training and N ranks = one process);
#   5. `distflow train configs/boston.yaml --device gpu --set train.epochs=20`, and the same on
#      the CPU, side by side;
#   6. the Boston step benchmark: CPU, GPU, GPU with CUDA graphs, PyTorch; then issue 8's GPU
#      targets (benchmarks/gpu_steps.py: the W1 step with CUDA graphs against PyTorch eager, W2
#      at batch 4096 against PyTorch eager).
# Logs go to $OUT if set (else /tmp/distflow-gpu-check), at most 8 files. Exit status: 0 when
# every step passed.
#     bash scripts/gpu_check.sh
set -u -o pipefail
cd "$(dirname "$0")/.."
LOG=${OUT:-/tmp/distflow-gpu-check}
mkdir -p "$LOG"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
FAILED=""
step() { echo; echo "=== $1 ($(date +%T))"; }
fail() { FAILED="$FAILED $1"; echo "*** step failed: $1"; }

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
$PY -c "import cupy, distflow; print('CuPy', cupy.__version__, '-', \
cupy.cuda.runtime.getDeviceCount(), 'GPU(s); distflow from', distflow.__file__)" || exit 1
command -v mpirun >/dev/null || echo "note: no mpirun on PATH: multi-rank checks will skip"

step "2. distflow info"
$PY -m distflow info 2>&1 | tee "$LOG/info.txt" || fail "info"

step "3. communicator contract (nccl 1 rank, host-staged 2 ranks on one GPU)"
timeout 100 $PY -m pytest -q -p no:cacheprovider -rs --timeout=90 \
    tests/gpu/test_gpu_communicators.py 2>&1 | tee "$LOG/pytest_communicators.log" \
    || fail "communicators"

step "4. every other gpu test"
timeout 230 $PY -m pytest -m gpu -q -p no:cacheprovider -rs --maxfail=25 --timeout=120 \
    --ignore=tests/gpu/test_gpu_communicators.py -s tests/gpu 2>&1 \
    | grep -v '^\s*$' | tee "$LOG/pytest_gpu.log" || fail "pytest -m gpu"

step "5. Boston, 20 epochs, GPU and CPU"
for dev in gpu cpu; do
    rm -rf "/tmp/distflow-boston-$dev"
    timeout 50 $PY -m distflow train configs/boston.yaml --device $dev --no-progress \
        --set train.epochs=20 --set output.plot=false --output "/tmp/distflow-boston-$dev" \
        2>&1 | tee -a "$LOG/boston.log" || fail "boston $dev"
    rm -rf "/tmp/distflow-boston-$dev"
done

step "6. Boston step benchmark"
timeout 60 $PY scripts/gpu_bench_step.py --json "$LOG/bench.json" 2>&1 | tee "$LOG/bench.log" \
    || fail "benchmark"
timeout 120 $PY benchmarks/gpu_steps.py 2>&1 | tee "$LOG/gpu_steps.log" || fail "gpu_steps"

echo
if [ -n "$FAILED" ]; then
    echo "GPU CHECK: FAILED:$FAILED" | tee -a "$LOG/info.txt"
    exit 1
fi
echo "GPU CHECK: all steps passed" | tee -a "$LOG/info.txt"
