// Batch and layer normalization (contract in pykern/norm.h).
//
// Memory-bound: batch norm reads x twice for its statistics (two-pass: mean, then
// squared deviations) and once more to write y; layer norm does the same row by
// row, in cache. All sums are in double. Two shapes of batch-norm data:
//  - narrow (B < kWideRun, e.g. channels-last B = 1): each (p, a) is a row of
//    W = C*B contiguous floats; sums run down the columns, vectorised across
//    them, and the B columns of one channel are added at the end;
//  - wide (B >= kWideRun, e.g. NCHW): each (p, a, c) is a run of B floats,
//    summed in 8 interleaved lanes.
// Determinism: column sums cut the rows into blocks whose size depends on the
// shape alone, keep one partial sum per block and add the blocks in order; the
// threads only decide who computes which block.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "pykern/arena.h"
#include "pykern/norm.h"
#include "pykern/threads.h"

namespace pykern {
namespace {

constexpr int kLanes = 8;
constexpr int64_t kWideRun = 16;
constexpr int64_t kBlockElems = 16384;  // floats per block of a column sum (64 KiB)

// Pairs of doubles as GCC vectors: one SSE2 register each, so the baseline build
// keeps a lane_sum's accumulators in registers. Floats are widened four at a time
// (one cvtps2pd per half: GCC turns the vd4 conversion into exactly that).
typedef double vd __attribute__((vector_size(2 * sizeof(double))));
typedef double vd4 __attribute__((vector_size(4 * sizeof(double))));
typedef float vf4 __attribute__((vector_size(4 * sizeof(float))));

// K sums of doubles, or of pairs of doubles.
template <int K, class T = double>
struct Sums {
  T v[K];
};

template <class T, class... U>
inline Sums<1 + sizeof...(U), T> sums(T a, U... b) {
  return {{a, b...}};
}

// Element loaders that let one generic lambda describe a term: a(x) is x[i] as a
// double (ScalarAt), or the pair x[i + 2h], x[i + 2h + 1] as a vector of doubles
// (HalfAt: half h of the four floats at x + i).
struct ScalarAt {
  int64_t i;
  double operator()(const float* x) const { return x[i]; }
};
struct HalfAt {
  int64_t i;
  int h;
  vd operator()(const float* x) const {
    vf4 v;
    std::memcpy(&v, x + i, sizeof v);
    const vd4 d = __builtin_convertvector(v, vd4);
    return h ? __builtin_shufflevector(d, d, 2, 3) : __builtin_shufflevector(d, d, 0, 1);
  }
};

double* scratch_doubles(int slot, int64_t count) {
  return reinterpret_cast<double*>(thread_scratch(slot, std::max<int64_t>(count, 1) * 8));
}

// Sum over i in [i0, i0 + n) of elem(at) (K values; `at` loads element i, or a
// pair), in kLanes interleaved lanes (element i0 + j goes to lane j % kLanes)
// added pairwise at the end.
template <int K, class Elem>
inline Sums<K> lane_sum(int64_t i0, int64_t n, const Elem& elem) {
  constexpr int kPairs = kLanes / 2;
  vd acc[K][kPairs] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int q = 0; q < kPairs; ++q) {
      const Sums<K, vd> t = elem(HalfAt{i0 + j + 4 * (q / 2), q % 2});
      for (int k = 0; k < K; ++k) acc[k][q] += t.v[k];
    }
  for (int l = 0; j < n; ++j, ++l) {
    const Sums<K> t = elem(ScalarAt{i0 + j});
    for (int k = 0; k < K; ++k) acc[k][l / 2][l % 2] += t.v[k];
  }
  Sums<K> s;
  for (int k = 0; k < K; ++k) {
    const vd* a = acc[k];
    s.v[k] = ((a[0][0] + a[0][1]) + (a[1][0] + a[1][1])) +
             ((a[2][0] + a[2][1]) + (a[3][0] + a[3][1]));
  }
  return s;
}

// out[(p*K + k)*W + w] = sum over a < A of term(p, a, w).v[k], where each term covers
// `run` floats of data. Rows are cut into blocks (and columns into chunks) of sizes
// fixed by (P, A, W, run); each block's partial sums go to slot-0 scratch and the
// blocks are added in order.
template <int K, class Term>
void column_sums(int64_t P, int64_t A, int64_t W, int64_t run, const Term& term, double* out) {
  const int64_t per_row = std::max<int64_t>(W * run, 1);
  // at least 32 floats of rows per block: the partial sums stay well below the data
  const int64_t rows = std::clamp(std::max(kBlockElems / per_row, (31 + run) / run), int64_t{1},
                                  std::max<int64_t>(A, 1));
  const int64_t blocks = (A + rows - 1) / rows;
  const int64_t cols =
      std::min(std::max(kBlockElems / (rows * run), int64_t{16}), std::max<int64_t>(W, 1));
  const int64_t chunks = (W + cols - 1) / cols;
  double* part = scratch_doubles(0, P * blocks * K * W);
  const int64_t tiles = P * blocks * chunks;
  const int nt = static_cast<int>(std::min<int64_t>(
      threads_for(2.0 * K * P * A * per_row), std::max<int64_t>(tiles, 1)));
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t chunk = t % chunks, b = t / chunks % blocks, p = t / (chunks * blocks);
    const int64_t w0 = chunk * cols, w1 = std::min(W, w0 + cols);
    const int64_t a0 = b * rows, a1 = std::min(A, a0 + rows);
    double* acc = part + (p * blocks + b) * K * W;
    for (int k = 0; k < K; ++k) std::fill(acc + k * W + w0, acc + k * W + w1, 0.0);
    for (int64_t a = a0; a < a1; ++a)
      for (int64_t w = w0; w < w1; ++w) {
        const Sums<K> s = term(p, a, w);
        for (int k = 0; k < K; ++k) acc[k * W + w] += s.v[k];
      }
  }
  for (int64_t p = 0; p < P; ++p)
    for (int64_t i = 0; i < K * W; ++i) {
      double s = 0.0;
      for (int64_t b = 0; b < blocks; ++b) s += part[(p * blocks + b) * K * W + i];
      out[p * K * W + i] = s;
    }
}

