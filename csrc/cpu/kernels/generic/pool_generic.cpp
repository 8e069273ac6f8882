// Pooling cell kernels (kernels/pool_body.h) compiled for the baseline ISA (SSE2 from
// the compiler).
// Reached on CPUs without AVX2+FMA and with PYKERN_MAX_ISA=scalar.
#include <cstdint>
#include <cstring>

#include "cpu/pool_kernels.h"

namespace pykern::cpu::generic {
namespace {

#define PK_VEC_FLOATS 4
#include "cpu/kernels/pool_body.h"
#undef PK_VEC_FLOATS

}  // namespace

const PoolKernels& pool_kernels() {
  static const PoolKernels k{max_cell, sum_cell};
  return k;
}

}  // namespace pykern::cpu::generic
