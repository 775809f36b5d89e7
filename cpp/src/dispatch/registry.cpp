// Chooses the kernel table: best supported by default, FASTGRU_ISA or set_isa() to force one.
// Compiled at baseline flags, never with LTO (see cmake/FastgruIsaKernels.cmake).
#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "dispatch/tables.h"
#include "fastgru/runtime.h"

namespace fastgru::dispatch {
namespace {

// Worst first; the best supported entry wins.
std::vector<const kernels::KernelTable*> compiled_tables() {
  std::vector<const kernels::KernelTable*> tables{&scalar_table()};
#if FASTGRU_HAVE_AVX2
  tables.push_back(&avx2_table());
#endif
#if FASTGRU_HAVE_AVX512
  tables.push_back(&avx512_table());
#endif
  return tables;
}

bool runnable(const kernels::KernelTable& t) {
  return (t.required_features & cpu_features()) == t.required_features;
}

std::string joined_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

const kernels::KernelTable* find_table(const std::string& name) {
  const char* known[] = {"scalar", "avx2", "avx512"};
  bool is_known = false;
  for (const char* k : known) is_known = is_known || name == k;
  if (!is_known)
    throw std::invalid_argument("unknown ISA '" + name + "': expected one of scalar, avx2, avx512");
  for (const kernels::KernelTable* t : compiled_tables()) {
    if (name != t->name) continue;
    if (!runnable(*t))
      throw std::invalid_argument("ISA '" + name + "' is not supported by this CPU (supported: " +
                                  joined_names(supported_isas()) + ")");
    return t;
  }
  throw std::invalid_argument("ISA '" + name + "' was not compiled into this build (compiled: " +
                              joined_names(compiled_isas()) + ")");
}

const kernels::KernelTable* initial_table() {
  if (const char* forced = std::getenv("FASTGRU_ISA"); forced && *forced) {
    try {
      return find_table(forced);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("FASTGRU_ISA: ") + e.what());
    }
  }
  const kernels::KernelTable* best = &scalar_table();
  for (const kernels::KernelTable* t : compiled_tables())
    if (runnable(*t)) best = t;
  return best;
}

std::atomic<const kernels::KernelTable*> g_active{nullptr};

}  // namespace

const kernels::KernelTable& active_table() {
  const kernels::KernelTable* t = g_active.load(std::memory_order_acquire);
  if (!t) {
    t = initial_table();
    g_active.store(t, std::memory_order_release);
  }
  return *t;
}

}  // namespace fastgru::dispatch

namespace fastgru {

std::vector<std::string> compiled_isas() {
  std::vector<std::string> names;
  for (const auto* t : dispatch::compiled_tables()) names.emplace_back(t->name);
  return names;
}

std::vector<std::string> supported_isas() {
  std::vector<std::string> names;
  for (const auto* t : dispatch::compiled_tables())
    if (dispatch::runnable(*t)) names.emplace_back(t->name);
  return names;
}

std::string active_isa() { return dispatch::active_table().name; }

void set_isa(const std::string& name) {
  dispatch::g_active.store(dispatch::find_table(name), std::memory_order_release);
}

void apply_activation(const ActivationSpec& act, int64_t n, const float* x, float* out) {
  dispatch::active_table().f32.activate(act, n, x, out);
}

void apply_activation(const ActivationSpec& act, int64_t n, const double* x, double* out) {
  dispatch::active_table().f64.activate(act, n, x, out);
}

void bf16_matmul(int64_t m, int64_t n, int64_t k, const float* a, const float* w, const float* bias, float* out) {
  const kernels::TypedKernels<float>& K = dispatch::active_table().f32;
  std::vector<uint16_t> packed(static_cast<size_t>(kernels::packed_bf16_size(n, k, K.nr)));
  K.pack_weights_bf16(w, n, k, packed.data());
  const std::vector<float> zeros(bias ? 0 : static_cast<size_t>(n), 0.0f);
  K.gemm_gates_bf16({m, 1, k, 0, n, a, k, packed.data(), 0, bias ? bias : zeros.data(), out, n, n});
}

void int8_matmul(int64_t m, int64_t n, int64_t k, const float* a, const float* w, const float* bias, float* out) {
  const kernels::TypedKernels<float>& K = dispatch::active_table().f32;
  std::vector<int8_t> packed(static_cast<size_t>(kernels::packed_int8_size(n, k, K.nr)));
  std::vector<float> scale(static_cast<size_t>(n));
  std::vector<int32_t> sum(static_cast<size_t>(n));
  K.pack_weights_int8(w, n, k, packed.data(), scale.data(), sum.data());
  const std::vector<float> zeros(bias ? 0 : static_cast<size_t>(n), 0.0f);
  K.gemm_gates_int8({m, 1, k, 0, n, a, k, packed.data(), 0, scale.data(), sum.data(), bias ? bias : zeros.data(), out,
                     n, n});
}

void apply_activation_grad(const ActivationSpec& act, int64_t n, const float* x, float* out) {
  dispatch::active_table().f32.activate_grad(act, n, x, out);
}

void apply_activation_grad(const ActivationSpec& act, int64_t n, const double* x, double* out) {
  dispatch::active_table().f64.activate_grad(act, n, x, out);
}

}  // namespace fastgru
