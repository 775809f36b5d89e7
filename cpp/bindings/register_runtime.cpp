// ISA and thread controls. C++ std::invalid_argument becomes Python's ValueError.
#include <pybind11/stl.h>

#include "fastgru/runtime.h"
#include "register.h"

namespace py = pybind11;

namespace fastgru::bindings {

void register_runtime(py::module_& m) {
  m.def("compiled_isas", &compiled_isas, "ISAs compiled into this build, worst first.");
  m.def("supported_isas", &supported_isas, "Compiled ISAs this CPU can run, worst first.");
  m.def("active_isa", &active_isa, "The ISA whose kernels run now.");
  m.def("set_isa", &set_isa, py::arg("name"), "Force an ISA (ValueError if unknown or unsupported).");
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def("num_threads", &num_threads);
  m.def("set_wait_policy", &set_wait_policy, py::arg("name"),
        "'active', 'passive' or 'auto': how idle pool threads wait (ValueError for another name).");
  m.def("wait_policy", &wait_policy);
#if !FASTGRU_HAVE_CUDA
  // A CPU build: the same queries as register_cuda.cpp, answering "no CUDA".
  m.attr("cuda_compiled") = false;
  m.def("cuda_available", [] { return false; }, "Whether a CUDA device can be used (never: a CPU build).");
  m.def("cuda_device_count", [] { return 0; });
  m.def("cuda_device_name", [](py::object) { return py::none(); }, py::arg("device") = py::none());
#endif
}

}  // namespace fastgru::bindings
