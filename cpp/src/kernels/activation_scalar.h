// The ONNX activations and their derivatives in double precision, written once for the CPU
// kernels (included inside each ISA namespace, after <math.h>) and the CUDA kernels (included in
// their device namespace, FASTGRU_HD = __host__ __device__). No include guard: one copy per
// namespace, by design.
#ifndef FASTGRU_HD
#define FASTGRU_HD
#endif

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
    case Activation::softplus: return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
  }
  return x;
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
  }
  return x;
}

