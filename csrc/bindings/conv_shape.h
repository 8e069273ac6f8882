// The convolution bindings' argument checks, shared by pykern._cpu
// (bindings/register_conv.cpp) and pykern._cuda (cuda/register_nn_conv.cpp):
// Keras' shapes x (N, *spatial, C) with 1 to 3 spatial axes and w (*kernel,
// C/groups, K) or, for depthwise, (*kernel, C, M), turned into the ConvShape
// of pykern/conv.h (spatial axes padded to three with size-1 axes), with
// ValueErrors that name the op and quote the shapes.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "bindings/array_view.h"
#include "pykern/conv.h"

namespace pykern::bind {

using Shape = std::vector<int64_t>;
using Ints = std::vector<int64_t>;

// One call's geometry arguments, its error context ("[x (2, 5, 5, 3), w (3, 3,
// 3, 8)]") and the ConvShape they describe. The array types are the caller's
// (NumPy arrays for pykern._cpu, device Arrays for pykern._cuda).
class ConvArgs {
 public:
  ConvArgs(const char* op, bool depthwise) : op_(op), depthwise_(depthwise) {}

  void note(const char* name, const Shape& shape) {
    context_ += (context_.empty() ? "" : ", ") + std::string(name) + " " + shape_str(shape);
  }

  [[noreturn]] void error(const std::string& what) const {
    fail(op_, what + " [" + context_ + "]");
  }

  // Fills shape_ from x's shape (N, *spatial, C) and w's (*kernel, Cg, K), or
  // (*kernel, C, M) for depthwise, and checks it.
  void geometry(const Shape& x, const Shape& w, const Ints& strides, const Ints& dilations,
                const Ints& pad_begin, const Ints& pad_end, int64_t groups) {
    const size_t rank = x.size();
    if (rank < 3 || rank > 5)
      error("x must have 1 to 3 spatial axes: shape (N, *spatial, C), rank 3 to 5");
    const int sp = static_cast<int>(rank) - 2, off = 3 - sp;
    if (w.size() != rank)
      error("w must have rank " + std::to_string(rank) + " (*kernel, " +
            (depthwise_ ? "C, M" : "C/groups, K") + ") to match x");
    const std::pair<const char*, const Ints*> lists[] = {
        {"strides", &strides}, {"dilations", &dilations}, {"pad_begin", &pad_begin},
        {"pad_end", &pad_end}};
    for (const auto& l : lists)
      if (l.second->size() != size_t(sp))
        error(std::string(l.first) + " must hold " + std::to_string(sp) + " ints, got " +
              std::to_string(l.second->size()));
    const int64_t C = x[rank - 1];
    ConvShape& s = shape_;
    s.N = x[0];
    s.C = C;
    if (depthwise_) {
      if (w[sp] != C)
        error("x has " + std::to_string(C) + " channels but the depthwise kernel expects " +
              std::to_string(w[sp]));
      s.groups = C;
      if (w[sp + 1] < 1 || __builtin_mul_overflow(C, w[sp + 1], &s.K))
        error("the channel multiplier must be >= 1");
    } else {
      if (groups < 1 || C % groups)
        error("groups (" + std::to_string(groups) + ") must be >= 1 and divide the " +
              std::to_string(C) + " input channels");
      if (w[sp] != C / groups)
        error("x has " + std::to_string(C) + " channels but w expects " + std::to_string(w[sp]) +
              " per group, times groups " + std::to_string(groups));
      s.groups = groups;
      s.K = w[sp + 1];
    }
    for (int a = 0; a < sp; ++a) {
      s.in[off + a] = x[1 + a];
      s.k[off + a] = w[a];
      s.stride[off + a] = strides[a];
      s.dil[off + a] = dilations[a];
      s.pad_begin[off + a] = pad_begin[a];
      s.pad_end[off + a] = pad_end[a];
    }
    try {
      validate_conv(s, op_, depthwise_);
    } catch (const std::invalid_argument& e) {
      fail(op_, std::string(e.what()).substr(std::string(op_).size() + 2) + " [" + context_ + "]");
    }
    spatial_ = sp;
  }

  // (N, *out, K): the output's shape.
  Shape y_shape() const {
    Shape y{shape_.N};
    for (int a = 3 - spatial_; a < 3; ++a) y.push_back(shape_.out[a]);
    y.push_back(shape_.K);
    return y;
  }

  // dy must have the output's shape.
  void check_dy(const Shape& got) const {
    const Shape want = y_shape();
    if (got != want)
      error("dy must have the output's shape " + shape_str(want) + ", got " + shape_str(got));
  }

  const ConvShape& shape() const { return shape_; }
  const char* op() const { return op_; }

 private:
  const char* op_;
  bool depthwise_;
  std::string context_;
  ConvShape shape_;
  int spatial_ = 0;
};

}  // namespace pykern::bind
