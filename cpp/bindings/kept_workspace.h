// A workspace a model keeps between calls. Big forward/backward workspaces freshly allocated
// per call come from mmap and fault in (and zero) every page each time, measurably slower on
// S3/S4; a streaming step would pay an allocation per sample. A caller that finds the kept one
// in use (another Python thread, the GIL released) gets a private one for that call.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>

#include "fork_safe_lock.h"

namespace fastgru::bindings {

template <class T>
class KeptWorkspace {
 public:
  // Holds the kept workspace (or a private one) until it goes out of scope.
  class Lease {
   public:
    Lease(KeptWorkspace& kept, size_t n) : lock_(kept.mutex_, std::try_to_lock) {
      if (!lock_.owns_lock()) {
        own_.reset(new T[n]);  // uninitialised, like the kept one: pages a call never touches stay unmapped
        data_ = own_.get();
        return;
      }
      if (kept.size_ < n) {
        kept.data_.reset();  // free before allocating: never hold both
        kept.data_.reset(new T[n]);
        kept.size_ = n;
      }
      data_ = kept.data_.get();
    }
    T* get() const { return data_; }

   private:
    std::unique_lock<ForkSafeLock<std::mutex>> lock_;
    std::unique_ptr<T[]> own_;
    T* data_ = nullptr;
  };

  Lease take(size_t n) { return Lease(*this, n); }

 private:
  ForkSafeLock<std::mutex> mutex_;
  std::unique_ptr<T[]> data_;
  size_t size_ = 0;
};

}  // namespace fastgru::bindings
