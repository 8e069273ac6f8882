// The oracle every fast pooling kernel is tested against: loops over outputs and
// window cells, double sums, one thread. Also the contract's checks and errors.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "pykern/pool.h"

namespace pykern {
namespace {

// The caller's spatial entries of a 3-vector: (v[3-rank], ..., v[2]).
std::string spatial_str(const PoolGeometry& g, const int64_t* v) {
  std::ostringstream s;
  s << "(";
  for (int k = 3 - g.rank; k < 3; ++k) s << (k > 3 - g.rank ? ", " : "") << v[k];
  s << (g.rank == 1 ? ",)" : ")");
  return s.str();
}

std::string x_shape_str(const PoolGeometry& g) {
  std::ostringstream s;
  s << "(" << g.N;
  for (int k = 3 - g.rank; k < 3; ++k) s << ", " << g.in[k];
  s << ", " << g.C << ")";
  return s.str();
}

[[noreturn]] void bad(const PoolGeometry& g, const char* op, const std::string& what) {
  throw std::invalid_argument(std::string(op) + ": " + what + " (x of shape " + x_shape_str(g) +
                              ", pool " + spatial_str(g, g.pool) + ", strides " +
                              spatial_str(g, g.stride) + ", pad_begin " +
                              spatial_str(g, g.pad_begin) + ", pad_end " +
                              spatial_str(g, g.pad_end) + ")");
}

int64_t sample_size(const PoolGeometry& g) { return g.in[0] * g.in[1] * g.in[2] * g.C; }

// First real cell and one past the last of output o's window along dim k.
inline void window(const PoolGeometry& g, int k, int64_t o, int64_t* lo, int64_t* hi) {
  const int64_t start = o * g.stride[k] - g.pad_begin[k];
  *lo = std::max<int64_t>(start, 0);
  *hi = std::min<int64_t>(start + g.pool[k], g.in[k]);
}

// Calls f(output offset, window ranges) for every output cell (n, od, oh, ow), C excluded.
template <class F>
void for_each_output(const PoolGeometry& g, F f) {
  int64_t o = 0;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t od = 0; od < g.out[0]; ++od)
      for (int64_t oh = 0; oh < g.out[1]; ++oh)
        for (int64_t ow = 0; ow < g.out[2]; ++ow, ++o) {
          int64_t lo[3], hi[3];
          window(g, 0, od, &lo[0], &hi[0]);
          window(g, 1, oh, &lo[1], &hi[1]);
          window(g, 2, ow, &lo[2], &hi[2]);
          f(n, o * g.C, lo, hi);
        }
}

inline int64_t cell(const PoolGeometry& g, int64_t d, int64_t h, int64_t w) {
  return ((d * g.in[1] + h) * g.in[2] + w) * g.C;
}

}  // namespace

void validate_pool(PoolGeometry& g, const char* op) {
  if (g.rank < 1 || g.rank > 3) bad(g, op, "spatial rank must be 1, 2 or 3");
  if (g.N < 0 || g.C < 0) bad(g, op, "negative batch or channel count");
  for (int k = 0; k < 3; ++k) {
    if (g.in[k] < 1) bad(g, op, "x has an empty spatial dimension");
    if (g.pool[k] < 1) bad(g, op, "pool sizes must be >= 1");
    if (g.stride[k] < 1) bad(g, op, "strides must be >= 1");
    if (g.pad_begin[k] < 0 || g.pad_end[k] < 0) bad(g, op, "padding must be >= 0");
    if (g.pad_begin[k] >= g.pool[k] || g.pad_end[k] >= g.pool[k])
      bad(g, op, "padding must be smaller than the pool size (a window would hold no input)");
    if (g.in[k] + g.pad_begin[k] + g.pad_end[k] < g.pool[k])
      bad(g, op, "the window is larger than the padded input");
    g.out[k] = (g.in[k] + g.pad_begin[k] + g.pad_end[k] - g.pool[k]) / g.stride[k] + 1;
  }
}

bool pool_argmax_is_int64(const PoolGeometry& g) { return sample_size(g) > INT32_MAX; }

void check_argmax_fits(const PoolGeometry& g, ArgmaxOut argmax) {
  if (!argmax.i64 && pool_argmax_is_int64(g))
    bad(g, "max_pool_forward", "int32 argmax cannot index the cells of one sample; use int64");
}