// How the kernels walk x (P, A, C, B): element j of column w of row (p, a) is
// x[((p*A + a)*W + w)*run + j]; per-(p, c) constants are expanded to per-(p, w).
struct View {
  int64_t P, A, C, B, W, run;
  bool wide;
};

View view_of(const BatchNormShape& s) {
  const bool wide = s.B >= kWideRun;
  return {s.P, s.A, s.C, s.B, wide ? s.C : s.C * s.B, wide ? s.B : 1, wide};
}

// f(std::bool_constant<v.wide>{}): the kernels are compiled for each kind of view.
template <class F>
void on_view(const View& v, const F& f) {
  if (v.wide)
    f(std::true_type{});
  else
    f(std::false_type{});
}

inline int64_t channel_of(const View& v, int64_t w) { return v.wide ? w : w / v.B; }

// out[(p*K + k)*W + w] = sum over the elements i of column (p, w) of elem(p*W + w, at).v[k],
// where `at` loads element i (see ScalarAt, HalfAt).
template <int K, bool kWide, class Elem>
void view_sums(const View& v, const Elem& elem, double* out) {
  column_sums<K>(v.P, v.A, v.W, v.run, [&](int64_t p, int64_t a, int64_t w) {
    const int64_t pw = p * v.W + w, i0 = ((p * v.A + a) * v.W + w) * v.run;
    if constexpr (kWide)
      return lane_sum<K>(i0, v.run, [&](const auto& at) { return elem(pw, at); });
    else
      return elem(pw, ScalarAt{i0});
  }, out);
}

// stat[(p*K + k)*C + c] = the sum of column sums over the B columns of channel c (narrow),
// added in column order.
void fold_channels(const View& v, int K, const double* sums, double* stat) {
  const int64_t per = v.wide ? 1 : v.B;
  for (int64_t pk = 0; pk < v.P * K; ++pk)
    for (int64_t c = 0; c < v.C; ++c) {
      double s = 0.0;
      for (int64_t b = 0; b < per; ++b) s += sums[pk * v.W + c * per + b];
      stat[pk * v.C + c] = s;
    }
}

// f(i, p*W + w) for every element i, threads over rows (narrow) or runs (wide).
template <bool kWide, class F>
void view_elements(const View& v, double flops_per_element, const F& f) {
  const int nt = threads_for(flops_per_element * v.P * v.A * v.W * v.run);
  if constexpr (kWide) {
    const int64_t runs = v.P * v.A * v.W;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t r = 0; r < runs; ++r) {
      const int64_t pw = r / (v.A * v.W) * v.W + r % v.W;
      for (int64_t j = 0; j < v.run; ++j) f(r * v.run + j, pw);
    }
  } else {
    const int64_t rows = v.P * v.A;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t q = 0; q < rows; ++q) {
      const int64_t p0 = q / v.A * v.W;
      for (int64_t w = 0; w < v.W; ++w) f(q * v.W + w, p0 + w);
    }
  }
}

// Per-(p, w) float coefficients, n arrays of P*W in slot-2 scratch.
struct Coefficients {
  float* a[4];
  Coefficients(const View& v, int n) {
    float* base = thread_scratch(2, std::max<int64_t>(n * v.P * v.W, 1) * sizeof(float));
    for (int k = 0; k < 4; ++k) a[k] = base + (k < n ? k : 0) * v.P * v.W;
  }
};

