// S1 through the C++ API: one GRU step at batch 1, state carried, for H in {16, 64, 256}.
// Prints the median ns per step over repeated runs, per ISA the CPU supports.
//   fastgru_step_latency [threads (default 1)] [steps per run (default 20000)]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "fastgru/fastgru.h"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double ns_per_step(int64_t H, int64_t steps) {
  fastgru::GruConfig cfg;
  cfg.input_size = H;
  cfg.hidden_size = H;
  fastgru::Gru<float> gru(cfg);
  std::mt19937 gen(0);
  std::uniform_real_distribution<float> u(-0.1f, 0.1f);
  std::vector<float> w_ih(3 * H * H), w_hh(3 * H * H), b(3 * H);
  for (auto* v : {&w_ih, &w_hh, &b})
    for (float& e : *v) e = u(gen);
  gru.set_params(0, 0, {w_ih.data(), w_hh.data(), b.data(), b.data()});
  std::vector<float> x(H, 0.5f), h(H, 0.f), h_next(H);
  std::vector<float> workspace(gru.step_workspace_size(1));
  std::vector<double> runs;
  for (int r = 0; r < 7; ++r) {
    const auto start = std::chrono::steady_clock::now();
    for (int64_t s = 0; s < steps; ++s) {
      gru.step(1, x.data(), h.data(), h_next.data(), workspace.data());
      std::swap(h, h_next);
    }
    const auto end = std::chrono::steady_clock::now();
    runs.push_back(std::chrono::duration<double, std::nano>(end - start).count() / static_cast<double>(steps));
  }
  return median(runs);
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  const int64_t steps = argc > 2 ? std::atoll(argv[2]) : 20000;
  fastgru::set_num_threads(threads);
  std::printf("S1 C++ API, batch 1, %d thread(s): median ns per step\n", threads);
  std::printf("%-8s %10s %10s %10s\n", "isa", "H=16", "H=64", "H=256");
  for (const std::string& isa : fastgru::supported_isas()) {
    fastgru::set_isa(isa);
    std::printf("%-8s", isa.c_str());
    for (int64_t H : {16, 64, 256}) std::printf(" %10.0f", ns_per_step(H, H >= 256 ? steps / 10 : steps));
    std::printf("\n");
  }
  return 0;
}
