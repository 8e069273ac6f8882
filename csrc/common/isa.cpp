#include "pykern/isa.h"

#include <cpuid.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace pykern {
namespace {

uint64_t xgetbv0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}

Isa detect_hardware() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return Isa::scalar;
  const bool osxsave = c & bit_OSXSAVE, fma = c & bit_FMA, avx = c & bit_AVX;
  if (!osxsave || !avx || !fma) return Isa::scalar;
  // The OS must save the ymm (and for AVX-512 the opmask/zmm) state on context
  // switches, or the instructions fault: CPUID alone is not enough.
  const uint64_t xcr0 = xgetbv0();
  if ((xcr0 & 0x6) != 0x6) return Isa::scalar;
  if (__get_cpuid_max(0, nullptr) < 7) return Isa::scalar;
  __cpuid_count(7, 0, a, b, c, d);
  if (!(b & bit_AVX2)) return Isa::scalar;
  const bool avx512 = (b & bit_AVX512F) && (b & bit_AVX512DQ) && (b & bit_AVX512BW) &&
                      (b & bit_AVX512VL);
  if (avx512 && (xcr0 & 0xE6) == 0xE6) return Isa::avx512;
  return Isa::avx2;
}

Isa parse_cap(const char* s) {
  if (!s || !*s) return Isa::avx512;
  std::string v(s);
  if (v == "avx512") return Isa::avx512;
  if (v == "avx2") return Isa::avx2;
  if (v == "scalar") return Isa::scalar;
  throw std::invalid_argument("PYKERN_MAX_ISA must be avx512, avx2 or scalar, got '" + v + "'");
}

}  // namespace

Isa hardware_isa() {
  static const Isa hw = detect_hardware();
  return hw;
}

Isa cpu_isa() {
  static const Isa chosen = [] {
    const Isa cap = parse_cap(std::getenv("PYKERN_MAX_ISA"));
    const Isa hw = hardware_isa();
    return static_cast<int>(cap) < static_cast<int>(hw) ? cap : hw;
  }();
  return chosen;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "scalar";
  }
}

}  // namespace pykern
