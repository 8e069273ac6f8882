// Recurrent layers: one call runs a whole sequence, forward or backward
// through time (the kernel contract).
//
// Shapes: x (B,T,I) as Keras lays it out (batch-major), kernel (I,G*U),
// recurrent (U,G*U), h0/c0/hT/cT (B,U), y (B,T,U), mask (B,T). G is the number
// of gates: 1 (SimpleRNN), 4 (LSTM, order i,f,c,o), 3 (GRU, order z,r,h).
// bias: (G*U,), or (2,3U) for GRU with reset_after (row 0 input bias, row 1
// recurrent bias), or null (use_bias=False). Every array is dense row-major.
//
// The cells, Keras 3's, with a = activation and ra = recurrent_activation:
//   SimpleRNN  h = a(x W + h R + b)
//   LSTM       z = x W + h R + b;  i,f,o = ra(z_i, z_f, z_o);  g = a(z_c)
//              c = f*c + i*g;  h = o * a(c)
//   GRU        z = ra(x W_z + b_z + h R_z [+ b'_z]);  r = ra(x W_r + b_r + h R_r [+ b'_r])
//              reset_after:  hh = a(x W_h + b_h + r * (h R_h + b'_h))
//              otherwise:    hh = a(x W_h + b_h + (r*h) R_h)
//              h = z*h_prev + (1-z)*hh                  (b' = the recurrent bias row)
//
// Steps are processed in order t = 0..T-1, or T-1..0 with `reverse`
// (go_backwards). y[:, s] is the output of the s-th processed step, so with
// `reverse` y comes out time-reversed, as Keras returns it.
//
// Masks (Keras' backend.rnn): mask[b,t] == 0 skips step t for row b: h (and c)
// carry over unchanged, and the step's output repeats the previous output,
// which is 0 before the first unmasked step of the row (not h0), or is 0 with
// `zero_output_for_mask`. So the layer's last output is y[:, T-1], which can
// differ from hT.
//
// Work: the input projection of all steps is one GEMM ((B*T,I) x (I,G*U));
// each step is one GEMM (B,U) x (U,G*U) (GRU without reset_after: two) and one
// fused element-wise pass over the rows. Backward runs the steps in reverse
// with one fused pass and one GEMM (dh_prev) per step, then the weight
// gradients as whole-sequence GEMMs over B*T rows. Results are bitwise
// identical for any thread count.
#pragma once
#include <cstdint>

#include "pykern/activation.h"

namespace pykern {

enum class Cell : int { simple = 0, lstm = 1, gru = 2 };

// Gates per cell: 1, 4 or 3.
int cell_gates(Cell cell);

struct RnnArgs {
  Cell cell = Cell::lstm;
  int64_t B = 0, T = 0, I = 0, U = 0;
  bool reset_after = true;  // GRU only
  bool reverse = false;
  bool zero_output_for_mask = false;
  Act act = Act::tanh;
  Act rec_act = Act::sigmoid;  // unused by SimpleRNN
  const float* x = nullptr;
  const float* kernel = nullptr;
  const float* recurrent = nullptr;
  const float* bias = nullptr;  // may be null
  const float* h0 = nullptr;    // null: zeros
  const float* c0 = nullptr;    // LSTM; null: zeros
  const uint8_t* mask = nullptr;  // null: every step used
};

// What the backward pass reads, saved by the forward pass (all indexed by
// input time t, rows (b,t) as x's): the pre-activations Z (B,T,G*U) [the sums
// that enter the gate activations; GRU: z, r and hh pre-activations], the
// state before each step Hprev (B,T,U), then LSTM: Cprev (B,T,U); GRU: Aux
// (B,T,U) = h R_h + b'_h (reset_after) or r*h (otherwise). One exception, on the
// CPU: an LSTM with a sigmoid recurrent activation and a tanh or relu activation keeps
// the gate values i, f, g, o in Z instead (their derivatives follow from them, so its
// backward recomputes no gate). A workspace is only read by the device that wrote it.
int64_t rnn_workspace_floats(const RnnArgs& a);

// Views of a workspace with that layout (or of scratch laid out the same way),
// for the drivers of every device.
struct RnnWorkspace {
  float* z = nullptr;      // (B,T,G*U)
  float* hprev = nullptr;  // (B,T,U), null when not saved
  float* aux = nullptr;    // (B,T,U): LSTM Cprev, GRU Aux; null for SimpleRNN or not saved
};
// Z at base; with `saved` also Hprev and Cprev/Aux after it.
RnnWorkspace rnn_workspace_views(const RnnArgs& a, float* base, bool saved);

struct RnnForward {
  float* y = nullptr;   // (B,T,U)
  float* hT = nullptr;  // (B,U)
  float* cT = nullptr;  // (B,U), LSTM
  float* ws = nullptr;  // rnn_workspace_floats(a) floats, or null (inference: not saved)
};

struct RnnBackward {
  const float* dy = nullptr;   // (B,T,U), or null (zeros)
  const float* dhT = nullptr;  // (B,U), or null (zeros)
  const float* dcT = nullptr;  // (B,U), LSTM, or null (zeros)
  const float* ws = nullptr;   // the forward's workspace for these args, or null (recomputed)
  float* dx = nullptr;         // (B,T,I)
  float* dkernel = nullptr;    // (I,G*U)
  float* drecurrent = nullptr;  // (U,G*U)
  float* dbias = nullptr;      // the bias' shape, or null (not computed)
  float* dh0 = nullptr;        // (B,U)
  float* dc0 = nullptr;        // (B,U), LSTM
};

// Throws std::invalid_argument "<op>: ..." on negative sizes or missing pointers.
void validate_rnn(const RnnArgs& a, const char* op);

// The fast kernels.
void rnn_forward(const RnnArgs& a, const RnnForward& out);
void rnn_backward(const RnnArgs& a, const RnnBackward& g);

// The plain twins: per-step loops in double, one thread. The ref forward
// saves no workspace; the ref backward recomputes the forward and ignores ws.
void rnn_forward_ref(const RnnArgs& a, const RnnForward& out);
void rnn_backward_ref(const RnnArgs& a, const RnnBackward& g);

}  // namespace pykern
