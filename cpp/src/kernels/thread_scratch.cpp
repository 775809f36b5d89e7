#include "kernels/thread_scratch.h"

#include <new>

namespace fastgru::kernels {
namespace {

constexpr std::align_val_t kAlign{64};

struct Buffer {
  void* data = nullptr;
  size_t size = 0;
  ~Buffer() { ::operator delete(data, kAlign); }
};

}  // namespace

void* thread_scratch(ScratchSlot slot, size_t bytes) {
  static thread_local Buffer buffers[2];
  Buffer& b = buffers[static_cast<int>(slot)];
  if (b.size < bytes) {
    void* data = ::operator new(bytes, kAlign);  // throws std::bad_alloc
    ::operator delete(b.data, kAlign);
    b.data = data;
    b.size = bytes;
  }
  return b.data;
}

}  // namespace fastgru::kernels
