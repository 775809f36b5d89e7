// std::vector with cache-line-aligned storage, for buffers the kernels stream through with
// full-register loads: from a 16-byte-aligned malloc block, every 64-byte load of a packed
// panel would straddle two cache lines.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace fastgru {

template <class T, std::size_t Align = 64>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U, Align>&) {}
  template <class U>
  struct rebind {
    using other = AlignedAllocator<U, Align>;
  };
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(Align))); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t(Align)); }
  template <class U>
  bool operator==(const AlignedAllocator<U, Align>&) const { return true; }
  template <class U>
  bool operator!=(const AlignedAllocator<U, Align>&) const { return false; }
};

template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace fastgru
