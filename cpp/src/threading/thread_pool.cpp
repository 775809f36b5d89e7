#include "threading/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>  // _mm_pause: SSE2, part of the x86-64 baseline
#endif

#include "fastgru/runtime.h"
#include "threading/thread_count.h"

namespace fastgru::threading {
namespace {

using Clock = std::chrono::steady_clock;
using Fn = std::function<void(int64_t)>;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(_M_X64)
  _mm_pause();
#endif
}

enum class WaitPolicy { active, passive, automatic };

WaitPolicy parse_wait_policy(const std::string& name, const char* what) {
  if (name == "active") return WaitPolicy::active;
  if (name == "passive") return WaitPolicy::passive;
  if (name == "auto") return WaitPolicy::automatic;
  throw std::invalid_argument(std::string(what) + " must be 'active', 'passive' or 'auto', got '" + name + "'");
}

WaitPolicy default_wait_policy() {
  const char* env = std::getenv("FASTGRU_WAIT_POLICY");
  return env && *env ? parse_wait_policy(env, "FASTGRU_WAIT_POLICY") : WaitPolicy::automatic;
}

std::atomic<int> g_threads{0};
std::atomic<int> g_policy{-1};  // a WaitPolicy, or -1 until first read

WaitPolicy policy_now() {
  int p = g_policy.load(std::memory_order_relaxed);
  if (p < 0) {
    p = static_cast<int>(default_wait_policy());
    g_policy.store(p, std::memory_order_relaxed);
  }
  return static_cast<WaitPolicy>(p);
}

// "auto": the caller notices when the pool's workers are late (it had to run a worker's task
// itself, or waited for one far longer than its own share took: the kernel gave that worker's
// core to another process) and then runs every job on its own thread for a while, so a busy
// machine costs no more than one thread would. It tries the workers again after the back-off,
// which doubles while they stay late.
class LatenessGuard {
 public:
  bool serial(Clock::time_point now) const { return now < serial_until_; }
  void record(bool late, Clock::time_point now) {
    late_ += late;
    if (++jobs_ < kWindow) return;
    if (late_ >= kWindow / 4) {
      serial_until_ = now + backoff_;
      backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    } else {
      backoff_ = kMinBackoff;
    }
    jobs_ = late_ = 0;
  }

 private:
  static constexpr int kWindow = 32;
  static constexpr std::chrono::milliseconds kMinBackoff{20}, kMaxBackoff{1280};
  int jobs_ = 0, late_ = 0;
  std::chrono::milliseconds backoff_ = kMinBackoff;
  Clock::time_point serial_until_{};
};

// A job is published as one 64-bit word: a serial number (high bits) and its number of units (low
// 16 bits). Unit u holds tasks u, u + units, ...; it is claimed by a compare-exchange of
// claims_[u] from an older word to the job's word, so each unit runs exactly once, by its owner
// (participant u) when that one is on time and by any other participant otherwise. A thread that
// claimed a unit of a job knows the job is still current (it cannot end before that unit does),
// so it may read the job's function; a thread that claimed nothing never touches it.
class Pool {
 public:
  explicit Pool(int threads) : requested_(threads), claims_(new std::atomic<uint64_t>[threads]) {
    for (int i = 0; i < threads; ++i) claims_[i].store(0, std::memory_order_relaxed);
    const int started = start_workers(threads);
    if (started < threads) {
      // The system would not start another thread: the process is at a limit (address space,
      // threads) that the work itself must fit under too, and a pool that took everything would
      // leave a call no room for its arrays. Keep half of the threads it got; give back the rest.
      stop_workers();
      start_workers(std::max(1, started / 2));
    }
    size_ = static_cast<int>(workers_.size()) + 1;
  }
  ~Pool() { stop_workers(); }
  int requested() const { return requested_; }
  int size() const { return size_; }

