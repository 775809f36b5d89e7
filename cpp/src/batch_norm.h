// Batch norm on the gate blocks z and n (columns [H, 3H)) of the input projections of all steps,
// as the Light GRU applies it: statistics over the valid (step, sequence) rows only.
#pragma once

#include <cmath>
#include <cstdint>

namespace fastgru {

// Running-statistics batch norm of one value, with exactly the arithmetic of
// batch_norm_forward (so a streaming step matches the sequence forward bit for bit).
template <class T>
inline T batch_norm_running(T x, T mean, T var, T gamma, T beta, double eps) {
  const double inv_std = 1.0 / std::sqrt(static_cast<double>(var) + eps);
  const T x_hat = static_cast<T>((x - static_cast<double>(mean)) * inv_std);
  return gamma * x_hat + beta;
}

// gx [rows, 3H] in place: y = gamma (x - mean) / sqrt(var + eps) + beta on columns [H, 3H).
// batch_stats: mean and biased variance of these rows (training), else the running ones.
// x_hat [rows, 2H] and inv_std [2H] (for backward) may be null; stats_out [2, 2H] receives the
// batch mean and unbiased variance (for running statistics), may be null.
template <class T>
void batch_norm_forward(int64_t rows, int64_t H, T* gx, const T* gamma, const T* beta, const T* running_mean,
                        const T* running_var, double eps, bool batch_stats, T* x_hat, T* inv_std, T* stats_out);

// dgx [rows, 3H] in place: the gradient w.r.t. the normalised columns becomes the gradient
// w.r.t. their input. With batch statistics the mean and variance depend on every row.
template <class T>
void batch_norm_backward(int64_t rows, int64_t H, T* dgx, const T* x_hat, const T* inv_std, const T* gamma,
                         bool batch_stats, T* dgamma, T* dbeta);

}  // namespace fastgru
