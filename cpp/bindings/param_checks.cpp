#include "param_checks.h"

#include <string>
#include <vector>

namespace py = pybind11;

namespace fastgru::bindings {
namespace {

void check_layer(const GruConfig& c, int64_t layer, int64_t direction) {
  if (layer < 0 || layer >= c.num_layers || direction < 0 || direction >= c.directions())
    throw py::value_error("no layer " + std::to_string(layer) + " direction " + std::to_string(direction));
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

void check_param_shape(const char* name, const py::array& a, const std::vector<int64_t>& expected) {
  const std::vector<int64_t> got(a.shape(), a.shape() + a.ndim());
  if (got != expected)
    throw py::value_error(std::string(name) + " has shape " + shape_str(got) + ", expected " + shape_str(expected));
}

}  // namespace

void check_layer_params(const GruConfig& c, int64_t layer, int64_t direction, const py::array& w_ih,
                        const py::array& w_hh, const py::array* b_ih, const py::array* b_hh) {
  check_layer(c, layer, direction);
  const int64_t H = c.hidden_size;
  check_param_shape("weight_ih", w_ih, {3 * H, c.layer_input_size(layer)});
  check_param_shape("weight_hh", w_hh, {3 * H, H});
  if (b_ih) check_param_shape("bias_ih", *b_ih, {3 * H});
  if (b_hh) check_param_shape("bias_hh", *b_hh, {3 * H});
}

void check_batch_norm_params(const GruConfig& c, int64_t layer, int64_t direction, const py::array& weight,
                             const py::array& bias, const py::array& running_mean, const py::array& running_var) {
  if (!c.batch_norm) throw py::value_error("this GRU has no batch norm");
  check_layer(c, layer, direction);
  const int64_t n = 2 * c.hidden_size;
  check_param_shape("bn_weight", weight, {n});
  check_param_shape("bn_bias", bias, {n});
  check_param_shape("bn_running_mean", running_mean, {n});
  check_param_shape("bn_running_var", running_var, {n});
}

}  // namespace fastgru::bindings
