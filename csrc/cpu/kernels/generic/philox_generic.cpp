// Philox4x32-10 runs (kernels/philox_body.h) for the baseline ISA (SSE2 from the compiler, 4 blocks).
#include <cstdint>

#include "cpu/random_kernels.h"
#include "pykern/philox.h"

namespace pykern::cpu::generic {
namespace {

#define PK_PHILOX_LANES 4
#include "cpu/kernels/philox_body.h"
#undef PK_PHILOX_LANES

}  // namespace

PhiloxBlocks philox_blocks() { return philox_run; }

}  // namespace pykern::cpu::generic
