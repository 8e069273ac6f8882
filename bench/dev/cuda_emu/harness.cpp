// Runs the dense-network CUDA kernels under the CPU emulation (emu.h) against
// the CPU oracles of pykern_core on small odd shapes. Not a speed or a
// numerics test of the GPU (the emulation's threads are OS threads and its
// math is the host's): it checks indexing, bounds, tiling, split-K,
// synchronisation and determinism before the code meets a GPU.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/allocator.h"
#include "cuda/check.h"
#include "cuda/conv.h"
#include "cuda/gemm.h"
#include "cuda/norm.h"
#include "cuda/pool.h"
#include "pykern/conv.h"
#include "pykern/gemm.h"
#include "pykern/norm.h"
#include "pykern/pool.h"

namespace pykern::cuda {
void throw_cuda_error(cudaError_t, const char* call, const char*, int) {
  throw std::runtime_error(std::string("emulated CUDA error in ") + call);
}
void check_launch(const char*) {}
DeviceBuffer::DeviceBuffer(size_t bytes) {
  if (bytes == 0) return;
  class_bytes_ = (bytes + 255) / 256 * 256;
  ptr_ = std::aligned_alloc(256, class_bytes_);
  std::memset(ptr_, 0xff, class_bytes_);  // NaN garbage: a read of unwritten scratch shows
}
DeviceBuffer::~DeviceBuffer() { std::free(ptr_); }
}  // namespace pykern::cuda

using namespace pykern;
using Vec = std::vector<float>;

static int failures = 0, checks = 0;
static const double kEps = 1.1920928955078125e-07;

Vec randn(size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, scale);
  Vec v(n);
  for (float& x : v) x = d(g);
  return v;
}
Vec absv(const Vec& v) {
  Vec r(v);
  for (float& x : r) x = std::fabs(x);
  return r;
}

// |got - want| <= (4 sqrt(terms) + 4) eps mag per element (reference.py's bound).
void check(const std::string& what, const Vec& got, const Vec& want, const Vec& mag, double terms) {
  ++checks;
  if (got.size() != want.size()) {
    std::printf("FAIL %s: size %zu != %zu\n", what.c_str(), got.size(), want.size());
    ++failures;
    return;
  }
  for (size_t i = 0; i < got.size(); ++i) {
    const double bound = (4 * std::sqrt(std::max(terms, 1.0)) + 4) * kEps * mag[i] + 1e-30;
    const double err = std::fabs(double(got[i]) - want[i]);
    if (!(err <= bound)) {
      std::printf("FAIL %s: [%zu] got %.9g want %.9g bound %.3g\n", what.c_str(), i, got[i],
                  want[i], bound);
      ++failures;
      return;
    }
  }
}
void check_equal(const std::string& what, const void* a, const void* b, size_t bytes) {
  ++checks;
  if (std::memcmp(a, b, bytes)) {
    std::printf("FAIL %s: not bitwise equal\n", what.c_str());
    ++failures;
  }
}
void check_close(const std::string& what, const Vec& got, const Vec& want, double rtol,
                 double atol) {
  ++checks;
  for (size_t i = 0; i < got.size(); ++i) {
    const bool nan_both = std::isnan(got[i]) && std::isnan(want[i]);
    if (!nan_both && !(std::fabs(double(got[i]) - want[i]) <= atol + rtol * std::fabs(want[i]))) {
      std::printf("FAIL %s: [%zu] got %.9g want %.9g\n", what.c_str(), i, got[i], want[i]);
      ++failures;
      return;
    }
  }
}

// ---- GEMM --------------------------------------------------------------------------------------
GemmArgs gemm_args(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const Vec& A, const Vec& B,
                   Vec& C) {
  GemmArgs g;
  g.trans_a = ta;
  g.trans_b = tb;
  g.M = M, g.N = N, g.K = K;
  g.A = A.data();
  g.lda = std::max<int64_t>(ta ? M : K, 1);
  g.B = B.data();
  g.ldb = std::max<int64_t>(tb ? K : N, 1);
  g.C = C.data();
  g.ldc = std::max<int64_t>(N, 1);
  return g;
}

