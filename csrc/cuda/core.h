// The CUDA core kernels: transfers, fills and casts, element-wise ops with
// NumPy broadcasting, layout copies, reductions, softmax and the losses.
// Plain C++ (no CUDA headers) so the bindings can include it.
//
// Every launcher runs on the operands' device (DeviceGuard), on the legacy
// default stream, returns without synchronising (except where it says it
// reads a validation result back) and takes arguments the binding (register_
// core.cpp) has already checked: shapes agree, dtypes are the ones named.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cuda/array.h"
#include "pykern/random.h"

namespace pykern::cuda {

constexpr int kMaxDims = 8;

inline bool is_float(DType d) { return d == DType::f32 || d == DType::f64; }  // dimensions of a broadcast or strided copy, after merging

// ---- transfers and fills -------------------------------------------------------------------
void upload(const Array& dst, const void* host);    // dst.nbytes() bytes from pageable host memory
void download(void* host, const Array& src);        // waits for src's pending work
void copy_bytes(const Array& dst, const Array& src);  // same nbytes, device to device
void synchronize(int device);
void fill(const Array& out, double value);          // value converted to out's dtype
Array cast(const Array& x, DType to);               // NumPy's astype (bool: x != 0)

// ---- element-wise ----------------------------------------------------------------------------
// An operand: an Array broadcast to the output shape, or a scalar.
struct Operand {
  const Array* array = nullptr;
  double value = 0.0;
  int64_t ivalue = 0;  // the scalar for integer computations
};

enum class UnaryOp : int {
  negative, abs, square, sqrt, reciprocal, exp, expm1, log, log1p, sign, floor, round,
  logical_not, relu, relu_general, relu6, leaky_relu, elu, selu, gelu, gelu_erf, erf, sigmoid,
  hard_sigmoid, hard_silu, tanh, softplus, softsign, silu, exponential, sin, cos, tan, count
};
// Throws std::invalid_argument naming the op for an unknown name.
UnaryOp unary_op(const std::string& name);
bool unary_has_grad(UnaryOp op);
// p of the CPU table: leaky_relu/elu slope a; round decimals; relu_general
// (slope a, max_value b if has_b, threshold c).
struct UnaryParams {
  float a = 0.0f, b = 0.0f, c = 0.0f;
  bool has_b = false;
  int decimals = 0;
};
// x float32/float64 (its dtype out); negative/abs/sign also int32/int64;
// logical_not any dtype (bool out).
Array unary(UnaryOp op, const Array& x, const UnaryParams& p);
// Whether d op/dx is computed from the output y (else from the input x; negative: neither).
bool unary_grad_reads_y(UnaryOp op);
// g * d op/dx (x the input, y the output; the one the derivative does not read may be
// null); all float32 (or all float64) of one shape.
Array unary_grad(UnaryOp op, const Array& g, const Array* x, const Array* y,
                 const UnaryParams& p);

enum class BinaryOp : int {
  add, subtract, multiply, divide, power, maximum, minimum, equal, not_equal, greater,
  greater_equal, less, less_equal, logical_and, logical_or, count
};
BinaryOp binary_op(const std::string& name);
bool binary_is_compare(BinaryOp op);  // comparisons and logical ops: bool out
// Array operands are already of dtype `compute`; out has `out_shape` and dtype
// bool (comparisons) or `compute`.
Array binary(BinaryOp op, const Operand& a, const Operand& b, DType compute,
             const std::vector<int64_t>& out_shape, int device);
// cond ? a : b; cond bool, a/b arrays of `dtype` or scalars.
Array where(const Array& cond, const Operand& a, const Operand& b, DType dtype,
            const std::vector<int64_t>& out_shape);
// mask == false: min(max(x, lo), hi) (NumPy's clip, NaN propagates); true: 1
// where lo <= x <= hi else 0, as x's dtype. x float32/float64; lo/hi of x's
// dtype, absent (array null and `has`) meaning no bound.
Array clip(const Array& x, const Operand& lo, bool has_lo, const Operand& hi, bool has_hi,
           bool mask, const std::vector<int64_t>& out_shape);

// ---- layout ----------------------------------------------------------------------------------
// A strided view of an Array's buffer: element offset and strides (elements) over a shape.
struct View {
  int64_t offset = 0;
  std::vector<int64_t> strides;
};
std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape);
// dst[dv + idx] = src[sv + idx] for every index idx of `shape` (same dtype;
// strides may be 0 on the source, never on a written destination dim).
void strided_copy(const Array& dst, const View& dv, const Array& src, const View& sv,
                  const std::vector<int64_t>& shape);

