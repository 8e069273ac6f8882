// Vectorised activations, written once with GCC vector extensions and compiled
// once per ISA: each kernels/<isa>/ file defines PK_VEC_FLOATS (16, 8, 4) and
// includes this header inside its own namespace, so the same source becomes
// zmm, ymm or xmm code (the NumPy dispatch scheme, kernels.md 1.7).
//
// exp follows the Cephes expf scheme: x = n*ln2 + r with |r| <= ln2/2, a
// degree-5 polynomial for e^r, and 2^n assembled in the exponent bits; about
// 1 ulp on [-87, 88]. tanh uses Cephes' odd polynomial for |x| < 0.625 where
// 1 - 2/(e^2x + 1) would cancel, and the exp form elsewhere.
#ifndef PK_VEC_FLOATS
#error "define PK_VEC_FLOATS before including activation_body.h"
#endif

// The including file provides <cstring> and pykern/activation.h (this header
// is included inside a namespace, so it includes nothing itself).

typedef float vf __attribute__((vector_size(PK_VEC_FLOATS * 4)));
typedef int vi __attribute__((vector_size(PK_VEC_FLOATS * 4)));

static inline vf vsplat(float v) { return vf{} + v; }

static inline vf vexp(vf x) {
  const vf hi = vsplat(88.72283935546875f), lo = vsplat(-87.33654022216797f);
  const vf xc = x > hi ? hi : (x < lo ? lo : x);
  const vf shifter = vsplat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  const vf n = (xc * 1.44269504088896341f + shifter) - shifter;
  vf r = xc - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  vf p = vsplat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const vi ni = __builtin_convertvector(n, vi);
  const vi bits = (ni + 127) << 23;
  vf scale;
  std::memcpy(&scale, &bits, sizeof scale);
  vf y = p * scale;
  const vf inf = vsplat(__builtin_inff());
  y = x > hi ? inf : y;
  y = x < lo ? vsplat(0.0f) : y;
  return x != x ? x : y;  // NaN in, NaN out
}

static inline vf vsigmoid(vf x) { return 1.0f / (1.0f + vexp(-x)); }

static inline vf vtanh(vf x) {
  const vf ax = x < 0.0f ? -x : x;
  const vf z = x * x;
  vf p = vsplat(-5.70498872745e-3f);
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const vf small = x + x * z * p;
  const vf axc = ax > 9.0f ? vsplat(9.0f) : ax;  // tanh(9) == 1 in float
  vf big = 1.0f - 2.0f / (vexp(axc + axc) + 1.0f);
  big = x < 0.0f ? -big : big;
  return ax < 0.625f ? small : big;
}

static inline vf vrelu(vf x) { return x < 0.0f ? vsplat(0.0f) : x; }

template <vf (*F)(vf)>
static inline void map_row(float* y, int64_t n) {
  constexpr int W = PK_VEC_FLOATS;
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    vf v;
    std::memcpy(&v, y + i, sizeof v);
    v = F(v);
    std::memcpy(y + i, &v, sizeof v);
  }
  if (i < n) {
    vf v = vsplat(0.0f);
    std::memcpy(&v, y + i, (n - i) * sizeof(float));
    v = F(v);
    std::memcpy(y + i, &v, (n - i) * sizeof(float));
  }
}

static void act_row_impl(float* y, int64_t n, pykern::Act act) {
  switch (act) {
    case pykern::Act::relu: map_row<vrelu>(y, n); break;
    case pykern::Act::sigmoid: map_row<vsigmoid>(y, n); break;
    case pykern::Act::tanh: map_row<vtanh>(y, n); break;
    default: break;
  }
}