void gemm_case(bool ta, bool tb, int64_t M, int64_t N, int64_t K, bool tf32, bool epilogue) {
  const Vec A = randn(M * K, unsigned(M * 7 + K)), B = randn(K * N, unsigned(N * 13 + K));
  const Vec bias = randn(N, 5);
  Vec C(M * N, NAN), want(M * N), mag(M * N), C0 = randn(M * N, 9);
  GemmArgs g = gemm_args(ta, tb, M, N, K, A, B, C);
  if (epilogue) {
    C = C0;
    g.alpha = -1.5f;
    g.beta = 0.75f;
    g.bias = bias.data();
    g.act = Act::relu;
  }
  cuda::sgemm_device(g, tf32);
  GemmArgs r = g;
  want = C0;
  r.C = want.data();
  sgemm_ref(r);
  const Vec aA = absv(A), aB = absv(B), aC = absv(C0), ab = absv(bias);
  GemmArgs m = g;
  m.A = aA.data(), m.B = aB.data(), m.C = mag.data(), m.bias = epilogue ? ab.data() : nullptr;
  m.alpha = std::fabs(g.alpha), m.beta = std::fabs(g.beta), m.act = Act::none;
  mag = aC;
  m.C = mag.data();
  sgemm_ref(m);
  if (tf32)
    for (float& v : mag) v *= float(1.0 + std::ldexp(1.0, -9) / ((4 * std::sqrt(double(K)) + 4) * kEps));
  check("sgemm ta=" + std::to_string(ta) + " tb=" + std::to_string(tb) + " " +
            std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K) +
            (tf32 ? " tf32" : "") + (epilogue ? " epilogue" : ""),
        C, want, mag, double(K));
}

void gemm_tests() {
  const int64_t sizes[] = {1, 7, 33, 129};
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      for (int64_t M : sizes)
        for (int64_t N : sizes)
          for (int64_t K : sizes) gemm_case(ta, tb, M, N, K, false, false);
      gemm_case(ta, tb, 64, 64, 2048, false, false);   // split-K
      gemm_case(ta, tb, 33, 20, 1500, false, true);    // split-K with the epilogue
      gemm_case(ta, tb, 1536, 1536, 16, false, false); // large tiles
      gemm_case(ta, tb, 33, 65, 47, true, false);      // TF32
      gemm_case(ta, tb, 130, 129, 20, true, true);
      gemm_case(ta, tb, 37, 41, 43, false, true);
    }
  // batched: a (2, 1, 5, 7) @ b (3, 7, 6) -> (2, 3, 5, 6), a broadcast along axis 1
  const int64_t M = 5, K = 7, N = 6;
  const Vec A = randn(2 * M * K, 1), B = randn(3 * K * N, 2);
  Vec C(6 * M * N), want(6 * M * N), mag(6 * M * N);
  GemmArgs g = gemm_args(false, false, M, N, K, A, B, C);
  cuda::GemmBatch b;
  b.ndim = 2;
  b.dims[0] = 2, b.dims[1] = 3;
  b.a_stride[0] = M * K, b.a_stride[1] = 0;
  b.b_stride[0] = 0, b.b_stride[1] = K * N;
  b.c_step = M * N;
  cuda::sgemm_batched_device(g, b);
  const Vec aA = absv(A), aB = absv(B);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) {
      GemmArgs r = g;
      r.A = A.data() + i * M * K;
      r.B = B.data() + j * K * N;
      r.C = want.data() + (i * 3 + j) * M * N;
      sgemm_ref(r);
      r.A = aA.data() + i * M * K;
      r.B = aB.data() + j * K * N;
      r.C = mag.data() + (i * 3 + j) * M * N;
      sgemm_ref(r);
    }
  check("batched sgemm", C, want, mag, K);
  // activation kernel: every activation against the CPU's
  const Vec x = randn(1000, 3, 4.0f);
  for (int a = 0; a <= 10; ++a) {
    Vec got(x.size()), cpu(x);
    cuda::activation_device(x.data(), got.data(), int64_t(x.size()), Act(a));
    activation_inplace(cpu.data(), int64_t(cpu.size()), Act(a));
    check_close(std::string("activation ") + act_name(Act(a)), got, cpu, 2e-6, 1e-7);
  }
}

// ---- convolution -------------------------------------------------------------------------------
struct ConvCase {
  int64_t N, C, K, groups;
  std::vector<int64_t> in, k, stride, dil, pb, pe;
  bool depthwise = false;  // K is the channel multiplier
};

