#include "threading/thread_pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>  // _mm_pause: SSE2, part of the x86-64 baseline
#endif

#include "fastgru/runtime.h"

namespace fastgru::threading {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(_M_X64)
  _mm_pause();
#endif
}

int default_threads() {
  if (const char* env = std::getenv("FASTGRU_NUM_THREADS"); env && *env) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (*end != '\0' || n < 1 || n > 1024)
      throw std::invalid_argument(std::string("FASTGRU_NUM_THREADS must be an integer in [1, 1024], got '") +
                                  env + "'");
    return static_cast<int>(n);
  }
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set) > 0 ? CPU_COUNT(&set) : 1;
#endif
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

// The hot path (one job per GRU step) takes no lock: the job is published through atomics and a
// generation counter. Only a thread that spun out and went to sleep costs a mutex and a wake-up.
class Pool {
 public:
  explicit Pool(int threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { work(i); });
  }
  ~Pool() {
    stop_.store(true);
    generation_.fetch_add(1);
    {
      std::lock_guard<std::mutex> lock(m_);
      wake_.notify_all();
    }
    for (auto& w : workers_) w.join();
  }
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void run(int64_t n_tasks, const std::function<void(int64_t)>& fn) {
    job_.store(&fn, std::memory_order_relaxed);
    n_tasks_.store(n_tasks, std::memory_order_relaxed);
    pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    generation_.fetch_add(1);  // seq_cst: publishes the job, ordered before reading sleepers_
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lock(m_);
      wake_.notify_all();
    }
    drain(fn, n_tasks, 0);
    // Wait for every worker to leave the job, so `fn` may go out of scope after we return.
    wait_while([this] { return pending_.load() != 0; }, done_, nullptr, &main_waiting_);
  }

 private:
  // How long an idle thread spins before sleeping. Steps of a sequence arrive microseconds
  // apart; a futex sleep/wake round trip costs tens of microseconds on a VM, and once one side
  // sleeps the other soon follows, so every step would pay two. 200 us covers the gaps between
  // steps (and a Python call's overhead) with room to spare.
  static constexpr std::chrono::microseconds kSpin{200};

  // Spins while `busy()` holds, then sleeps on `cv` until it no longer does.
  template <class Busy>
  void wait_while(Busy&& busy, std::condition_variable& cv, std::atomic<int>* sleeping_count,
                  std::atomic<bool>* sleeping_flag) {
    const auto deadline = std::chrono::steady_clock::now() + kSpin;
    for (unsigned i = 1; busy(); ++i) {
      cpu_relax();
      if ((i & 255) == 0 && std::chrono::steady_clock::now() > deadline) {
        std::unique_lock<std::mutex> lock(m_);
        if (sleeping_count) sleeping_count->fetch_add(1);
        if (sleeping_flag) sleeping_flag->store(true);
        cv.wait(lock, [&] { return !busy(); });
        if (sleeping_count) sleeping_count->fetch_sub(1);
        if (sleeping_flag) sleeping_flag->store(false);
        return;
      }
    }
  }

  // Static assignment: participant p always runs tasks p, p + size, ... so a task index keeps
  // meeting the same core, and with it the weight slice already in that core's L2.
  void drain(const std::function<void(int64_t)>& fn, int64_t n, int participant) {
    for (int64_t i = participant; i < n; i += size()) fn(i);
  }

  void work(int participant) {
    uint64_t seen = 0;
    for (;;) {
      wait_while([&] { return generation_.load() == seen; }, wake_, &sleepers_, nullptr);
      seen = generation_.load(std::memory_order_acquire);
      if (stop_.load()) return;
      drain(*job_.load(std::memory_order_relaxed), n_tasks_.load(std::memory_order_relaxed), participant);
      if (pending_.fetch_sub(1) == 1 && main_waiting_.load()) {
        std::lock_guard<std::mutex> lock(m_);
        done_.notify_all();
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex m_;  // only for sleeping and waking
  std::condition_variable wake_, done_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> main_waiting_{false};
  std::atomic<bool> stop_{false};
  std::atomic<const std::function<void(int64_t)>*> job_{nullptr};
  std::atomic<int64_t> n_tasks_{0};
};

std::mutex g_pool_mutex;  // one fork-join job at a time
std::unique_ptr<Pool> g_pool;
std::atomic<int> g_threads{0};

int threads_now() {
  int n = g_threads.load(std::memory_order_relaxed);
  if (n == 0) {
    n = default_threads();
    g_threads.store(n, std::memory_order_relaxed);
  }
  return n;
}

}  // namespace

void parallel_for(int64_t n_tasks, const std::function<void(int64_t)>& fn) {
  const int threads = threads_now();
  if (n_tasks <= 1 || threads == 1) {
    for (int64_t i = 0; i < n_tasks; ++i) fn(i);
    return;
  }
  std::unique_lock<std::mutex> lock(g_pool_mutex, std::try_to_lock);
  if (!lock.owns_lock()) {
    for (int64_t i = 0; i < n_tasks; ++i) fn(i);
    return;
  }
  if (!g_pool || g_pool->size() != threads) {
    g_pool.reset();
    g_pool = std::make_unique<Pool>(threads);
  }
  g_pool->run(n_tasks, fn);
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
  if (n < 1 || n > 1024)
    throw std::invalid_argument("num_threads must be in [1, 1024], got " + std::to_string(n));
  threading::g_threads.store(n, std::memory_order_relaxed);
}

int num_threads() { return threading::threads_now(); }

}  // namespace fastgru