void throw_bad_argmax(const PoolGeometry& g, int64_t pos, int64_t value) {
  std::ostringstream dy;
  dy << "(" << g.N;
  for (int k = 3 - g.rank; k < 3; ++k) dy << ", " << g.out[k];
  dy << ", " << g.C << ")";
  throw std::invalid_argument("max_pool_backward: argmax[" + std::to_string(pos) + "] (flat) = " +
                              std::to_string(value) + " is not an index into the " +
                              std::to_string(sample_size(g)) + " cells of a sample of x (shape " +
                              x_shape_str(g) + "; dy and argmax of shape " + dy.str() + ")");
}

void max_pool_forward_ref(const PoolGeometry& g, const float* x, float* y, ArgmaxOut argmax) {
  check_argmax_fits(g, argmax);
  const int64_t S = sample_size(g);
  for_each_output(g, [&](int64_t n, int64_t o, const int64_t* lo, const int64_t* hi) {
    for (int64_t c = 0; c < g.C; ++c) {
      float best = 0.f;
      int64_t at = -1;
      for (int64_t d = lo[0]; d < hi[0]; ++d)
        for (int64_t h = lo[1]; h < hi[1]; ++h)
          for (int64_t w = lo[2]; w < hi[2]; ++w) {
            const int64_t i = cell(g, d, h, w) + c;
            const float v = x[n * S + i];
            const bool first = at < 0;
            const bool nan_wins = std::isnan(v) && !std::isnan(best);
            if (first || v > best || nan_wins) {
              best = v;
              at = i;
            }
          }
      y[o + c] = best;
      if (argmax.i64)
        argmax.i64[o + c] = at;
      else
        argmax.i32[o + c] = static_cast<int32_t>(at);
    }
  });
}

void max_pool_backward_ref(const PoolGeometry& g, const float* dy, ArgmaxIn argmax, float* dx) {
  const int64_t S = sample_size(g);
  const int64_t outputs = g.N * g.out[0] * g.out[1] * g.out[2] * g.C;
  for (int64_t j = 0; j < outputs; ++j) {
    const int64_t i = argmax.i64 ? argmax.i64[j] : argmax.i32[j];
    if (i < 0 || i >= S) throw_bad_argmax(g, j, i);
  }
  std::vector<double> acc(g.N * S, 0.0);
  const int64_t per_sample = outputs / std::max<int64_t>(g.N, 1);
  for (int64_t j = 0; j < outputs; ++j) {
    const int64_t i = argmax.i64 ? argmax.i64[j] : argmax.i32[j];
    acc[(j / per_sample) * S + i] += dy[j];
  }
  for (int64_t i = 0; i < g.N * S; ++i) dx[i] = static_cast<float>(acc[i]);
}

void avg_pool_forward_ref(const PoolGeometry& g, const float* x, float* y) {
  const int64_t S = sample_size(g);
  for_each_output(g, [&](int64_t n, int64_t o, const int64_t* lo, const int64_t* hi) {
    const int64_t count = (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]);
    for (int64_t c = 0; c < g.C; ++c) {
      double sum = 0.0;
      for (int64_t d = lo[0]; d < hi[0]; ++d)
        for (int64_t h = lo[1]; h < hi[1]; ++h)
          for (int64_t w = lo[2]; w < hi[2]; ++w) sum += x[n * S + cell(g, d, h, w) + c];
      y[o + c] = static_cast<float>(sum / count);
    }
  });
}

void avg_pool_backward_ref(const PoolGeometry& g, const float* dy, float* dx) {
  const int64_t S = sample_size(g);
  std::vector<double> acc(g.N * S, 0.0);
  for_each_output(g, [&](int64_t n, int64_t o, const int64_t* lo, const int64_t* hi) {
    const int64_t count = (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]);
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t d = lo[0]; d < hi[0]; ++d)
        for (int64_t h = lo[1]; h < hi[1]; ++h)
          for (int64_t w = lo[2]; w < hi[2]; ++w)
            acc[n * S + cell(g, d, h, w) + c] += double(dy[o + c]) / count;
  });
  for (int64_t i = 0; i < g.N * S; ++i) dx[i] = static_cast<float>(acc[i]);
}

}  // namespace pykern
