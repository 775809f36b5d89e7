// The general activations (included inside an ISA namespace after vmath.h). Sigmoid and tanh
// stay vectorised; the rarer ONNX activations run lane by lane in double precision
// (activation_scalar.h) through the C math library (extern functions, never inline code compiled
// with this ISA's flags).

#include "kernels/activation_scalar.h"

template <class O, class F>
static inline typename O::V per_lane(typename O::V x, F&& f) {
  typename O::T buf[O::W];
  O::store(buf, x);
  for (int i = 0; i < O::W; ++i) buf[i] = static_cast<typename O::T>(f(static_cast<double>(buf[i])));
  return O::load(buf);
}

// ONNX clip: bounds the pre-activation; the gradient is zero where it was cut.
template <class O>
static inline typename O::V clip_pre(const CellMath& m, typename O::V a) {
  if (m.clip <= 0) return a;
  using T = typename O::T;
  return O::clamp(a, O::set1(T(-m.clip)), O::set1(T(m.clip)));
}

template <class O>
static inline typename O::V act_v(const ActivationSpec& s, typename O::V x) {
  if (s.kind == Activation::sigmoid) return vsigmoid<O>(x);
  if (s.kind == Activation::tanh) return vtanh<O>(x);
  if (s.kind == Activation::relu)  // the Light GRU's candidate; clamp keeps NaN
    return O::clamp(x, O::zero(), O::set1(static_cast<typename O::T>(INFINITY)));
  return per_lane<O>(x, [&](double v) { return act_scalar(s, v); });
}

// d act(clip(a)) / da from the raw pre-activation a.
template <class O>
static inline typename O::V act_grad_v(const CellMath& m, const ActivationSpec& s, typename O::V a) {
  const double clip = m.clip;
  return per_lane<O>(a, [&](double v) {
    if (clip > 0 && (v > clip || v < -clip)) return 0.0;
    return act_grad_scalar(s, v);
  });
}

template <class O>
static void activate_body(const ActivationSpec& act, int64_t n, const typename O::T* x, typename O::T* out) {
  for (int64_t i = 0; i < n; i += O::W) {
    const int left = static_cast<int>(n - i < O::W ? n - i : O::W);
    const auto v = act_v<O>(act, left == O::W ? O::load(x + i) : O::load_partial(x + i, left));
    if (left == O::W)
      O::store(out + i, v);
    else
      O::store_partial(out + i, v, left);
  }
}
