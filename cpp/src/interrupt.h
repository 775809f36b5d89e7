// The cancellation point of one long call (see set_interrupt_check in fastgru/runtime.h): every
// thread of the call polls it between steps. Polling costs a counter increment; every 16th poll
// reads the clock, and the check itself runs at most every kInterval, on the calling thread only.
// Once it says stop, every thread of the call throws at its next poll.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#include "fastgru/runtime.h"

namespace fastgru {

InterruptCheck interrupt_check();  // thread_pool.cpp keeps it beside the other run-time controls

class CallInterrupt {
 public:
  CallInterrupt() : check_(interrupt_check()), caller_(std::this_thread::get_id()), next_(Clock::now() + kInterval) {}

  // `ticks`: the polling thread's own counter (a local of its loop).
  void poll(unsigned& ticks) {
    if (!check_) return;
    if ((++ticks & 15) == 0) slow_poll();
  }
  // Between pieces of work that take many steps' time each.
  void poll_now() {
    if (check_) slow_poll();
  }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kInterval{20};

  void slow_poll() {
    if (!stopped_.load(std::memory_order_relaxed) && std::this_thread::get_id() == caller_) {
      const Clock::time_point now = Clock::now();
      if (now < next_) return;
      next_ = now + kInterval;
      if (check_()) stopped_.store(true, std::memory_order_relaxed);
    }
    if (stopped_.load(std::memory_order_relaxed)) throw Interrupted();
  }

  const InterruptCheck check_;
  const std::thread::id caller_;
  Clock::time_point next_;  // the caller's alone
  std::atomic<bool> stopped_{false};
};

}  // namespace fastgru
