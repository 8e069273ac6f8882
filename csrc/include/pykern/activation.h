// Element-wise activations shared by GEMM epilogues and the activation ops.
#pragma once
#include <cstdint>

namespace pykern {

enum class Act : int { none = 0, relu = 1, sigmoid = 2, tanh = 3 };

// Parses "none"/"linear", "relu", "sigmoid", "tanh"; returns false if unknown.
bool parse_act(const char* name, Act* out);
const char* act_name(Act act);

// y[i] = act(y[i]) in place for i < n, with the kernels of the current ISA.
void activation_inplace(float* y, int64_t n, Act act);

// The same on one contiguous row, for use inside already-parallel regions.
void activation_row(float* y, int64_t n, Act act);

// act(v) in double: the oracles' version (csrc/ref/activation_ref.cpp).
double activation_ref(double v, Act act);

}  // namespace pykern
