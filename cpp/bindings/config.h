// What the CPU and CUDA bindings both parse: the constructors' configuration and a call's batch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <pybind11/numpy.h>

#include "fastgru/gru.h"

namespace fastgru::bindings {

// "LeakyRelu", "leaky_relu" and "leakyrelu" all name Activation::leaky_relu; ValueError otherwise.
Activation activation_named(const std::string& name);

GruConfig make_config(int64_t input_size, int64_t hidden_size, int64_t num_layers, bool bias, bool bidirectional,
                      bool reset_after, const std::string& gate_activation, double gate_alpha, double gate_beta,
                      const std::string& candidate_activation, double candidate_alpha, double candidate_beta,
                      std::optional<double> clip, bool batch_norm, double batch_norm_eps);

using lengths_array = pybind11::array_t<int64_t, pybind11::array::c_style>;

// The batch of one call, with steps, batch and every length checked (ValueError naming them).
SequenceBatch checked_batch(int64_t steps, int64_t batch, const std::optional<lengths_array>& lengths);

}  // namespace fastgru::bindings