  // Returns false when the caller should run the job alone ("auto" found the workers late).
  bool run(int64_t n_tasks, const Fn& fn, WaitPolicy policy) {
    const Clock::time_point start = Clock::now();
    if (policy == WaitPolicy::automatic && guard_.serial(start)) return false;
    const int units = static_cast<int>(std::min<int64_t>(n_tasks, size_));
    job_ = &fn;
    n_tasks_ = n_tasks;
    error_ = nullptr;
    done_.store(0, std::memory_order_relaxed);
    passive_.store(policy == WaitPolicy::passive, std::memory_order_relaxed);
    const uint64_t word = ((gen_.load(std::memory_order_relaxed) >> kUnitBits) + 1) << kUnitBits | units;
    gen_.store(word);  // seq_cst: publishes the job, ordered before reading sleepers_
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lock(m_);
      wake_.notify_all();
    }
    if (claim(word, 0)) run_unit(word, 0);
    const Clock::time_point own_done = Clock::now();
    bool late = false;
    for (int u = 1; u < units; ++u)
      if (claim(word, u)) {
        run_unit(word, u);
        late = true;
      }
    const Clock::time_point stolen_done = Clock::now();
    wait_for_units(units, policy);
    const Clock::time_point end = Clock::now();
    // Waiting longer than the caller's own share took (plus a margin for an uneven split) means a
    // worker that started its unit lost its core meanwhile.
    late = late || end - stolen_done > (own_done - start) + std::chrono::microseconds(10);
    if (policy == WaitPolicy::automatic) guard_.record(late, end);
    if (error_) std::rethrow_exception(error_);
    return true;
  }

 private:
  static constexpr int kUnitBits = 16;
  static constexpr uint64_t kUnitMask = (uint64_t{1} << kUnitBits) - 1;
  // How long an idle worker spins before sleeping. Steps of a sequence arrive microseconds apart;
  // a futex sleep/wake round trip costs tens of microseconds on a VM, and once one side sleeps the
  // other soon follows, so every step would pay two. 200 us covers the gaps between steps (and a
  // Python call's overhead) with room to spare. The caller spins as long for its workers.
  static constexpr std::chrono::microseconds kSpin{200};

  bool claim(uint64_t word, int unit) {
    uint64_t seen = claims_[unit].load(std::memory_order_relaxed);
    while (seen < word)
      if (claims_[unit].compare_exchange_weak(seen, word, std::memory_order_acq_rel)) return true;
    return false;
  }

  void run_unit(uint64_t word, int unit) {
    const int units = static_cast<int>(word & kUnitMask);
    const Fn& fn = *job_;
    try {
      for (int64_t i = unit; i < n_tasks_; i += units) fn(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_m_);
      if (!error_) error_ = std::current_exception();
    }
    if (done_.fetch_add(1) + 1 == units && caller_sleeping_.load()) {
      std::lock_guard<std::mutex> lock(m_);
      done_cv_.notify_all();
    }
  }

  void wait_for_units(int units, WaitPolicy policy) {
    auto busy = [&] { return done_.load(std::memory_order_acquire) != units; };
    if (!busy()) return;
    const auto spin = policy == WaitPolicy::passive ? std::chrono::microseconds(0) : kSpin;
    const Clock::time_point deadline = Clock::now() + spin;
    for (unsigned i = 1; busy(); ++i) {
      cpu_relax();
      if ((i & 255) == 0 && Clock::now() > deadline) break;
    }
    std::unique_lock<std::mutex> lock(m_);
    caller_sleeping_.store(true);
    // seq_cst load: pairs with run_unit's fetch_add then load of caller_sleeping_ (either the
    // worker sees the flag and notifies, or this sees its count).
    done_cv_.wait(lock, [&] { return done_.load() == units; });
    caller_sleeping_.store(false);
  }

  // Spins (unless passive, or "auto" backed off) until a job newer than `seen` is published, then
  // sleeps until one is. Returns its word.
  uint64_t wait_for_job(uint64_t seen) {
    auto fresh = [&] { return gen_.load(std::memory_order_acquire) != seen; };
    if (!passive_.load(std::memory_order_relaxed)) {
      const Clock::time_point deadline = Clock::now() + kSpin;
      for (unsigned i = 1; !fresh(); ++i) {
        cpu_relax();
        if ((i & 255) == 0 && Clock::now() > deadline) break;
      }
    }
    if (!fresh()) {
      std::unique_lock<std::mutex> lock(m_);
      sleepers_.fetch_add(1);
      // seq_cst load: pairs with run()'s store of gen_ then load of sleepers_.
      wake_.wait(lock, [&] { return gen_.load() != seen; });
      sleepers_.fetch_sub(1);
    }
    return gen_.load(std::memory_order_acquire);
  }

  // Starts workers 1 .. threads-1 (fewer when the system refuses one); returns the participants.
  int start_workers(int threads) {
    for (int i = 1; i < threads; ++i) {
      try {
        workers_.emplace_back([this, i] { work(i); });
      } catch (const std::system_error&) {
        break;
      }
    }
    return static_cast<int>(workers_.size()) + 1;
  }

