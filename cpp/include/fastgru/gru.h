// fastgru's public C++ API: a GRU stack (layers x directions) in PyTorch's layout, forward and
// backward, float or double. No Python, no intrinsics, no CUDA in here.
//
// Cell (gate order r, z, n; weight_ih (3H, D), weight_hh (3H, H), bias_ih/bias_hh (3H)):
//   r = σ(W_ir x + b_ir + W_hr h + b_hr)     z = σ(W_iz x + b_iz + W_hz h + b_hz)
//   reset_after:  n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))   (PyTorch, cuDNN)
//   reset_before: n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)   (Cho 2014, ONNX default)
//   h' = (1 - z) ⊙ n + z ⊙ h
// CellKind::libru (light Bayesian recurrent unit, Bittar & Garner 2021, "logprobs" form) keeps
// this layout and the reset-after products with r unused: z = σ(a_z), c = softplus(a_n),
//   h' = log(z ⊙ e^h + (1 - z) ⊙ e^c)
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "fastgru/activation.h"
#include "fastgru/runtime.h"

namespace fastgru {

enum class WeightFormat : int { f32, bf16, int8 };
// The longest product input an int8 model may have: its int32 sums of k products of at most
// 255 * 127 cannot overflow.
constexpr int64_t kMaxInt8K = 65536;
// The state update. gru: the linear mix above (every form the Python layer maps onto it);
// libru: the LiBRU's log-domain mix, its own gate kernels (reset_after, sigmoid gate and softplus
// candidate only).
enum class CellKind : int { gru, libru };
// Where recurrent dropout (GruConfig::recurrent_dropout) drops, with masks drawn once per
// sequence and held over its steps (scaled by 1/(1-p)):
//   candidate: h' = z ⊙ h + (1 - z) ⊙ (m ⊙ n), one mask (SpeechBrain's LiGRU, pytorch-kaldi);
//   state:     each gate's recurrent product takes m_g ⊙ h, a mask per gate; the mix keeps h
//              (Keras's recurrent_dropout).
enum class RecurrentDropout : int { candidate, state };

struct GruConfig {
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 1;
  bool bias = true;
  bool bidirectional = false;
  bool reset_after = true;
  CellMath math;  // activations and clip (default: sigmoid, tanh, none)
  // Batch norm on the z and n blocks of the input projection (Light GRU); see set_batch_norm.
  bool batch_norm = false;
  double batch_norm_eps = 1e-5;
  // How the weights are stored and multiplied. bf16 and int8 are inference formats of float
  // models (backward() refuses them); gates and state stay float32.
  //   bf16: weights rounded to bfloat16; each product rounds its input to bfloat16 too and adds
  //         pairs of products in float32 (vdpbf16ps).
  //   int8: per-output-row symmetric int8 weights (scale max|row| / 127); each product quantizes
  //         its input rows dynamically the same way (one scale per row) and sums in int32
  //         (vpdpbusd); products' inputs may be at most kMaxInt8K long.
  WeightFormat weight_format = WeightFormat::f32;
  // Layer norm on the same blocks, per row over its 2H values (SpeechBrain's LiGRU
  // normalization="layernorm"); γ, β through set_layer_norm. Not with batch_norm.
  bool layer_norm = false;
  double layer_norm_eps = 1e-5;
  // Layer norm (no γ, β) on the z and n blocks of the recurrent product, per row over its 2H
  // values, with b_hh added after it: SLiGRU (Moumen & Parcollet 2023), gates = ... + LN(U h) + b.
  // reset_after only; eps is layer_norm_eps.
  bool recurrent_layer_norm = false;
  CellKind cell = CellKind::gru;
  // Training regularisers of the recurrence (see RecurrentDropout), drawn when a forward's
  // TrainingMode::recurrent_masks is set. Zoneout (Krueger et al. 2017): h' = m ⊙ h + (1 - m) ⊙ ĥ,
  // m ~ Bernoulli(zoneout) per step and element in training; every other pass (inference, step)
  // takes the expectation h' = p h + (1 - p) ĥ.
  double recurrent_dropout = 0.0;
  RecurrentDropout recurrent_dropout_form = RecurrentDropout::candidate;
  double zoneout = 0.0;

