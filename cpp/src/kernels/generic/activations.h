// The general activations (included inside an ISA namespace after vmath.h). Sigmoid, tanh and
// the ones built from clamps and a sigmoid (relu, relu6, hard_tanh, hard_silu, silu) stay
// vectorised; the rarer ones run lane by lane in double precision (activation_scalar.h) through
// the C math library (extern functions, never inline code compiled with this ISA's flags).
// Derivatives (backward only) all run lane by lane.

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
  using T = typename O::T;
  const auto inf = O::set1(static_cast<T>(INFINITY));
  if (s.kind == Activation::relu)  // the Light GRU's candidate; clamp keeps NaN
    return O::clamp(x, O::zero(), inf);
  if (s.kind == Activation::relu6) return O::clamp(x, O::zero(), O::set1(T(6)));
  if (s.kind == Activation::hard_tanh) return O::clamp(x, O::set1(T(-1)), O::set1(T(1)));
  if (s.kind == Activation::silu || s.kind == Activation::hard_silu) {
    // x * s(x) with s(-inf) = 0: the factor x is bounded below by -max so -inf gives -0, not NaN.
    const auto xb = O::clamp(x, O::set1(-static_cast<T>(sizeof(T) == sizeof(float) ? FLT_MAX : DBL_MAX)), inf);
    if (s.kind == Activation::silu) return O::mul(xb, vsigmoid<O>(x));
    // relu6(x + 3) / 6 = clamp(x / 6 + 1/2, 0, 1)
    return O::mul(xb, O::clamp(O::fmadd(x, O::set1(T(1) / T(6)), O::set1(T(0.5))), O::zero(), O::set1(T(1))));
  }
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

// out[i] = act'(x[i]), the derivative the backward kernels use (no clip).
template <class O>
static void activate_grad_body(const ActivationSpec& act, int64_t n, const typename O::T* x, typename O::T* out) {
  const CellMath no_clip{};
  for (int64_t i = 0; i < n; i += O::W) {
    const int left = static_cast<int>(n - i < O::W ? n - i : O::W);
    const auto v = act_grad_v<O>(no_clip, act, left == O::W ? O::load(x + i) : O::load_partial(x + i, left));
    if (left == O::W)
      O::store(out + i, v);
    else
      O::store_partial(out + i, v, left);
  }
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
