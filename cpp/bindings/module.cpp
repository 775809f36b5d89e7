// The compiled module fastgru._core: registration only.
#include <pybind11/pybind11.h>

#include "dlpack.h"
#include "register.h"

#if FASTGRU_HAVE_CUDA
namespace fastgru::bindings {
void register_cuda(pybind11::module_& m);  // register_cuda.cpp, only in FASTGRU_CUDA builds
}
#endif

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastgru's compiled core (use the fastgru package, not this module)";
  fastgru::bindings::register_runtime(m);
  fastgru::bindings::register_model(m);
  fastgru::bindings::register_signal_check(m);
  fastgru::bindings::dlpack::register_dlpack(m);
#if FASTGRU_HAVE_CUDA
  fastgru::bindings::register_cuda(m);  // sets cuda_compiled = True and adds the CUDA classes
#endif
}
