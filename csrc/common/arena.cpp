#include "pykern/arena.h"

#include <cstdlib>
#include <new>
#include <stdexcept>

namespace pykern {
namespace {

struct Slot {
  void* ptr = nullptr;
  size_t bytes = 0;
  ~Slot() { std::free(ptr); }
};

struct ThreadArena {
  Slot slots[kScratchSlots];
};

thread_local ThreadArena arena;

}  // namespace

float* thread_scratch(int slot, size_t bytes) {
  if (slot < 0 || slot >= kScratchSlots) throw std::out_of_range("thread_scratch: bad slot");
  Slot& s = arena.slots[slot];
  if (bytes > s.bytes) {
    // Grow by half again so that slowly increasing requests do not reallocate each time.
    size_t want = bytes + bytes / 2;
    want = (want + 4095) & ~size_t(4095);
    std::free(s.ptr);
    s.ptr = std::aligned_alloc(4096, want);
    s.bytes = s.ptr ? want : 0;
    if (!s.ptr) throw std::bad_alloc();
  }
  return static_cast<float*>(s.ptr);
}

}  // namespace pykern
