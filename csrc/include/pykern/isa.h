// Run-time CPU feature detection and the ISA every kernel family dispatches on.
#pragma once

namespace pykern {

// Ordered: a larger value implies every smaller one.
enum class Isa : int { scalar = 0, avx2 = 1, avx512 = 2 };

// The best ISA this CPU and OS support (CPUID + XGETBV), capped by the
// environment variable PYKERN_MAX_ISA=avx512|avx2|scalar, read once.
Isa cpu_isa();

// What the hardware supports, ignoring PYKERN_MAX_ISA.
Isa hardware_isa();

const char* isa_name(Isa isa);

}  // namespace pykern
