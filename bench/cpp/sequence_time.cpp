// S2-S5 through the C++ API: whole-sequence forward (inference), and forward with a cache
// plus backward (training), no Python in between. Prints median and min ms per call and the
// GFLOP/s of the median, for the active ISA (FASTGRU_ISA picks another).
//   fastgru_sequence_time [threads (default: all)] [repeats (default 11)] [S2-256|S2-1024|S3|S4|S5 (default: all)]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "fastgru/fastgru.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Workload {
  const char* name;
  int64_t batch, steps, hidden;
  bool train;
};

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void run(const Workload& w, int repeats) {
  const int64_t H = w.hidden, B = w.batch, T = w.steps;
  fastgru::GruConfig cfg;
  cfg.input_size = H;
  cfg.hidden_size = H;
  fastgru::Gru<float> gru(cfg);
  std::mt19937 gen(0);
  std::uniform_real_distribution<float> u(-0.1f, 0.1f);
  std::vector<float> w_ih(3 * H * H), w_hh(3 * H * H), b(3 * H), x(T * B * H);
  for (auto* v : {&w_ih, &w_hh, &b, &x})
    for (float& e : *v) e = u(gen);
  gru.set_params(0, 0, {w_ih.data(), w_hh.data(), b.data(), b.data()});

  const fastgru::SequenceBatch seq{T, B, nullptr};
  std::vector<float> y(T * B * H), h_n(B * H), workspace(gru.forward_workspace_size(seq));
  std::vector<float> cache(w.train ? gru.cache_size(seq) : 0), back(w.train ? gru.backward_workspace_size(seq) : 0);
  std::vector<float> dx(w.train ? T * B * H : 0), dh0(B * H), dw_ih(3 * H * H), dw_hh(3 * H * H), db_ih(3 * H),
      db_hh(3 * H);
  const fastgru::LayerGrads<float> grads{dw_ih.data(), dw_hh.data(), db_ih.data(), db_hh.data()};

  std::vector<double> forward_ms, backward_ms;
  for (int r = 0; r <= repeats; ++r) {  // the first call warms up and is not counted
    const auto start = Clock::now();
    gru.forward(seq, x.data(), nullptr, y.data(), h_n.data(), w.train ? cache.data() : nullptr, {},
                workspace.data());
    const double f = ms_since(start);
    double g = 0;
    if (w.train) {
      const auto mid = Clock::now();
      gru.backward(seq, cache.data(), y.data(), nullptr, dx.data(), dh0.data(), &grads, {}, back.data());
      g = ms_since(mid);
    }
    if (r > 0) {
      forward_ms.push_back(f);
      backward_ms.push_back(g);
    }
  }
  std::vector<double> total(forward_ms.size());
  for (size_t i = 0; i < total.size(); ++i) total[i] = forward_ms[i] + backward_ms[i];
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double flops = 6.0 * T * B * H * (2 * H) * (w.train ? 3 : 1);
  std::printf("%-7s B=%-4lld T=%-4lld H=%-5lld %10.2f %10.2f %10.1f", w.name, static_cast<long long>(B),
              static_cast<long long>(T), static_cast<long long>(H), median(total),
              *std::min_element(total.begin(), total.end()), flops / median(total) * 1e-6);
  if (w.train)
    std::printf("   (forward %.2f, backward %.2f)", median(forward_ms), median(backward_ms));
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) fastgru::set_num_threads(std::atoi(argv[1]));
  const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 11;
  std::printf("Sequences through the C++ API, ISA %s, %d thread(s), %d repeats\n", fastgru::active_isa().c_str(),
              fastgru::num_threads(), repeats);
  std::printf("%-30s %10s %10s %10s\n", "workload", "median ms", "min ms", "GFLOP/s");
  for (const Workload& w : {Workload{"S2-256", 1, 512, 256, false}, Workload{"S2-1024", 1, 512, 1024, false},
                            Workload{"S3", 64, 128, 512, false}, Workload{"S4", 32, 100, 256, true},
                            Workload{"S5", 128, 64, 1024, false}})
    if (argc <= 3 || std::string(argv[3]) == w.name) run(w, repeats);
  return 0;
}
