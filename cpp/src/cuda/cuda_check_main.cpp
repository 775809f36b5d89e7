// fastgru_cuda_check: the CUDA backend against the CPU core, from C++ (no Python), on a set of
// configurations (both formulations, layers, directions, lengths, h0, other activations, batch
// norm, dropout; float and double; persistent and per-step recurrent paths). Exit status 0 when
// every comparison is within tolerance, 1 otherwise; 0 with a note where no CUDA device is seen
// (the build machines have none).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "cuda/gru_cuda.h"
#include "fastgru/gru.h"

namespace {

using fastgru::GruConfig;
using fastgru::LayerGrads;
using fastgru::SequenceBatch;
using fastgru::TrainingMode;
namespace fc = fastgru::cuda;

template <class T>
struct Dev {  // a device copy of a host vector
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(size_t count) : n(count) { p = static_cast<T*>(fc::device_malloc(std::max<size_t>(n, 1) * sizeof(T))); }
  explicit Dev(const std::vector<T>& h) : Dev(h.size()) { fc::copy_to_device(p, h.data(), n * sizeof(T), nullptr); }
  ~Dev() { fc::device_free(p); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  std::vector<T> host() const {
    std::vector<T> h(n);
    fc::copy_to_host(h.data(), p, n * sizeof(T), nullptr);
    return h;
  }
};

int failures = 0;

template <class T>
void compare(const std::string& what, const std::vector<T>& cpu, const std::vector<T>& gpu) {
  const double tol = sizeof(T) == 4 ? 1e-4 : 1e-10;
  double worst = 0, scale = 1;
  for (size_t i = 0; i < cpu.size(); ++i) {
    scale = std::max(scale, std::fabs(static_cast<double>(cpu[i])));
    const double d = std::fabs(static_cast<double>(cpu[i]) - static_cast<double>(gpu[i]));
    worst = std::isnan(d) ? INFINITY : std::max(worst, d);
  }
  const bool ok = cpu.size() == gpu.size() && worst <= tol * scale;
  if (!ok) ++failures;
  std::printf("  %-4s %-28s max |diff| %.3g (scale %.3g)\n", ok ? "ok" : "FAIL", what.c_str(), worst, scale);
}

struct Case {
  std::string name;
  GruConfig cfg;
  int64_t steps, batch;
  bool lengths, h0;
  double dropout;
};

template <class T>
void run_case(const Case& k, fc::RecurrentPath path) {
  const GruConfig& c = k.cfg;
  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> u(-0.5, 0.5);
  auto draw = [&](size_t n) {
    std::vector<T> v(n);
    for (T& e : v) e = static_cast<T>(u(rng));
    return v;
  };
  const int64_t H = c.hidden_size, LD = c.num_layers * c.directions(), B = k.batch, S = k.steps;
  fastgru::Gru<T> cpu(c);
  fc::CudaGru<T> gpu(c);
  gpu.set_recurrent_path(path);
  for (int64_t l = 0; l < c.num_layers; ++l)
    for (int64_t d = 0; d < c.directions(); ++d) {
      const auto wi = draw(static_cast<size_t>(3 * H * c.layer_input_size(l))), wh = draw(static_cast<size_t>(3 * H * H));
      const auto bi = draw(static_cast<size_t>(3 * H)), bh = draw(static_cast<size_t>(3 * H));
      cpu.set_params(l, d, {wi.data(), wh.data(), bi.data(), bh.data()});
      gpu.set_params(l, d, {wi.data(), wh.data(), bi.data(), bh.data()});
      if (c.batch_norm) {
        auto g = draw(static_cast<size_t>(2 * H)), b = draw(static_cast<size_t>(2 * H));
        auto mean = draw(static_cast<size_t>(2 * H)), var = draw(static_cast<size_t>(2 * H));
        for (T& v : var) v = static_cast<T>(1.5) + v;
        cpu.set_batch_norm(l, d, g.data(), b.data(), mean.data(), var.data());
        gpu.set_batch_norm(l, d, g.data(), b.data(), mean.data(), var.data());
      }
    }
  std::vector<int64_t> lens;
  if (k.lengths)
    for (int64_t b = 0; b < B; ++b) lens.push_back(b == 1 ? S : 1 + static_cast<int64_t>(rng() % S));
  const SequenceBatch sb{S, B, k.lengths ? lens.data() : nullptr};
  const TrainingMode mode{k.dropout, 7, c.batch_norm};
  const auto x = draw(static_cast<size_t>(S * B * c.input_size));
  const auto h0 = draw(static_cast<size_t>(LD * B * H));
  const size_t ny = static_cast<size_t>(S * B * c.directions() * H), nh = static_cast<size_t>(LD * B * H);

  std::printf("%s [%s, %s]\n", k.name.c_str(), sizeof(T) == 4 ? "float" : "double",
              path == fc::RecurrentPath::per_step ? "per-step" : (gpu.uses_persistent(B) ? "persistent" : "auto"));
  // CPU.
  std::vector<T> y(ny), hn(nh), cache(cpu.cache_size(sb)), ws(cpu.forward_workspace_size(sb));
  std::vector<T> stats(static_cast<size_t>(LD * 4 * H));
  cpu.forward(sb, x.data(), k.h0 ? h0.data() : nullptr, y.data(), hn.data(), cache.data(), mode, ws.data(),
              c.batch_norm ? stats.data() : nullptr);
  // GPU.
  Dev<T> dx_(x), dh0_(h0), dy_(ny), dhn_(nh), dcache(gpu.cache_size(sb)), dws(gpu.forward_workspace_size(sb));
  Dev<T> dstats(stats.size());
  gpu.forward(sb, dx_.p, k.h0 ? dh0_.p : nullptr, dy_.p, dhn_.p, dcache.p, mode, dws.p,
              c.batch_norm ? dstats.p : nullptr, nullptr);
  compare("forward y", y, dy_.host());
  compare("forward h_n", hn, dhn_.host());
  if (c.batch_norm) compare("batch statistics", stats, dstats.host());

  // Backward from random dy, dh_n.
  const auto gy = draw(ny), ghn = draw(nh);
  std::vector<T> dx(static_cast<size_t>(S * B * c.input_size)), dh0(nh), bws(cpu.backward_workspace_size(sb));
  std::vector<std::vector<T>> cg;
  std::vector<LayerGrads<T>> cgrads;
  std::vector<Dev<T>*> gg;
  std::vector<LayerGrads<T>> ggrads;
  for (int64_t i = 0; i < LD; ++i) {
    const size_t sizes[6] = {static_cast<size_t>(3 * H * c.layer_input_size(i / c.directions())),
                             static_cast<size_t>(3 * H * H), static_cast<size_t>(3 * H), static_cast<size_t>(3 * H),
                             static_cast<size_t>(2 * H), static_cast<size_t>(2 * H)};
    T* cp[6];
    T* gp[6];
    for (int j = 0; j < 6; ++j) {
      cg.emplace_back(sizes[j]);
      gg.push_back(new Dev<T>(sizes[j]));
      gp[j] = gg.back()->p;
    }
    for (int j = 0; j < 6; ++j) cp[j] = cg[cg.size() - 6 + static_cast<size_t>(j)].data();
    const bool bn = c.batch_norm;
    cgrads.push_back({cp[0], cp[1], cp[2], cp[3], bn ? cp[4] : nullptr, bn ? cp[5] : nullptr});
    ggrads.push_back({gp[0], gp[1], gp[2], gp[3], bn ? gp[4] : nullptr, bn ? gp[5] : nullptr});
  }
  cpu.backward(sb, cache.data(), gy.data(), ghn.data(), dx.data(), dh0.data(), cgrads.data(), mode, bws.data());
  Dev<T> gdy(gy), gdhn(ghn), gdx(dx.size()), gdh0(nh), gbws(gpu.backward_workspace_size(sb));
  gpu.backward(sb, dcache.p, gdy.p, gdhn.p, gdx.p, gdh0.p, ggrads.data(), mode, gbws.p, nullptr);
  compare("backward dx", dx, gdx.host());
  compare("backward dh0", dh0, gdh0.host());
  const char* names[6] = {"dW_ih", "dW_hh", "db_ih", "db_hh", "dbn_weight", "dbn_bias"};
  for (size_t j = 0; j < cg.size(); ++j) {
    if (j % 6 >= 4 && !c.batch_norm) continue;
    compare(std::string("backward ") + names[j % 6] + " #" + std::to_string(j / 6), cg[j], gg[j]->host());
  }
  for (Dev<T>* p : gg) delete p;

  // One streaming step (unidirectional only).
  if (!c.bidirectional) {
    const auto xs = draw(static_cast<size_t>(B * c.input_size)), hs = draw(static_cast<size_t>(c.num_layers * B * H));
    std::vector<T> out(hs.size()), sws(cpu.step_workspace_size(B));
    cpu.step(B, xs.data(), hs.data(), out.data(), sws.data());
    Dev<T> gxs(xs), ghs(hs), gout(hs.size()), gsws(gpu.step_workspace_size(B));
    gpu.step(B, gxs.p, ghs.p, gout.p, gsws.p, nullptr);
    compare("step", out, gout.host());
  }
}

}  // namespace

int main() {
  if (!fc::available()) {
    std::printf("no CUDA device: the CUDA backend was built, nothing was run\n");
    return 0;
  }
  std::printf("device 0: %s\n", fc::device_name(0).c_str());
  auto cfg = [](int64_t D, int64_t H, int64_t L, bool bidir, bool after) {
    GruConfig c;
    c.input_size = D;
    c.hidden_size = H;
    c.num_layers = L;
    c.bidirectional = bidir;
    c.reset_after = after;
    return c;
  };
  std::vector<Case> cases = {
      {"reset-after, 1 layer", cfg(7, 33, 1, false, true), 9, 3, false, true, 0.0},
      {"reset-before, 1 layer", cfg(7, 33, 1, false, false), 9, 3, false, true, 0.0},
      {"reset-after, 2 layers bidir lengths", cfg(5, 17, 2, true, true), 11, 5, true, true, 0.0},
      {"reset-before, 2 layers bidir lengths", cfg(5, 17, 2, true, false), 11, 5, true, false, 0.0},
      {"reset-after, batch 1, H 256", cfg(64, 256, 1, false, true), 20, 1, false, true, 0.0},
      {"reset-after, batch 24 (tiled GEMMs)", cfg(40, 100, 2, false, true), 6, 24, true, true, 0.3},
  };
  GruConfig general = cfg(6, 20, 2, false, false);
  general.math.gate = {fastgru::Activation::hard_sigmoid, 0.2, 0.5};
  general.math.candidate = {fastgru::Activation::elu, 1.0, 0.0};
  general.math.clip = 2.5;
  cases.push_back({"reset-before, hard_sigmoid/elu/clip", general, 8, 4, true, true, 0.0});
  GruConfig bn = cfg(6, 16, 2, false, true);
  bn.batch_norm = true;
  bn.math.candidate = {fastgru::Activation::relu};
  cases.push_back({"batch norm (Light GRU core)", bn, 7, 3, true, true, 0.0});

  for (const Case& k : cases)
    for (fc::RecurrentPath path : {fc::RecurrentPath::automatic, fc::RecurrentPath::per_step}) {
      run_case<float>(k, path);
      run_case<double>(k, path);
    }
  std::printf(failures ? "%d comparisons FAILED\n" : "all comparisons within tolerance\n", failures);
  return failures ? 1 : 0;
}
