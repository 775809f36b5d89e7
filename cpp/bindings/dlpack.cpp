#include "dlpack.h"

#include <pybind11/stl.h>

#include <string>
#include <utility>

namespace py = pybind11;

namespace fastgru::bindings::dlpack {
namespace {

// What an exported capsule's manager_ctx holds: the owner and the shape array DLPack points to.
struct Export {
  ManagedTensor tensor{};
  std::shared_ptr<const void> owner;
  std::vector<int64_t> shape;
};

void delete_export(ManagedTensor* t) { delete static_cast<Export*>(t->manager_ctx); }

// A capsule nobody consumed still owns its tensor.
void capsule_destructor(PyObject* capsule) {
  if (!PyCapsule_IsValid(capsule, kCapsuleName)) return;  // consumed (renamed): the consumer owns it
  auto* t = static_cast<ManagedTensor*>(PyCapsule_GetPointer(capsule, kCapsuleName));
  if (t && t->deleter) t->deleter(t);
}

std::string typestr(const DataType& d) {
  const char kind = d.code == kFloat ? 'f' : d.code == kInt ? 'i' : d.code == kUInt ? 'u' : '?';
  return std::string("<") + kind + std::to_string(d.bits / 8);
}

// A consumed capsule's tensor: its producer's deleter runs when this goes.
class Imported {
 public:
  explicit Imported(const py::capsule& capsule) {
    PyObject* cap = capsule.ptr();
    if (!PyCapsule_IsValid(cap, kCapsuleName))
      throw py::value_error("expected an unused DLPack capsule named 'dltensor' (a capsule can be consumed once)");
    tensor_ = static_cast<ManagedTensor*>(PyCapsule_GetPointer(cap, kCapsuleName));
    if (PyCapsule_SetName(cap, kUsedCapsuleName) != 0) throw py::error_already_set();
    const Tensor& t = tensor_->dl_tensor;
    if (t.ndim < 0 || t.ndim > 32) throw py::value_error("DLPack tensor with " + std::to_string(t.ndim) + " dimensions");
    if (t.dtype.lanes != 1 || t.dtype.bits % 8 != 0 || t.dtype.bits == 0)
      throw py::type_error("DLPack tensor of a vector or sub-byte type (" + std::to_string(t.dtype.bits) + " bits, " +
                           std::to_string(t.dtype.lanes) + " lanes)");
  }
  ~Imported() {
    if (tensor_->deleter) tensor_->deleter(tensor_);
  }
  Imported(const Imported&) = delete;
  Imported& operator=(const Imported&) = delete;

  const Tensor& tensor() const { return tensor_->dl_tensor; }
  bool on_cuda() const {
    const int32_t d = tensor().device.device_type;
    return d == kCUDA || d == kCUDAManaged;
  }
  bool on_host() const {
    const int32_t d = tensor().device.device_type;
    return d == kCPU || d == kCUDAHost;
  }
  char* data() const { return static_cast<char*>(tensor().data) + tensor().byte_offset; }
  std::vector<int64_t> shape() const { return {tensor().shape, tensor().shape + tensor().ndim}; }
  size_t itemsize() const { return tensor().dtype.bits / 8; }
  bool contiguous() const {
    if (!tensor().strides) return true;
    int64_t expect = 1;
    for (int32_t i = tensor().ndim; i-- > 0;) {
      if (tensor().shape[i] > 1 && tensor().strides[i] != expect) return false;
      expect *= tensor().shape[i];
    }
    return true;
  }

  // The __cuda_array_interface__ / __array_interface__ dict (strides in bytes).
  py::dict interface() const {
    py::dict d;
    d["shape"] = py::tuple(py::cast(shape()));
    d["typestr"] = typestr(tensor().dtype);
    d["data"] = py::make_tuple(py::int_(reinterpret_cast<uintptr_t>(data())), false);
    if (tensor().strides) {
      py::tuple strides(tensor().ndim);
      for (int32_t i = 0; i < tensor().ndim; ++i)
        strides[i] = py::int_(tensor().strides[i] * static_cast<int64_t>(itemsize()));
      d["strides"] = strides;
    } else {
      d["strides"] = py::none();
    }
    d["version"] = 3;
    return d;
  }