// y = (x - m) * s + t with m = mean, s = gamma * inv_std, t = beta per (p, c).
template <bool kWide>
void normalize(const View& v, const float* x, const float* mean, const float* inv_std,
               const float* gamma, const float* beta, float* y) {
  const Coefficients k(v, 3);
  float *m = k.a[0], *s = k.a[1], *t = k.a[2];
  for (int64_t p = 0; p < v.P; ++p)
    for (int64_t w = 0; w < v.W; ++w) {
      const int64_t c = channel_of(v, w), pw = p * v.W + w;
      m[pw] = mean[p * v.C + c];
      s[pw] = (gamma ? gamma[c] : 1.f) * inv_std[p * v.C + c];
      t[pw] = beta ? beta[c] : 0.f;
    }
  view_elements<kWide>(v, 3.0,
                       [&](int64_t i, int64_t pw) { y[i] = (x[i] - m[pw]) * s[pw] + t[pw]; });
}

template <bool kWide>
void train(const View& v, const float* x, const float* gamma, const float* beta, float epsilon,
           float* y, float* mean, float* var, float* inv_std) {
  const int64_t PC = v.P * v.C;
  const double n = double(v.A) * double(v.B);
  double* total = scratch_doubles(1, v.P * v.W);
  double* stat = scratch_doubles(3, 2 * PC);  // mean, then sum of squared deviations
  view_sums<1, kWide>(v, [&](int64_t, const auto& at) { return sums(at(x)); }, total);
  fold_channels(v, 1, total, stat);
  for (int64_t pc = 0; pc < PC; ++pc) stat[pc] /= n;
  double* m = scratch_doubles(2, v.P * v.W);
  for (int64_t pw = 0; pw < v.P * v.W; ++pw) m[pw] = stat[pw / v.W * v.C + channel_of(v, pw % v.W)];
  view_sums<1, kWide>(v, [&](int64_t pw, const auto& at) {
    const auto d = at(x) - m[pw];
    return sums(d * d);
  }, total);
  fold_channels(v, 1, total, stat + PC);
  for (int64_t pc = 0; pc < PC; ++pc) {
    const double vr = stat[PC + pc] / n;
    mean[pc] = static_cast<float>(stat[pc]);
    var[pc] = static_cast<float>(vr);
    inv_std[pc] = static_cast<float>(1.0 / std::sqrt(vr + double(epsilon)));
  }
  normalize<kWide>(v, x, mean, inv_std, gamma, beta, y);
}

template <bool kWide>
void backward(const View& v, const float* dy, const float* x, const float* mean,
              const float* inv_std, const float* gamma, float* dx, float* dgamma, float* dbeta) {
  const int64_t PC = v.P * v.C;
  const double n = double(v.A) * double(v.B);
  double* m = scratch_doubles(2, v.P * v.W);
  for (int64_t pw = 0; pw < v.P * v.W; ++pw) m[pw] = mean[pw / v.W * v.C + channel_of(v, pw % v.W)];
  double* total = scratch_doubles(1, 2 * v.P * v.W);
  view_sums<2, kWide>(v, [&](int64_t pw, const auto& at) {
    const auto g = at(dy);
    return sums(g, g * (at(x) - m[pw]));
  }, total);
  double* stat = scratch_doubles(3, 2 * PC);  // per (p, c): sum(dy), sum(dy * (x - mean))
  fold_channels(v, 2, total, stat);
  for (int64_t c = 0; c < v.C; ++c) {
    double sg = 0.0, sb = 0.0;
    for (int64_t p = 0; p < v.P; ++p) {
      sb += stat[(2 * p) * v.C + c];
      sg += stat[(2 * p + 1) * v.C + c] * double(inv_std[p * v.C + c]);
    }
    dgamma[c] = static_cast<float>(sg);
    dbeta[c] = static_cast<float>(sb);
  }
  // dx = a*dy + q*(x - mean) + r, per (p, c): a = g*is, q = -g*is^3*sum(dy*(x-mean))/n,
  // r = -g*is*sum(dy)/n
  const Coefficients k(v, 4);
  float *a = k.a[0], *mf = k.a[1], *q = k.a[2], *r = k.a[3];
  for (int64_t p = 0; p < v.P; ++p)
    for (int64_t w = 0; w < v.W; ++w) {
      const int64_t c = channel_of(v, w), pc = p * v.C + c, pw = p * v.W + w;
      const double is = inv_std[pc], gi = (gamma ? double(gamma[c]) : 1.0) * is;
      a[pw] = static_cast<float>(gi);
      mf[pw] = mean[pc];
      q[pw] = static_cast<float>(-gi * is * is * stat[(2 * p + 1) * v.C + c] / n);
      r[pw] = static_cast<float>(-gi * stat[(2 * p) * v.C + c] / n);
    }
  view_elements<kWide>(v, 5.0, [&](int64_t i, int64_t pw) {
    dx[i] = a[pw] * dy[i] + (q[pw] * (x[i] - mf[pw]) + r[pw]);
  });
}

}  // namespace

