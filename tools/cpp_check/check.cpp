// fastgru_cpp_check: the C++ core on its own, no Python. Prints the ISAs compiled into this build
// and those the CPU runs, then for every runnable ISA checks forward (float and double), the
// streaming step and backward of a 2-layer bidirectional GRU against a naive double reference
// written here (and the gradients against central finite differences of that reference).
// Exits 1 on any mismatch; 2 when --expect-isas names a different set of compiled ISAs.
//   fastgru_cpp_check [--expect-isas scalar[,avx2[,avx512]]]
// Used by tools/cross_compile_aarch64.sh (under qemu-aarch64); runs natively just as well.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "fastgru/fastgru.h"

namespace {

constexpr int64_t D = 7, H = 9, NT = 5, B = 3, L = 2, DIRS = 2;  // odd sizes: vector tails

struct Params {  // [layer * DIRS + dir]: weight_ih (3H, Din), weight_hh (3H, H), two biases (3H)
  std::vector<double> w_ih[L * DIRS], w_hh[L * DIRS], b_ih[L * DIRS], b_hh[L * DIRS];
};

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// PyTorch's GRU (reset_after): y [NT, B, DIRS*H], h_n [L*DIRS, B, H], h0 [L*DIRS, B, H].
void reference_forward(const Params& p, const std::vector<double>& x, const std::vector<double>& h0,
                       std::vector<double>& y, std::vector<double>& h_n) {
  std::vector<double> in = x;
  int64_t din = D;
  h_n.assign(L * DIRS * B * H, 0.0);
  for (int64_t l = 0; l < L; ++l) {
    std::vector<double> out(NT * B * DIRS * H);
    for (int64_t d = 0; d < DIRS; ++d) {
      const int64_t k = l * DIRS + d;
      std::vector<double> h(h0.begin() + k * B * H, h0.begin() + (k + 1) * B * H);
      for (int64_t s = 0; s < NT; ++s) {
        const int64_t t = d == 0 ? s : NT - 1 - s;
        std::vector<double> hn(B * H);
        for (int64_t b = 0; b < B; ++b) {
          const double* xt = &in[(t * B + b) * din];
          const double* hb = &h[b * H];
          for (int64_t j = 0; j < H; ++j) {
            double gi[3], gh[3];
            for (int g = 0; g < 3; ++g) {
              const int64_t row = g * H + j;
              gi[g] = p.b_ih[k][row];
              gh[g] = p.b_hh[k][row];
              for (int64_t c = 0; c < din; ++c) gi[g] += p.w_ih[k][row * din + c] * xt[c];
              for (int64_t c = 0; c < H; ++c) gh[g] += p.w_hh[k][row * H + c] * hb[c];
            }
            const double r = sigmoid(gi[0] + gh[0]), z = sigmoid(gi[1] + gh[1]);
            const double n = std::tanh(gi[2] + r * gh[2]);
            hn[b * H + j] = (1.0 - z) * n + z * hb[j];
          }
        }
        h = hn;
        for (int64_t b = 0; b < B; ++b)
          for (int64_t j = 0; j < H; ++j) out[(t * B + b) * DIRS * H + d * H + j] = h[b * H + j];
      }
      std::copy(h.begin(), h.end(), h_n.begin() + k * B * H);
    }
    in = out;
    din = DIRS * H;
  }
  y = in;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return a.size() == b.size() ? m : INFINITY;
}

template <class T>
std::vector<T> cast(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}
std::vector<double> widen(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }
std::vector<double> widen(const std::vector<double>& v) { return v; }

int failures = 0;

void expect(bool ok, const std::string& isa, const char* what, double err, double tol) {
  std::printf("  %-7s %-40s max |err| %.3g (tol %.3g) %s\n", isa.c_str(), what, err, tol, ok ? "ok" : "FAIL");
  if (!ok) ++failures;
}

template <class T>
void check_isa(const std::string& isa, const Params& p, const std::vector<double>& x, const std::vector<double>& h0,
               double tol) {
  fastgru::set_isa(isa);
  const char* dtype = sizeof(T) == 4 ? "float32" : "float64";
  fastgru::GruConfig cfg;
  cfg.input_size = D;
  cfg.hidden_size = H;
  cfg.num_layers = L;
  cfg.bidirectional = true;
  fastgru::Gru<T> gru(cfg);
  std::vector<T> w_ih[L * DIRS], w_hh[L * DIRS], b_ih[L * DIRS], b_hh[L * DIRS];
  for (int64_t k = 0; k < L * DIRS; ++k) {
    w_ih[k] = cast<T>(p.w_ih[k]);
    w_hh[k] = cast<T>(p.w_hh[k]);
    b_ih[k] = cast<T>(p.b_ih[k]);
    b_hh[k] = cast<T>(p.b_hh[k]);
    gru.set_params(k / DIRS, k % DIRS, {w_ih[k].data(), w_hh[k].data(), b_ih[k].data(), b_hh[k].data()});
  }
  const fastgru::SequenceBatch batch{NT, B, nullptr};
  const std::vector<T> xt = cast<T>(x), h0t = cast<T>(h0);
  std::vector<T> y(NT * B * DIRS * H), h_n(L * DIRS * B * H), cache(gru.cache_size(batch));
  std::vector<T> ws(std::max(gru.forward_workspace_size(batch), gru.backward_workspace_size(batch)));
  const fastgru::TrainingMode mode{};
  gru.forward(batch, xt.data(), h0t.data(), y.data(), h_n.data(), cache.data(), mode, ws.data());

  std::vector<double> y_ref, hn_ref;
  reference_forward(p, x, h0, y_ref, hn_ref);
  double err = std::max(max_abs_diff(widen(y), y_ref), max_abs_diff(widen(h_n), hn_ref));
  expect(err <= tol, isa, (std::string(dtype) + " forward vs reference").c_str(), err, tol);

  // Backward of loss = sum(y * gy): dW_ih of every layer/direction against finite differences.
  std::mt19937 gen(1);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> gy(y.size());
  for (double& v : gy) v = u(gen);
  const std::vector<T> gyt = cast<T>(gy);
  std::vector<T> dx(x.size()), dh0(h0.size());
  std::vector<T> g_ih[L * DIRS], g_hh[L * DIRS], g_bi[L * DIRS], g_bh[L * DIRS];
  std::vector<fastgru::LayerGrads<T>> grads;
  for (int64_t k = 0; k < L * DIRS; ++k) {
    g_ih[k].resize(w_ih[k].size());
    g_hh[k].resize(w_hh[k].size());
    g_bi[k].resize(3 * H);
    g_bh[k].resize(3 * H);
    grads.push_back({g_ih[k].data(), g_hh[k].data(), g_bi[k].data(), g_bh[k].data()});
  }
  gru.backward(batch, cache.data(), gyt.data(), nullptr, dx.data(), dh0.data(), grads.data(), mode, ws.data());
  auto loss = [&](const Params& q) {
    std::vector<double> yy, hh;
    reference_forward(q, x, h0, yy, hh);
    double s = 0;
    for (size_t i = 0; i < yy.size(); ++i) s += yy[i] * gy[i];
    return s;
  };
  double gerr = 0;
  const double eps = 1e-6;
  for (int64_t k = 0; k < L * DIRS; ++k) {
    for (size_t i = 0; i < p.w_ih[k].size(); i += 5) {  // every 5th entry keeps it quick under qemu
      Params q = p;
      q.w_ih[k][i] += eps;
      const double up = loss(q);
      q.w_ih[k][i] -= 2 * eps;
      const double down = loss(q);
      gerr = std::max(gerr, std::fabs((up - down) / (2 * eps) - static_cast<double>(g_ih[k][i])));
    }
  }
  const double gtol = sizeof(T) == 4 ? 1e-4 : 1e-7;
  expect(gerr <= gtol, isa, (std::string(dtype) + " backward dW_ih vs finite diff").c_str(), gerr, gtol);

  // The streaming step of a unidirectional stack agrees with forward() over the same steps.
  fastgru::GruConfig ucfg = cfg;
  ucfg.bidirectional = false;
  fastgru::Gru<T> uni(ucfg);
  for (int64_t l = 0; l < L; ++l) {
    const int64_t k = l * DIRS;  // direction 0 of each layer; layer 1's input is then H wide
    std::vector<T> wi(3 * H * (l == 0 ? D : H));
    for (int64_t r = 0; r < 3 * H; ++r)
      for (int64_t c = 0; c < (l == 0 ? D : H); ++c)
        wi[r * (l == 0 ? D : H) + c] = w_ih[k][r * (l == 0 ? D : DIRS * H) + c];
    uni.set_params(l, 0, {wi.data(), w_hh[k].data(), b_ih[k].data(), b_hh[k].data()});
  }
  std::vector<T> uy(NT * B * H), uhn(L * B * H), uws(uni.forward_workspace_size(batch));
  std::vector<T> uh0(h0t.begin(), h0t.begin() + L * B * H);  // any L*B*H values will do
  uni.forward(batch, xt.data(), uh0.data(), uy.data(), uhn.data(), nullptr, mode, uws.data());
  std::vector<T> h = uh0, h_out(h.size()), sws(uni.step_workspace_size(B));
  double serr = 0;
  for (int64_t t = 0; t < NT; ++t) {
    uni.step(B, xt.data() + t * B * D, h.data(), h_out.data(), sws.data());
    std::swap(h, h_out);
    for (int64_t i = 0; i < B * H; ++i)
      serr = std::max(serr, std::fabs(static_cast<double>(h[(L - 1) * B * H + i] - uy[t * B * H + i])));
  }
  expect(serr <= tol, isa, (std::string(dtype) + " step vs forward").c_str(), serr, tol);
}

std::string joined(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const auto& e : v) s += (s.empty() ? "" : sep) + e;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string expected;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--expect-isas") == 0 && i + 1 < argc) {
      expected = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--expect-isas scalar[,avx2[,avx512]]]\n", argv[0]);
      return 2;
    }
  }
  const std::string compiled = joined(fastgru::compiled_isas(), ",");
  std::printf("compiled ISAs: %s\nsupported ISAs: %s\n", compiled.c_str(),
              joined(fastgru::supported_isas(), ",").c_str());
  if (!expected.empty() && expected != compiled) {
    std::printf("FAIL: expected compiled ISAs %s\n", expected.c_str());
    return 2;
  }

  std::mt19937 gen(0);
  std::uniform_real_distribution<double> u(-0.5, 0.5);
  Params p;
  for (int64_t k = 0; k < L * DIRS; ++k) {
    const int64_t din = k < DIRS ? D : DIRS * H;
    for (auto* v : {&p.w_ih[k], &p.w_hh[k], &p.b_ih[k], &p.b_hh[k]}) {
      v->resize(v == &p.w_ih[k] ? 3 * H * din : v == &p.w_hh[k] ? 3 * H * H : 3 * H);
      for (double& e : *v) e = u(gen);
    }
  }
  std::vector<double> x(NT * B * D), h0(L * DIRS * B * H);
  for (double& e : x) e = 2 * u(gen);
  for (double& e : h0) e = u(gen);

  for (const std::string& isa : fastgru::supported_isas()) {
    check_isa<float>(isa, p, x, h0, 1e-5);
    check_isa<double>(isa, p, x, h0, 1e-12);
  }
  std::printf("%s\n", failures ? "fastgru_cpp_check: FAILED" : "fastgru_cpp_check: OK");
  return failures ? 1 : 0;
}
