// Pooling cell kernels (kernels/pool_body.h) compiled for AVX2+FMA (ymm).
// Reached when cpu_isa() == avx2.
#include <cstdint>
#include <cstring>

#include "cpu/pool_kernels.h"

namespace pykern::cpu::avx2 {
namespace {

#define PK_VEC_FLOATS 8
#include "cpu/kernels/pool_body.h"
#undef PK_VEC_FLOATS

}  // namespace

const PoolKernels& pool_kernels() {
  static const PoolKernels k{max_cell, sum_cell};
  return k;
}

}  // namespace pykern::cpu::avx2
