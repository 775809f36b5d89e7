// Recurrent dropout and zoneout (GruConfig::recurrent_dropout, zoneout): their masks, drawn from
// dropout.h's counter-based hash in streams of their own (no storage: backward redraws them),
// and the element-wise passes that apply them around the plain cell's kernels. Forward rewrites
// h' after the gate kernel; backward rescales dL/dh' before the gate kernel and corrects the gate
// gradients after it. Rows of every pass are slots [j0, j1) of the packed batch; pointers point at
// slot j0's row.
#pragma once

#include <cstdint>

#include "fastgru/gru.h"
#include "sequence_layout.h"

namespace fastgru {

// Zoneout's expectation (every pass but a training forward): p h + (1 - p) ĥ.
template <class T>
inline T zoneout_expectation(T p, T h_prev, T h_new) {
  return p * h_prev + (T(1) - p) * h_new;
}

template <class T>
struct RecurrentNoise {
  const GruConfig& cfg;
  const SequenceLayout& lay;
  uint64_t seed;
  int64_t layer_dir;  // layer * directions + direction
  bool training;      // TrainingMode::recurrent_masks: draw masks (else no dropout, zoneout's expectation)
  T* masks;           // [batch, 3H] recurrent dropout scales in slot order; filled by the constructor

  RecurrentNoise(const GruConfig& c, const SequenceLayout& l, const TrainingMode& mode, int64_t layer_dir,
                 T* mask_buffer);

  bool dropout() const { return masks != nullptr; }
  bool state_form() const { return masks && cfg.recurrent_dropout_form == RecurrentDropout::state; }
  bool candidate_form() const { return masks && cfg.recurrent_dropout_form == RecurrentDropout::candidate; }
  bool zoneout() const { return cfg.zoneout > 0; }
  bool rewrites_state() const { return candidate_form() || zoneout(); }
  // Gate g's mask row of slot j (the candidate form uses g = 0 only).
  const T* mask(int64_t j, int g) const { return masks + j * 3 * cfg.hidden_size + g * cfg.hidden_size; }

  // Zoneout's weight of h_prev at (time t, slot j, feature f): 1 or 0 in training, p otherwise.
  T zoneout_keep(int64_t t, int64_t j, int64_t f) const;

  // Forward, state form: hm[i] = [m_r ⊙ h | m_z ⊙ h | m_n ⊙ h] (ld 3H) for the recurrent products.
  void mask_state(int64_t j0, int64_t j1, const T* h, T* hm) const;
  // After the gate kernel wrote ĥ to h_next (and y, ld_y, when not null): the candidate form's
  // ĥ = z ⊙ h + (1 - z) ⊙ (m ⊙ n) from the records, then zoneout's mix with h_prev.
  void finish_step(int64_t t, int64_t j0, int64_t j1, const T* h_prev, T* h_next, T* y, int64_t ld_y,
                   const T* rec) const;

  // Backward of finish_step, before the gate kernel: dh (ld H) becomes dL/dĥ, `kept` receives what
  // zoneout passes straight to dL/dh_prev, and dh_hat (candidate form) a copy of dL/dĥ.
  void split_gradient(int64_t t, int64_t j0, int64_t j1, T* dh, T* kept, T* dh_hat) const;
  // Candidate form, after gates_backward_after / gates_backward_before_n: the gate gradients of
  // z ⊙ h + (1 - z) ⊙ (m ⊙ n) from those of the plain mix.
  void correct_gate_grads(int64_t j0, int64_t j1, const T* rec, const T* dh_hat, T* dgx, T* dgh) const;
  // v (ld H) *= gate g's mask.
  void scale(int64_t j0, int64_t j1, int g, T* v) const;
  // dst (ld H) += gate g's mask ⊙ src (ld H).
  void add_masked(int64_t j0, int64_t j1, int g, const T* src, T* dst) const;
};

}  // namespace fastgru
