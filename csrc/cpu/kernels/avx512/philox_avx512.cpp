// Philox4x32-10 runs (kernels/philox_body.h) for AVX-512 (16 blocks per zmm).
#include <cstdint>

#include "cpu/random_kernels.h"
#include "pykern/philox.h"

namespace pykern::cpu::avx512 {
namespace {

#define PK_PHILOX_LANES 16
#include "cpu/kernels/philox_body.h"
#undef PK_PHILOX_LANES

}  // namespace

PhiloxBlocks philox_blocks() { return philox_run; }

}  // namespace pykern::cpu::avx512
