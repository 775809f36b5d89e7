// Run-time controls of the CPU core: which ISA's kernels run, how many threads.
#pragma once

#include <cstdint>
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

// The active ISA's vector code for one activation on n values (what the gate kernels use);
// exposed so tests can check its error bound against float64.
void apply_activation(const ActivationSpec& act, int64_t n, const float* x, float* out);
void apply_activation(const ActivationSpec& act, int64_t n, const double* x, double* out);

}  // namespace fastgru
