#include "threading/thread_count.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#if defined(__linux__)
#include <sched.h>
#endif

namespace fastgru::threading {
namespace {

int affinity_cpus() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

// The cgroup v2 quota ("cpu.max": "<quota> <period>" or "max <period>") as whole CPUs, rounded up;
// 0 when there is none. cgroup v1's cpu.cfs_quota_us / cpu.cfs_period_us say the same.
int quota_cpus() {
#if defined(__linux__)
  auto from = [](double quota, double period) {
    return quota > 0 && period > 0 ? std::max(1, static_cast<int>((quota + period - 1) / period)) : 0;
  };
  std::ifstream v2("/sys/fs/cgroup/cpu.max");
  std::string quota;
  double period = 0;
  if (v2 >> quota >> period) return quota == "max" ? 0 : from(std::atof(quota.c_str()), period);
  std::ifstream q1("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), p1("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  double q = 0;
  if (q1 >> q && p1 >> period) return from(q, period);
#endif
  return 0;
}

}  // namespace

void check_thread_count(long n, const char* what) {
  if (n < 1 || n > kMaxThreads)
    throw std::invalid_argument(std::string(what) + " must be in [1, " + std::to_string(kMaxThreads) + "], got " +
                                std::to_string(n));
}

int default_thread_count() {
  if (const char* env = std::getenv("FASTGRU_NUM_THREADS"); env && *env) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (*end != '\0') throw std::invalid_argument(std::string("FASTGRU_NUM_THREADS must be an integer, got '") + env + "'");
    check_thread_count(n, "FASTGRU_NUM_THREADS");
    return static_cast<int>(n);
  }
  const int cpus = affinity_cpus(), quota = quota_cpus();
  return std::min(kMaxThreads, quota > 0 ? std::min(cpus, quota) : cpus);
}

}  // namespace fastgru::threading
