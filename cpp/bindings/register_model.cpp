// fastgru._core.GruF32 / GruF64: array <-> pointer conversion and shape checks only. The Python
// layer (fastgru/gru.py) converts dtypes and layouts and gives the friendly errors; these checks
// are the last line that keeps a bad array from reaching the kernels.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cctype>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "fastgru/gru.h"
#include "config.h"
#include "param_checks.h"
#include "fast_step.h"
#include "fork_safe_lock.h"
#include "kept_workspace.h"
#include "register.h"

namespace py = pybind11;

namespace fastgru::bindings {
namespace {

template <class T>
using carray = py::array_t<T, py::array::c_style>;  // no forcecast: a wrong dtype is an error

std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

void check_shape(const char* name, const py::array& a, std::vector<int64_t> expected) {
  bool ok = a.ndim() == static_cast<py::ssize_t>(expected.size());
  for (size_t i = 0; ok && i < expected.size(); ++i) ok = a.shape(static_cast<py::ssize_t>(i)) == expected[i];
  if (!ok) {
    std::string e = "(";
    for (size_t i = 0; i < expected.size(); ++i) e += (i ? ", " : "") + std::to_string(expected[i]);
    throw py::value_error(std::string(name) + " has shape " + shape_str(a) + ", expected " + e +
                          (expected.size() == 1 ? ",)" : ")"));
  }
}

// `a` itself when it already is a C-contiguous array of T; a converted copy of any other float
// array; TypeError (naming `name`) for anything else (ints, bools, complex, objects).
template <class T>
carray<T> as_carray(const char* name, const py::array& a) {
  constexpr int kFlags = py::array::c_style;
  if (a.dtype().num() == py::detail::npy_format_descriptor<T>::value && (a.flags() & kFlags) == kFlags)
    return py::reinterpret_borrow<carray<T>>(a);
  if (a.dtype().kind() != 'f')
    throw py::type_error(std::string(name) + " must be a floating-point array, got dtype " +
                         std::string(py::str(a.dtype())));
  return py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
}

// A new C-contiguous array straight from NumPy's C API: the streaming step's only allocation,
// without the heap-allocated shape/stride vectors of pybind11's array constructor.
template <class T>
carray<T> new_array(std::initializer_list<py::ssize_t> dims) {
  auto& api = py::detail::npy_api::get();
  py::ssize_t shape[4];
  int nd = 0;
  for (py::ssize_t d : dims) shape[nd++] = d;
  PyObject* descr = api.PyArray_DescrFromType_(py::detail::npy_format_descriptor<T>::value);
  PyObject* arr = api.PyArray_NewFromDescr_(api.PyArray_Type_, descr, nd, shape, nullptr, nullptr, 0, nullptr);
  if (!arr) throw py::error_already_set();
  return py::reinterpret_steal<carray<T>>(arr);
}

// The last layer of a new state, h[-1], as a view that keeps `state` alive (NumPy's C API: an
// indexing call from Python would cost more than a small step).
template <class T>
py::array last_layer_view(const carray<T>& state) {
  auto& api = py::detail::npy_api::get();
  const int nd = static_cast<int>(state.ndim()) - 1;
  py::ssize_t shape[2], strides[2];
  for (int i = 0; i < nd; ++i) {
    shape[i] = state.shape(i + 1);
    strides[i] = state.strides(i + 1);
  }
  T* data = const_cast<T*>(state.data()) + (state.shape(0) - 1) * state.strides(0) / py::ssize_t(sizeof(T));
  PyObject* descr = api.PyArray_DescrFromType_(py::detail::npy_format_descriptor<T>::value);
  PyObject* view = api.PyArray_NewFromDescr_(api.PyArray_Type_, descr, nd, shape, strides, data,
                                             py::detail::npy_api::NPY_ARRAY_WRITEABLE_, nullptr);
  if (!view) throw py::error_already_set();
  if (api.PyArray_SetBaseObject_(view, state.inc_ref().ptr()) != 0) {
    Py_DECREF(view);
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::array>(view);
}

template <class T>
const T* ptr_or_null(const std::optional<carray<T>>& a) {
  return a ? a->data() : nullptr;
}

// `owner`'s data as a read-only 1-D array that cannot be made writable again: its base is a
// capsule holding `owner`, and NumPy re-enables writing only for arrays whose base chain ends in
// a writable array or buffer (a capsule is neither). A training cache is handed out this way.
template <class T>
py::array sealed_view(carray<T> owner) {
  auto& api = py::detail::npy_api::get();
  py::ssize_t n = owner.size();
  PyObject* descr = api.PyArray_DescrFromType_(py::detail::npy_format_descriptor<T>::value);
  PyObject* view = api.PyArray_NewFromDescr_(api.PyArray_Type_, descr, 1, &n, nullptr, owner.mutable_data(), 0,
                                             nullptr);
  if (!view) throw py::error_already_set();
  void (*drop)(void*) = [](void* p) { Py_DECREF(static_cast<PyObject*>(p)); };
  py::capsule keep(static_cast<const void*>(owner.release().ptr()), drop);
  if (api.PyArray_SetBaseObject_(view, keep.release().ptr()) != 0) {  // steals the capsule
    Py_DECREF(view);
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::array>(view);
}

// A training cache ends with a record of the batch its forward ran (the core's cache size depends
// only on steps * batch, so size alone cannot tell a cache paired with swapped steps/batch or
// other lengths): backward refuses a cache whose record does not match its arguments.
struct CacheRecord {
  static constexpr int64_t kMagic = 0x66677275'63616368;  // "fgrucach"
  int64_t magic, steps, batch, has_lengths, lengths_hash;

  static CacheRecord of(const SequenceBatch& b) {
    uint64_t h = 14695981039346656037ull;  // FNV-1a over the lengths' values
    for (int64_t i = 0; b.lengths && i < b.batch; ++i) {
      h ^= static_cast<uint64_t>(b.lengths[i]);
      h *= 1099511628211ull;
    }
    return {kMagic, b.steps, b.batch, b.lengths ? 1 : 0, static_cast<int64_t>(h)};
  }
  bool operator==(const CacheRecord& o) const {
    return magic == o.magic && steps == o.steps && batch == o.batch && has_lengths == o.has_lengths &&
           lengths_hash == o.lengths_hash;
  }
  template <class T>
  static constexpr size_t elements() {  // the record's size in cache elements
    return (sizeof(CacheRecord) + sizeof(T) - 1) / sizeof(T);
  }
};

// Computations (forward, backward, step: see step_lock) hold the model's lock shared for their
// whole run, and updates (set_params, set_batch_norm[s]) hold it exclusively: a computation uses
// the parameters and running statistics from entirely before or entirely after an update, never
// a mix, while concurrent computations do not serialise. The lock is waited for only with the GIL
// released or by a small step holding the GIL, and never held while waiting for the GIL, so the
// two locks cannot deadlock.
using SharedLock = ForkSafeLock<std::shared_mutex>;

template <class T>
class PyGru {
 public:
  explicit PyGru(const GruConfig& config) : gru_(config) {}

  void set_params(int64_t layer, int64_t direction, const carray<T>& w_ih, const carray<T>& w_hh,
                  const std::optional<carray<T>>& b_ih, const std::optional<carray<T>>& b_hh) {
    check_layer_params(gru_.config(), layer, direction, w_ih, w_hh, b_ih ? &*b_ih : nullptr, b_hh ? &*b_hh : nullptr);
    py::gil_scoped_release release;
    std::unique_lock<SharedLock> lock(mutex_);
    gru_.set_params(layer, direction, {w_ih.data(), w_hh.data(), ptr_or_null(b_ih), ptr_or_null(b_hh)});
  }

  void set_batch_norm(int64_t layer, int64_t direction, const carray<T>& weight, const carray<T>& bias,
                      const carray<T>& running_mean, const carray<T>& running_var) {
    check_batch_norm_params(gru_.config(), layer, direction, weight, bias, running_mean, running_var);
    py::gil_scoped_release release;
    std::unique_lock<SharedLock> lock(mutex_);
    gru_.set_batch_norm(layer, direction, weight.data(), bias.data(), running_mean.data(), running_var.data());
  }

  void set_layer_norm(int64_t layer, int64_t direction, const carray<T>& weight, const carray<T>& bias) {
    const GruConfig& c = gru_.config();
    if (!c.layer_norm) throw py::value_error("this GRU has no layer norm");
    if (layer < 0 || layer >= c.num_layers || direction < 0 || direction >= c.directions())
      throw py::value_error("no layer " + std::to_string(layer) + " direction " + std::to_string(direction));
    for (const auto* a : {&weight, &bias})
      if (a->ndim() != 1 || a->shape(0) != 2 * c.hidden_size)
        throw py::value_error(std::string(a == &weight ? "ln_weight" : "ln_bias") + " must have shape (" +
                              std::to_string(2 * c.hidden_size) + ",), got " + shape_str(*a));
    py::gil_scoped_release release;
    std::unique_lock<SharedLock> lock(mutex_);
    gru_.set_layer_norm(layer, direction, weight.data(), bias.data());
  }

  // Every layer/direction's (weight, bias, running_mean, running_var), in layer * directions +
  // direction order, under one exclusive lock: a multi-layer update is atomic too.
  void set_batch_norms(const std::vector<std::array<carray<T>, 4>>& arrays) {
    const GruConfig& c = gru_.config();
    const int64_t LD = c.num_layers * c.directions();
    if (static_cast<int64_t>(arrays.size()) != LD)
      throw py::value_error("set_batch_norms takes " + std::to_string(LD) + " (weight, bias, running_mean, "
                            "running_var) tuples, one per layer and direction; got " + std::to_string(arrays.size()));
    for (int64_t i = 0; i < LD; ++i) {
      const auto& a = arrays[static_cast<size_t>(i)];
      check_batch_norm_params(c, i / c.directions(), i % c.directions(), a[0], a[1], a[2], a[3]);
    }
    py::gil_scoped_release release;
    std::unique_lock<SharedLock> lock(mutex_);
    for (int64_t i = 0; i < LD; ++i) {
      const auto& a = arrays[static_cast<size_t>(i)];
      gru_.set_batch_norm(i / c.directions(), i % c.directions(), a[0].data(), a[1].data(), a[2].data(), a[3].data());
    }
  }

  // Returns (y, h_n, cache or None). With batch norm and batch_statistics, bn_stats (if given,
  // [layers*dirs, 2, 2H]) receives the batch means and unbiased variances.
  py::tuple forward(const carray<T>& x, const std::optional<carray<T>>& h0,
                    const std::optional<lengths_array>& lengths, bool keep_cache, double dropout,
                    uint64_t seed, bool batch_statistics, std::optional<carray<T>> bn_stats, bool recurrent_masks) {
    const SequenceBatch b = batch_of(x, h0, lengths);
    const GruConfig& c = gru_.config();
    const int64_t LD = c.num_layers * c.directions(), H = c.hidden_size;
    if (bn_stats) {
      if (!c.batch_norm) throw py::value_error("bn_stats given but this GRU has no batch norm");
      check_shape("bn_stats", *bn_stats, {LD, 2, 2 * H});
    }
    carray<T> y({b.steps, b.batch, c.directions() * H});
    carray<T> h_n({LD, b.batch, H});
    std::optional<carray<T>> cache;
    const size_t cache_size = gru_.cache_size(b);
    if (keep_cache) {
      cache.emplace(std::vector<py::ssize_t>{static_cast<py::ssize_t>(cache_size + CacheRecord::elements<T>())});
      const CacheRecord record = CacheRecord::of(b);
      std::memcpy(cache->mutable_data() + cache_size, &record, sizeof record);
    }
    const auto workspace = workspace_.take(gru_.forward_workspace_size(b));
    T* cache_ptr = cache ? cache->mutable_data() : nullptr;
    T* stats_ptr = bn_stats ? bn_stats->mutable_data() : nullptr;
    T* y_ptr = y.mutable_data();
    T* hn_ptr = h_n.mutable_data();
    {
      py::gil_scoped_release release;
      std::shared_lock<SharedLock> lock(mutex_);  // dropped before the GIL is taken back
      const TrainingMode mode{dropout, seed, batch_statistics, recurrent_masks};
      gru_.forward(b, x.data(), ptr_or_null(h0), y_ptr, hn_ptr, cache_ptr, mode, workspace.get(), stats_ptr);
    }
    return py::make_tuple(y, h_n, cache ? py::object(sealed_view(std::move(*cache))) : py::object(py::none()));
  }

  // One streaming step: x [batch, D], h [layers, batch, H] -> (y_t, new state [layers, batch, H]),
  // y_t being a view of the new state's last layer.
  // Takes plain arrays and checks dtype and layout by hand: the typed caster's checks cost more
  // than a small step computes. Anything not C-contiguous of dtype T is converted (a copy).
  py::tuple step(const py::array& x_in, const py::array& h_in) {
    const carray<T> x = as_carray<T>("x_t", x_in), h = as_carray<T>("state", h_in);
    const GruConfig& c = gru_.config();
    if (c.bidirectional) throw py::value_error(
          "step() needs a unidirectional GRU: the reverse direction of a bidirectional one needs the whole sequence");
    // x_t (batch, input_size) with state (layers, batch, H), or one unbatched x_t (input_size,)
    // with state (layers, H): the same memory as a batch of one.
    if (x.ndim() != 1 && x.ndim() != 2)
      throw py::value_error("x_t must be (batch, input_size) or (input_size,), got shape " + shape_str(x));
    const bool unbatched = x.ndim() == 1;
    const int64_t batch = unbatched ? 1 : x.shape(0);
    if (batch < 1) throw py::value_error("x_t has an empty batch");
    if (unbatched) {
      check_shape("x_t", x, {c.input_size});
      check_shape("state", h, {c.num_layers, c.hidden_size});
    } else {
      check_shape("x_t", x, {batch, c.input_size});
      check_shape("state", h, {c.num_layers, batch, c.hidden_size});
    }
    carray<T> h_out = unbatched ? new_array<T>({c.num_layers, c.hidden_size})
                                : new_array<T>({c.num_layers, batch, c.hidden_size});
    T* out = h_out.mutable_data();
    const auto lease = workspace_.take(gru_.step_workspace_size(batch));
    T* w = lease.get();
    // Releasing the GIL costs more than a small step takes.
    if (batch * c.hidden_size * (c.input_size + c.hidden_size) >= (1 << 16)) {
      py::gil_scoped_release release;
      const auto lock = step_lock();
      gru_.step(batch, x.data(), h.data(), out, w);
    } else {
      const auto lock = step_lock();  // waits only for an update, which never needs the GIL
      gru_.step(batch, x.data(), h.data(), out, w);
    }
    return py::make_tuple(last_layer_view(h_out), h_out);
  }

  // Returns (dx, dh0, [(dW_ih, dW_hh, db_ih, db_hh) per layer*dirs + direction]).
  py::tuple backward(const carray<T>& cache, int64_t steps, int64_t batch, const std::optional<lengths_array>& lengths,
                     const std::optional<carray<T>>& dy, const std::optional<carray<T>>& dh_n, double dropout,
                     uint64_t seed, bool batch_statistics, bool recurrent_masks) {
    const GruConfig& c = gru_.config();
    const int64_t LD = c.num_layers * c.directions(), H = c.hidden_size;
    const SequenceBatch b = checked_batch(steps, batch, lengths);
    const size_t cache_size = gru_.cache_size(b);
    check_shape("cache", cache, {static_cast<int64_t>(cache_size + CacheRecord::elements<T>())});
    CacheRecord made;
    std::memcpy(&made, cache.data() + cache_size, sizeof made);
    if (!(made == CacheRecord::of(b))) {
      const bool ours = made.magic == CacheRecord::kMagic;
      throw py::value_error(
          "cache does not match steps=" + std::to_string(steps) + ", batch=" + std::to_string(batch) +
          (lengths ? " and these lengths" : ", no lengths") + ": " +
          (ours ? "it was made by a forward with steps=" + std::to_string(made.steps) + ", batch=" +
                      std::to_string(made.batch) + (made.has_lengths ? " and its own lengths" : ", no lengths")
                : std::string("it is not a training cache of this model's forward")));
    }
    if (dy) check_shape("dy", *dy, {steps, batch, c.directions() * H});
    if (dh_n) check_shape("dh_n", *dh_n, {LD, batch, H});
    carray<T> dx({steps, batch, c.input_size});
    carray<T> dh0({LD, batch, H});
    // Per layer/direction: dW_ih, dW_hh, db_ih, db_hh, and with batch or layer norm its dγ, dβ.
    const bool norm = c.batch_norm || c.layer_norm;
    const int per = norm ? 6 : 4;
    std::vector<carray<T>> arrays;
    std::vector<LayerGrads<T>> grads;
    for (int64_t i = 0; i < LD; ++i) {
      const int64_t din = c.layer_input_size(i / c.directions());
      arrays.emplace_back(std::vector<py::ssize_t>{3 * H, din});
      arrays.emplace_back(std::vector<py::ssize_t>{3 * H, H});
      arrays.emplace_back(std::vector<py::ssize_t>{3 * H});
      arrays.emplace_back(std::vector<py::ssize_t>{3 * H});
      if (norm) {
        arrays.emplace_back(std::vector<py::ssize_t>{2 * H});
        arrays.emplace_back(std::vector<py::ssize_t>{2 * H});
      }
    }
    for (int64_t i = 0; i < LD; ++i) {
      auto* a = &arrays[static_cast<size_t>(per * i)];
      grads.push_back({a[0].mutable_data(), a[1].mutable_data(), c.bias ? a[2].mutable_data() : nullptr,
                       c.bias ? a[3].mutable_data() : nullptr, norm ? a[4].mutable_data() : nullptr,
                       norm ? a[5].mutable_data() : nullptr});
    }
    const auto workspace = workspace_.take(gru_.backward_workspace_size(b));
    T* dx_ptr = dx.mutable_data();
    T* dh0_ptr = dh0.mutable_data();
    {
      py::gil_scoped_release release;
      std::shared_lock<SharedLock> lock(mutex_);
      gru_.backward(b, cache.data(), ptr_or_null(dy), ptr_or_null(dh_n), dx_ptr, dh0_ptr, grads.data(),
                    TrainingMode{dropout, seed, batch_statistics, recurrent_masks}, workspace.get());
    }
    py::list per_layer;
    for (int64_t i = 0; i < LD; ++i) {
      py::list g;
      auto* a = &arrays[static_cast<size_t>(per * i)];
      g.append(a[0]);
      g.append(a[1]);
      if (c.bias) {
        g.append(a[2]);
        g.append(a[3]);
      }
      if (norm) {
        g.append(a[4]);
        g.append(a[5]);
      }
      per_layer.append(py::tuple(g));
    }
    return py::make_tuple(dx, dh0, per_layer);
  }

 private:
  // step()'s lock. On a live model only a Light GRU's running statistics change (its training
  // forwards update them; weights are set before the model is handed out), and an uncontended
  // shared lock costs a few percent of a small streaming step: other models' steps go without.
  std::shared_lock<SharedLock> step_lock() {
    if (!gru_.config().batch_norm) return {};
    return std::shared_lock<SharedLock>(mutex_);
  }

  SequenceBatch batch_of(const carray<T>& x, const std::optional<carray<T>>& h0,
                         const std::optional<lengths_array>& lengths) const {
    const GruConfig& c = gru_.config();
    if (x.ndim() != 3) throw py::value_error("x must be 3-D (steps, batch, input_size), got shape " + shape_str(x));
    const SequenceBatch b = checked_batch(x.shape(0), x.shape(1), lengths);
    check_shape("x", x, {b.steps, b.batch, c.input_size});
    if (h0) check_shape("h0", *h0, {c.num_layers * c.directions(), b.batch, c.hidden_size});
    return b;
  }

  Gru<T> gru_;
  KeptWorkspace<T> workspace_;
  SharedLock mutex_;  // see the class comment
};

template <class T>
void bind(py::module_& m, const char* name) {
  py::class_<PyGru<T>>(m, name)
      .def(py::init([](int64_t input_size, int64_t hidden_size, int64_t num_layers, bool bias, bool bidirectional,
                       bool reset_after, const std::string& gate_activation, double gate_alpha, double gate_beta,
                       const std::string& candidate_activation, double candidate_alpha, double candidate_beta,
                       std::optional<double> clip, bool batch_norm, double batch_norm_eps, const std::string& cell,
                       bool layer_norm, double layer_norm_eps, bool recurrent_layer_norm,
                       const std::string& weight_format, double recurrent_dropout,
                       const std::string& recurrent_dropout_form, double zoneout) {
             GruConfig c = make_config(input_size, hidden_size, num_layers, bias, bidirectional, reset_after,
                                       gate_activation, gate_alpha, gate_beta, candidate_activation, candidate_alpha,
                                       candidate_beta, clip, batch_norm, batch_norm_eps);
             c.layer_norm = layer_norm;
             c.layer_norm_eps = layer_norm_eps;
             c.recurrent_layer_norm = recurrent_layer_norm;
             if (cell == "libru")
               c.cell = CellKind::libru;
             else if (cell != "gru")
               throw py::value_error("cell must be 'gru' or 'libru' (the core's state updates), got '" + cell + "'");
             if (weight_format == "bf16")
               c.weight_format = WeightFormat::bf16;
             else if (weight_format == "int8")
               c.weight_format = WeightFormat::int8;
             else if (weight_format != "float32")
               throw std::invalid_argument("weight_format must be 'float32', 'bf16' or 'int8', got '" + weight_format + "'");
             c.recurrent_dropout = recurrent_dropout;
             if (recurrent_dropout_form == "state")
               c.recurrent_dropout_form = RecurrentDropout::state;
             else if (recurrent_dropout_form != "candidate")
               throw py::value_error("recurrent_dropout_form must be 'candidate' or 'state', got '" +
                                     recurrent_dropout_form + "'");
             c.zoneout = zoneout;
             return new PyGru<T>(c);
           }),
           py::arg("input_size"), py::arg("hidden_size"), py::arg("num_layers"), py::arg("bias"),
           py::arg("bidirectional"), py::arg("reset_after"), py::arg("gate_activation") = "sigmoid",
           py::arg("gate_alpha") = 0.0, py::arg("gate_beta") = 0.0, py::arg("candidate_activation") = "tanh",
           py::arg("candidate_alpha") = 0.0, py::arg("candidate_beta") = 0.0, py::arg("clip") = py::none(),
           py::arg("batch_norm") = false, py::arg("batch_norm_eps") = 1e-5,
           py::arg("cell") = "gru", py::arg("layer_norm") = false, py::arg("layer_norm_eps") = 1e-5,
           py::arg("recurrent_layer_norm") = false, py::arg("weight_format") = "float32",
           py::arg("recurrent_dropout") = 0.0, py::arg("recurrent_dropout_form") = "candidate",
           py::arg("zoneout") = 0.0)
      .def("set_params", &PyGru<T>::set_params, py::arg("layer"), py::arg("direction"), py::arg("weight_ih"),
           py::arg("weight_hh"), py::arg("bias_ih"), py::arg("bias_hh"))
      .def("set_batch_norm", &PyGru<T>::set_batch_norm, py::arg("layer"), py::arg("direction"), py::arg("weight"),
           py::arg("bias"), py::arg("running_mean"), py::arg("running_var"))
      .def("set_batch_norms", &PyGru<T>::set_batch_norms, py::arg("arrays"))
      .def("set_layer_norm", &PyGru<T>::set_layer_norm, py::arg("layer"), py::arg("direction"), py::arg("weight"),
           py::arg("bias"))
      .def("forward", &PyGru<T>::forward, py::arg("x"), py::arg("h0"), py::arg("lengths"), py::arg("keep_cache"),
           py::arg("dropout"), py::arg("seed"), py::arg("batch_statistics") = false, py::arg("bn_stats") = py::none(),
           py::arg("recurrent_masks") = false)
      .def("step", &PyGru<T>::step, py::arg("x"), py::arg("h"))
      .def("fast_step", [](py::object self) { return fast_step_function<PyGru<T>>(self); })
      .def("backward", &PyGru<T>::backward, py::arg("cache"), py::arg("steps"), py::arg("batch"), py::arg("lengths"),
           py::arg("dy"), py::arg("dh_n"), py::arg("dropout"), py::arg("seed"), py::arg("batch_statistics") = false,
           py::arg("recurrent_masks") = false);
}

}  // namespace

template <class T>
carray<T> activation_values(const std::string& name, double alpha, double beta, const carray<T>& x) {
  const ActivationSpec act{activation_named(name), alpha, beta};
  carray<T> out(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  apply_activation(act, static_cast<int64_t>(x.size()), x.data(), out.mutable_data());
  return out;
}

// The active ISA's reduced-precision weight GEMMs (runtime.h), for tests.
template <void (*MATMUL)(int64_t, int64_t, int64_t, const float*, const float*, const float*, float*)>
carray<float> matmul_values(const carray<float>& a, const carray<float>& w, const std::optional<carray<float>>& bias) {
  if (a.ndim() != 2 || w.ndim() != 2 || a.shape(1) != w.shape(1) ||
      (bias && (bias->ndim() != 1 || bias->shape(0) != w.shape(0))))
    throw std::invalid_argument("a (m, k), w (n, k) and bias (n,) expected");
  carray<float> out({a.shape(0), w.shape(0)});
  MATMUL(a.shape(0), w.shape(0), a.shape(1), a.data(), w.data(), bias ? bias->data() : nullptr, out.mutable_data());
  return out;
}

template <class T>
carray<T> activation_gradients(const std::string& name, double alpha, double beta, const carray<T>& x) {
  const ActivationSpec act{activation_named(name), alpha, beta};
  carray<T> out(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  apply_activation_grad(act, static_cast<int64_t>(x.size()), x.data(), out.mutable_data());
  return out;
}

// A training forward's recurrent dropout scales [gates, batch, H] and zoneout keeps [steps, batch,
// H] of one layer/direction (gru.h), for fastgru.functional.recurrent_masks.
py::tuple recurrent_masks(uint64_t seed, int64_t layer_dir, int64_t steps, int64_t batch, int64_t hidden,
                          int64_t gates, double recurrent_dropout, double zoneout) {
  if (steps < 1 || batch < 1 || hidden < 1 || gates < 1 || gates > 3 || layer_dir < 0)
    throw py::value_error("recurrent_masks: steps, batch, hidden >= 1, gates in 1..3 and layer_dir >= 0 expected");
  if (steps * batch * hidden > (int64_t{1} << 31)) throw py::value_error("recurrent_masks: too many elements");
  carray<double> scales({gates, batch, hidden});
  py::array_t<bool> keeps({steps, batch, hidden});
  double* s = scales.mutable_data();
  bool* k = keeps.mutable_data();
  for (int64_t g = 0; g < gates; ++g)
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t f = 0; f < hidden; ++f)
        *s++ = recurrent_dropout_scale(seed, layer_dir, static_cast<int>(g), b, f, recurrent_dropout);
  for (int64_t t = 0; t < steps; ++t)
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t f = 0; f < hidden; ++f) *k++ = zoneout_keeps(seed, layer_dir, t, b, f, zoneout);
  return py::make_tuple(scales, keeps);
}

void register_model(py::module_& m) {
  m.def("recurrent_masks", &recurrent_masks, py::arg("seed"), py::arg("layer_dir"), py::arg("steps"),
        py::arg("batch"), py::arg("hidden"), py::arg("gates"), py::arg("recurrent_dropout"), py::arg("zoneout"));
  // The active ISA's bf16 / int8 weight GEMMs, for tests that they give the same bits everywhere.
  m.def("bf16_matmul", &matmul_values<bf16_matmul>, py::arg("a"), py::arg("w"), py::arg("bias") = py::none());
  m.def("int8_matmul", &matmul_values<int8_matmul>, py::arg("a"), py::arg("w"), py::arg("bias") = py::none());
  // The vector activation code of the active ISA, for tests of its error bounds.
  m.def("activation_values", &activation_values<float>, py::arg("name"), py::arg("alpha"), py::arg("beta"),
        py::arg("x"));
  m.def("activation_values", &activation_values<double>, py::arg("name"), py::arg("alpha"), py::arg("beta"),
        py::arg("x"));
  m.def("activation_gradients", &activation_gradients<float>, py::arg("name"), py::arg("alpha"), py::arg("beta"),
        py::arg("x"));
  m.def("activation_gradients", &activation_gradients<double>, py::arg("name"), py::arg("alpha"), py::arg("beta"),
        py::arg("x"));
  bind<float>(m, "GruF32");
  bind<double>(m, "GruF64");
}

}  // namespace fastgru::bindings
