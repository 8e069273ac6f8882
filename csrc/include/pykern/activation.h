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

// act(v) in double: the oracles' version (csrc/ref/activation_ref.cpp).
double activation_ref(double v, Act act);
// g[i] *= act'(x[i]) for i < n.
void activation_grad(const float* x, float* g, int64_t n, Act act);

// g[i] *= act'(x[i]) on one row, where y[i] = act(x[i]) (either may be read).
void activation_grad_row(const float* x, const float* y, float* g, int64_t n, Act act);

// The backward of act(z) with a bias added in z, over `rows` rows of `cols`:
// dz = g * act'(z) (read from y = act(z); act is none, relu, sigmoid or tanh)
// and db[c] = sum of dz[:, c]. dz may alias g; with act none dz may be null (dz
// is g). db may be null (no bias). The column sums run over fixed blocks of rows
// whose partials are added in block order, so the result is the same bits for
// any thread count. Threaded.
void bias_act_grad(const float* g, const float* y, float* dz, float* db, int64_t rows,
                   int64_t cols, Act act);

// Its oracle (csrc/ref/activation_ref.cpp): the same in double, row by row.
void bias_act_grad_ref(const float* g, const float* y, float* dz, float* db, int64_t rows,
                       int64_t cols, Act act);

}  // namespace pykern
