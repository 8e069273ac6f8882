// Reused, 64-byte aligned scratch memory for kernels (packing buffers and the
// like). Each thread owns its buffers; a buffer only grows. A fresh large
// allocation per call costs page faults on every training step.
#pragma once
#include <cstddef>

namespace pykern {

// A buffer of at least `bytes` bytes, 4096-byte aligned, owned by the calling
// thread. Slots are independent: a kernel that needs two live buffers asks for
// slot 0 and slot 1. The pointer stays valid until the same thread asks for
// the same slot again with a larger size.
float* thread_scratch(int slot, size_t bytes);

constexpr int kScratchSlots = 4;

}  // namespace pykern
