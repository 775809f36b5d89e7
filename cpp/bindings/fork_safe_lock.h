// A mutex that a fork child finds unlocked. A lock held by another thread when the process forks
// stays held forever in the child (the holder does not exist there), so a model that was in use
// in a parent thread would deadlock its first update in a gunicorn or multiprocessing child.
// Every ForkSafeLock is registered; in the child, where only the forking thread runs, each gets
// a fresh mutex (the old one is leaked: destroying a locked mutex is undefined).
#pragma once

#include <memory>
#include <mutex>
#include <set>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif

namespace fastgru::bindings {

class ForkResettable {
 public:
  virtual void reset_after_fork() = 0;

 protected:
  ForkResettable() { add(this); }
  ~ForkResettable() { remove(this); }

 private:
  struct Registry {
    std::mutex* mutex = new std::mutex;
    std::set<ForkResettable*> members;
  };
  static Registry& registry() {
    static Registry* r = [] {
      auto* made = new Registry;  // never destroyed: models may outlive static destruction
#if defined(__unix__) || defined(__APPLE__)
      pthread_atfork(nullptr, nullptr, [] {
        Registry& reg = registry();
        reg.mutex = new std::mutex;  // it too may have been held
        for (ForkResettable* m : reg.members) m->reset_after_fork();
      });
#endif
      return made;
    }();
    return *r;
  }
  static void add(ForkResettable* m) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(*r.mutex);
    r.members.insert(m);
  }
  static void remove(ForkResettable* m) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(*r.mutex);
    r.members.erase(m);
  }
};

// Mutex: std::mutex or std::shared_mutex; the wrapper has the same locking members.
template <class Mutex>
class ForkSafeLock final : ForkResettable {
 public:
  ForkSafeLock() : m_(new Mutex) {}
  ~ForkSafeLock() = default;
  void reset_after_fork() override {
    (void)m_.release();  // leaked on purpose (see above)
    m_.reset(new Mutex);
  }

  void lock() { m_->lock(); }
  bool try_lock() { return m_->try_lock(); }
  void unlock() { m_->unlock(); }
  void lock_shared() { m_->lock_shared(); }
  bool try_lock_shared() { return m_->try_lock_shared(); }
  void unlock_shared() { m_->unlock_shared(); }

 private:
  std::unique_ptr<Mutex> m_;
};

}  // namespace fastgru::bindings
