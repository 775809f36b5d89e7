// Checks the bindings make on a model's parameters before the core copies them (CPU and CUDA
// models alike): a ValueError naming the array and its wrong shape, never a crash.
#pragma once

#include <pybind11/numpy.h>

#include <cstdint>

#include "fastgru/gru.h"

namespace fastgru::bindings {

// The layer / direction exists, and W_ih, W_hh and the biases given (may be null) have the
// shapes of that layer.
void check_layer_params(const GruConfig& c, int64_t layer, int64_t direction, const pybind11::array& w_ih,
                        const pybind11::array& w_hh, const pybind11::array* b_ih, const pybind11::array* b_hh);

// The model has batch norm, the layer / direction exists, and the four arrays are (2H,).
void check_batch_norm_params(const GruConfig& c, int64_t layer, int64_t direction, const pybind11::array& weight,
                             const pybind11::array& bias, const pybind11::array& running_mean,
                             const pybind11::array& running_var);

}  // namespace fastgru::bindings
