// How many threads a call may use by default, and the bound on what a user may ask for.
#pragma once

namespace fastgru::threading {

// More threads than this is a mistake (each costs a stack and a share of every hand-off).
constexpr int kMaxThreads = 256;

// Throws std::invalid_argument naming `what` unless 1 <= n <= kMaxThreads.
void check_thread_count(long n, const char* what);

// FASTGRU_NUM_THREADS when set, else the CPUs this process may run on: its affinity mask, capped
// by a cgroup CPU quota (a container limited to 2 CPUs on a 64-core host gets 2, not 64).
int default_thread_count();

}  // namespace fastgru::threading
