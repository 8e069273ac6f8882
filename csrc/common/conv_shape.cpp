// Validation of a convolution's geometry, shared by the fast kernels, the
// oracles and the bindings.
#include <sstream>
#include <stdexcept>

#include "pykern/conv.h"

namespace pykern {
namespace {

// Any single size beyond this is refused, so that sums like in + pads and
// dil * (k - 1) cannot overflow int64.
constexpr int64_t kMaxDim = int64_t(1) << 40;

std::string triple(const int64_t (&v)[3]) {
  std::ostringstream s;
  s << "(" << v[0] << ", " << v[1] << ", " << v[2] << ")";
  return s.str();
}

[[noreturn]] void bad(const ConvShape& s, const char* op, const std::string& what) {
  throw std::invalid_argument(std::string(op) + ": " + what + " [" + conv_shape_str(s) + "]");
}

// a * b * ..., or -1 on overflow past 2^62.
int64_t checked_product(std::initializer_list<int64_t> vs) {
  int64_t p = 1;
  for (int64_t v : vs)
    if (__builtin_mul_overflow(p, v, &p) || p > (int64_t(1) << 62)) return -1;
  return p;
}

}  // namespace

std::string conv_shape_str(const ConvShape& s) {
  std::ostringstream o;
  o << "N=" << s.N << ", in=" << triple(s.in) << ", C=" << s.C << ", k=" << triple(s.k)
    << ", K=" << s.K << ", groups=" << s.groups << ", strides=" << triple(s.stride)
    << ", dilations=" << triple(s.dil) << ", pad_begin=" << triple(s.pad_begin)
    << ", pad_end=" << triple(s.pad_end);
  return o.str();
}

void validate_conv(ConvShape& s, const char* op, bool depthwise) {
  if (s.N < 0 || s.N > kMaxDim) bad(s, op, "batch size out of range");
  if (s.C < 1 || s.K < 1 || s.C > kMaxDim || s.K > kMaxDim) bad(s, op, "channels must be >= 1");
  if (s.groups < 1 || s.C % s.groups || s.K % s.groups)
    bad(s, op, "groups (" + std::to_string(s.groups) + ") must be >= 1 and divide the input (" +
                   std::to_string(s.C) + ") and output (" + std::to_string(s.K) + ") channels");
  if (depthwise && s.groups != s.C) bad(s, op, "depthwise needs groups == C");
  for (int a = 0; a < 3; ++a) {
    if (s.in[a] < 1 || s.in[a] > kMaxDim) bad(s, op, "spatial sizes must be >= 1");
    if (s.k[a] < 1 || s.k[a] > kMaxDim) bad(s, op, "kernel sizes must be >= 1");
    if (s.stride[a] < 1 || s.stride[a] > kMaxDim) bad(s, op, "strides must be >= 1");
    if (s.dil[a] < 1 || s.dil[a] > kMaxDim) bad(s, op, "dilations must be >= 1");
    if (s.pad_begin[a] < 0 || s.pad_end[a] < 0 || s.pad_begin[a] > kMaxDim ||
        s.pad_end[a] > kMaxDim)
      bad(s, op, "paddings must be >= 0");
    const int64_t span = s.dil[a] * (s.k[a] - 1) + 1;
    const int64_t padded = s.in[a] + s.pad_begin[a] + s.pad_end[a];
    if (padded < span)
      bad(s, op, "the (padded) input " + triple(s.in) + " is smaller than the dilated kernel " +
                     triple(s.k) + ": the output size would be <= 0");
    s.out[a] = (padded - span) / s.stride[a] + 1;
  }
  const int64_t taps = checked_product({s.k[0], s.k[1], s.k[2]});
  if (checked_product({s.N, s.in[0], s.in[1], s.in[2], s.C}) < 0 ||
      checked_product({s.N, s.out[0], s.out[1], s.out[2], s.K}) < 0 || taps < 0 ||
      checked_product({taps, s.C, s.K}) < 0)
    bad(s, op, "sizes overflow");
}

}  // namespace pykern
