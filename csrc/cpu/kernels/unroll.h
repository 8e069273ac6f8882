// Compile-time unrolling for register-tile kernels. Loops over accumulator
// arrays must present constant indices to GCC from the start: its scalar
// replacement of aggregates runs before `#pragma GCC unroll` takes effect, and
// with variable indices the accumulators stay in memory (measured: all 16 zmm
// accumulators stored to the stack on every k step, half the FMA rate on Zen 4).
#pragma once
#include <utility>

namespace pykern::cpu {

template <class F, int... I>
__attribute__((always_inline)) inline void unroll_impl(F&& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>{}), ...);
}

// Calls f(std::integral_constant<int, i>{}) for i = 0 .. N-1, fully unrolled.
template <int N, class F>
__attribute__((always_inline)) inline void unroll(F&& f) {
  unroll_impl(f, std::make_integer_sequence<int, N>{});
}

}  // namespace pykern::cpu
