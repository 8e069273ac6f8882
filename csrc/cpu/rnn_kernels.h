// The fused per-row passes of the recurrent kernels (driver: cpu/rnn.cpp),
// compiled once per ISA from cpu/kernels/rnn_rows_body.h. Each call handles one
// batch row at one step in a single pass over the U units: gates, activations
// and state stay in registers; nothing is copied.
#pragma once
#include <cstdint>

#include "pykern/activation.h"

namespace pykern::cpu {

// Pointers into one row's data at one step (U or G*U floats each); null where
// a pass does not use them. G*U vectors hold the gates side by side.
struct RnnRow {
  int64_t U = 0;   // units this call covers
  int64_t gs = 0;  // gate stride of the G*U vectors (unit j of gate k at k*gs + j); 0: U.
                   // A pass over a slice of the units points into full rows with gs = U.
  Act act = Act::tanh, rec_act = Act::sigmoid;
  // forward
  float* z = nullptr;         // (GU) in: x W + b; out: the pre-activations (saved)
  const float* gh = nullptr;  // (GU) h R [+ b'] (GRU without reset_after: z, r, then (r*h) R_h)
  bool gh_full = false;       // LSTM, SimpleRNN: gh is the whole pre-activation x W + h R + b
                              // (one product over [x, h]); z is then only written, when the
                              // state is saved (save_h non-null)
  float* h = nullptr;         // (U) state, updated
  float* c = nullptr;         // (U) LSTM cell state, updated
  float* y = nullptr;         // (U) output row
  float* save_h = nullptr;    // (U) workspace Hprev row, or null
  float* save_c = nullptr;    // (U) workspace Cprev row (LSTM), or null
  float* aux = nullptr;       // (U) GRU: the Aux row, written (forward; may be null) or read
  float* keep = nullptr;      // (U) GRU without reset_after: a gate kept between the two passes
  float* rh = nullptr;        // (U) GRU without reset_after: r*h, the second GEMM's row
  // backward
  const float* hp = nullptr;  // (U) saved state before the step
  const float* cp = nullptr;  // (U) saved cell state before the step (LSTM)
  const float* dh = nullptr;  // (U) w.r.t. the state after the step
  const float* dy = nullptr;  // (U) w.r.t. the step's output, or null
  float* dpo = nullptr;       // (U) w.r.t. the previous output (masks), read and zeroed, or null
  float* dc = nullptr;        // (U) LSTM: in w.r.t. the new c, out w.r.t. the previous c
  float* dg = nullptr;        // (GU) out: w.r.t. the pre-activations
  float* dgh = nullptr;       // (GU) GRU with reset_after: w.r.t. h R + b'
  float* dhn = nullptr;       // (U) out: the element-wise part of dh_prev
  const float* drh = nullptr;  // (U) GRU without reset_after: d(r*h) from the GEMM
};

using RnnRowPass = void (*)(const RnnRow& r);

struct RnnRowKernels {
  RnnRowPass simple_fwd, lstm_fwd;
  RnnRowPass gru_fwd;        // reset_after: the whole step; otherwise z, r and r*h
  RnnRowPass gru_fwd_state;  // without reset_after: the candidate and the state
  RnnRowPass simple_bwd, lstm_bwd;
  RnnRowPass gru_bwd;        // reset_after: the whole step; otherwise all but d(reset)
  RnnRowPass gru_bwd_reset;  // without reset_after: d(reset) and dh_prev's r part, from drh
};

namespace avx512 { const RnnRowKernels& rnn_row_kernels(); }
namespace avx2 { const RnnRowKernels& rnn_row_kernels(); }
namespace generic { const RnnRowKernels& rnn_row_kernels(); }

}  // namespace pykern::cpu
