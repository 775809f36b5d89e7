// The general activations (included inside an ISA namespace after vmath.h). Sigmoid and tanh
// stay vectorised; the rarer ONNX activations run lane by lane in double precision through the
// C math library (extern functions, never inline code compiled with this ISA's flags).

static inline double act_scalar(const ActivationSpec& s, double x) {
  switch (s.kind) {
    case Activation::sigmoid: return 1.0 / (1.0 + exp(-x));
    case Activation::tanh: return tanh(x);
    case Activation::relu: return x > 0 ? x : 0.0;
    case Activation::affine: return s.alpha * x + s.beta;
    case Activation::leaky_relu: return x >= 0 ? x : s.alpha * x;
    case Activation::thresholded_relu: return x > s.alpha ? x : 0.0;
    case Activation::scaled_tanh: return s.alpha * tanh(s.beta * x);
    case Activation::hard_sigmoid: {
      const double y = s.alpha * x + s.beta;
      return y <= 0 ? 0.0 : (y >= 1 ? 1.0 : y);
    }
    case Activation::elu: return x >= 0 ? x : s.alpha * expm1(x);
    case Activation::softsign: return x / (1.0 + fabs(x));
    case Activation::softplus: return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
  }
  return x;
}

// d act / dx at x (NaN stays NaN).
static inline double act_grad_scalar(const ActivationSpec& s, double x) {
  switch (s.kind) {
    case Activation::sigmoid: {
      const double y = 1.0 / (1.0 + exp(-x));
      return y * (1.0 - y);
    }
    case Activation::tanh: {
      const double t = tanh(x);
      return 1.0 - t * t;
    }
    case Activation::relu: return x > 0 ? 1.0 : (x <= 0 ? 0.0 : x);
    case Activation::affine: return s.alpha + 0.0 * x;
    case Activation::leaky_relu: return x >= 0 ? 1.0 : (x < 0 ? s.alpha : x);
    case Activation::thresholded_relu: return x > s.alpha ? 1.0 : (x <= s.alpha ? 0.0 : x);
    case Activation::scaled_tanh: {
      const double t = tanh(s.beta * x);
      return s.alpha * s.beta * (1.0 - t * t);
    }
    case Activation::hard_sigmoid: {
      const double y = s.alpha * x + s.beta;
      return (y > 0 && y < 1) ? s.alpha : (y != y ? y : 0.0);
    }
    case Activation::elu: return x >= 0 ? 1.0 : (x < 0 ? s.alpha * exp(x) : x);
    case Activation::softsign: {
      const double d = 1.0 + fabs(x);
      return 1.0 / (d * d);
    }
    case Activation::softplus: return 1.0 / (1.0 + exp(-x));
  }
  return x;
}

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
