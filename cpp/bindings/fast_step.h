// A model's step() as a plain CPython METH_FASTCALL function. A streaming step of a small GRU
// computes in ~0.1 us; pybind11's generic dispatch (overload resolution, argument casters,
// keyword handling) costs more than that on every call. This function takes exactly two NumPy
// arrays, calls Model::step and translates exceptions as pybind11 would.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <new>
#include <stdexcept>

namespace fastgru::bindings {

namespace py = pybind11;

// Sets the Python error for the exception being handled (pybind11's standard mapping for the
// types the bindings throw).
inline void set_python_error_from_current_exception() {
  try {
    throw;
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (py::builtin_exception& e) {
    e.set_error();
  } catch (const std::invalid_argument& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
}

// The function's self is a capsule holding the Model pointer, with the model's Python object
// as its context (one reference, dropped with the capsule): the model outlives the function.
template <class Model>
PyObject* fast_step_call(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 2) {
    PyErr_Format(PyExc_TypeError, "step() takes 2 arguments (x_t, state), got %zd", nargs);
    return nullptr;
  }
  auto& api = py::detail::npy_api::get();
  for (Py_ssize_t i = 0; i < 2; ++i)
    if (!api.PyArray_Check_(args[i])) {
      PyErr_Format(PyExc_TypeError, "step() takes NumPy arrays, got %s for %s", Py_TYPE(args[i])->tp_name,
                   i == 0 ? "x_t" : "state");
      return nullptr;
    }
  auto* model = static_cast<Model*>(PyCapsule_GetPointer(self, nullptr));
  if (!model) return nullptr;
  try {
    return model->step(py::reinterpret_borrow<py::array>(args[0]), py::reinterpret_borrow<py::array>(args[1]))
        .release()
        .ptr();
  } catch (...) {
    set_python_error_from_current_exception();
    return nullptr;
  }
}

template <class Model>
py::object fast_step_function(py::object model_object) {
  static PyMethodDef def = {
      "step", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(&fast_step_call<Model>)), METH_FASTCALL,
      "step(x_t, state) -> (y_t, new_state): the model's step() without pybind11's dispatch."};
  Model& model = model_object.cast<Model&>();
  PyObject* raw = PyCapsule_New(static_cast<void*>(&model), nullptr,
                                [](PyObject* cap) { Py_XDECREF(static_cast<PyObject*>(PyCapsule_GetContext(cap))); });
  if (!raw) throw py::error_already_set();
  const py::object capsule = py::reinterpret_steal<py::object>(raw);
  if (PyCapsule_SetContext(raw, model_object.ptr()) != 0) throw py::error_already_set();
  model_object.inc_ref();  // dropped by the capsule's destructor
  PyObject* fn = PyCFunction_NewEx(&def, raw, nullptr);
  if (!fn) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(fn);
}

}  // namespace fastgru::bindings
