// Gate and candidate activations beyond the standard pair, with ONNX's names and parameters, and
// ONNX's `clip` of the pre-activations. Plain data only (the kernels include this header too).
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