void validate_batch_norm(const BatchNormShape& s, const char* op) {
  if (s.P < 0 || s.A < 0 || s.C < 0 || s.B < 0)
    throw std::invalid_argument(std::string(op) + ": negative size in the (P, A, C, B) view (" +
                                std::to_string(s.P) + ", " + std::to_string(s.A) + ", " +
                                std::to_string(s.C) + ", " + std::to_string(s.B) + ")");
}

void batch_norm_train(const BatchNormShape& s, const float* x, const float* gamma,
                      const float* beta, float epsilon, float* y, float* mean, float* var,
                      float* inv_std) {
  validate_batch_norm(s, "batch_norm_train");
  const View v = view_of(s);
  on_view(v, [&](auto wide) { train<wide>(v, x, gamma, beta, epsilon, y, mean, var, inv_std); });
}

void batch_norm_inference(const BatchNormShape& s, const float* x, const float* mean,
                          const float* var, const float* gamma, const float* beta, float epsilon,
                          float* y) {
  validate_batch_norm(s, "batch_norm_inference");
  const View v = view_of(s);
  const int64_t PC = s.P * s.C;
  float* inv_std = reinterpret_cast<float*>(scratch_doubles(3, PC));
  for (int64_t pc = 0; pc < PC; ++pc)
    inv_std[pc] = static_cast<float>(1.0 / std::sqrt(double(var[pc]) + double(epsilon)));
  on_view(v, [&](auto wide) { normalize<wide>(v, x, mean, inv_std, gamma, beta, y); });
}

void batch_norm_backward(const BatchNormShape& s, const float* dy, const float* x,
                         const float* mean, const float* inv_std, const float* gamma, float* dx,
                         float* dgamma, float* dbeta) {
  validate_batch_norm(s, "batch_norm_backward");
  const View v = view_of(s);
  on_view(v, [&](auto wide) {
    backward<wide>(v, dy, x, mean, inv_std, gamma, dx, dgamma, dbeta);
  });
}

void layer_norm_forward(int64_t M, int64_t F, const float* x, const float* gamma,
                        const float* beta, float epsilon, float* y, float* mean, float* inv_std) {
  const int nt = threads_for(8.0 * M * F);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < M; ++r) {
    const float* xr = x + r * F;
    const double md = lane_sum<1>(0, F, [&](const auto& at) { return sums(at(xr)); }).v[0] / F;
    const double vr = lane_sum<1>(0, F, [&](const auto& at) {
      const auto d = at(xr) - md;
      return sums(d * d);
    }).v[0] / F;
    const float mf = static_cast<float>(md);
    const float is = static_cast<float>(1.0 / std::sqrt(vr + double(epsilon)));
    mean[r] = mf;
    inv_std[r] = is;
    float* yr = y + r * F;
    for (int64_t f = 0; f < F; ++f)
      yr[f] = (xr[f] - mf) * ((gamma ? gamma[f] : 1.f) * is) + (beta ? beta[f] : 0.f);
  }
}

void layer_norm_backward(int64_t M, int64_t F, const float* dy, const float* x, const float* mean,
                         const float* inv_std, const float* gamma, float* dx, float* dgamma,
                         float* dbeta) {
  const int nt = threads_for(12.0 * M * F);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < M; ++r) {
    const float *xr = x + r * F, *dyr = dy + r * F;
    const float mf = mean[r], is = inv_std[r];
    const Sums<2> s = lane_sum<2>(0, F, [&](const auto& at) {
      const auto g = gamma ? at(dyr) * at(gamma) : at(dyr);
      return sums(g, g * (at(xr) - mf));
    });
    const float q = static_cast<float>(-double(is) * is * is * s.v[1] / F);
    const float c = static_cast<float>(-double(is) * s.v[0] / F);
    float* dxr = dx + r * F;
    for (int64_t f = 0; f < F; ++f)
      dxr[f] = ((gamma ? gamma[f] : 1.f) * is) * dyr[f] + (q * (xr[f] - mf) + c);
  }
  double* total = scratch_doubles(1, 2 * F);
  column_sums<2>(1, M, F, 1, [&](int64_t, int64_t a, int64_t f) {
    const int64_t i = a * F + f;
    const double g = dy[i];
    return sums(g * (double(x[i]) - mean[a]) * inv_std[a], g);
  }, total);
  for (int64_t f = 0; f < F; ++f) {
    dgamma[f] = static_cast<float>(total[f]);
    dbeta[f] = static_cast<float>(total[F + f]);
  }
}

}  // namespace pykern
