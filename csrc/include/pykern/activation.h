// Element-wise activations shared by GEMM epilogues, the activation ops and
// the recurrent cells. Formulas are Keras 3's (see cpu/kernels/activation_body.h).
#pragma once
#include <cstdint>

namespace pykern {

enum class Act : int {
  none = 0, relu = 1, sigmoid = 2, tanh = 3,
  hard_sigmoid = 4, elu = 5, selu = 6, softsign = 7, softplus = 8, silu = 9, exponential = 10
};

// Parses "none"/"linear", "relu", "sigmoid", "tanh", "hard_sigmoid", "elu",
// "selu", "softsign", "softplus", "silu"/"swish", "exponential"; returns false
// if unknown.
bool parse_act(const char* name, Act* out);
const char* act_name(Act act);

// The names parse_act accepts, comma-separated, for error messages.
const char* act_names();

// Whether a GEMM epilogue (CPU and CUDA) applies `act`: none, relu, sigmoid, tanh.
bool is_epilogue_act(Act act);

// y[i] = act(y[i]) in place for i < n, with the kernels of the current ISA.
void activation_inplace(float* y, int64_t n, Act act);

// The same on one contiguous row, for use inside already-parallel regions.
void activation_row(float* y, int64_t n, Act act);

// g[i] *= act'(x[i]) for i < n.
void activation_grad(const float* x, float* g, int64_t n, Act act);

// g[i] *= act'(x[i]) on one row, where y[i] = act(x[i]) (either may be read).
void activation_grad_row(const float* x, const float* y, float* g, int64_t n, Act act);

}  // namespace pykern
