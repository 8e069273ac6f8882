// Vectorised activations, written once with GCC vector extensions and compiled
// once per ISA: each kernels/<isa>/ file defines PK_VEC_FLOATS (16, 8, 4) and
// includes this header inside its own namespace, so the same source becomes
// zmm, ymm or xmm code (the NumPy dispatch scheme, kernels.md 1.7).
//
// exp follows the Cephes expf scheme: x = n*ln2 + r with |r| <= ln2/2, a
// degree-5 polynomial for e^r, and 2^n assembled in the exponent bits; about
// 1 ulp on [-87, 88]. tanh uses Cephes' odd polynomial for |x| < 0.625 where
// 1 - 2/(e^2x + 1) would cancel, and the exp form elsewhere. expm1 (elu, selu)
// drops the "+ 1" of the same polynomial where n == 0, so small |x| keep their
// relative accuracy; log (softplus) is Cephes' logf on [1, 2].
//
// The formulas are Keras 3's on TensorFlow: hard_sigmoid = relu6(x + 3) / 6,
// softplus = log1p(e^x) (as max(x, 0) + log1p(e^-|x|)), silu = x * sigmoid(x),
// selu with TF's constants. act_grad_row_impl multiplies a gradient by the
// derivative TF's gradient registrations use (relu: x > 0; hard_sigmoid: 1/6
// strictly inside (-3, 3); elu/selu from the output y).
#ifndef PK_VEC_FLOATS
#error "define PK_VEC_FLOATS before including activation_body.h"
#endif

// The including file provides <cstring> and pykern/activation.h (this header
// is included inside a namespace, so it includes nothing itself).

typedef float vf __attribute__((vector_size(PK_VEC_FLOATS * 4)));
typedef int vi __attribute__((vector_size(PK_VEC_FLOATS * 4)));

static inline vf vsplat(float v) { return vf{} + v; }

// e^r - 1 - r for |r| <= ln2/2, over r^2 (Cephes expf's polynomial).
static inline vf vexp_poly(vf r) {
  vf p = vsplat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return p;
}

