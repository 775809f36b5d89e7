// Ctrl-C during a long call: the core asks, every ~20 ms between steps, whether to stop (see
// set_interrupt_check). Only Python's main thread runs signal handlers, so the check is made
// there alone; it takes the GIL, lets Python run the handlers of pending signals and, when one
// raised (KeyboardInterrupt from the default SIGINT handler), keeps that exception until the
// core has unwound and the binding re-raises it.
#include <pybind11/pybind11.h>

#include <exception>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif

#include "fastgru/runtime.h"
#include "register.h"

namespace py = pybind11;

namespace fastgru::bindings {
namespace {

unsigned long g_main_thread = 0;  // PyThread_get_thread_ident() of Python's main thread

// The exception a signal handler raised, held between the check and the re-raise (one per
// thread; only the main thread ever sets it).
thread_local PyObject* g_raised_type = nullptr;
thread_local PyObject* g_raised_value = nullptr;
thread_local PyObject* g_raised_traceback = nullptr;

bool python_signal_raised() {
  if (PyThread_get_thread_ident() != g_main_thread) return false;
  PyGILState_STATE gil = PyGILState_Ensure();
  const bool raised = PyErr_CheckSignals() != 0;
  if (raised) PyErr_Fetch(&g_raised_type, &g_raised_value, &g_raised_traceback);
  PyGILState_Release(gil);
  return raised;
}

}  // namespace

void register_signal_check(py::module_& /*m*/) {
  g_main_thread = py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
#if defined(__unix__) || defined(__APPLE__)
  // A fork child's only thread is its main thread (Python makes it so as well).
  pthread_atfork(nullptr, nullptr, [] { g_main_thread = PyThread_get_thread_ident(); });
#endif
  set_interrupt_check(&python_signal_raised);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Interrupted&) {
      if (g_raised_type) {
        PyErr_Restore(g_raised_type, g_raised_value, g_raised_traceback);
        g_raised_type = g_raised_value = g_raised_traceback = nullptr;
      } else {
        PyErr_SetNone(PyExc_KeyboardInterrupt);
      }
    }
  });
}

}  // namespace fastgru::bindings