// ---- reductions: x viewed as (A, R, B), out (A, B) -----------------------------------------
enum class ReduceOp : int { sum, mean, max, min, prod, any, all };
// The output dtype NumPy gives (precise: float64 for sum/mean).
DType reduce_dtype(ReduceOp op, DType x, bool precise);
Array reduce(ReduceOp op, const Array& x, int64_t A, int64_t R, int64_t B, bool precise,
             const std::vector<int64_t>& out_shape);
// First index of the max (min) along R, NaN winning as in NumPy; int32 out.
Array arg_reduce(bool is_max, const Array& x, int64_t A, int64_t R, int64_t B,
                 const std::vector<int64_t>& out_shape);

// ---- neural-network helpers ------------------------------------------------------------------
// softmax / log_softmax along R of x (A, R, B), float32.
Array softmax(const Array& x, int64_t A, int64_t R, int64_t B, bool log);
// (elem, grad) per element; y and z float32 of one shape.
std::pair<Array, Array> binary_crossentropy(const Array& y, const Array& z, bool from_logits);
// (values (rows,), grad (rows, C)) over the last axis; y, z float32 (.., C).
std::pair<Array, Array> categorical_crossentropy(const Array& y, const Array& z,
                                                 bool from_logits);
// labels (rows,) int32/int64/float32, z (rows, C). Reads back a validation
// flag: std::invalid_argument naming a bad label (not an integer in [0, C)
// and not ignore_class).
std::pair<Array, Array> sparse_categorical_crossentropy(const Array& labels, const Array& z,
                                                        bool from_logits, bool has_ignore,
                                                        int64_t ignore_class);
// (loss, scale) as float32 0-d arrays from the float64 0-d sums (wsum may be
// null): mode 0 sum_over_batch_size (count), 1 sum, 2 mean_with_sample_weight.
std::pair<Array, Array> loss_finish(const Array& total, const Array* wsum, int64_t count,
                                    int mode);
// state (2,) float64 or null, plus (total * scale, count); total/count 0-d arrays or scalars.
Array accumulate(const Array* state, const Operand& total, const Operand& count, double scale,
                 int device);

// ---- gathers, one-hot, collectives' packing, random --------------------------------------------
// A device word for kernels that validate their input: it starts as "none" and kernels
// lower it (atomicMin) to the first bad position; first_bad() reads it back, waiting
// for the GPU: -1 when every position was good.
class BadPositionFlag {
 public:
  explicit BadPositionFlag(int device);
  unsigned long long* ptr() const { return static_cast<unsigned long long*>(word_.raw()); }
  int64_t first_bad() const;

 private:
  Array word_;
};

// np.take along `axis` of x viewed (outer, n, inner); idx int32/int64, negative
// wraps. Reads back a validation flag: std::out_of_range for an index outside [-n, n).
Array take(const Array& x, const Array& idx, int64_t outer, int64_t n, int64_t inner,
           const std::vector<int64_t>& out_shape);
// zeros(idx.shape + (depth,)) with 1 at each index (negative wraps);
// std::out_of_range for an index outside [-depth, depth).
Array one_hot(const Array& idx, int64_t depth, DType dtype);
// buf[offset : offset + x.size] = x * scale (pack); x = buf[...] / divisor (unpack).
void pack(const Array& buf, int64_t offset, const Array& x, double scale);
void unpack(const Array& x, const Array& buf, int64_t offset, double divisor);
// A new float32 array filled from the Philox stream (the CPU's numbers).
Array random_fill(const std::vector<int64_t>& shape, const RandomArgs& a, int device);

}  // namespace pykern::cuda
