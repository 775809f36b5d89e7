// Cost of one fork-join of the thread pool (what each threaded GRU step pays on top of its
// work): median ns per parallel_for over no-op tasks, one task per thread.
//   fastgru_sync_cost [threads (default 2)]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "fastgru/runtime.h"
#include "threading/thread_pool.h"

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  fastgru::set_num_threads(threads);
  std::atomic<int64_t> sink{0};
  const auto task = [&](int64_t i) { sink.fetch_add(i, std::memory_order_relaxed); };
  const int calls = 200000;
  std::vector<double> runs;
  for (int r = 0; r < 7; ++r) {
    const auto start = std::chrono::steady_clock::now();
    for (int c = 0; c < calls; ++c) fastgru::threading::parallel_for(threads, task);
    const auto end = std::chrono::steady_clock::now();
    runs.push_back(std::chrono::duration<double, std::nano>(end - start).count() / calls);
  }
  std::sort(runs.begin(), runs.end());
  std::printf("fork-join of %d threads: median %.0f ns (min %.0f ns) per parallel_for\n", threads, runs[3], runs[0]);
  return sink.load() < 0;
}
