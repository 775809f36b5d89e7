#include "kernels/thread_scratch.h"

#include <new>

#if defined(_WIN32)
#define FASTGRU_SCRATCH_THREAD_LOCAL 1
#else
#include <pthread.h>
#endif

namespace fastgru::kernels {
namespace {

constexpr std::align_val_t kAlign{64};

struct Buffer {
  void* data = nullptr;
  size_t size = 0;
};

struct Buffers {
  Buffer slot[static_cast<int>(ScratchSlot::count)];
  ~Buffers() {
    for (Buffer& b : slot) ::operator delete(b.data, kAlign);
  }
};

#if defined(FASTGRU_SCRATCH_THREAD_LOCAL)
Buffers& this_thread_buffers() {
  static thread_local Buffers buffers;
  return buffers;
}
#else
// A thread_local with a destructor makes glibc register it (a malloc) on the thread's first use,
// and abort the process when that malloc fails. A pthread key's destructor needs no per-thread
// registration, so running out of memory here is an ordinary std::bad_alloc.
void free_buffers(void* p) { delete static_cast<Buffers*>(p); }

pthread_key_t buffers_key() {
  static const pthread_key_t key = [] {
    pthread_key_t k;
    if (pthread_key_create(&k, free_buffers) != 0) throw std::bad_alloc();
    return k;
  }();
  return key;
}

Buffers& this_thread_buffers() {
  const pthread_key_t key = buffers_key();
  if (auto* b = static_cast<Buffers*>(pthread_getspecific(key))) return *b;
  auto* b = new Buffers();  // throws std::bad_alloc
  if (pthread_setspecific(key, b) != 0) {
    delete b;
    throw std::bad_alloc();
  }
  return *b;
}
#endif

}  // namespace

void* thread_scratch(ScratchSlot slot, size_t bytes) {
  Buffer& b = this_thread_buffers().slot[static_cast<int>(slot)];
  if (b.size < bytes) {
    void* data = ::operator new(bytes, kAlign);  // throws std::bad_alloc
    ::operator delete(b.data, kAlign);
    b.data = data;
    b.size = bytes;
  }
  return b.data;
}

}  // namespace fastgru::kernels
