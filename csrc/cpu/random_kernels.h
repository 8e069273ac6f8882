// The slot one ISA fills for the random fills (cpu/random.cpp): Philox4x32-10
// on a run of consecutive blocks, written once in kernels/philox_body.h and
// compiled per ISA so the compiler runs 16 (AVX-512), 8 (AVX2) or 4 blocks in
// the lanes of a vector. Same integer arithmetic as philox4x32_10, so the same bits.
#pragma once
#include <cstdint>

namespace pykern::cpu {

// words[4*i + lane] = lane `lane` of block (first + i) mod 2^64 of the stream keyed
// by seed (pykern/philox.h), for i < count.
using PhiloxBlocks = void (*)(uint64_t seed, uint64_t first, int64_t count, uint32_t* words);

namespace avx512 { PhiloxBlocks philox_blocks(); }
namespace avx2 { PhiloxBlocks philox_blocks(); }
namespace generic { PhiloxBlocks philox_blocks(); }

}  // namespace pykern::cpu
