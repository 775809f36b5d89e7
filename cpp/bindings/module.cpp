// The compiled module fastgru._core: registration only.
#include <pybind11/pybind11.h>

#include "register.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastgru's compiled core (use the fastgru package, not this module)";
  fastgru::bindings::register_runtime(m);
  fastgru::bindings::register_model(m);
}