  void stop_workers() {
    stop_.store(true);
    gen_.fetch_add(uint64_t{1} << kUnitBits);
    {
      std::lock_guard<std::mutex> lock(m_);
      wake_.notify_all();
    }
    for (auto& w : workers_) w.join();
    workers_.clear();
    stop_.store(false);
  }

  void work(int participant) {
    uint64_t seen = 0;
    for (;;) {
      const uint64_t word = wait_for_job(seen);
      if (stop_.load()) return;
      seen = word;
      const int units = static_cast<int>(word & kUnitMask);
      if (participant < units && claim(word, participant)) run_unit(word, participant);
      for (int k = 1; k < units; ++k) {  // help with the units of late participants
        const int u = (participant + k) % units;
        if (u != 0 && claim(word, u)) run_unit(word, u);
      }
    }
  }

  const int requested_;
  int size_ = 1;
  std::unique_ptr<std::atomic<uint64_t>[]> claims_;
  std::vector<std::thread> workers_;
  std::mutex m_;  // only for sleeping and waking
  std::condition_variable wake_, done_cv_;
  std::atomic<uint64_t> gen_{0};
  std::atomic<int> done_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<bool> passive_{false};
  std::atomic<bool> stop_{false};
  // The current job; written by the caller before it publishes the job's word.
  const Fn* job_ = nullptr;
  int64_t n_tasks_ = 0;
  std::mutex error_m_;
  std::exception_ptr error_;
  LatenessGuard guard_;  // the caller's alone (it holds g_pool_mutex)
};

// Pointers, not objects: a fork child replaces them (the parent's pool threads do not exist there,
// and the mutex may have been held by one of the parent's threads) and never destroys the old.
std::mutex* g_pool_mutex = new std::mutex;  // one fork-join job at a time
Pool* g_pool = nullptr;

int threads_now() {
  int n = g_threads.load(std::memory_order_relaxed);
  if (n == 0) {
    n = default_thread_count();
    g_threads.store(n, std::memory_order_relaxed);
  }
  return n;
}

#if defined(__unix__) || defined(__APPLE__)
void after_fork_in_child() {
  g_pool = nullptr;  // leaked on purpose: joining threads that are not there would hang
  g_pool_mutex = new std::mutex;
}
const int g_atfork_registered = pthread_atfork(nullptr, nullptr, after_fork_in_child);
#endif

void run_serially(int64_t n_tasks, const Fn& fn) {
  for (int64_t i = 0; i < n_tasks; ++i) fn(i);
}

}  // namespace

void parallel_for(int64_t n_tasks, const Fn& fn) {
  const int threads = threads_now();
  if (n_tasks <= 1 || threads == 1) return run_serially(n_tasks, fn);
  std::unique_lock<std::mutex> lock(*g_pool_mutex, std::try_to_lock);
  if (!lock.owns_lock()) return run_serially(n_tasks, fn);
  if (!g_pool || g_pool->requested() != threads) {
    delete g_pool;
    g_pool = nullptr;
    g_pool = new Pool(threads);
  }
  if (g_pool->size() == 1 || !g_pool->run(n_tasks, fn, policy_now())) run_serially(n_tasks, fn);
}

Range chunk(int64_t n, int64_t parts, int64_t part, int64_t grain) {
  const int64_t units = (n + grain - 1) / grain;
  const int64_t lo = units * part / parts, hi = units * (part + 1) / parts;
  Range r{lo * grain, hi * grain};
  if (r.begin > n) r.begin = n;
  if (r.end > n) r.end = n;
  return r;
}

}  // namespace fastgru::threading

namespace fastgru {

void set_num_threads(int n) {
  threading::check_thread_count(n, "num_threads");
  threading::g_threads.store(n, std::memory_order_relaxed);
}

int num_threads() { return threading::threads_now(); }

void set_wait_policy(const std::string& name) {
  threading::g_policy.store(static_cast<int>(threading::parse_wait_policy(name, "wait policy")),
                            std::memory_order_relaxed);
}

std::string wait_policy() {
  switch (threading::policy_now()) {
    case threading::WaitPolicy::active: return "active";
    case threading::WaitPolicy::passive: return "passive";
    default: return "auto";
  }
}

}  // namespace fastgru

namespace fastgru {
namespace {
std::atomic<InterruptCheck> g_interrupt_check{nullptr};
}

void set_interrupt_check(InterruptCheck check) { g_interrupt_check.store(check); }
InterruptCheck interrupt_check() { return g_interrupt_check.load(std::memory_order_relaxed); }

}  // namespace fastgru
