// Embedding gather and its gradient on the GPU: the contract of
// pykern/embedding.h with device pointers. Plain C++ (no CUDA headers).
//
// Ids are checked on the device while the kernel runs: out-of-range positions
// go to a device flag (an integer atomicMin, so the lowest position wins
// whatever the schedule) that is read back once at the end of the call. That
// read waits for the work queued so far, so these two launchers synchronise the
// host with the device once per call. A bad id throws std::invalid_argument
// naming the op, the id, its flat position and V, as the CPU kernels do; the
// output is then garbage and must be dropped (the bindings allocate it).
//
// The backward is the CPU's algorithm: each thread block owns a range of table
// rows and scans all ids in increasing n, adding the rows it owns; so every
// table row sums its contributions in increasing n, in fp32 starting from 0,
// exactly as csrc/cpu/embedding.cpp does (bitwise the same result, no atomics).
#pragma once
#include "pykern/embedding.h"

namespace pykern::cuda {

// a.ids, table, out, d_out, d_table are device pointers.
void embedding_forward_device(const EmbeddingArgs& a, const float* table, float* out);
void embedding_backward_device(const EmbeddingArgs& a, const float* d_out, float* d_table);

}  // namespace pykern::cuda
