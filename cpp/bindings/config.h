// The configuration the Python constructors pass, parsed once for the CPU and CUDA bindings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "fastgru/gru.h"

namespace fastgru::bindings {

// "LeakyRelu", "leaky_relu" and "leakyrelu" all name Activation::leaky_relu; ValueError otherwise.
Activation activation_named(const std::string& name);

GruConfig make_config(int64_t input_size, int64_t hidden_size, int64_t num_layers, bool bias, bool bidirectional,
                      bool reset_after, const std::string& gate_activation, double gate_alpha, double gate_beta,
                      const std::string& candidate_activation, double candidate_alpha, double candidate_beta,
                      std::optional<double> clip, bool batch_norm, double batch_norm_eps);

}  // namespace fastgru::bindings
