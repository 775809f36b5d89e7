// Gate and candidate activations beyond the standard pair: ONNX's set with ONNX's names and
// parameters, then elementwise functions ONNX's GRU lacks (Keras 3's names and definitions, and
// SpeechBrain's sin), and ONNX's `clip` of the pre-activations. Plain data only (the kernels include this header too).
#pragma once

namespace fastgru {

enum class Activation : int {
  sigmoid,           // 1 / (1 + e^-x)
  tanh,              // tanh(x)
  relu,              // max(0, x)
  affine,            // alpha x + beta
  leaky_relu,        // x >= 0 ? x : alpha x
  thresholded_relu,  // x > alpha ? x : 0
  scaled_tanh,       // alpha tanh(beta x)
  hard_sigmoid,      // max(0, min(1, alpha x + beta))
  elu,               // x >= 0 ? x : alpha (e^x - 1)
  softsign,          // x / (1 + |x|)
  softplus,          // log(1 + e^x)
  // Beyond ONNX's GRU (Keras 3 / PyTorch definitions):
  selu,          // lambda (x > 0 ? x : a (e^x - 1)), lambda = 1.0507..., a = 1.6732... (fixed)
  relu6,         // min(max(x, 0), 6)
  gelu,          // x Phi(x) = x erfc(-x / sqrt 2) / 2 (exact form)
  gelu_tanh,     // x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2
  silu,          // x sigmoid(x) (swish)
  hard_tanh,     // min(max(x, -1), 1)
  log_sigmoid,   // log sigmoid(x) = -softplus(-x)
  mish,          // x tanh(softplus(x))
  hard_silu,     // x min(max(x + 3, 0), 6) / 6 (hard_swish)
  sparse_plus,   // x <= -1 ? 0 : (x < 1 ? (x + 1)^2 / 4 : x)
  squareplus,    // (x + sqrt(x^2 + alpha)) / 2, alpha > 0 (Keras's b)
  sin,           // sin(x) (SpeechBrain's LiGRU option)
  tanh_shrink,   // x - tanh(x)
  soft_shrink,   // x > alpha ? x - alpha : (x < -alpha ? x + alpha : 0)
  hard_shrink,   // |x| > alpha ? x : 0
  exponential,   // e^x
  last = exponential,  // the highest kind (GruConfig::validate refuses others)
};

struct ActivationSpec {
  Activation kind;
  double alpha = 0.0;
  double beta = 0.0;
};

// f (r and z gates) and g (candidate n), as ONNX's `activations` pair; clip > 0 clips every
// pre-activation to [-clip, clip] first (ONNX `clip`), 0 means no clipping.
struct CellMath {
  ActivationSpec gate{Activation::sigmoid};
  ActivationSpec candidate{Activation::tanh};
  double clip = 0.0;
};

}  // namespace fastgru
