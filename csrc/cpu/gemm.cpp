// SGEMM driver: blocking, packing and threading around the micro-kernels of
// cpu/kernels/<isa>/. See pykern/gemm.h for the contract.
//
// Small products (direct path): no copies at all; the micro-kernel reads op(A)
// and op(B) where they lie. Large products (the BLIS loops, with A unpacked):
//
//   for jc in N step NC:
//     for pc in K step KC:
//       pack op(B)[pc:+kc, jc:+nc] -> Bp (NR-wide micro-panels, KC x NC stays in L2)
//       for ir in M step MR:        MR rows of op(A), read in place (they stay in L1)
//         for jr in nc step NR:     micro-kernel on an MR x NR tile of C
//
// Threads take disjoint blocks of C (see gemm_packed). Each C element is summed
// in the same order whoever computes it (the order depends on KC alone), so
// results are bitwise identical for any thread count.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "cpu/gemm_kernels.h"
#include "pykern/arena.h"
#include "pykern/gemm.h"
#include "pykern/isa.h"
#include "pykern/threads.h"

namespace pykern {
namespace {

struct BlockSizes {
  int kc, nc;
};

// The one block-size table, tuned with bench/ and a min-of-many C++ harness on
// the 2-core Zen 4 box (32 KiB L1d, 1 MiB L2 per core): KC 384 beat 192/256 on
// 512^3 to 2048^3 (about 95 vs 80 GFLOP/s on one core); KC x NC x 4 B = 1.5 MiB
// for the packed B block.
BlockSizes table_block_sizes(Isa isa) {
  switch (isa) {
    case Isa::avx512: return {384, 1024};  // MR 8, NR 32
    case Isa::avx2: return {384, 1024};    // MR 6, NR 16
    default: return {256, 1024};           // MR 4, NR 16
  }
}

// PYKERN_GEMM_BLOCKS=kc,nc overrides the table, for tuning on a new machine
// (read once; malformed values are ignored).
BlockSizes block_sizes(Isa isa) {
  static const BlockSizes tuned = [isa] {
    BlockSizes b = table_block_sizes(isa);
    if (const char* env = std::getenv("PYKERN_GEMM_BLOCKS")) {
      BlockSizes e{};
      if (std::sscanf(env, "%d,%d", &e.kc, &e.nc) == 2 && e.kc > 0 && e.nc > 0) b = e;
    }
    return b;
  }();
  return tuned;
}

// Small problems skip packing: the copies cost more than they save (OpenBLAS'
// "sgemm direct" draws a similar line, kernels.md 1.4). The direct kernel
// re-reads op(B) for every DMR rows, so op(B) must also stay in L2. The line
// depends on the sizes alone, for determinism.
constexpr double kDirectMaxFma = 16.0 * 1024 * 1024;
constexpr double kDirectMaxBBytes = 512.0 * 1024;

bool use_direct(const GemmArgs& g) {
  return double(g.M) * g.N * g.K <= kDirectMaxFma && 4.0 * g.K * g.N <= kDirectMaxBBytes;
}

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// op(X)(k,j) = X[k*rs + j*cs]. Packs one NR-wide micro-panel of `cols` columns
// starting at column j0, for k in [0, kc), k-major, zero-padded to nr.
void pack_b_panel(const float* X, int64_t rs, int64_t cs, int64_t kc, int64_t j0, int cols, int nr,
                  float* dst) {
  const float* src = X + j0 * cs;
  if (cs == 1 && cols == nr && (nr == 16 || nr == 32)) {
    // Whole panels with a constant-size copy the compiler inlines (a memcpy call
    // per 64-byte row was ~20% of an LSTM(128) backward: its dW, dR and db
    // products pack all of dG, B*T rows).
    auto rows = [&](auto width) {
      for (int64_t k = 0; k < kc; ++k)
        std::memcpy(dst + k * width.value, src + k * rs, width.value * sizeof(float));
    };
    if (nr == 16)
      rows(std::integral_constant<int, 16>{});
    else
      rows(std::integral_constant<int, 32>{});
  } else if (cs == 1) {
    for (int64_t k = 0; k < kc; ++k) {
      std::memcpy(dst + k * nr, src + k * rs, cols * sizeof(float));
      if (cols < nr) std::memset(dst + k * nr + cols, 0, (nr - cols) * sizeof(float));
    }
  } else {
    for (int64_t k = 0; k < kc; ++k)
      for (int c = cols; c < nr; ++c) dst[k * nr + c] = 0.0f;
    for (int c = 0; c < cols; ++c) {
      const float* s = src + c * cs;
      for (int64_t k = 0; k < kc; ++k) dst[k * nr + c] = s[k * rs];
    }
  }
}

void apply_act(const cpu::IsaKernels& ks, float* C, int64_t ldc, int m, int n, Act act) {
  if (act == Act::none) return;
  for (int r = 0; r < m; ++r) ks.act_row(C + r * ldc, n, act);
}

// C = act(beta*C + bias) when there is nothing to multiply (K == 0 or alpha == 0).
void scale_only(const GemmArgs& g, const cpu::IsaKernels& ks) {
  for (int64_t i = 0; i < g.M; ++i) {
    float* c = g.C + i * g.ldc;
    for (int64_t j = 0; j < g.N; ++j) {
      float v = g.beta == 0.0f ? 0.0f : g.beta * c[j];
      c[j] = g.bias ? v + g.bias[j] : v;
    }
    apply_act(ks, c, g.ldc, 1, static_cast<int>(g.N), g.act);
  }
}

struct Strides {
  int64_t a_rs, a_cs, b_rs, b_cs;
};

Strides strides_of(const GemmArgs& g) {
  Strides s;
  s.a_rs = g.trans_a ? 1 : g.lda;
  s.a_cs = g.trans_a ? g.lda : 1;
  s.b_rs = g.trans_b ? 1 : g.ldb;
  s.b_cs = g.trans_b ? g.ldb : 1;
  return s;
}

// Small products: no packing. op(A) and op(B) are read where they lie (a
// transposed B is transposed once into scratch, as the kernel loads op(B) rows).
void gemm_direct(const GemmArgs& g, const cpu::IsaKernels& ks, bool serial) {
  const Strides s = strides_of(g);
  const float* B = g.B;
  int64_t ldb = g.ldb;
  if (g.trans_b) {
    float* Bt = thread_scratch(2, g.K * g.N * sizeof(float));
    for (int64_t j = 0; j < g.N; ++j)
      for (int64_t k = 0; k < g.K; ++k) Bt[k * g.N + j] = g.B[j * g.ldb + k];
    B = Bt;
    ldb = g.N;
  }
  const int mr = ks.mr, nr = ks.nr;
  const int64_t mt = (g.M + mr - 1) / mr, nt_tiles = (g.N + nr - 1) / nr;
  const int64_t tiles = mt * nt_tiles;
  auto tile = [&](int64_t t) {
    // Column-panel major: consecutive tiles reuse the same K x NR slice of B.
    const int64_t i0 = (t % mt) * mr, j0 = (t / mt) * nr;
    const int m = static_cast<int>(std::min<int64_t>(mr, g.M - i0));
    const int n = static_cast<int>(std::min<int64_t>(nr, g.N - j0));
    float* C = g.C + i0 * g.ldc + j0;
    ks.micro(g.K, g.A + i0 * s.a_rs, s.a_rs, s.a_cs, B + j0, ldb, C, g.ldc, m, n, g.alpha,
             g.beta, g.bias ? g.bias + j0 : nullptr);
    apply_act(ks, C, g.ldc, m, n, g.act);
  };
  const int nt = serial ? 1 : std::min<int64_t>(threads_for(2.0 * g.M * g.N * g.K), tiles);
  if (nt <= 1) {
    for (int64_t t = 0; t < tiles; ++t) tile(t);
    return;
  }
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t t = 0; t < tiles; ++t) tile(t);
}

// One thread's share: the loops above on a block of C, with the thread's own
// packing buffer.
void gemm_packed_serial(const GemmArgs& g, const Strides& s, const cpu::IsaKernels& ks,
                        BlockSizes bs) {
  const int mr = ks.mr, nr = ks.nr;
  const int64_t KC = bs.kc, NC = std::min<int64_t>(bs.nc, round_up(g.N, nr));
  // A transposed A (op(A) columns contiguous, rows lda apart) is copied per MR x KC
  // block into Ap, k-major: in place each k of the tile is its own cache line, and
  // those kc lines and the B panel's did not stay in L1 together (the RNN weight
  // gradient [x, h, 1]^T dG, 161 x 512 x 3200, ran at 72 GFLOP/s on two threads
  // against OpenBLAS' 131). Copying changes no arithmetic.
  const bool pack_a = s.a_rs == 1 && s.a_cs != 1;
  float* Bp = thread_scratch(0, (KC * NC + (pack_a ? mr * KC : 0)) * sizeof(float));
  float* Ap = Bp + KC * NC;
  for (int64_t jc = 0; jc < g.N; jc += NC) {
    const int64_t nc = std::min(NC, g.N - jc);
    const int64_t panels = (nc + nr - 1) / nr;
    for (int64_t pc = 0; pc < g.K; pc += KC) {
      const int64_t kc = std::min(KC, g.K - pc);
      const bool last = pc + kc == g.K;
      const float beta = pc == 0 ? g.beta : 1.0f;
      const float* bias = last ? g.bias : nullptr;
      const Act act = last ? g.act : Act::none;
      for (int64_t p = 0; p < panels; ++p) {
        const int cols = static_cast<int>(std::min<int64_t>(nr, nc - p * nr));
        pack_b_panel(g.B + pc * s.b_rs, s.b_rs, s.b_cs, kc, jc + p * nr, cols, nr,
                     Bp + p * nr * kc);
      }
      for (int64_t ir = 0; ir < g.M; ir += mr) {
        const int m = static_cast<int>(std::min<int64_t>(mr, g.M - ir));
        const float* A = g.A + ir * s.a_rs + pc * s.a_cs;
        int64_t a_cs = s.a_cs;
        if (pack_a) {
          for (int64_t k = 0; k < kc; ++k)  // a few floats per k: a loop, not a memcpy call
            for (int r = 0; r < m; ++r) Ap[k * mr + r] = A[k * s.a_cs + r];
          A = Ap;
          a_cs = mr;
        }
        for (int64_t p = 0; p < panels; ++p) {
          const int64_t j = jc + p * nr;
          const int n = static_cast<int>(std::min<int64_t>(nr, g.N - j));
          float* C = g.C + ir * g.ldc + j;
          ks.micro(kc, A, s.a_rs, a_cs, Bp + p * nr * kc, nr, C, g.ldc, m, n, g.alpha, beta,
                   bias ? bias + j : nullptr);
          apply_act(ks, C, g.ldc, m, n, act);
        }
      }
    }
  }
}

// Threads take a pr x pc grid of C blocks and run without any barrier; each
// packs the B columns it needs itself. The grid minimises the duplicated work
// (B packing and A traffic), K*(M*pc + N*pr). A barrier-free split keeps one slow or
// descheduled thread from stalling the others at every KC step.
void gemm_packed(const GemmArgs& g, const cpu::IsaKernels& ks, BlockSizes bs, bool serial) {
  const Strides s = strides_of(g);
  if (serial) return gemm_packed_serial(g, s, ks, bs);
  const int mr = ks.mr, nr = ks.nr;
  const int64_t row_tiles = (g.M + mr - 1) / mr, col_panels = (g.N + nr - 1) / nr;
  const int nt = std::min<int64_t>(threads_for(2.0 * g.M * g.N * g.K), row_tiles * col_panels);
  int pr = 1, pcol = nt;
  double best = -1.0;
  for (int r = 1; r <= nt; ++r) {
    if (nt % r || r > row_tiles || nt / r > col_panels) continue;
    const double cost = double(g.M) * (nt / r) + double(g.N) * r;
    if (best < 0 || cost < best) best = cost, pr = r, pcol = nt / r;
  }
  if (best < 0) pr = 1, pcol = 1;  // no exact grid fits: run on one thread
  auto block = [&](int t) {
    const int i = t / pcol, j = t % pcol;
    const int64_t m0 = row_tiles * i / pr * mr, m1 = std::min(g.M, row_tiles * (i + 1) / pr * mr);
    const int64_t n0 = col_panels * j / pcol * nr,
                  n1 = std::min(g.N, col_panels * (j + 1) / pcol * nr);
    GemmArgs sub = g;
    sub.M = m1 - m0;
    sub.N = n1 - n0;
    sub.A = g.A + m0 * s.a_rs;
    sub.B = g.B + n0 * s.b_cs;
    sub.C = g.C + m0 * g.ldc + n0;
    sub.bias = g.bias ? g.bias + n0 : nullptr;
    if (sub.M > 0 && sub.N > 0) gemm_packed_serial(sub, s, ks, bs);
  };
  const int blocks = pr * pcol;
  if (blocks == 1) return block(0);
#pragma omp parallel for num_threads(blocks) schedule(static, 1)
  for (int t = 0; t < blocks; ++t) block(t);
}

// The path and the K blocking depend on (M, N, K) alone; `serial` only keeps
// the work on the calling thread.
void run_sgemm(const GemmArgs& g, bool serial) {
  validate_gemm(g);
  if (g.M == 0 || g.N == 0) return;
  const Isa isa = cpu_isa();
  const cpu::IsaKernels& ks = cpu::kernels_for(isa);
  if (g.K == 0 || g.alpha == 0.0f) return scale_only(g, ks);
  if (use_direct(g)) return gemm_direct(g, ks, serial);
  gemm_packed(g, ks, block_sizes(isa), serial);
}

}  // namespace

const cpu::IsaKernels& cpu::kernels_for(Isa isa) {
  switch (isa) {
    case Isa::avx512: return cpu::avx512::kernels();
    case Isa::avx2: return cpu::avx2::kernels();
    default: return cpu::generic::kernels();
  }
}

void sgemm(const GemmArgs& g) { run_sgemm(g, false); }

void sgemm_serial(const GemmArgs& g) { run_sgemm(g, true); }

bool sgemm_single_k_chain(const GemmArgs& g) {
  return use_direct(g) || g.K <= block_sizes(cpu_isa()).kc;
}

}  // namespace pykern