ConvShape shape_of(const ConvCase& c) {
  ConvShape s;
  s.N = c.N;
  s.C = c.C;
  s.groups = c.depthwise ? c.C : c.groups;
  s.K = c.depthwise ? c.C * c.K : c.K;
  const int sp = int(c.in.size()), off = 3 - sp;
  for (int a = 0; a < sp; ++a) {
    s.in[off + a] = c.in[a];
    s.k[off + a] = c.k[a];
    s.stride[off + a] = c.stride[a];
    s.dil[off + a] = c.dil[a];
    s.pad_begin[off + a] = c.pb[a];
    s.pad_end[off + a] = c.pe[a];
  }
  validate_conv(s, "emu", c.depthwise);
  return s;
}

void conv_case(const ConvCase& cc, const std::string& name) {
  const ConvShape s = shape_of(cc);
  const int64_t taps = s.k[0] * s.k[1] * s.k[2], Cg = s.C / s.groups, Kg = s.K / s.groups;
  const int64_t xn = s.N * s.in[0] * s.in[1] * s.in[2] * s.C;
  const int64_t yn = s.N * s.out[0] * s.out[1] * s.out[2] * s.K, wn = taps * Cg * s.K;
  const Vec x = randn(xn, 1), w = randn(wn, 2), bias = randn(s.K, 3), dy = randn(yn, 4);
  const Vec ax = absv(x), aw = absv(w), ab = absv(bias), ady = absv(dy);
  Vec y(yn), want(yn), mag(yn), dx(xn), wdx(xn), mdx(xn), dw(wn), wdw(wn), mdw(wn);
  auto fwd = cc.depthwise ? cuda::depthwise_forward_device : cuda::conv_forward_device;
  auto bwd = cc.depthwise ? cuda::depthwise_backward_data_device : cuda::conv_backward_data_device;
  auto flt = cc.depthwise ? cuda::depthwise_backward_filter_device
                          : cuda::conv_backward_filter_device;
  fwd(s, x.data(), w.data(), bias.data(), Act::relu, y.data());
  conv_forward_ref(s, x.data(), w.data(), bias.data(), Act::relu, want.data());
  conv_forward_ref(s, ax.data(), aw.data(), ab.data(), Act::none, mag.data());
  check(name + " forward", y, want, mag, double(taps * Cg));
  bwd(s, dy.data(), w.data(), dx.data());
  conv_backward_data_ref(s, dy.data(), w.data(), wdx.data());
  conv_backward_data_ref(s, ady.data(), aw.data(), mdx.data());
  check(name + " backward_data", dx, wdx, mdx, double(taps * Kg));
  flt(s, x.data(), dy.data(), dw.data());
  conv_backward_filter_ref(s, x.data(), dy.data(), wdw.data());
  conv_backward_filter_ref(s, ax.data(), ady.data(), mdw.data());
  check(name + " backward_filter", dw, wdw, mdw, double(s.N * s.out[0] * s.out[1] * s.out[2]));
  Vec dw2(wn);
  flt(s, x.data(), dy.data(), dw2.data());
  check_equal(name + " backward_filter repeatable", dw.data(), dw2.data(), wn * 4);
}