  int64_t directions() const { return bidirectional ? 2 : 1; }
  bool standard_math() const {
    return math.gate.kind == Activation::sigmoid && math.candidate.kind == Activation::tanh && math.clip == 0;
  }
  // Elements kept per row and step for backward: [r, z, n, aux, h_prev] (+ 3 pre-activations)
  // (+ the recurrent layer norm's normalised values [2H] and 1/std [1]).
  int64_t record_width() const {
    return (standard_math() ? 5 : 8) * hidden_size + (recurrent_layer_norm ? 2 * hidden_size + 1 : 0);
  }
  // Where the recurrent layer norm's values start in a record.
  int64_t recurrent_norm_offset() const { return (standard_math() ? 5 : 8) * hidden_size; }
  int64_t layer_input_size(int64_t layer) const {
    return layer == 0 ? input_size : directions() * hidden_size;
  }
  // Throws std::invalid_argument naming the offending field.
  void validate() const;
};

// One call's batch: `steps` time steps of `batch` sequences; lengths[b] in [1, steps] for
// variable-length batches (packed-sequence semantics), nullptr when every sequence is full.
struct SequenceBatch {
  int64_t steps = 0;
  int64_t batch = 0;
  const int64_t* lengths = nullptr;
};

// One layer/direction's parameters, PyTorch layout. Biases may be null (zero).
template <class T>
struct LayerParams {
  const T* weight_ih;
  const T* weight_hh;
  const T* bias_ih;
  const T* bias_hh;
};

// Where one layer/direction's gradients go (overwritten). Bias pointers may be null (skipped);
// bn_weight / bn_bias (2H, gate blocks z and n) only with batch norm or layer norm (its γ, β).
template <class T>
struct LayerGrads {
  T* weight_ih;
  T* weight_hh;
  T* bias_ih;
  T* bias_hh;
  T* bn_weight = nullptr;
  T* bn_bias = nullptr;
};

// What a forward pass that backward() may follow does beyond inference; backward() takes the
// same values. dropout: probability on the input of layers 1.., masks drawn from `seed`.
// batch_statistics: batch norm normalises with this batch's statistics over its valid steps
// (training) instead of the running ones.
// recurrent_masks: draw recurrent dropout and zoneout masks (GruConfig), from `seed` too.
struct TrainingMode {
  double dropout = 0.0;
  uint64_t seed = 0;
  bool batch_statistics = false;
  bool recurrent_masks = false;
};

// The masks of a forward with recurrent_masks, for a sequence's index in the batch the core
// sees: recurrent dropout's scale (0 or 1/(1-p)) of gate g's product (state form) or of the
// candidate (g = 0), and whether zoneout keeps h (h' = h) at a step.
double recurrent_dropout_scale(uint64_t seed, int64_t layer_dir, int gate, int64_t sequence, int64_t feature, double p);
bool zoneout_keeps(uint64_t seed, int64_t layer_dir, int64_t step, int64_t sequence, int64_t feature, double p);

template <class T>
class Gru {
 public:
  explicit Gru(const GruConfig& config);
  ~Gru();
  Gru(const Gru&) = delete;
  Gru& operator=(const Gru&) = delete;

  const GruConfig& config() const;

  // Copies one layer/direction's weights; packed copies for the kernels are made from them.
  void set_params(int64_t layer, int64_t direction, const LayerParams<T>& params);
  // Batch norm parameters of one layer/direction, each (2H) for gate blocks z then n.
  void set_batch_norm(int64_t layer, int64_t direction, const T* weight, const T* bias, const T* running_mean,
                      const T* running_var);
  // Layer norm parameters of one layer/direction, each (2H) for gate blocks z then n.
  void set_layer_norm(int64_t layer, int64_t direction, const T* weight, const T* bias);

  // Sizes, in elements of T, of the caller-provided buffers. The cache holds what backward
  // needs (every layer's input and every step's gate activations).
  size_t forward_workspace_size(const SequenceBatch& batch) const;
  size_t cache_size(const SequenceBatch& batch) const;
  size_t backward_workspace_size(const SequenceBatch& batch) const;

  // x: [steps, batch, input_size] (time-major, contiguous); h0: [layers*dirs, batch, H] or null;
  // y: [steps, batch, dirs*H] (zero past each length); h_n: [layers*dirs, batch, H].
  // cache: cache_size() elements, or null when no backward will follow.
  // bn_stats: with batch norm and mode.batch_statistics, [layers*dirs, 2, 2H] receives each
  // layer's batch mean and unbiased variance (for the caller's running statistics), or null.
  void forward(const SequenceBatch& batch, const T* x, const T* h0, T* y, T* h_n, T* cache,
               const TrainingMode& mode, T* workspace, T* bn_stats = nullptr) const;

  // Gradients from a cache written by forward() with the same batch and mode.
  // dy / dh_n may be null (zeros). dx: [steps, batch, input_size]; dh0: [layers*dirs, batch, H];
  // grads: layers*dirs entries, index layer*dirs + direction.
  void backward(const SequenceBatch& batch, const T* cache, const T* dy, const T* dh_n, T* dx,
                T* dh0, const LayerGrads<T>* grads, const TrainingMode& mode, T* workspace) const;

  // Streaming: one time step of a unidirectional stack, the same arithmetic as forward() with
  // steps = 1. x: [batch, input_size]; h: [layers, batch, H]; h_out: [layers, batch, H] (must not
  // overlap h); the last layer's output is h_out's last layer. Nothing is allocated per call.
  size_t step_workspace_size(int64_t batch) const;
  void step(int64_t batch, const T* x, const T* h, T* h_out, T* workspace) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

extern template class Gru<float>;
extern template class Gru<double>;

}  // namespace fastgru
