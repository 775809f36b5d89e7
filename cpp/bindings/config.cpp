#include "config.h"

#include <pybind11/pybind11.h>

#include <cctype>
#include <utility>

namespace py = pybind11;

namespace fastgru::bindings {

// "LeakyRelu", "leaky_relu" and "leakyrelu" all name Activation::leaky_relu.
Activation activation_named(const std::string& name) {
  std::string key;
  for (char ch : name)
    if (ch != '_') key += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  static const std::pair<const char*, Activation> names[] = {
      {"sigmoid", Activation::sigmoid},         {"tanh", Activation::tanh},
      {"relu", Activation::relu},               {"affine", Activation::affine},
      {"leakyrelu", Activation::leaky_relu},    {"thresholdedrelu", Activation::thresholded_relu},
      {"scaledtanh", Activation::scaled_tanh},  {"hardsigmoid", Activation::hard_sigmoid},
      {"elu", Activation::elu},                 {"softsign", Activation::softsign},
      {"softplus", Activation::softplus},
      // Beyond ONNX's GRU set (Keras 3's names; swish and hard_swish are Keras's aliases).
      {"selu", Activation::selu},               {"relu6", Activation::relu6},
      {"gelu", Activation::gelu},               {"gelutanh", Activation::gelu_tanh},
      {"silu", Activation::silu},               {"swish", Activation::silu},
      {"hardtanh", Activation::hard_tanh},      {"logsigmoid", Activation::log_sigmoid},
      {"mish", Activation::mish},               {"hardsilu", Activation::hard_silu},
      {"hardswish", Activation::hard_silu},     {"sparseplus", Activation::sparse_plus},
      {"squareplus", Activation::squareplus},   {"sin", Activation::sin},
      {"tanhshrink", Activation::tanh_shrink},  {"softshrink", Activation::soft_shrink},
      {"hardshrink", Activation::hard_shrink},  {"exponential", Activation::exponential}};
  for (const auto& [n, a] : names)
    if (key == n) return a;
  throw py::value_error("unknown activation '" + name +
                        "': expected one of Sigmoid, Tanh, Relu, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, "
                        "HardSigmoid, Elu, Softsign, Softplus, selu, relu6, gelu, gelu_tanh, silu (swish), "
                        "hard_tanh, log_sigmoid, mish, hard_silu (hard_swish), sparse_plus, squareplus, sin, "
                        "tanh_shrink, soft_shrink, hard_shrink, exponential");
}

GruConfig make_config(int64_t input_size, int64_t hidden_size, int64_t num_layers, bool bias, bool bidirectional,
                      bool reset_after, const std::string& gate_activation, double gate_alpha, double gate_beta,
                      const std::string& candidate_activation, double candidate_alpha, double candidate_beta,
                      std::optional<double> clip, bool batch_norm, double batch_norm_eps) {
  GruConfig c;
  c.input_size = input_size;
  c.hidden_size = hidden_size;
  c.num_layers = num_layers;
  c.bias = bias;
  c.bidirectional = bidirectional;
  c.reset_after = reset_after;
  c.batch_norm = batch_norm;
  c.batch_norm_eps = batch_norm_eps;
  c.math.gate = {activation_named(gate_activation), gate_alpha, gate_beta};
  c.math.candidate = {activation_named(candidate_activation), candidate_alpha, candidate_beta};
  if (clip) {
    if (!(*clip > 0)) throw py::value_error("clip must be > 0 (None: no clipping), got " + std::to_string(*clip));
    c.math.clip = *clip;
  }
  return c;
}

SequenceBatch checked_batch(int64_t steps, int64_t batch, const std::optional<lengths_array>& lengths) {
  if (steps < 1) throw py::value_error("sequence length must be >= 1, got " + std::to_string(steps));
  if (batch < 1) throw py::value_error("batch size must be >= 1, got " + std::to_string(batch));
  if (lengths) {
    if (lengths->ndim() != 1 || lengths->shape(0) != batch)
      throw py::value_error("lengths must have shape (" + std::to_string(batch) + ",), one per sequence");
    for (int64_t i = 0; i < batch; ++i) {
      const int64_t len = lengths->data()[i];
      if (len < 1 || len > steps)
        throw py::value_error("lengths[" + std::to_string(i) + "] = " + std::to_string(len) + " is outside [1, " +
                              std::to_string(steps) + "]");
    }
  }
  return SequenceBatch{steps, batch, lengths ? lengths->data() : nullptr};
}

}  // namespace fastgru::bindings