void conv_tests() {
  using V = std::vector<int64_t>;
  const std::vector<std::pair<std::string, ConvCase>> cases = {
      {"2d valid", {2, 3, 5, 1, V{7, 7}, V{3, 3}, V{1, 1}, V{1, 1}, V{0, 0}, V{0, 0}}},
      {"2d same even", {2, 3, 4, 1, V{7, 6}, V{2, 2}, V{1, 1}, V{1, 1}, V{0, 0}, V{1, 1}}},
      {"2d strided dilated", {1, 7, 1, 1, V{31, 7}, V{5, 2}, V{3, 1}, V{1, 2}, V{5, 0}, V{6, 1}}},
      {"2d groups 2 vec", {2, 8, 8, 2, V{7, 9}, V{3, 3}, V{1, 1}, V{1, 1}, V{1, 1}, V{1, 1}}},
      {"2d groups 3", {1, 6, 9, 3, V{7, 33}, V{2, 3}, V{2, 1}, V{2, 1}, V{0, 0}, V{0, 0}}},
      {"2d vec C16 K32", {2, 16, 32, 1, V{9, 8}, V{3, 3}, V{1, 1}, V{1, 1}, V{1, 1}, V{1, 1}}},
      {"2d pointwise", {3, 33, 31, 1, V{7, 7}, V{1, 1}, V{1, 1}, V{1, 1}, V{0, 0}, V{0, 0}}},
      {"2d padded 1x1", {1, 3, 4, 1, V{7, 7}, V{1, 1}, V{1, 1}, V{1, 1}, V{1, 0}, V{0, 2}}},
      {"2d tiny", {1, 3, 2, 1, V{1, 1}, V{3, 3}, V{1, 1}, V{1, 1}, V{1, 1}, V{1, 1}}},
      {"2d depthwise via groups", {1, 7, 7, 7, V{7, 7}, V{3, 3}, V{2, 1}, V{1, 2}, V{1, 2}, V{1, 2}}},
      {"2d multiplier via groups", {2, 3, 6, 3, V{7, 7}, V{3, 3}, V{1, 1}, V{1, 1}, V{0, 0}, V{0, 0}}},
      {"2d split-K filter", {4, 8, 12, 1, V{20, 20}, V{3, 3}, V{1, 1}, V{1, 1}, V{0, 0}, V{0, 0}}},
      {"2d mixed vec", {2, 24, 12, 2, V{9, 10}, V{4, 4}, V{2, 1}, V{2, 1}, V{3, 3}, V{3, 3}}},
      {"1d", {3, 7, 3, 1, V{31}, V{5}, V{3}, V{2}, V{4}, V{4}}},
      {"1d causal", {2, 3, 4, 1, V{33}, V{3}, V{1}, V{2}, V{4}, V{0}}},
      {"3d", {2, 3, 4, 1, V{4, 5, 6}, V{2, 3, 1}, V{1, 2, 1}, V{1, 1, 2}, V{1, 0, 0},
              V{0, 1, 0}}},
      {"3d groups", {1, 4, 6, 2, V{7, 3, 5}, V{3, 1, 2}, V{2, 1, 1}, V{1, 1, 1}, V{1, 0, 0},
                     V{1, 0, 1}}},
      {"empty batch", {0, 3, 4, 1, V{5, 5}, V{3, 3}, V{1, 1}, V{1, 1}, V{1, 1}, V{1, 1}}},
  };
  for (const auto& [name, c] : cases) conv_case(c, name);
  const std::vector<std::pair<std::string, ConvCase>> dw = {
      {"depthwise m1", {2, 3, 1, 0, V{7, 7}, V{3, 3}, V{1, 1}, V{1, 1}, V{1, 1}, V{1, 1}, true}},
      {"depthwise m2 strided", {1, 5, 2, 0, V{13, 11}, V{3, 3}, V{2, 2}, V{1, 1}, V{0, 0},
                                V{0, 0}, true}},
      {"depthwise m3 dilated", {2, 4, 3, 0, V{7, 8}, V{2, 2}, V{1, 2}, V{2, 1}, V{1, 1}, V{0, 1},
                                true}},
      {"depthwise 1d", {3, 7, 1, 0, V{31}, V{5}, V{2}, V{2}, V{4}, V{4}, true}},
      {"depthwise 3d", {1, 3, 2, 0, V{5, 6, 7}, V{3, 2, 3}, V{1, 2, 1}, V{1, 1, 2}, V{1, 0, 2},
                        V{1, 1, 2}, true}},
  };
  for (const auto& [name, c] : dw) conv_case(c, name);
}