 private:
  ManagedTensor* tensor_ = nullptr;
};

}  // namespace

py::capsule make_capsule(std::shared_ptr<const void> owner, void* data, const std::vector<int64_t>& shape,
                         size_t itemsize, Device device) {
  auto ex = std::make_unique<Export>();
  ex->owner = std::move(owner);
  ex->shape = shape;
  Tensor& t = ex->tensor.dl_tensor;
  t.data = data;
  t.device = device;
  t.ndim = static_cast<int32_t>(ex->shape.size());
  t.dtype = DataType{kFloat, static_cast<uint8_t>(8 * itemsize), 1};
  t.shape = ex->shape.data();
  t.strides = nullptr;
  t.byte_offset = 0;
  ex->tensor.manager_ctx = ex.get();
  ex->tensor.deleter = delete_export;
  PyObject* cap = PyCapsule_New(&ex->tensor, kCapsuleName, capsule_destructor);
  if (!cap) throw py::error_already_set();
  ex.release();  // the capsule (then its consumer) owns it now
  return py::reinterpret_steal<py::capsule>(cap);
}

void check_export_request(const py::object& dl_device, const py::object& copy, Device device) {
  if (!copy.is_none() && copy.cast<bool>())
    throw py::buffer_error("__dlpack__(copy=True): fastgru exports its memory without copies; copy it yourself");
  if (!dl_device.is_none()) {
    const auto want = dl_device.cast<std::pair<int32_t, int32_t>>();
    if (want.first != device.device_type || want.second != device.device_id)
      throw py::buffer_error("__dlpack__(dl_device=...): this array is on device (" +
                             std::to_string(device.device_type) + ", " + std::to_string(device.device_id) +
                             ") and is not copied to another");
  }
}

void register_dlpack(py::module_& m) {
  py::class_<Imported, std::shared_ptr<Imported>>(
      m, "DLPackView",
      "A DLPack capsule's memory, shown through __cuda_array_interface__ (CUDA memory) or "
      "__array_interface__ (host memory), and exported again through __dlpack__.")
      .def(py::init<const py::capsule&>(), py::arg("capsule"))
      .def_property_readonly("device", [](const Imported& v) {
        return py::make_tuple(v.tensor().device.device_type, v.tensor().device.device_id);
      })
      .def_property_readonly("shape", [](const Imported& v) { return py::tuple(py::cast(v.shape())); })
      .def_property_readonly("typestr", [](const Imported& v) { return typestr(v.tensor().dtype); })
      .def_property_readonly("contiguous", &Imported::contiguous)
      .def_property_readonly("__cuda_array_interface__",
                             [](const Imported& v) {
                               if (!v.on_cuda()) throw py::attribute_error("this DLPack tensor is not in CUDA memory");
                               return v.interface();
                             })
      .def_property_readonly("__array_interface__",
                             [](const Imported& v) {
                               if (!v.on_host()) throw py::attribute_error("this DLPack tensor is not in host memory");
                               return v.interface();
                             })
      .def("__dlpack_device__",
           [](const Imported& v) { return py::make_tuple(v.tensor().device.device_type, v.tensor().device.device_id); })
      .def(
          "__dlpack__",
          [](const std::shared_ptr<Imported>& v, const py::object& /*stream*/, const py::object& /*max_version*/,
             const py::object& dl_device, const py::object& copy) {
            // The stream: a view adds no work of its own; its producer synchronised when exporting.
            check_export_request(dl_device, copy, v->tensor().device);
            if (!v->contiguous() || v->tensor().dtype.code != kFloat)
              throw py::buffer_error("DLPackView re-exports C-contiguous float tensors only");
            return make_capsule(v, v->data(), v->shape(), v->itemsize(), v->tensor().device);
          },
          py::kw_only(), py::arg("stream") = py::none(), py::arg("max_version") = py::none(),
          py::arg("dl_device") = py::none(), py::arg("copy") = py::none());
}

}  // namespace fastgru::bindings::dlpack
