// What the silicon allows, measured: FMA throughput per core (and on every core at once) and
// read bandwidth by working-set size (L1 / L2 / L3 / DRAM). The GRU targets are judged against
// these figures: a batch-1 step streams its weights from L1/L2, a batched one is bound by FMAs.
//   fastgru_machine_limits [threads for the all-cores FMA figure (default: all)]
// x86-64 with GCC or Clang only (per-function target attributes, run-time ISA checks).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// 12 independent accumulators: more than FMA latency x FMA ports on current cores, so the loop
// runs at the FMA issue rate. Returns GFLOP/s (2 flops per lane per FMA).
__attribute__((target("avx2,fma"))) double fma_gflops_ymm(long iterations) {
  __m256 acc[12];
  for (auto& a : acc) a = _mm256_set1_ps(0.f);
  const __m256 b = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(1e-3f);
  const auto start = Clock::now();
  for (long i = 0; i < iterations; ++i)
    for (auto& a : acc) a = _mm256_fmadd_ps(a, b, c);
  const double s = seconds_since(start);
  float sink = 0.f;
  for (auto& a : acc) sink += _mm256_cvtss_f32(a);
  if (sink == 12345.f) std::puts("");  // keeps the loop alive
  return 12.0 * 8 * 2 * static_cast<double>(iterations) / s / 1e9;
}

__attribute__((target("avx512f"))) double fma_gflops_zmm(long iterations) {
  __m512 acc[12];
  for (auto& a : acc) a = _mm512_set1_ps(0.f);
  const __m512 b = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(1e-3f);
  const auto start = Clock::now();
  for (long i = 0; i < iterations; ++i)
    for (auto& a : acc) a = _mm512_fmadd_ps(a, b, c);
  const double s = seconds_since(start);
  alignas(64) float lanes[16];
  float sink = 0.f;
  for (auto& a : acc) {
    _mm512_store_ps(lanes, a);
    sink += lanes[0];
  }
  if (sink == 12345.f) std::puts("");
  return 12.0 * 16 * 2 * static_cast<double>(iterations) / s / 1e9;
}

// Bytes per second reading `bytes` of floats over and over with 256-bit loads (8 streams of
// adds, so the adds never limit the rate).
__attribute__((target("avx2"))) double read_gbps(size_t bytes) {
  const size_t n = bytes / sizeof(float);
  std::vector<float> data(n, 1e-7f);
  __m256 acc[8];
  for (auto& a : acc) a = _mm256_setzero_ps();
  const long passes = std::max<long>(3, static_cast<long>((size_t{1} << 31) / bytes));
  const auto start = Clock::now();
  for (long p = 0; p < passes; ++p)
    for (size_t i = 0; i + 64 <= n; i += 64)
      for (int k = 0; k < 8; ++k) acc[k] = _mm256_add_ps(acc[k], _mm256_loadu_ps(&data[i + 8 * k]));
  const double s = seconds_since(start);
  float sink = 0.f;
  for (auto& a : acc) sink += _mm256_cvtss_f32(a);
  if (sink == 12345.f) std::puts("");
  return static_cast<double>(bytes) * static_cast<double>(passes) / s / 1e9;
}

template <class F>
double best_of(int runs, F&& f) {
  double best = 0;
  for (int r = 0; r < runs; ++r) best = std::max(best, f());
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : static_cast<int>(std::thread::hardware_concurrency());
  const bool avx512 = __builtin_cpu_supports("avx512f");
  const long iters = 50'000'000;
  std::printf("FMA throughput, float32, one core:\n");
  const double ymm = best_of(3, [&] { return fma_gflops_ymm(iters); });
  std::printf("  256-bit FMAs: %6.1f GFLOP/s\n", ymm);
  double zmm = 0;
  if (avx512) {
    zmm = best_of(3, [&] { return fma_gflops_zmm(iters); });
    std::printf("  512-bit FMAs: %6.1f GFLOP/s%s\n", zmm,
                zmm < 1.3 * ymm ? "  (no faster than 256-bit: 512-bit FMAs are split in two on this core)" : "");
  }
  std::vector<double> per_thread(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      per_thread[static_cast<size_t>(t)] = avx512 ? fma_gflops_zmm(iters) : fma_gflops_ymm(iters);
    });
  for (auto& th : pool) th.join();
  double all = 0;
  for (double g : per_thread) all += g;
  std::printf("  %d threads at once: %6.1f GFLOP/s in all\n", threads, all);

  std::printf("Read bandwidth, one core (GB/s) by working set:\n");
  for (size_t kb : {16, 32, 128, 512, 1024, 4096, 16384, 65536}) {
    const double gbps = best_of(3, [&] { return read_gbps(kb * 1024); });
    std::printf("  %6zu KB: %6.1f GB/s\n", kb, gbps);
  }
  return 0;
}

#else
int main() {
  std::puts("fastgru_machine_limits: x86-64 with GCC or Clang only");
  return 0;
}
#endif