// ---- pooling -----------------------------------------------------------------------------------
void pool_case(std::vector<int64_t> in, int64_t N, int64_t C, int64_t pool, int64_t stride,
               bool same) {
  PoolGeometry g;
  g.rank = int(in.size());
  g.N = N;
  g.C = C;
  for (int k = 0; k < g.rank; ++k) {
    const int a = 3 - g.rank + k;
    g.in[a] = in[k];
    g.pool[a] = pool;
    g.stride[a] = stride;
    if (same) {
      const int64_t out = (in[k] + stride - 1) / stride;
      const int64_t total = std::max<int64_t>((out - 1) * stride + pool - in[k], 0);
      g.pad_begin[a] = total / 2;
      g.pad_end[a] = total - total / 2;
    }
  }
  validate_pool(g, "emu");
  const int64_t xn = N * g.in[0] * g.in[1] * g.in[2] * C, yn = N * g.out[0] * g.out[1] * g.out[2] * C;
  Vec x = randn(xn, unsigned(xn));
  for (size_t i = 0; i < x.size(); i += 7) x[i] = std::round(x[i]);  // some ties
  const std::string name = "pool r" + std::to_string(g.rank) + " p" + std::to_string(pool) +
                           " s" + std::to_string(stride) + (same ? " same" : " valid") + " C" +
                           std::to_string(C);
  Vec y(yn), wy(yn);
  std::vector<int32_t> am(yn), wam(yn);
  ArgmaxOut o, wo;
  o.i32 = am.data();
  wo.i32 = wam.data();
  cuda::max_pool_forward_device(g, x.data(), y.data(), o);
  max_pool_forward_ref(g, x.data(), wy.data(), wo);
  check_equal(name + " max y", y.data(), wy.data(), yn * 4);
  check_equal(name + " max argmax", am.data(), wam.data(), yn * 4);
  const Vec dy = randn(yn, 7);
  Vec dx(xn), wdx(xn);
  ArgmaxIn ai;
  ai.i32 = am.data();
  cuda::max_pool_backward_device(g, dy.data(), ai, dx.data());
  max_pool_backward(g, dy.data(), ai, wdx.data());
  check_equal(name + " max backward", dx.data(), wdx.data(), xn * 4);
  Vec a(yn), wa(yn), ma(yn);
  cuda::avg_pool_forward_device(g, x.data(), a.data());
  avg_pool_forward_ref(g, x.data(), wa.data());
  const Vec ax = absv(x), ady = absv(dy);
  avg_pool_forward_ref(g, ax.data(), ma.data());
  check(name + " avg", a, wa, ma, double(pool * pool * pool));
  Vec adx(xn), wadx(xn), madx(xn);
  cuda::avg_pool_backward_device(g, dy.data(), adx.data());
  avg_pool_backward_ref(g, dy.data(), wadx.data());
  avg_pool_backward_ref(g, ady.data(), madx.data());
  check(name + " avg backward", adx, wadx, madx, double(pool * pool * pool));
}

void pool_tests() {
  for (int64_t pool : {1, 2, 3})
    for (int64_t stride : {1, 2, 3})
      for (bool same : {false, true}) {
        pool_case({7}, 2, 3, pool, stride, same);
        pool_case({7, 5}, 2, 33, pool, stride, same);
        pool_case({3, 7, 3}, 1, 5, pool, stride, same);
      }
  // a bad argmax is reported, never written
  PoolGeometry g;
  g.rank = 2;
  g.N = 1, g.C = 2, g.in[1] = 2, g.in[2] = 2, g.pool[1] = g.pool[2] = 2;
  g.stride[1] = g.stride[2] = 2;
  validate_pool(g, "emu");
  Vec dy(2, 1.0f), dx(8);
  std::vector<int32_t> bad = {0, 0};
  ArgmaxIn ai;
  ai.i32 = bad.data();
  ++checks;
  try {
    cuda::max_pool_backward_device(g, dy.data(), ai, dx.data());
    std::printf("FAIL bad argmax: no error\n");
    ++failures;
  } catch (const std::invalid_argument& e) {
    std::printf("ok: %s\n", e.what());
  }
}

