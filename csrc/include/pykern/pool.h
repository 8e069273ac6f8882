// Max and average pooling over 1, 2 or 3 spatial dimensions: the kernel contract.
//
//   x (N, D, H, W, C) -> y (N, OD, OH, OW, C), channels-last, row-major, float32.
//
// 1-D and 2-D callers pass x (N, W, C) or (N, H, W, C): their spatial dims are the
// trailing ones here and the leading ones are 1 (pool 1, stride 1, no padding).
// Per spatial dim: the window of output o covers input cells
// [o*stride - pad_begin, o*stride - pad_begin + pool); cells outside [0, in) are
// padding, and out = (in + pad_begin + pad_end - pool) / stride + 1. Callers
// compute Keras' 'same' split (the extra cell of padding goes at the end).
// Padded cells never win a max and are not counted in an average: an average
// divides by the number of real cells in its window (Keras/TF).
//
// argmax (N, OD, OH, OW, C) holds, for each output, the flat index within the
// sample, ((d*H + h)*W + w)*C + c, of the input cell that won: the first in
// row-major window order among equal maxima (TF's MaxPool gradient routes ties
// the same way), or the first NaN if the window holds one (the output is NaN).
// It is int64, or int32 when D*H*W*C fits (pool_argmax_is_int64 is false).
// Averages sum in float32 in window order, then divide by the count.
//
// Every kernel is bitwise reproducible for any thread count: outputs are
// computed independently, each in a fixed order. max_pool_backward scatter-adds
// dy into dx sample by sample (threads over N), outputs in order. Between ISAs
// only avg_pool_backward may differ, in the last bit (AVX2/AVX-512 fuse its
// multiply-adds).
#pragma once
#include <cstdint>

namespace pykern {

struct PoolGeometry {
  int rank = 2;  // spatial rank of the caller's arrays (1, 2 or 3), for messages
  int64_t N = 0, C = 0;
  int64_t in[3] = {1, 1, 1};  // D, H, W
  int64_t pool[3] = {1, 1, 1}, stride[3] = {1, 1, 1};
  int64_t pad_begin[3] = {0, 0, 0}, pad_end[3] = {0, 0, 0};
  int64_t out[3] = {1, 1, 1};  // OD, OH, OW: set by validate_pool
};

// Checks the geometry and sets g.out. Requires N, C >= 0; in >= 1; pool, stride >= 1;
// 0 <= pad < pool (so every window holds a real cell); in + pads >= pool.
// Throws std::invalid_argument "<op>: ..." naming the shapes otherwise.
void validate_pool(PoolGeometry& g, const char* op);

// Whether argmax must be int64: D*H*W*C > INT32_MAX.
bool pool_argmax_is_int64(const PoolGeometry& g);

// The error max_pool_backward throws for argmax[pos] == value out of range
// (reads only N, C, in and out of g).
[[noreturn]] void throw_bad_argmax(const PoolGeometry& g, int64_t pos, int64_t value);

// Exactly one of the pointers is set, as pool_argmax_is_int64 says.
struct ArgmaxOut {
  int32_t* i32 = nullptr;
  int64_t* i64 = nullptr;
};
struct ArgmaxIn {
  const int32_t* i32 = nullptr;
  const int64_t* i64 = nullptr;
};

// Throws the error max_pool_forward gives for an int32 argmax that cannot hold the indices.
void check_argmax_fits(const PoolGeometry& g, ArgmaxOut argmax);

// g must have passed validate_pool. x (N,D,H,W,C); y, argmax (N,OD,OH,OW,C). Throws
// std::invalid_argument if argmax is int32 where int64 is needed.
void max_pool_forward(const PoolGeometry& g, const float* x, float* y, ArgmaxOut argmax);
// dy, argmax (N,OD,OH,OW,C) -> dx (N,D,H,W,C) = sum of dy over the outputs each cell won.
// Reads only N, C, in and out of g (no validate_pool needed). Throws
// std::invalid_argument if an index lies outside [0, D*H*W*C); no write goes there.
void max_pool_backward(const PoolGeometry& g, const float* dy, ArgmaxIn argmax, float* dx);
void avg_pool_forward(const PoolGeometry& g, const float* x, float* y);
// dx(cell) = sum over the windows holding it of dy / (real cells in that window).
void avg_pool_backward(const PoolGeometry& g, const float* dy, float* dx);

// The plain twins (csrc/ref/): one thread, loops over outputs, double sums.
void max_pool_forward_ref(const PoolGeometry& g, const float* x, float* y, ArgmaxOut argmax);
void max_pool_backward_ref(const PoolGeometry& g, const float* dy, ArgmaxIn argmax, float* dx);
void avg_pool_forward_ref(const PoolGeometry& g, const float* x, float* y);
void avg_pool_backward_ref(const PoolGeometry& g, const float* dy, float* dx);

}  // namespace pykern
