// Pooling cell kernels (kernels/pool_body.h) compiled for AVX-512 (zmm, mask registers).
// Reached when cpu_isa() == avx512.
#include <cstdint>
#include <cstring>

#include "cpu/pool_kernels.h"

namespace pykern::cpu::avx512 {
namespace {

#define PK_VEC_FLOATS 16
#include "cpu/kernels/pool_body.h"
#undef PK_VEC_FLOATS

}  // namespace

const PoolKernels& pool_kernels() {
  static const PoolKernels k{max_cell, sum_cell};
  return k;
}

}  // namespace pykern::cpu::avx512
