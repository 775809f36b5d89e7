#pragma once

#include <pybind11/pybind11.h>

namespace fastgru::bindings {
void register_runtime(pybind11::module_& m);
void register_model(pybind11::module_& m);
void register_signal_check(pybind11::module_& m);
}  // namespace fastgru::bindings
