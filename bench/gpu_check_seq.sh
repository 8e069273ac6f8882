#!/usr/bin/env bash
# The sequence kernels' GPU check (issue #11): one script for a session lent a GPU,
# run from the repository root. It builds pykern in place with CUDA when the
# modules there do not import (sm_90 only: the H100/H200), then runs
# tests/cuda/test_seq_{kernels,training}.py and `python -m bench rnn --device cuda`
# (next to PyTorch's cuDNN LSTM/GRU when torch is there). Logs, the JUnit report and the
# benchmark's JSON go to $OUT (default /tmp/gpu_check_seq). About 5 minutes with a
# build on 16 cores, 2 without.
#
#   OUT=/some/dir bash bench/gpu_check_seq.sh
set -u
out=${OUT:-/tmp/gpu_check_seq}
mkdir -p "$out"
export PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH}

{ nvidia-smi; python --version; python -c "import torch; print('torch', torch.__version__)"; } \
  > "$out/machine.txt" 2>&1

if ! python -c "import pykern._cpu, pykern._cuda as c; assert c.device_count() > 0" \
    > /dev/null 2>&1; then
  gen=(); command -v ninja > /dev/null && gen=(-G Ninja)
  { cmake -S . -B build/gpu "${gen[@]}" -DPython_EXECUTABLE="$(command -v python)" \
      -Dpybind11_DIR="$(python -m pybind11 --cmakedir)" -DPYKERN_CUDA=ON \
      -DCMAKE_CUDA_ARCHITECTURES=90 \
    && cmake --build build/gpu -j "$(nproc)"; } > "$out/build.txt" 2>&1 \
    || { echo "build failed: see $out/build.txt"; tail -30 "$out/build.txt"; exit 1; }
fi
python -c "import pykern._cuda as c; print(c.device_count(), c.device_info(0))" \
  | tee -a "$out/machine.txt"

status=0
timeout 300 python -m pytest -q -p no:cacheprovider --tb=short --maxfail=40 \
  --junitxml="$out/test_seq.xml" tests/cuda/test_seq_kernels.py tests/cuda/test_seq_training.py \
  > "$out/test_seq.txt" 2>&1 || status=1
tail -15 "$out/test_seq.txt"

timeout 240 python -m bench rnn --device cuda --quick --json "$out/bench_rnn_cuda.json" \
  > "$out/bench_rnn_cuda.txt" 2>&1 || status=1
cat "$out/bench_rnn_cuda.txt"
exit $status
