// fastgru._core's CUDA part (compiled only with FASTGRU_CUDA=ON): device queries, CudaArray (device
// memory seen from Python through __cuda_array_interface__) and CudaGruF32 / CudaGruF64, which
// take the same arguments as GruF32 / GruF64. Array arguments are NumPy arrays (copied to the
// device and results copied back) or objects exposing __cuda_array_interface__ (CuPy arrays,
// PyTorch CUDA tensors, CudaArray), which are read in place; then results stay on the device as
// CudaArray. Conversion and checks only: the computation is cpp/src/cuda.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cctype>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cuda/gru_cuda.h"
#include "fastgru/gru.h"
#include "config.h"
#include "dlpack.h"
#include "param_checks.h"
#include "register.h"

namespace py = pybind11;
namespace fc = fastgru::cuda;

namespace fastgru::bindings {
namespace {

template <class T>
using carray = py::array_t<T, py::array::c_style>;
using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

void check_shape(const char* name, const Shape& got, const Shape& expected) {
  if (got != expected)
    throw py::value_error(std::string(name) + " has shape " + shape_str(got) + ", expected " + shape_str(expected));
}

int64_t elements(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// The stream a __cuda_array_interface__ "stream" entry names (1: legacy default, 2: per-thread
// default, else a cudaStream_t), or the stream handle a caller passes as an int.
fc::Stream stream_from_int(int64_t v) {
  if (v == 1) return fc::legacy_stream();
  if (v == 2) return fc::per_thread_stream();
  return reinterpret_cast<fc::Stream>(static_cast<uintptr_t>(v));
}

py::object stream_to_interface(fc::Stream s) {
  if (s == nullptr || s == fc::legacy_stream()) return py::int_(1);
  if (s == fc::per_thread_stream()) return py::int_(2);
  return py::int_(reinterpret_cast<uintptr_t>(s));
}

// Device memory owned by Python: outputs of device-array calls and training caches. Indexing the
// first axis gives a view that keeps the whole allocation alive.
class CudaArray {
 public:
  CudaArray(Shape shape, size_t itemsize, int device, fc::Stream stream)
      : shape_(std::move(shape)), itemsize_(itemsize), device_(device), stream_(stream) {
    fc::set_device(device_);
    owner_ = std::shared_ptr<void>(fc::device_malloc(bytes()), [](void* p) { fc::device_free(p); });
    ptr_ = owner_.get();
  }
  CudaArray(const CudaArray& parent, int64_t index)
      : shape_(parent.shape_.begin() + 1, parent.shape_.end()),
        itemsize_(parent.itemsize_),
        device_(parent.device_),
        stream_(parent.stream_),
        owner_(parent.owner_) {
    ptr_ = static_cast<char*>(parent.ptr_) + static_cast<size_t>(index) * bytes();
  }

  // a[i] along the first axis (negative i from the end), a view.
  CudaArray item(int64_t i) const {
    if (shape_.empty()) throw py::index_error("a 0-d CudaArray cannot be indexed");
    if (i < 0) i += shape_[0];
    if (i < 0 || i >= shape_[0])
      throw py::index_error("index out of range for a CudaArray of shape " + shape_str(shape_));
    return CudaArray(*this, i);
  }

  void* data() const { return ptr_; }
  const Shape& shape() const { return shape_; }
  size_t itemsize() const { return itemsize_; }
  size_t bytes() const { return static_cast<size_t>(elements(shape_)) * itemsize_; }
  int device() const { return device_; }
  fc::Stream stream() const { return stream_; }
  py::dtype dtype() const { return itemsize_ == 4 ? py::dtype::of<float>() : py::dtype::of<double>(); }

  py::dict interface() const {
    py::dict d;
    py::tuple shape(shape_.size());
    for (size_t i = 0; i < shape_.size(); ++i) shape[i] = py::int_(shape_[i]);
    d["shape"] = shape;
    d["typestr"] = itemsize_ == 4 ? "<f4" : "<f8";
    d["data"] = py::make_tuple(py::int_(reinterpret_cast<uintptr_t>(ptr_)), false);
    d["strides"] = py::none();
    d["version"] = 3;
    d["stream"] = stream_to_interface(stream_);  // the stream that wrote it: consumers wait on it
    return d;
  }

  py::array to_numpy() const {
    py::array out(dtype(), std::vector<py::ssize_t>(shape_.begin(), shape_.end()));
    void* dst = out.mutable_data();
    {
      py::gil_scoped_release release;
      fc::set_device(device_);
      fc::copy_to_host(dst, ptr_, bytes(), stream_);
    }
    return out;
  }

 private:
  Shape shape_;
  size_t itemsize_;
  int device_;
  fc::Stream stream_;
  std::shared_ptr<void> owner_;  // the allocation (shared by views)
  void* ptr_ = nullptr;
};

// Device scratch for one call, freed in stream order when the call's work is queued.
class DeviceTemp {
 public:
  DeviceTemp(size_t bytes, fc::Stream s) : s_(s) { p_ = fc::device_malloc_async(bytes, s); }
  ~DeviceTemp() { fc::device_free_async(p_, s_); }
  DeviceTemp(const DeviceTemp&) = delete;
  DeviceTemp& operator=(const DeviceTemp&) = delete;
  template <class T>
  T* as() const {
    return static_cast<T*>(p_);
  }

 private:
  void* p_ = nullptr;
  fc::Stream s_;
};

bool is_device_array(const py::handle& obj) {
  return !obj.is_none() && py::hasattr(obj, "__cuda_array_interface__");
}

// One array argument: a NumPy array (kept alive here; copied to the device by the caller) or a
// device array read in place.
template <class T>
struct Arg {
  bool device = false;
  carray<T> host;
  const T* ptr = nullptr;  // device data (device == true)
  Shape shape;
  std::optional<fc::Stream> producer;  // the stream its writer used (device arrays that say so)
};

template <class T>
Arg<T> parse(const char* name, const py::handle& obj, int device) {
  Arg<T> a;
  if (!is_device_array(obj)) {
    a.host = carray<T>::ensure(obj);
    if (!a.host) {
      PyErr_Clear();
      throw py::type_error(std::string(name) + " must be a float array convertible to " +
                           std::string(py::str(py::dtype::of<T>())) + " or a CUDA array, got " +
                           std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
    }
    for (py::ssize_t i = 0; i < a.host.ndim(); ++i) a.shape.push_back(a.host.shape(i));
    return a;
  }
  a.device = true;
  const py::dict cai = obj.attr("__cuda_array_interface__");
  const std::string want = sizeof(T) == 4 ? "<f4" : "<f8";
  const std::string typestr = py::str(cai["typestr"]);
  if (typestr != want)
    throw py::type_error(std::string(name) + " is a CUDA array of type " + typestr + ", the model needs " + want +
                         " (convert it on the device first; no implicit device copy is made)");
  for (const py::handle d : cai["shape"].cast<py::tuple>()) a.shape.push_back(d.cast<int64_t>());
  if (cai.contains("mask") && !cai["mask"].is_none())
    throw py::value_error(std::string(name) + ": masked CUDA arrays are not supported");
  if (cai.contains("strides") && !cai["strides"].is_none()) {
    const py::tuple strides = cai["strides"].cast<py::tuple>();
    int64_t expect = static_cast<int64_t>(sizeof(T));
    for (size_t i = a.shape.size(); i-- > 0;) {
      if (a.shape[i] > 1 && strides[i].cast<int64_t>() != expect)
        throw py::value_error(std::string(name) + " is a strided CUDA array of shape " + shape_str(a.shape) +
                              "; it must be C-contiguous (make a contiguous copy on the device)");
      expect *= a.shape[i];
    }
  }
  const py::tuple data = cai["data"].cast<py::tuple>();
  a.ptr = reinterpret_cast<const T*>(static_cast<uintptr_t>(data[0].cast<uint64_t>()));
  if (elements(a.shape) > 0) {
    const int where = fc::pointer_device(a.ptr);
    if (where != device)
      throw py::value_error(std::string(name) + " is not in memory of CUDA device " + std::to_string(device) +
                            (where < 0 ? " (not device memory)" : " (it is on device " + std::to_string(where) + ")"));
  }
  if (cai.contains("stream") && !cai["stream"].is_none()) a.producer = stream_from_int(cai["stream"].cast<int64_t>());
  return a;
}


fc::RecurrentPath path_named(const std::string& name) {
  if (name == "auto") return fc::RecurrentPath::automatic;
  if (name == "persistent") return fc::RecurrentPath::persistent;
  if (name == "per_step") return fc::RecurrentPath::per_step;
  throw py::value_error("recurrent path must be 'auto', 'persistent' or 'per_step', got '" + name + "'");
}

std::string path_name(fc::RecurrentPath p) {
  switch (p) {
    case fc::RecurrentPath::persistent: return "persistent";
    case fc::RecurrentPath::per_step: return "per_step";
    default: return "auto";
  }
}

template <class T>
class PyCudaGru {
 public:
  explicit PyCudaGru(const GruConfig& config) : gru_(config) {}

  int device() const { return gru_.device(); }

  void set_params(int64_t layer, int64_t direction, const carray<T>& w_ih, const carray<T>& w_hh,
                  const std::optional<carray<T>>& b_ih, const std::optional<carray<T>>& b_hh) {
    check_layer_params(gru_.config(), layer, direction, w_ih, w_hh, b_ih ? &*b_ih : nullptr, b_hh ? &*b_hh : nullptr);
    gru_.set_params(layer, direction,
                    {w_ih.data(), w_hh.data(), b_ih ? b_ih->data() : nullptr, b_hh ? b_hh->data() : nullptr});
  }

  void set_batch_norm(int64_t layer, int64_t direction, const carray<T>& weight, const carray<T>& bias,
                      const carray<T>& running_mean, const carray<T>& running_var) {
    check_batch_norm_params(gru_.config(), layer, direction, weight, bias, running_mean, running_var);
    gru_.set_batch_norm(layer, direction, weight.data(), bias.data(), running_mean.data(), running_var.data());
  }

  // (y, h_n, cache or None): NumPy y and h_n for a NumPy x, CudaArray for a device x; the cache is
  // always a CudaArray (it stays on the device for backward).
  py::tuple forward(const py::object& x_obj, const py::object& h0_obj, const std::optional<lengths_array>& lengths,
                    bool keep_cache, double dropout, uint64_t seed, bool batch_statistics,
                    std::optional<carray<T>> bn_stats, const std::optional<int64_t>& stream_arg) {
    const GruConfig& c = gru_.config();
    const int dev = gru_.device();
    const Arg<T> x = parse<T>("x", x_obj, dev);
    std::optional<Arg<T>> h0;
    if (!h0_obj.is_none()) h0 = parse<T>("h0", h0_obj, dev);
    if (x.shape.size() != 3)
      throw py::value_error("x must be 3-D (steps, batch, input_size), got shape " + shape_str(x.shape));
    const SequenceBatch b = checked_batch(x.shape[0], x.shape[1], lengths);
    const int64_t LD = c.num_layers * c.directions(), H = c.hidden_size;
    check_shape("x", x.shape, {b.steps, b.batch, c.input_size});
    if (h0) check_shape("h0", h0->shape, {LD, b.batch, H});
    if (bn_stats) {
      if (!c.batch_norm) throw py::value_error("bn_stats given but this GRU has no batch norm");
      check_shape("bn_stats", shape_of(*bn_stats), {LD, 2, 2 * H});
    }
    const fc::Stream s = stream_arg ? stream_from_int(*stream_arg) : nullptr;
    const bool device_out = x.device;
    const Shape y_shape{b.steps, b.batch, c.directions() * H}, hn_shape{LD, b.batch, H};

    std::shared_ptr<CudaArray> y_dev, hn_dev, cache;
    if (device_out) {
      y_dev = std::make_shared<CudaArray>(y_shape, sizeof(T), dev, s);
      hn_dev = std::make_shared<CudaArray>(hn_shape, sizeof(T), dev, s);
    }
    if (keep_cache)
      cache = std::make_shared<CudaArray>(Shape{static_cast<int64_t>(gru_.cache_size(b))}, sizeof(T), dev, s);
    std::optional<carray<T>> y_host, hn_host;
    if (!device_out) {
      y_host.emplace(std::vector<py::ssize_t>(y_shape.begin(), y_shape.end()));
      hn_host.emplace(std::vector<py::ssize_t>(hn_shape.begin(), hn_shape.end()));
    }
    T* stats_host = bn_stats ? bn_stats->mutable_data() : nullptr;
    T* y_host_ptr = y_host ? y_host->mutable_data() : nullptr;
    T* hn_host_ptr = hn_host ? hn_host->mutable_data() : nullptr;
    {
      py::gil_scoped_release release;
      fc::set_device(dev);
      wait_for(s, {&x, h0 ? &*h0 : nullptr});
      const size_t n_x = static_cast<size_t>(elements(x.shape)), n_h0 = h0 ? static_cast<size_t>(LD * b.batch * H) : 0;
      const size_t n_y = static_cast<size_t>(elements(y_shape)), n_hn = static_cast<size_t>(elements(hn_shape));
      const size_t n_stats = bn_stats ? static_cast<size_t>(LD * 4 * H) : 0;
      // One scratch block: the workspace, then device copies of host inputs and outputs.
      const size_t ws = gru_.forward_workspace_size(b);
      const size_t host_io = (x.device ? 0 : n_x) + (h0 && !h0->device ? n_h0 : 0) + (device_out ? 0 : n_y + n_hn);
      DeviceTemp tmp(sizeof(T) * (ws + host_io + n_stats), s);
      T* p = tmp.as<T>() + ws;
      const T* xd = device_ptr(x, n_x, p, s);
      const T* h0d = h0 ? device_ptr(*h0, n_h0, p, s) : nullptr;
      T* yd = device_out ? static_cast<T*>(y_dev->data()) : take(p, n_y);
      T* hnd = device_out ? static_cast<T*>(hn_dev->data()) : take(p, n_hn);
      T* statsd = bn_stats ? take(p, n_stats) : nullptr;
      gru_.forward(b, xd, h0d, yd, hnd, cache ? static_cast<T*>(cache->data()) : nullptr,
                   TrainingMode{dropout, seed, batch_statistics}, tmp.as<T>(), statsd, s);
      if (!device_out) {
        fc::copy_to_host(y_host_ptr, yd, sizeof(T) * n_y, s);
        fc::copy_to_host(hn_host_ptr, hnd, sizeof(T) * n_hn, s);
      }
      if (statsd) fc::copy_to_host(stats_host, statsd, sizeof(T) * n_stats, s);
    }
    py::object cache_obj = cache ? py::cast(cache) : py::none();
    if (device_out) return py::make_tuple(py::cast(y_dev), py::cast(hn_dev), cache_obj);
    return py::make_tuple(*y_host, *hn_host, cache_obj);
  }

  // One streaming step: x [batch, D] or [D], h [layers, batch, H] or [layers, H] -> new state,
  // NumPy for NumPy inputs, a CudaArray for device inputs.
  py::object step(const py::object& x_obj, const py::object& h_obj, const std::optional<int64_t>& stream_arg) {
    const GruConfig& c = gru_.config();
    const int dev = gru_.device();
    if (c.bidirectional)
      throw py::value_error(
          "step() needs a unidirectional GRU: the reverse direction of a bidirectional one needs the whole sequence");
    const Arg<T> x = parse<T>("x_t", x_obj, dev), h = parse<T>("state", h_obj, dev);
    if (x.device != h.device)
      throw py::value_error("x_t and state must both be NumPy arrays or both CUDA arrays");
    if (x.shape.size() != 1 && x.shape.size() != 2)
      throw py::value_error("x_t must be (batch, input_size) or (input_size,), got shape " + shape_str(x.shape));
    const bool unbatched = x.shape.size() == 1;
    const int64_t batch = unbatched ? 1 : x.shape[0];
    if (batch < 1) throw py::value_error("x_t has an empty batch");
    const Shape out_shape = unbatched ? Shape{c.num_layers, c.hidden_size} : Shape{c.num_layers, batch, c.hidden_size};
    if (unbatched) {
      check_shape("x_t", x.shape, {c.input_size});
      check_shape("state", h.shape, out_shape);
    } else {
      check_shape("x_t", x.shape, {batch, c.input_size});
      check_shape("state", h.shape, out_shape);
    }
    const fc::Stream s = stream_arg ? stream_from_int(*stream_arg) : nullptr;
    const size_t n_x = static_cast<size_t>(elements(x.shape)), n_h = static_cast<size_t>(elements(out_shape));
    std::shared_ptr<CudaArray> out_dev;
    std::optional<carray<T>> out_host;
    if (x.device)
      out_dev = std::make_shared<CudaArray>(out_shape, sizeof(T), dev, s);
    else
      out_host.emplace(std::vector<py::ssize_t>(out_shape.begin(), out_shape.end()));
    T* host_out = out_host ? out_host->mutable_data() : nullptr;
    {
      py::gil_scoped_release release;
      fc::set_device(dev);
      wait_for(s, {&x, &h});
      const size_t ws = gru_.step_workspace_size(batch);
      DeviceTemp tmp(sizeof(T) * (ws + (x.device ? 0 : n_x + 2 * n_h)), s);
      T* p = tmp.as<T>() + ws;
      const T* xd = device_ptr(x, n_x, p, s);
      const T* hd = device_ptr(h, n_h, p, s);
      T* outd = x.device ? static_cast<T*>(out_dev->data()) : take(p, n_h);
      gru_.step(batch, xd, hd, outd, tmp.as<T>(), s);
      if (!x.device) fc::copy_to_host(host_out, outd, sizeof(T) * n_h, s);
    }
    if (x.device) return py::cast(out_dev);
    return *out_host;
  }

  // (dx, dh0, [(dW_ih, dW_hh[, db_ih, db_hh][, dbn_weight, dbn_bias]) per layer*dirs + direction]),
  // as GruF32.backward. NumPy results unless dy / dh_n are CUDA arrays or device_outputs is True.
  py::tuple backward(const py::object& cache_obj, int64_t steps, int64_t batch,
                     const std::optional<lengths_array>& lengths, const py::object& dy_obj, const py::object& dhn_obj,
                     double dropout, uint64_t seed, bool batch_statistics, const std::optional<int64_t>& stream_arg,
                     std::optional<bool> device_outputs) {
    const GruConfig& c = gru_.config();
    const int dev = gru_.device();
    const int64_t LD = c.num_layers * c.directions(), H = c.hidden_size;
    const SequenceBatch b = checked_batch(steps, batch, lengths);
    if (!py::isinstance<CudaArray>(cache_obj))
      throw py::type_error("cache must be the CudaArray a forward(keep_cache=True) of a CUDA GRU returned");
    const CudaArray& cache = cache_obj.cast<const CudaArray&>();
    if (cache.itemsize() != sizeof(T) || cache.device() != dev)
      throw py::value_error("cache was made by a model of another dtype or device");
    check_shape("cache", cache.shape(), {static_cast<int64_t>(gru_.cache_size(b))});
    std::optional<Arg<T>> dy, dhn;
    if (!dy_obj.is_none()) dy = parse<T>("dy", dy_obj, dev);
    if (!dhn_obj.is_none()) dhn = parse<T>("dh_n", dhn_obj, dev);
    if (dy) check_shape("dy", dy->shape, {steps, batch, c.directions() * H});
    if (dhn) check_shape("dh_n", dhn->shape, {LD, batch, H});
    const bool device_out = device_outputs ? *device_outputs : ((dy && dy->device) || (dhn && dhn->device));
    const fc::Stream s = stream_arg ? stream_from_int(*stream_arg) : nullptr;

    // Every output's shape, in the order GruF32.backward returns them.
    std::vector<Shape> shapes{{steps, batch, c.input_size}, {LD, batch, H}};
    for (int64_t i = 0; i < LD; ++i) {
      shapes.push_back({3 * H, c.layer_input_size(i / c.directions())});
      shapes.push_back({3 * H, H});
      shapes.push_back({3 * H});
      shapes.push_back({3 * H});
      shapes.push_back({2 * H});
      shapes.push_back({2 * H});
    }
    std::vector<std::shared_ptr<CudaArray>> dev_out;
    std::vector<carray<T>> host_out;
    size_t out_elems = 0;
    for (const Shape& sh : shapes) {
      if (device_out)
        dev_out.push_back(std::make_shared<CudaArray>(sh, sizeof(T), dev, s));
      else
        host_out.emplace_back(std::vector<py::ssize_t>(sh.begin(), sh.end()));
      out_elems += static_cast<size_t>(elements(sh));
    }
    std::vector<T*> host_ptrs;
    for (auto& a : host_out) host_ptrs.push_back(a.mutable_data());
    {
      py::gil_scoped_release release;
      fc::set_device(dev);
      wait_for(s, {dy ? &*dy : nullptr, dhn ? &*dhn : nullptr});
      const size_t n_dy = dy ? static_cast<size_t>(elements(dy->shape)) : 0;
      const size_t n_dhn = dhn ? static_cast<size_t>(elements(dhn->shape)) : 0;
      const size_t ws = gru_.backward_workspace_size(b);
      const size_t host_io = (dy && !dy->device ? n_dy : 0) + (dhn && !dhn->device ? n_dhn : 0) +
                             (device_out ? 0 : out_elems);
      DeviceTemp tmp(sizeof(T) * (ws + host_io), s);
      T* p = tmp.as<T>() + ws;
      const T* dyd = dy ? device_ptr(*dy, n_dy, p, s) : nullptr;
      const T* dhnd = dhn ? device_ptr(*dhn, n_dhn, p, s) : nullptr;
      std::vector<T*> outs;
      for (size_t k = 0; k < shapes.size(); ++k)
        outs.push_back(device_out ? static_cast<T*>(dev_out[k]->data())
                                  : take(p, static_cast<size_t>(elements(shapes[k]))));
      std::vector<LayerGrads<T>> grads;
      for (int64_t i = 0; i < LD; ++i) {
        T** g = &outs[2 + 6 * static_cast<size_t>(i)];
        grads.push_back({g[0], g[1], c.bias ? g[2] : nullptr, c.bias ? g[3] : nullptr,
                         c.batch_norm ? g[4] : nullptr, c.batch_norm ? g[5] : nullptr});
      }
      gru_.backward(b, static_cast<const T*>(cache.data()), dyd, dhnd, outs[0], outs[1], grads.data(),
                    TrainingMode{dropout, seed, batch_statistics}, tmp.as<T>(), s);
      if (!device_out)
        for (size_t k = 0; k < shapes.size(); ++k)
          fc::copy_to_host(host_ptrs[k], outs[k], sizeof(T) * static_cast<size_t>(elements(shapes[k])), s);
      else
        fc::synchronize(s);  // report faults here, not at an unrelated later call
    }
    auto out = [&](size_t k) -> py::object {
      if (device_out) return py::cast(dev_out[k]);
      return host_out[k];
    };
    py::list per_layer;
    for (int64_t i = 0; i < LD; ++i) {
      py::list g;
      const size_t k = 2 + 6 * static_cast<size_t>(i);
      g.append(out(k));
      g.append(out(k + 1));
      if (c.bias) {
        g.append(out(k + 2));
        g.append(out(k + 3));
      }
      if (c.batch_norm) {
        g.append(out(k + 4));
        g.append(out(k + 5));
      }
      per_layer.append(py::tuple(g));
    }
    return py::make_tuple(out(0), out(1), per_layer);
  }

  void set_recurrent_path(const std::string& name) { gru_.set_recurrent_path(path_named(name)); }
  std::string recurrent_path() const { return path_name(gru_.recurrent_path()); }
  bool uses_persistent(int64_t batch) const { return gru_.uses_persistent(batch); }

 private:
  static Shape shape_of(const py::array& a) { return Shape(a.shape(), a.shape() + a.ndim()); }

  static T* take(T*& p, size_t n) {
    T* q = p;
    p += n;
    return q;
  }

  // The device pointer of an argument: a device array's own, or a copy of a host array made at p.
  static const T* device_ptr(const Arg<T>& a, size_t n, T*& p, fc::Stream s) {
    if (a.device) return a.ptr;
    T* d = take(p, n);
    fc::copy_to_device(d, a.host.data(), sizeof(T) * n, s);
    return d;
  }

  // Orders this call's stream after the streams that wrote its device inputs.
  static void wait_for(fc::Stream s, std::initializer_list<const Arg<T>*> args) {
    for (const Arg<T>* a : args)
      if (a && a->device && a->producer) fc::stream_wait(s ? s : fc::legacy_stream(), *a->producer);
  }

  fc::CudaGru<T> gru_;
};

template <class T>
void bind(py::module_& m, const char* name) {
  py::class_<PyCudaGru<T>>(m, name)
      .def(py::init([](int64_t input_size, int64_t hidden_size, int64_t num_layers, bool bias, bool bidirectional,
                       bool reset_after, const std::string& gate_activation, double gate_alpha, double gate_beta,
                       const std::string& candidate_activation, double candidate_alpha, double candidate_beta,
                       std::optional<double> clip, bool batch_norm, double batch_norm_eps) {
             const GruConfig c = make_config(input_size, hidden_size, num_layers, bias, bidirectional, reset_after,
                                             gate_activation, gate_alpha, gate_beta, candidate_activation,
                                             candidate_alpha, candidate_beta, clip, batch_norm, batch_norm_eps);
             return new PyCudaGru<T>(c);
           }),
           py::arg("input_size"), py::arg("hidden_size"), py::arg("num_layers"), py::arg("bias"),
           py::arg("bidirectional"), py::arg("reset_after"), py::arg("gate_activation") = "sigmoid",
           py::arg("gate_alpha") = 0.0, py::arg("gate_beta") = 0.0, py::arg("candidate_activation") = "tanh",
           py::arg("candidate_alpha") = 0.0, py::arg("candidate_beta") = 0.0, py::arg("clip") = py::none(),
           py::arg("batch_norm") = false, py::arg("batch_norm_eps") = 1e-5)
      .def_property_readonly("device", &PyCudaGru<T>::device)
      .def("set_params", &PyCudaGru<T>::set_params, py::arg("layer"), py::arg("direction"), py::arg("weight_ih"),
           py::arg("weight_hh"), py::arg("bias_ih"), py::arg("bias_hh"))
      .def("set_batch_norm", &PyCudaGru<T>::set_batch_norm, py::arg("layer"), py::arg("direction"),
           py::arg("weight"), py::arg("bias"), py::arg("running_mean"), py::arg("running_var"))
      .def("forward", &PyCudaGru<T>::forward, py::arg("x"), py::arg("h0"), py::arg("lengths"),
           py::arg("keep_cache"), py::arg("dropout"), py::arg("seed"), py::arg("batch_statistics") = false,
           py::arg("bn_stats") = py::none(), py::kw_only(), py::arg("stream") = py::none())
      .def("step", &PyCudaGru<T>::step, py::arg("x"), py::arg("h"), py::kw_only(), py::arg("stream") = py::none())
      .def("backward", &PyCudaGru<T>::backward, py::arg("cache"), py::arg("steps"), py::arg("batch"),
           py::arg("lengths"), py::arg("dy"), py::arg("dh_n"), py::arg("dropout"), py::arg("seed"),
           py::arg("batch_statistics") = false, py::kw_only(), py::arg("stream") = py::none(),
           py::arg("device_outputs") = py::none())
      .def("set_recurrent_path", &PyCudaGru<T>::set_recurrent_path, py::arg("path"),
           "'auto' (default), 'persistent' (error where it does not fit) or 'per_step'.")
      .def_property_readonly("recurrent_path", &PyCudaGru<T>::recurrent_path)
      .def("uses_persistent", &PyCudaGru<T>::uses_persistent, py::arg("batch"),
           "Whether a forward pass of this batch size runs the persistent recurrent kernel.");
}

}  // namespace

void register_cuda(py::module_& m) {
  m.attr("cuda_compiled") = true;
  m.def("cuda_available", &fc::available, "Whether a CUDA device can be used (never raises).");
  m.def("cuda_device_count", &fc::device_count);
  m.def(
      "cuda_device_name",
      [](std::optional<int> device) -> py::object {
        if (!fc::available()) return py::none();
        return py::str(fc::device_name(device ? *device : fc::current_device()));
      },
      py::arg("device") = py::none(), "The device's name, or None without a usable CUDA device.");

  py::class_<CudaArray, std::shared_ptr<CudaArray>>(m, "CudaArray",
                                                    "Device memory from a CUDA GRU (read it with CuPy / PyTorch "
                                                    "through __cuda_array_interface__, or copy it with to_numpy()).")
      .def_property_readonly("__cuda_array_interface__", &CudaArray::interface)
      .def_property_readonly("shape", [](const CudaArray& a) {
        py::tuple t(a.shape().size());
        for (size_t i = 0; i < a.shape().size(); ++i) t[i] = py::int_(a.shape()[i]);
        return t;
      })
      .def_property_readonly("dtype", &CudaArray::dtype)
      .def_property_readonly("ndim", [](const CudaArray& a) { return a.shape().size(); })
      .def_property_readonly("size", [](const CudaArray& a) { return elements(a.shape()); })
      .def_property_readonly("device", &CudaArray::device)
      .def("to_numpy", &CudaArray::to_numpy, "A host copy (waits for the work that writes it).")
      .def("__dlpack_device__",
           [](const CudaArray& a) { return py::make_tuple(static_cast<int>(dlpack::kCUDA), a.device()); })
      .def(
          "__dlpack__",
          [](const std::shared_ptr<CudaArray>& a, const py::object& stream, const py::object& /*max_version*/,
             const py::object& dl_device, const py::object& copy) {
            dlpack::check_export_request(dl_device, copy, dlpack::Device{dlpack::kCUDA, a->device()});
            // The consumer's stream (None: the legacy default one; -1: the consumer synchronises
            // itself) is ordered after the stream that wrote the array.
            const int64_t consumer = stream.is_none() ? 1 : stream.cast<int64_t>();
            if (consumer != -1) {
              fc::set_device(a->device());
              fc::stream_wait(stream_from_int(consumer), a->stream() ? a->stream() : fc::legacy_stream());
            }
            return dlpack::make_capsule(a, a->data(), a->shape(), a->itemsize(),
                                        dlpack::Device{dlpack::kCUDA, a->device()});
          },
          py::kw_only(), py::arg("stream") = py::none(), py::arg("max_version") = py::none(),
          py::arg("dl_device") = py::none(), py::arg("copy") = py::none(),
          "A DLPack capsule of this memory (torch.from_dlpack, cupy.from_dlpack): no copy.")
      .def(
          "__array__",
          [](const CudaArray& a, py::object dtype, py::object copy) -> py::object {
            if (!copy.is_none() && !copy.cast<bool>())
              throw py::value_error("a CudaArray lives on the GPU: a NumPy array of it is always a copy");
            py::object out = a.to_numpy();
            return dtype.is_none() ? out : out.attr("astype")(dtype);
          },
          py::arg("dtype") = py::none(), py::arg("copy") = py::none())
      .def("__len__", [](const CudaArray& a) { return a.shape().empty() ? 0 : a.shape()[0]; })
      .def("__getitem__", [](const CudaArray& a, int64_t i) { return std::make_shared<CudaArray>(a.item(i)); },
           py::arg("index"), "A view of a[index] along the first axis (no copy).")
      .def("__repr__", [](const CudaArray& a) {
        return "CudaArray(shape=" + shape_str(a.shape()) + ", dtype=" + (a.itemsize() == 4 ? "float32" : "float64") +
               ", device=" + std::to_string(a.device()) + ")";
      });

  bind<float>(m, "CudaGruF32");
  bind<double>(m, "CudaGruF64");
}

}  // namespace fastgru::bindings
