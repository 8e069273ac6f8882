// Philox4x32-10 runs (kernels/philox_body.h) for AVX2 (8 blocks per ymm).
#include <cstdint>

#include "cpu/random_kernels.h"
#include "pykern/philox.h"

namespace pykern::cpu::avx2 {
namespace {

#define PK_PHILOX_LANES 8
#include "cpu/kernels/philox_body.h"
#undef PK_PHILOX_LANES

}  // namespace

PhiloxBlocks philox_blocks() { return philox_run; }

}  // namespace pykern::cpu::avx2
