#!/usr/bin/env bash
# The dense-network CUDA kernels' check on a GPU machine (issue #11, branch cuda-nn), as
# one prepared run: build pykern._cuda for this GPU, run tests/cuda/test_nn_kernels.py,
# then the GEMM and convolution benchmarks next to PyTorch. Run from the repository root;
# everything lands in $OUT (default ./gpu_check_nn): build.log, tests.log, gemm.txt/json,
# conv.txt/json. Each step has its own time limit and a failed step does not stop the
# next one (the GPU's time is short: one run should tell as much as possible).
set -u
OUT=${OUT:-gpu_check_nn}
ARCH=${ARCH:-90}   # H100/H200; 80 for an A100
JOBS=${JOBS:-16}
mkdir -p "$OUT"
export PYTHONPATH=.

nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
python -c "import torch; print(torch.__version__, torch.cuda.is_available())" \
  > "$OUT/torch.txt" 2>&1

step() {  # step NAME SECONDS COMMAND...
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  echo "$name: exit $? after $((SECONDS - t0)) s" | tee -a "$OUT/summary.txt"
}

step build 420 bash -c "cmake -S . -B build-gpu -G Ninja -DPython_EXECUTABLE=$(which python) \
  -Dpybind11_DIR=$(python -m pybind11 --cmakedir) -DPYKERN_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=$ARCH && cmake --build build-gpu -j $JOBS"
step tests 300 python -m pytest -q -p no:cacheprovider -rfE tests/cuda/test_nn_kernels.py
step gemm 150 python -m bench gemm --device cuda --quick --json "$OUT/gemm.json"
step conv 150 python -m bench conv --device cuda --quick --json "$OUT/conv.json"
tail -n 30 "$OUT/tests.log"
cat "$OUT/gemm.log" "$OUT/conv.log"
