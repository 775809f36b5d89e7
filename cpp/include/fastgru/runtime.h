// Run-time controls of the CPU core: which ISA's kernels run, how many threads.
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "fastgru/activation.h"

namespace fastgru {

// ISA names are "scalar", "avx2" (AVX2+FMA) and "avx512" (AVX-512 F/VL/DQ/BW).
std::vector<std::string> compiled_isas();   // in this build, worst first
std::vector<std::string> supported_isas();  // compiled and runnable on this CPU, worst first
std::string active_isa();                   // best supported, unless FASTGRU_ISA or set_isa
// Throws std::invalid_argument for an unknown name or one this build/CPU cannot run.
void set_isa(const std::string& name);

// Threads used by one call (default: FASTGRU_NUM_THREADS, else the cores this process may use).
// Results do not depend on it: every split keeps each output's reduction order.
void set_num_threads(int n);
int num_threads();

// How the pool's threads wait for work. "active": idle workers spin 200 us before sleeping, and
// the caller spins as long for them (fastest on a machine of one's own); "passive": they sleep
// at once; "auto" (the default, or FASTGRU_WAIT_POLICY): active, but when the workers keep
// arriving late (other processes hold the cores) the caller runs its jobs alone for a while.
// Throws std::invalid_argument for another name.
void set_wait_policy(const std::string& name);
std::string wait_policy();

// Long calls (forward, backward) ask `check` every ~20 ms of work, between steps, whether to
// stop, and then throw Interrupted; whatever they were given stays as it was. The check runs on
// the thread that made the call. The Python bindings install one that runs Python's pending
// signal handlers (Ctrl-C). nullptr (the default) never stops a call.
using InterruptCheck = bool (*)();
void set_interrupt_check(InterruptCheck check);
struct Interrupted : std::exception {
  const char* what() const noexcept override { return "fastgru call interrupted"; }
};

// The active ISA's vector code for one activation on n values (what the gate kernels use);
// exposed so tests can check its error bound against float64.
void apply_activation(const ActivationSpec& act, int64_t n, const float* x, float* out);
void apply_activation(const ActivationSpec& act, int64_t n, const double* x, double* out);
// ... and for its derivative (what the backward kernels use).
void apply_activation_grad(const ActivationSpec& act, int64_t n, const float* x, float* out);
void apply_activation_grad(const ActivationSpec& act, int64_t n, const double* x, double* out);

// out[m, n] = a[m, k] · w[n, k]^T + bias[n] (bias may be null) with the active ISA's bf16 weight
// kernel (a and w rounded to bfloat16, products accumulated as vdpbf16ps does); for tests.
void bf16_matmul(int64_t m, int64_t n, int64_t k, const float* a, const float* w, const float* bias, float* out);
// The same with the active ISA's int8 weight kernel (kernels/kernel_table.h, Int8GateGemmArgs).
void int8_matmul(int64_t m, int64_t n, int64_t k, const float* a, const float* w, const float* bias, float* out);

}  // namespace fastgru