static inline vf vexp(vf x) {
  const vf hi = vsplat(88.72283935546875f), lo = vsplat(-87.33654022216797f);
  const vf xc = x > hi ? hi : (x < lo ? lo : x);
  const vf shifter = vsplat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  const vf n = (xc * 1.44269504088896341f + shifter) - shifter;
  vf r = xc - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  vf p = vexp_poly(r);
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

static inline vf vabs(vf x) { return x < 0.0f ? -x : x; }

// e^x - 1: below ln2/2 in magnitude n == 0, and the polynomial alone is exact
// to ~1 ulp of the (small) result.
static inline vf vexpm1(vf x) {
  const vf small = vexp_poly(x) * x * x + x;
  return vabs(x) < 0.34657359f ? small : vexp(x) - 1.0f;
}

// log(x) for normal x > 0 (Cephes logf): x = m * 2^e with m in [sqrt(1/2), sqrt(2)).
static inline vf vlog(vf x) {
  vi bits;
  std::memcpy(&bits, &x, sizeof bits);
  vi e = ((bits >> 23) & 0xff) - 126;
  bits = (bits & 0x807fffff) | 0x3f000000;  // mantissa in [0.5, 1)
  vf m;
  std::memcpy(&m, &bits, sizeof m);
  const vi low = m < 0.707106781186547524f;
  e = e + low;  // low is -1 (all bits) where true
  m = (low ? m + m : m) - 1.0f;
  const vf ef = __builtin_convertvector(e, vf);
  const vf z = m * m;
  vf y = vsplat(7.0376836292e-2f);
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  y = y + ef * -2.12194440e-4f;
  y = y - z * 0.5f;
  return m + y + ef * 0.693359375f;
}

static inline vf vhard_sigmoid(vf x) {
  const vf t = x + 3.0f;
  return (t < 0.0f ? vsplat(0.0f) : (t > 6.0f ? vsplat(6.0f) : t)) / 6.0f;
}

static inline vf velu(vf x) { return x > 0.0f ? x : vexpm1(x); }

constexpr float kSeluScale = 1.0507009873554804934f, kSeluAlpha = 1.6732632423543772848f;

static inline vf vselu(vf x) { return kSeluScale * (x > 0.0f ? x : kSeluAlpha * vexpm1(x)); }

static inline vf vsoftsign(vf x) { return x / (vabs(x) + 1.0f); }

// log1p(u) = log(w) * u / (w - 1) with w = 1 + u (Goldberg), exact where w == 1.
static inline vf vsoftplus(vf x) {
  const vf u = vexp(-vabs(x));
  const vf w = u + 1.0f;
  const vf l = w == 1.0f ? u : vlog(w) * u / (w - 1.0f);
  return vrelu(x) + l;
}

static inline vf vsilu(vf x) { return x * vsigmoid(x); }

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

static inline void act_row_impl(float* y, int64_t n, pykern::Act act) {
  using pykern::Act;
  switch (act) {
    case Act::relu: map_row<vrelu>(y, n); break;
    case Act::sigmoid: map_row<vsigmoid>(y, n); break;
    case Act::tanh: map_row<vtanh>(y, n); break;
    case Act::hard_sigmoid: map_row<vhard_sigmoid>(y, n); break;
    case Act::elu: map_row<velu>(y, n); break;
    case Act::selu: map_row<vselu>(y, n); break;
    case Act::softsign: map_row<vsoftsign>(y, n); break;
    case Act::softplus: map_row<vsoftplus>(y, n); break;
    case Act::silu: map_row<vsilu>(y, n); break;
    case Act::exponential: map_row<vexp>(y, n); break;
    default: break;
  }
}

// Derivatives f'(x) given x and y = f(x).
static inline vf drelu(vf x, vf) { return x > 0.0f ? vsplat(1.0f) : vsplat(0.0f); }
static inline vf dsigmoid(vf, vf y) { return y * (1.0f - y); }
static inline vf dtanh(vf, vf y) { return 1.0f - y * y; }
static inline vf dhard_sigmoid(vf x, vf) {
  const vf t = x + 3.0f;
  return (t > 0.0f && t < 6.0f) ? vsplat(1.0f / 6.0f) : vsplat(0.0f);
}
static inline vf delu(vf x, vf y) { return x > 0.0f ? vsplat(1.0f) : y + 1.0f; }
static inline vf dselu(vf x, vf y) {
  return x > 0.0f ? vsplat(kSeluScale) : y + kSeluScale * kSeluAlpha;
}
static inline vf dsoftsign(vf x, vf) {
  const vf d = vabs(x) + 1.0f;
  return 1.0f / (d * d);
}
static inline vf dsoftplus(vf x, vf) { return vsigmoid(x); }
static inline vf dsilu(vf x, vf) {
  const vf s = vsigmoid(x);
  return s * (1.0f + x * (1.0f - s));
}
static inline vf dexponential(vf, vf y) { return y; }

// g[i] *= f'(x[i]) for i < n.
template <vf (*D)(vf, vf)>
static inline void grad_row(const float* x, const float* y, float* g, int64_t n) {
  constexpr int W = PK_VEC_FLOATS;
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    vf xv, yv, gv;
    std::memcpy(&xv, x + i, sizeof xv);
    std::memcpy(&yv, y + i, sizeof yv);
    std::memcpy(&gv, g + i, sizeof gv);
    gv = gv * D(xv, yv);
    std::memcpy(g + i, &gv, sizeof gv);
  }
  if (i < n) {
    const size_t bytes = (n - i) * sizeof(float);
    vf xv = vsplat(0.0f), yv = vsplat(0.0f), gv = vsplat(0.0f);
    std::memcpy(&xv, x + i, bytes);
    std::memcpy(&yv, y + i, bytes);
    std::memcpy(&gv, g + i, bytes);
    gv = gv * D(xv, yv);
    std::memcpy(g + i, &gv, bytes);
  }
}

static inline void act_grad_row_impl(const float* x, const float* y, float* g, int64_t n,
                                     pykern::Act act) {
  using pykern::Act;
  switch (act) {
    case Act::relu: grad_row<drelu>(x, y, g, n); break;
    case Act::sigmoid: grad_row<dsigmoid>(x, y, g, n); break;
    case Act::tanh: grad_row<dtanh>(x, y, g, n); break;
    case Act::hard_sigmoid: grad_row<dhard_sigmoid>(x, y, g, n); break;
    case Act::elu: grad_row<delu>(x, y, g, n); break;
    case Act::selu: grad_row<dselu>(x, y, g, n); break;
    case Act::softsign: grad_row<dsoftsign>(x, y, g, n); break;
    case Act::softplus: grad_row<dsoftplus>(x, y, g, n); break;
    case Act::silu: grad_row<dsilu>(x, y, g, n); break;
    case Act::exponential: grad_row<dexponential>(x, y, g, n); break;
    default: break;  // none: the derivative is 1
  }
}
