#include "layer_norm.h"

#include <cmath>

namespace fastgru {

template <class T>
void layer_norm_forward(int64_t rows, int64_t H, T* gx, const T* gamma, const T* beta, double eps, T* x_hat,
                        T* inv_std) {
  const int64_t C = 2 * H;
  for (int64_t r = 0; r < rows; ++r) {
    T* x = gx + r * 3 * H + H;
    // In double, in a fixed order: a row's statistics do not depend on threads or chunking.
    double mean = 0, var = 0;
    for (int64_t j = 0; j < C; ++j) mean += x[j];
    mean /= static_cast<double>(C);
    for (int64_t j = 0; j < C; ++j) var += (x[j] - mean) * (x[j] - mean);
    const double istd = 1.0 / std::sqrt(var / static_cast<double>(C) + eps);
    if (inv_std) inv_std[r] = static_cast<T>(istd);
    for (int64_t j = 0; j < C; ++j) {
      const T xh = static_cast<T>((x[j] - mean) * istd);
      if (x_hat) x_hat[r * C + j] = xh;
      x[j] = gamma[j] * xh + beta[j];
    }
  }
}

template <class T>
void layer_norm_backward(int64_t rows, int64_t H, T* dgx, const T* x_hat, const T* inv_std, const T* gamma,
                         T* dgamma, T* dbeta, bool accumulate) {
  const int64_t C = 2 * H;
  if (!accumulate && dgamma)
    for (int64_t j = 0; j < C; ++j) dgamma[j] = T(0);
  if (!accumulate && dbeta)
    for (int64_t j = 0; j < C; ++j) dbeta[j] = T(0);
  for (int64_t r = 0; r < rows; ++r) {
    T* dy = dgx + r * 3 * H + H;
    const T* xh = x_hat + r * C;
    // d x = inv_std (dxh - mean(dxh) - x_hat mean(dxh x_hat)), dxh = dy gamma.
    double m1 = 0, m2 = 0;
    for (int64_t j = 0; j < C; ++j) {
      const double dxh = static_cast<double>(dy[j]) * gamma[j];
      m1 += dxh;
      m2 += dxh * xh[j];
      if (dgamma) dgamma[j] += dy[j] * xh[j];
      if (dbeta) dbeta[j] += dy[j];
    }
    m1 /= static_cast<double>(C);
    m2 /= static_cast<double>(C);
    for (int64_t j = 0; j < C; ++j) {
      const double dxh = static_cast<double>(dy[j]) * gamma[j];
      dy[j] = static_cast<T>((dxh - m1 - xh[j] * m2) * inv_std[r]);
    }
  }
}

template <class T>
void recurrent_layer_norm_forward(int64_t rows, int64_t H, T* gh, int64_t ld_gh, const T* bias_hh, double eps, T* rec,
                                  int64_t rec_ld) {
  const int64_t C = 2 * H;
  const T* b = bias_hh + H;
  for (int64_t r = 0; r < rows; ++r) {
    T* x = gh + r * ld_gh + H;
    double mean = 0, var = 0;  // of U h = gh - b
    for (int64_t j = 0; j < C; ++j) mean += static_cast<double>(x[j]) - b[j];
    mean /= static_cast<double>(C);
    for (int64_t j = 0; j < C; ++j) {
      const double d = static_cast<double>(x[j]) - b[j] - mean;
      var += d * d;
    }
    const double istd = 1.0 / std::sqrt(var / static_cast<double>(C) + eps);
    T* xh = rec ? rec + r * rec_ld : nullptr;
    if (xh) xh[C] = static_cast<T>(istd);
    for (int64_t j = 0; j < C; ++j) {
      const T v = static_cast<T>((static_cast<double>(x[j]) - b[j] - mean) * istd);
      if (xh) xh[j] = v;
      x[j] = v + b[j];
    }
  }
}

template <class T>
void recurrent_layer_norm_backward(int64_t rows, int64_t H, T* dgh, int64_t ld, const T* rec, int64_t rec_ld) {
  const int64_t C = 2 * H;
  for (int64_t r = 0; r < rows; ++r) {
    T* dy = dgh + r * ld + H;
    const T* xh = rec + r * rec_ld;
    double m1 = 0, m2 = 0;
    for (int64_t j = 0; j < C; ++j) {
      m1 += dy[j];
      m2 += static_cast<double>(dy[j]) * xh[j];
    }
    m1 /= static_cast<double>(C);
    m2 /= static_cast<double>(C);
    const double istd = xh[C];
    for (int64_t j = 0; j < C; ++j) dy[j] = static_cast<T>((dy[j] - m1 - xh[j] * m2) * istd);
  }
}

template void recurrent_layer_norm_forward<float>(int64_t, int64_t, float*, int64_t, const float*, double, float*,
                                                  int64_t);
template void recurrent_layer_norm_forward<double>(int64_t, int64_t, double*, int64_t, const double*, double, double*,
                                                   int64_t);
template void recurrent_layer_norm_backward<float>(int64_t, int64_t, float*, int64_t, const float*, int64_t);
template void recurrent_layer_norm_backward<double>(int64_t, int64_t, double*, int64_t, const double*, int64_t);
template void layer_norm_forward<float>(int64_t, int64_t, float*, const float*, const float*, double, float*, float*);
template void layer_norm_forward<double>(int64_t, int64_t, double*, const double*, const double*, double, double*,
                                         double*);
template void layer_norm_backward<float>(int64_t, int64_t, float*, const float*, const float*, const float*, float*,
                                         float*, bool);
template void layer_norm_backward<double>(int64_t, int64_t, double*, const double*, const double*, const double*,
                                          double*, double*, bool);

}  // namespace fastgru
