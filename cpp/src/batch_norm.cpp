#include "batch_norm.h"

#include <cmath>
#include <vector>

namespace fastgru {

template <class T>
void batch_norm_forward(int64_t rows, int64_t H, T* gx, const T* gamma, const T* beta, const T* running_mean,
                        const T* running_var, double eps, bool batch_stats, T* x_hat, T* inv_std, T* stats_out) {
  const int64_t C = 2 * H, ld = 3 * H;
  T* cols = gx + H;
  // Sums in double, row by row in a fixed order: the statistics do not depend on threads.
  std::vector<double> mean(C), var(C);
  if (batch_stats) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < C; ++j) mean[j] += cols[r * ld + j];
    for (int64_t j = 0; j < C; ++j) mean[j] /= static_cast<double>(rows);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < C; ++j) {
        const double d = cols[r * ld + j] - mean[j];
        var[j] += d * d;
      }
    for (int64_t j = 0; j < C; ++j) {
      if (stats_out) {
        stats_out[j] = static_cast<T>(mean[j]);
        stats_out[C + j] = static_cast<T>(rows > 1 ? var[j] / static_cast<double>(rows - 1) : 0.0);
      }
      var[j] /= static_cast<double>(rows);
    }
  } else {
    for (int64_t j = 0; j < C; ++j) {
      mean[j] = running_mean[j];
      var[j] = running_var[j];
    }
  }
  std::vector<double> istd(C);
  for (int64_t j = 0; j < C; ++j) {
    istd[j] = 1.0 / std::sqrt(var[j] + eps);
    if (inv_std) inv_std[j] = static_cast<T>(istd[j]);
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < C; ++j) {
      const T xh = static_cast<T>((cols[r * ld + j] - mean[j]) * istd[j]);
      if (x_hat) x_hat[r * C + j] = xh;
      cols[r * ld + j] = gamma[j] * xh + beta[j];
    }
}

template <class T>
void batch_norm_backward(int64_t rows, int64_t H, T* dgx, const T* x_hat, const T* inv_std, const T* gamma,
                         bool batch_stats, T* dgamma, T* dbeta) {
  const int64_t C = 2 * H, ld = 3 * H;
  T* cols = dgx + H;
  std::vector<double> sum_dy(C), sum_dy_xh(C);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < C; ++j) {
      sum_dy[j] += cols[r * ld + j];
      sum_dy_xh[j] += static_cast<double>(cols[r * ld + j]) * x_hat[r * C + j];
    }
  for (int64_t j = 0; j < C; ++j) {
    if (dgamma) dgamma[j] = static_cast<T>(sum_dy_xh[j]);
    if (dbeta) dbeta[j] = static_cast<T>(sum_dy[j]);
  }
  const double n = static_cast<double>(rows);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < C; ++j) {
      const double dxh = static_cast<double>(cols[r * ld + j]) * gamma[j];
      // Batch statistics: d x = inv_std (dxh - mean(dxh) - x_hat mean(dxh x_hat)).
      const double d = batch_stats ? dxh - gamma[j] * (sum_dy[j] + x_hat[r * C + j] * sum_dy_xh[j]) / n : dxh;
      cols[r * ld + j] = static_cast<T>(d * inv_std[j]);
    }
}

template void batch_norm_forward<float>(int64_t, int64_t, float*, const float*, const float*, const float*,
                                        const float*, double, bool, float*, float*, float*);
template void batch_norm_forward<double>(int64_t, int64_t, double*, const double*, const double*, const double*,
                                         const double*, double, bool, double*, double*, double*);
template void batch_norm_backward<float>(int64_t, int64_t, float*, const float*, const float*, const float*, bool,
                                         float*, float*);
template void batch_norm_backward<double>(int64_t, int64_t, double*, const double*, const double*, const double*,
                                          bool, double*, double*);

}  // namespace fastgru
