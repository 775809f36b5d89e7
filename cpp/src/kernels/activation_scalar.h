// The general activations (ONNX's set and the elementwise ones beyond it, Keras's definitions)
// and their derivatives in double precision, written once for the CPU
// kernels (included inside each ISA namespace, after <math.h>) and the CUDA kernels (included in
// their device namespace, FASTGRU_HD = __host__ __device__). No include guard: one copy per
// namespace, by design.
//
// Accuracy (tests/test_activation_accuracy.py checks it against mpmath on every ISA): the values
// and derivatives of the functions beyond ONNX's set are within 4 ulp of the true value plus 2
// machine epsilons absolute, in float32 and float64, wherever the result is finite; each formula
// below is chosen to avoid cancellation (erfc, sigmoid(-x) for 1 - sigmoid(x), squareplus's
// conjugate form) and overflow (hypot).
#ifndef FASTGRU_HD
#define FASTGRU_HD
#endif

// SELU's constants (Klambauer et al. 2017), as Keras / PyTorch write them.
static constexpr double kSeluScale = 1.0507009873554804934193349852946;
static constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
static constexpr double kSqrtHalf = 0.70710678118654752440084436210485;     // 1 / sqrt(2)
static constexpr double kInvSqrt2Pi = 0.39894228040143267793994605993438;   // 1 / sqrt(2 pi)
static constexpr double kGeluTanhC = 0.79788456080286535587989211986876;    // sqrt(2 / pi)

static inline FASTGRU_HD bool act_is_inf(double x) { return fabs(x) == static_cast<double>(INFINITY); }

// log(1 + e^x) without overflow (and without the cancellation of log(1 + e^x) - x for large x).
static inline FASTGRU_HD double act_softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static inline FASTGRU_HD double act_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

// Products x * s(x) whose factor s vanishes (or saturates) at an infinite x would give inf * 0:
// these functions take their limits there instead (x > 0 ? x : -0, derivative x > 0 ? 1 : 0).
static inline FASTGRU_HD double act_beyond_onnx(const ActivationSpec& s, double x) {
  switch (s.kind) {
    case Activation::selu: return kSeluScale * (x > 0 ? x : kSeluAlpha * expm1(x));
    case Activation::relu6: return x < 0 ? 0.0 : (x > 6 ? 6.0 : x);
    case Activation::gelu:
      if (act_is_inf(x)) return x > 0 ? x : -0.0;
      return 0.5 * x * erfc(-x * kSqrtHalf);  // erfc keeps relative accuracy where 1 + erf cancels
    case Activation::gelu_tanh: {
      if (act_is_inf(x)) return x > 0 ? x : -0.0;
      // (1 + tanh u) / 2 = sigmoid(2u): no cancellation for negative x.
      return x * act_sigmoid(2.0 * kGeluTanhC * (x + 0.044715 * x * x * x));
    }
    case Activation::silu:
      if (act_is_inf(x)) return x > 0 ? x : -0.0;
      return x * act_sigmoid(x);
    case Activation::hard_tanh: return x < -1 ? -1.0 : (x > 1 ? 1.0 : x);
    case Activation::log_sigmoid: return -act_softplus(-x);
    case Activation::mish:
      if (act_is_inf(x)) return x > 0 ? x : -0.0;
      return x * tanh(act_softplus(x));
    case Activation::hard_silu: return x <= -3 ? 0.0 : (x >= 3 ? x : x * (x + 3.0) / 6.0);
    case Activation::sparse_plus: return x <= -1 ? 0.0 : (x < 1 ? 0.25 * (x + 1.0) * (x + 1.0) : x);
    case Activation::squareplus: {
      const double r = hypot(x, sqrt(s.alpha));  // sqrt(x^2 + b) without overflow
      return x >= 0 ? 0.5 * x + 0.5 * r : 0.5 * s.alpha / (r - x);  // no overflow; no cancellation for x < 0
    }
    case Activation::sin: return sin(x);
    case Activation::tanh_shrink: return x - tanh(x);
    case Activation::soft_shrink: return x > s.alpha ? x - s.alpha : (x < -s.alpha ? x + s.alpha : 0.0 * x);
    case Activation::hard_shrink: return (x > s.alpha || x < -s.alpha) ? x : 0.0 * x;
    case Activation::exponential: return exp(x);
    default: return x;
  }
}

static inline FASTGRU_HD double act_grad_beyond_onnx(const ActivationSpec& s, double x) {
  if (x != x) return x;  // NaN in, NaN out
  switch (s.kind) {
    case Activation::selu: return x > 0 ? kSeluScale : kSeluScale * kSeluAlpha * exp(x);
    case Activation::relu6: return (x > 0 && x < 6) ? 1.0 : 0.0;
    case Activation::gelu:  // Phi(x) + x phi(x)
      if (act_is_inf(x)) return x > 0 ? 1.0 : 0.0;
      return 0.5 * erfc(-x * kSqrtHalf) + x * kInvSqrt2Pi * exp(-0.5 * x * x);
    case Activation::gelu_tanh: {
      if (fabs(x) > 30) return x > 0 ? 1.0 : 0.0;  // saturated: sg(1 - sg) = 0 exactly, x^3 may overflow
      const double two_u = 2.0 * kGeluTanhC * (x + 0.044715 * x * x * x);
      const double sg = act_sigmoid(two_u);  // 1 - sg = sigmoid(-2u): no cancellation for large x
      return sg + 2.0 * x * sg * act_sigmoid(-two_u) * kGeluTanhC * (1.0 + 3.0 * 0.044715 * x * x);
    }
    case Activation::silu: {
      if (act_is_inf(x)) return x > 0 ? 1.0 : 0.0;
      return act_sigmoid(x) * (1.0 + x * act_sigmoid(-x));  // 1 - sigmoid(x) without cancellation
    }
    case Activation::hard_tanh: return (x > -1 && x < 1) ? 1.0 : 0.0;
    case Activation::log_sigmoid: return act_sigmoid(-x);
    case Activation::mish: {
      if (act_is_inf(x)) return x > 0 ? 1.0 : 0.0;
      const double t = tanh(act_softplus(x));
      return t + x * (1.0 - t * t) * act_sigmoid(x);
    }
    case Activation::hard_silu: return x < -3 ? 0.0 : (x > 3 ? 1.0 : (2.0 * x + 3.0) / 6.0);
    case Activation::sparse_plus: return x <= -1 ? 0.0 : (x < 1 ? 0.5 * (x + 1.0) : 1.0);
    case Activation::squareplus:
      if (act_is_inf(x)) return x > 0 ? 1.0 : 0.0;
      return 0.5 * (1.0 + x / hypot(x, sqrt(s.alpha)));
    case Activation::sin: return cos(x);
    case Activation::tanh_shrink: {
      const double t = tanh(x);
      return t * t;
    }
    case Activation::soft_shrink:
    case Activation::hard_shrink: return (x > s.alpha || x < -s.alpha) ? 1.0 : 0.0;
    case Activation::exponential: return exp(x);
    default: return x;
  }
}

static inline FASTGRU_HD double act_scalar(const ActivationSpec& s, double x) {
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
    case Activation::softplus: return act_softplus(x);
    default: return act_beyond_onnx(s, x);
  }
}

// d act / dx at x (NaN stays NaN).
static inline FASTGRU_HD double act_grad_scalar(const ActivationSpec& s, double x) {
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
    default: return act_grad_beyond_onnx(s, x);
  }
}

