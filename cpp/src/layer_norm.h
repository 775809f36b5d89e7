// Layer norm on the gate blocks z and n (columns [H, 3H)) of each row's input projections, as
// SpeechBrain's LiGRU(normalization="layernorm") applies it: statistics over the row's 2H values,
// so every row (step, sequence) is normalised on its own, in training and inference alike.
#pragma once

#include <cstdint>

namespace fastgru {

// gx [rows, 3H] in place: y = gamma (x - mean_row) / sqrt(var_row + eps) + beta on columns
// [H, 3H) (biased variance). x_hat [rows, 2H] and inv_std [rows] (for backward) may be null.
template <class T>
void layer_norm_forward(int64_t rows, int64_t H, T* gx, const T* gamma, const T* beta, double eps, T* x_hat,
                        T* inv_std);

// dgx [rows, 3H] in place: the gradient w.r.t. the normalised columns becomes the gradient w.r.t.
// their input. dgamma, dbeta [2H] receive (accumulate: are added) the sums over these rows; each
// may be null.
template <class T>
void layer_norm_backward(int64_t rows, int64_t H, T* dgx, const T* x_hat, const T* inv_std, const T* gamma,
                         T* dgamma, T* dbeta, bool accumulate);

// SLiGRU's recurrent term: gh [rows, ld_gh] holds U h + b_hh; its columns [H, 3H) become
// LN(U h) + b_hh (no γ, β; eps as above). rec (ld rec_ld) receives per row the normalised values
// [2H] then 1/std, or is null.
template <class T>
void recurrent_layer_norm_forward(int64_t rows, int64_t H, T* gh, int64_t ld_gh, const T* bias_hh, double eps, T* rec,
                                  int64_t rec_ld);

// dgh [rows, ld] columns [H, 3H): the gradient w.r.t. LN(U h) + b_hh becomes the gradient w.r.t.
// U h, from the values recurrent_layer_norm_forward recorded.
template <class T>
void recurrent_layer_norm_backward(int64_t rows, int64_t H, T* dgh, int64_t ld, const T* rec, int64_t rec_ld);

}  // namespace fastgru
