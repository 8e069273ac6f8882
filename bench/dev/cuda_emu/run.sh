#!/usr/bin/env bash
# Builds the dense-network CUDA kernels for the CPU emulation (emu.h) and runs
# harness.cpp against pykern_core's oracles. Needs build/libpykern_core.a (the
# ordinary CMake build). Usage: bench/dev/cuda_emu/run.sh [gemm|conv|pool|norm]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=${EMU_WORK:-/tmp/pykern_cuda_emu}
mkdir -p "$work/overlay/cuda"
for h in gemm_tile colsum; do
  python "$here/translate.py" "$root/csrc/cuda/$h.cuh" "$work/overlay/cuda/$h.cuh"
done
flags=(-std=c++20 -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer
       -Wno-unknown-pragmas -include "$here/include/emu.h" -I"$work/overlay" -I"$here/include"
       -I"$root/csrc" -I"$root/csrc/include")
objs=()
for f in gemm conv_gemm conv_depthwise pool norm; do
  python "$here/translate.py" "$root/csrc/cuda/$f.cu" "$work/$f.cpp"
  if [ ! -f "$work/$f.o" ] || [ "$work/$f.cpp" -nt "$work/$f.o" ] || \
     [ "$root/csrc/cuda/gemm_tile.cuh" -nt "$work/$f.o" ] || [ "$root/csrc/cuda/colsum.cuh" -nt "$work/$f.o" ]; then
    g++ "${flags[@]}" -c "$work/$f.cpp" -o "$work/$f.o"
  fi
  objs+=("$work/$f.o")
done
g++ "${flags[@]}" -c "$here/harness.cpp" -o "$work/harness.o"
g++ -fsanitize=address,undefined -o "$work/harness" "$work/harness.o" "${objs[@]}" \
  "$root/build/libpykern_core.a" -fopenmp -pthread
"$work/harness" "$@"
