#!/usr/bin/env bash
# The one script a GPU session runs on the lent machine (H100/H200, ~8 minutes of wall
# time): an in-place CMake build with CUDA for this GPU's architecture, the CUDA tests,
# then the GPU benchmarks side by side with PyTorch on the same GPU (fp32, TF32 off).
# Everything it prints and writes goes to $OUT (default bench/results/gpu).
#
#   OUT=/some/dir bash bench/gpu_check.sh
#
# Each step is one `step NAME SECONDS COMMAND...` line with its own time limit; a failing
# step is recorded in $OUT/summary.txt and the next one still runs. To add a benchmark,
# add one line to the benchmarks section.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/results/gpu}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
SUMMARY=$OUT/summary.txt
: > "$SUMMARY"

step() {  # step NAME SECONDS COMMAND...: runs COMMAND under a time limit, logs to $OUT/NAME.log
  local name=$1 limit=$2 t0 rc
  shift 2
  t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  printf '%-14s rc=%-3s %4ss  %s\n' "$name" "$rc" "$(( $(date +%s) - t0 ))" "$*" | tee -a "$SUMMARY"
  tail -n 25 "$OUT/$name.log"
  return $rc
}

# --- the machine ---------------------------------------------------------------------------
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
ARCH=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 | tr -d '. ')
ARCH=${ARCH:-90}
python - > "$OUT/versions.txt" 2>&1 <<'PY'
import sys, numpy
print("python", sys.version.split()[0], "numpy", numpy.__version__)
try:
    import torch
    print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))
except Exception as e:  # noqa: BLE001 - a report, not a check
    print("torch unavailable:", e)
PY
cat "$OUT/versions.txt"

# --- build: in place, CUDA on, this GPU's architecture only (the fastest compile) ------------
GEN=$(command -v ninja > /dev/null && echo Ninja || echo "Unix Makefiles")
step build 300 bash -c "cmake -S . -B build -G '$GEN' -DPython_EXECUTABLE=$(which python) \
  -Dpybind11_DIR=$(python -m pybind11 --cmakedir) -DPYKERN_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=$ARCH && cmake --build build -j $(nproc)" || {
  echo "build failed: see $OUT/build.log"; exit 1; }
python -c "import pykern._cuda as c; print('devices', c.device_count(), c.device_info(0))" \
  | tee -a "$SUMMARY"

# --- tests ------------------------------------------------------------------------------------
step tests 240 python -m pytest -q -p no:cacheprovider -rfE tests/cuda tests/test_cuda.py \
  --ignore=tests/cuda/test_nn_kernels.py --junitxml="$OUT/tests.xml"
# the dense-network kernels (GEMM, conv, pooling, norms) against the CPU: its own time limit
step tests_nn 240 python -m pytest -q -p no:cacheprovider -rfE tests/cuda/test_nn_kernels.py \
  --junitxml="$OUT/tests_nn.xml"

# --- benchmarks: GPU side by side with PyTorch (one line each) -----------------------------------
step bench_gemm 90 python -m bench gemm --device cuda --json "$OUT/gemm_cuda.json"
step bench_conv 90 python -m bench conv --device cuda --json "$OUT/conv_cuda.json"
step bench_models 180 python -m bench models --device cuda --repeats 3 \
  --model mnist_mlp mnist_cnn cifar_cnn lstm_series --json "$OUT/models_cuda.json"

echo; echo "summary ($OUT/summary.txt):"; cat "$SUMMARY"