// ---- normalization ----------------------------------------------------------------------------
void bn_case(BatchNormShape s, bool affine) {
  const int64_t n = s.P * s.A * s.C * s.B, pc = s.P * s.C;
  const Vec x = randn(n, unsigned(n + 1), 2.0f), dy = randn(n, 3);
  const Vec gamma = randn(s.C, 4), beta = randn(s.C, 5);
  const float* g = affine ? gamma.data() : nullptr;
  const float* b = affine ? beta.data() : nullptr;
  Vec y(n), m(pc), v(pc), is(pc), wy(n), wm(pc), wv(pc), wis(pc);
  cuda::batch_norm_train_device(s, x.data(), g, b, 1e-3f, y.data(), m.data(), v.data(), is.data());
  batch_norm_train_ref(s, x.data(), g, b, 1e-3f, wy.data(), wm.data(), wv.data(), wis.data());
  const std::string name = "bn " + std::to_string(s.P) + "x" + std::to_string(s.A) + "x" +
                           std::to_string(s.C) + "x" + std::to_string(s.B);
  check_close(name + " mean", m, wm, 2 * kEps, 1e-7);
  check_close(name + " var", v, wv, 2 * kEps, 1e-30);
  check_close(name + " inv_std", is, wis, 2 * kEps, 1e-30);
  check_close(name + " y", y, wy, 0, 1e-5);
  Vec dx(n), dg(s.C), db(s.C), wdx(n), wdg(s.C), wdb(s.C);
  cuda::batch_norm_backward_device(s, dy.data(), x.data(), wm.data(), wis.data(), g, dx.data(),
                                   dg.data(), db.data());
  batch_norm_backward(s, dy.data(), x.data(), wm.data(), wis.data(), g, wdx.data(), wdg.data(),
                      wdb.data());
  check_close(name + " dx", dx, wdx, 1e-5, 1e-5);
  check_close(name + " dgamma", dg, wdg, 2 * kEps, 1e-6);
  check_close(name + " dbeta", db, wdb, 2 * kEps, 1e-6);
  Vec iy(n), wiy(n);
  cuda::batch_norm_inference_device(s, x.data(), wm.data(), wv.data(), g, b, 1e-3f, iy.data());
  batch_norm_inference(s, x.data(), wm.data(), wv.data(), g, b, 1e-3f, wiy.data());
  check_close(name + " inference", iy, wiy, 0, 1e-6);
}

void ln_case(int64_t M, int64_t F, bool affine) {
  const Vec x = randn(M * F, unsigned(M + F), 3.0f), dy = randn(M * F, 8);
  const Vec gamma = randn(F, 4), beta = randn(F, 5);
  const float* g = affine ? gamma.data() : nullptr;
  const float* b = affine ? beta.data() : nullptr;
  Vec y(M * F), m(M), is(M), wy(M * F), wm(M), wis(M);
  cuda::layer_norm_forward_device(M, F, x.data(), g, b, 1e-3f, y.data(), m.data(), is.data());
  layer_norm_forward(M, F, x.data(), g, b, 1e-3f, wy.data(), wm.data(), wis.data());
  const std::string name = "ln " + std::to_string(M) + "x" + std::to_string(F);
  check_close(name + " mean", m, wm, 2 * kEps, 1e-7);
  check_close(name + " inv_std", is, wis, 2 * kEps, 1e-30);
  check_close(name + " y", y, wy, 0, 1e-5);
  Vec dx(M * F), dg(F), db(F), wdx(M * F), wdg(F), wdb(F);
  cuda::layer_norm_backward_device(M, F, dy.data(), x.data(), wm.data(), wis.data(), g, dx.data(),
                                   dg.data(), db.data());
  layer_norm_backward(M, F, dy.data(), x.data(), wm.data(), wis.data(), g, wdx.data(), wdg.data(),
                      wdb.data());
  check_close(name + " dx", dx, wdx, 1e-5, 1e-5);
  check_close(name + " dgamma", dg, wdg, 2 * kEps, 1e-6);
  check_close(name + " dbeta", db, wdb, 2 * kEps, 1e-6);
}

void norm_tests() {
  for (bool affine : {true, false}) {
    for (BatchNormShape s : {BatchNormShape{1, 1, 1, 1}, BatchNormShape{1, 7, 33, 1},
                             BatchNormShape{1, 33, 3, 7}, BatchNormShape{1, 3, 7, 31},
                             BatchNormShape{3, 7, 5, 3}, BatchNormShape{2, 31, 4, 33},
                             BatchNormShape{1, 3000, 5, 1}, BatchNormShape{1, 0, 3, 2}})
      bn_case(s, affine);
    for (auto [M, F] : {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {33, 129}, {7, 33}, {5, 1000}})
      ln_case(M, F, affine);
  }
}

int main(int argc, char** argv) {
  const std::string only = argc > 1 ? argv[1] : "";
  if (only.empty() || only == "gemm") gemm_tests();
  if (only.empty() || only == "conv") conv_tests();
  if (only.empty() || only == "pool") pool_tests();
  if (only.empty() || only == "norm") norm_tests();
  std::printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
