// Launchers of the GEMM, gate and small layout kernels (ops.h), each kernel compiled here once
// for float and double. Kernel choice happens here; the orchestration never sees a grid size.
#include <algorithm>
#include <type_traits>

#include "cuda/cuda_check.h"
#include "cuda/gates.cuh"
#include "cuda/gemm.cuh"
#include "cuda/ops.h"

namespace fastgru::cuda {
namespace dev {

// ---------------------------------------------------------------------------------------------
// Packing, slots, dropout, column sums, batch norm.

template <class T>
__global__ void gather_rows_kernel(const T* src, const int64_t* index, int64_t rows, int64_t width, T* dst) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= rows * width) return;
  const int64_t i = e / width, c = e % width;
  dst[e] = src[(index ? index[i] : i) * width + c];
}

template <class T>
__global__ void scatter_rows_kernel(const T* src, const int64_t* index, int64_t rows, int64_t width, T* dst) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= rows * width) return;
  const int64_t i = e / width, c = e % width;
  dst[(index ? index[i] : i) * width + c] = src[e];
}

template <class T>
__global__ void to_slots_kernel(const T* src, const int64_t* order, int64_t batch, int64_t width, T* dst) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= batch * width) return;
  const int64_t j = e / width, c = e % width;
  dst[e] = src ? src[(order ? order[j] : j) * width + c] : T(0);
}

// The CPU core's mask hash (dropout.h), bit for bit: masks agree between the two backends.
__device__ __forceinline__ uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

template <class T>
__global__ void dropout_kernel(T* a, int64_t rows, int64_t width, const int64_t* row_src, int64_t batch,
                               uint64_t seed, int64_t layer, double p) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= rows * width) return;
  const int64_t i = e / width, f = e % width;
  const int64_t src = row_src ? row_src[i] : i;
  const int64_t step = src / batch, sequence = src % batch;
  uint64_t h = splitmix64(seed ^ splitmix64(static_cast<uint64_t>(layer)));
  h = splitmix64(h ^ static_cast<uint64_t>(step));
  h = splitmix64(h ^ static_cast<uint64_t>(sequence));
  h = splitmix64(h ^ static_cast<uint64_t>(f));
  const double u = static_cast<double>(h >> 11) * 0x1.0p-53;
  a[e] *= u < p ? T(0) : static_cast<T>(1.0 / (1.0 - p));
}

constexpr int kColumns = 32, kRowGroups = 8;  // column-reduction blocks: 32 columns x 8 row groups

// Sums over rows of column j of `a` (ld lda) in a fixed order: row group g takes rows g, g+8, ...,
// then the groups are added in order. Every thread of the block must call it.
template <class Acc, class F>
__device__ __forceinline__ Acc column_reduce(int64_t rows, F&& value, Acc (*part)[kColumns]) {
  const int lane = static_cast<int>(threadIdx.x) % kColumns, group = static_cast<int>(threadIdx.x) / kColumns;
  Acc s = Acc(0);
  for (int64_t r = group; r < rows; r += kRowGroups) s += value(r);
  part[group][lane] = s;
  __syncthreads();
  Acc total = part[0][lane];
#pragma unroll
  for (int g = 1; g < kRowGroups; ++g) total += part[g][lane];
  __syncthreads();  // part may be reused by the caller's next reduction
  return total;
}

template <class T>
__global__ void __launch_bounds__(kColumns* kRowGroups)
    column_sums_kernel(const T* a, int64_t rows, int64_t cols, int64_t lda, T* out) {
  __shared__ T part[kRowGroups][kColumns];
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kColumns + threadIdx.x % kColumns;
  const bool ok = j < cols;
  const T s = column_reduce<T>(rows, [&](int64_t r) { return ok ? a[r * lda + j] : T(0); }, part);
  if (ok && threadIdx.x < kColumns) out[j] = s;
}

// Batch statistics of columns [H, 3H) of gx: mean and 1/std into scratch (double), the batch
// mean and unbiased variance into stats_out, 1/std into inv_std (both T, optional).
template <class T>
__global__ void __launch_bounds__(kColumns* kRowGroups)
    bn_batch_stats_kernel(int64_t rows, int64_t H, const T* gx, double eps, double* scratch, T* inv_std,
                          T* stats_out) {
  __shared__ double part[kRowGroups][kColumns];
  const int64_t C = 2 * H, ld = 3 * H;
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kColumns + threadIdx.x % kColumns;
  const bool ok = j < C;
  const T* col = gx + H + j;
  const double mean =
      column_reduce<double>(rows, [&](int64_t r) { return ok ? static_cast<double>(col[r * ld]) : 0.0; }, part) /
      static_cast<double>(rows);
  const double ss = column_reduce<double>(rows, [&](int64_t r) {
    if (!ok) return 0.0;
    const double d = col[r * ld] - mean;
    return d * d;
  }, part);
  if (!ok || threadIdx.x >= kColumns) return;
  if (stats_out) {
    stats_out[j] = static_cast<T>(mean);
    stats_out[C + j] = static_cast<T>(rows > 1 ? ss / static_cast<double>(rows - 1) : 0.0);
  }
  const double istd = 1.0 / sqrt(ss / static_cast<double>(rows) + eps);
  scratch[j] = mean;
  scratch[C + j] = istd;
  if (inv_std) inv_std[j] = static_cast<T>(istd);
}

template <class T>
__global__ void bn_running_stats_kernel(int64_t H, const T* running_mean, const T* running_var, double eps,
                                        double* scratch, T* inv_std) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t C = 2 * H;
  if (j >= C) return;
  const double istd = 1.0 / sqrt(static_cast<double>(running_var[j]) + eps);
  scratch[j] = running_mean[j];
  scratch[C + j] = istd;
  if (inv_std) inv_std[j] = static_cast<T>(istd);
}

template <class T>
__global__ void bn_apply_kernel(int64_t rows, int64_t H, T* gx, const T* gamma, const T* beta, const double* scratch,
                                T* x_hat) {
  const int64_t C = 2 * H;
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= rows * C) return;
  const int64_t r = e / C, j = e % C;
  T& v = gx[r * 3 * H + H + j];
  const T xh = static_cast<T>((v - scratch[j]) * scratch[C + j]);
  if (x_hat) x_hat[r * C + j] = xh;
  v = gamma[j] * xh + beta[j];
}

template <class T>
__global__ void __launch_bounds__(kColumns* kRowGroups)
    bn_grad_sums_kernel(int64_t rows, int64_t H, const T* dgx, const T* x_hat, double* scratch, T* dgamma,
                        T* dbeta) {
  __shared__ double part[kRowGroups][kColumns];
  const int64_t C = 2 * H, ld = 3 * H;
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kColumns + threadIdx.x % kColumns;
  const bool ok = j < C;
  const T* col = dgx + H + j;
  const double sum_dy =
      column_reduce<double>(rows, [&](int64_t r) { return ok ? static_cast<double>(col[r * ld]) : 0.0; }, part);
  const double sum_dy_xh = column_reduce<double>(rows, [&](int64_t r) {
    return ok ? static_cast<double>(col[r * ld]) * static_cast<double>(x_hat[r * C + j]) : 0.0;
  }, part);
  if (!ok || threadIdx.x >= kColumns) return;
  scratch[j] = sum_dy;
  scratch[C + j] = sum_dy_xh;
  if (dgamma) dgamma[j] = static_cast<T>(sum_dy_xh);
  if (dbeta) dbeta[j] = static_cast<T>(sum_dy);
}

template <class T>
__global__ void bn_grad_apply_kernel(int64_t rows, int64_t H, T* dgx, const T* x_hat, const T* inv_std,
                                     const T* gamma, bool batch_stats, const double* scratch) {
  const int64_t C = 2 * H;
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= rows * C) return;
  const int64_t r = e / C, j = e % C;
  T& v = dgx[r * 3 * H + H + j];
  const double n = static_cast<double>(rows);
  const double dxh = static_cast<double>(v) * gamma[j];
  // Batch statistics: dx = inv_std (dxh - mean(dxh) - x_hat mean(dxh x_hat)).
  const double d = batch_stats ? dxh - gamma[j] * (scratch[j] + x_hat[r * C + j] * scratch[C + j]) / n : dxh;
  v = static_cast<T>(d * inv_std[j]);
}

}  // namespace dev

namespace ops {
namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t n, int threads = kThreads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

template <class T, int BM, int BN, int BK, int TM, int TN, int MINB = 1>
void launch_tiled(const Gemm<T>& g, cudaStream_t s) {
  constexpr int64_t kMaxGridY = 65535;
  const unsigned gx = static_cast<unsigned>((g.n + BN - 1) / BN);
  // grid.y is limited to 65535 tiles: taller problems run in slabs of rows.
  for (int64_t r0 = 0; r0 < g.m; r0 += kMaxGridY * BM) {
    Gemm<T> part = g;
    part.m = std::min<int64_t>(g.m - r0, kMaxGridY * BM);
    part.a = g.a_trans ? g.a + r0 : g.a + r0 * g.lda;
    part.c = g.c + r0 * g.ldc;
    const dim3 grid(gx, static_cast<unsigned>((part.m + BM - 1) / BM));
    constexpr int threads = (BM / TM) * (BN / TN);
    if (g.a_trans) {
      if (g.b_trans) {
        // Both operands transposed: no GRU product has this layout; kept (small tiles only) so
        // gemm() takes every layout.
        if constexpr (MINB == 1) dev::gemm_tiled<T, true, true, BM, BN, BK, TM, TN, MINB><<<grid, threads, 0, s>>>(part);
      } else
        dev::gemm_tiled<T, true, false, BM, BN, BK, TM, TN, MINB><<<grid, threads, 0, s>>>(part);
    } else {
      if (g.b_trans)
        dev::gemm_tiled<T, false, true, BM, BN, BK, TM, TN, MINB><<<grid, threads, 0, s>>>(part);
      else
        // Row-major A and B: both loaders index in 64 bits and 128 registers would spill.
        dev::gemm_tiled<T, false, false, BM, BN, BK, TM, TN, 1><<<grid, threads, 0, s>>>(part);
    }
    FASTGRU_CUDA_CHECK_LAUNCH();
  }
}

template <class T>
int64_t tiles(const Gemm<T>& g, int bm, int bn) {
  return ((g.m + bm - 1) / bm) * ((g.n + bn - 1) / bn);
}

}  // namespace

template <class T>
void gemm(const Gemm<T>& g, const DeviceInfo& dev, cudaStream_t s) {
  if (g.m <= 0 || g.n <= 0) return;  // (k = 0 is fine: every kernel then stores the bias or zero)
  constexpr int kWarps = 8;
  if (g.m <= dev::kSkinnyRows) {
    if (g.b_trans)
      dev::gemm_skinny_bt<T, kWarps><<<blocks_for(g.n, kWarps), kWarps * 32, 0, s>>>(g);
    else
      dev::gemm_skinny_bn<T, kWarps><<<blocks_for(g.n, 32), kWarps * 32, 0, s>>>(g);
    FASTGRU_CUDA_CHECK_LAUNCH();
    return;
  }
  // The biggest tile that still gives every SM a block (fewer, larger tiles reuse each loaded
  // value more; too few leave SMs idle). 128x128 holds 64 accumulators a thread: float only.
  if constexpr (std::is_same_v<T, float>) {
    if (!(g.a_trans && g.b_trans) && tiles(g, 128, 128) >= dev.sm_count)
      return launch_tiled<T, 128, 128, 8, 8, 8, 2>(g, s);
  }
  if (tiles(g, 64, 64) >= dev.sm_count)
    launch_tiled<T, 64, 64, 16, 4, 4>(g, s);
  else
    launch_tiled<T, 32, 32, 32, 2, 2>(g, s);
}

template <class T>
void gates_forward_after(const GateForward<T>& g, cudaStream_t s) {
  const unsigned blocks = blocks_for(g.batch * g.hidden);
  if (g.general)
    dev::gates_forward_after_kernel<T, true><<<blocks, kThreads, 0, s>>>(g);
  else
    dev::gates_forward_after_kernel<T, false><<<blocks, kThreads, 0, s>>>(g);
  FASTGRU_CUDA_CHECK_LAUNCH();
}

template <class T>
void gates_forward_before_rz(const GateForward<T>& g, cudaStream_t s) {
  const unsigned blocks = blocks_for(g.rows * g.hidden);
  if (g.general)
    dev::gates_forward_before_rz_kernel<T, true><<<blocks, kThreads, 0, s>>>(g);
  else
    dev::gates_forward_before_rz_kernel<T, false><<<blocks, kThreads, 0, s>>>(g);
  FASTGRU_CUDA_CHECK_LAUNCH();
}

template <class T>
void gates_forward_before_n(const GateForward<T>& g, cudaStream_t s) {
  const unsigned blocks = blocks_for(g.batch * g.hidden);
  if (g.general)
    dev::gates_forward_before_n_kernel<T, true><<<blocks, kThreads, 0, s>>>(g);
  else
    dev::gates_forward_before_n_kernel<T, false><<<blocks, kThreads, 0, s>>>(g);
  FASTGRU_CUDA_CHECK_LAUNCH();
}

template <class T>
void gates_backward_after(const GateBackward<T>& g, cudaStream_t s) {
  const unsigned blocks = blocks_for(g.rows * g.hidden);
  if (g.general)
    dev::gates_backward_after_kernel<T, true><<<blocks, kThreads, 0, s>>>(g);
  else
    dev::gates_backward_after_kernel<T, false><<<blocks, kThreads, 0, s>>>(g);
  FASTGRU_CUDA_CHECK_LAUNCH();
}

template <class T>
void gates_backward_before_n(const GateBackward<T>& g, cudaStream_t s) {
  const unsigned blocks = blocks_for(g.rows * g.hidden);
  if (g.general)
    dev::gates_backward_before_n_kernel<T, true><<<blocks, kThreads, 0, s>>>(g);
  else
    dev::gates_backward_before_n_kernel<T, false><<<blocks, kThreads, 0, s>>>(g);
  FASTGRU_CUDA_CHECK_LAUNCH();
}

template <class T>
void gates_backward_before_r(const GateBackward<T>& g, cudaStream_t s) {
  const unsigned blocks = blocks_for(g.rows * g.hidden);
  if (g.general)
    dev::gates_backward_before_r_kernel<T, true><<<blocks, kThreads, 0, s>>>(g);
  else
    dev::gates_backward_before_r_kernel<T, false><<<blocks, kThreads, 0, s>>>(g);
  FASTGRU_CUDA_CHECK_LAUNCH();
}

template <class T>
void gather_rows(const T* src, const int64_t* index, int64_t rows, int64_t width, T* dst, cudaStream_t s) {
  if (rows * width == 0) return;
  dev::gather_rows_kernel<T><<<blocks_for(rows * width), kThreads, 0, s>>>(src, index, rows, width, dst);
  FASTGRU_CUDA_CHECK_LAUNCH();
}

template <class T>
void scatter_rows(const T* src, const int64_t* index, int64_t rows, int64_t width, T* dst, int64_t zero_rows,
                  cudaStream_t s) {
  if (zero_rows > 0) FASTGRU_CUDA_CHECK(cudaMemsetAsync(dst, 0, sizeof(T) * zero_rows * width, s));
  if (rows * width == 0) return;
  dev::scatter_rows_kernel<T><<<blocks_for(rows * width), kThreads, 0, s>>>(src, index, rows, width, dst);
  FASTGRU_CUDA_CHECK_LAUNCH();
}

template <class T>
void to_slots(const T* src, const int64_t* order, int64_t batch, int64_t width, T* dst, cudaStream_t s) {
  dev::to_slots_kernel<T><<<blocks_for(batch * width), kThreads, 0, s>>>(src, order, batch, width, dst);
  FASTGRU_CUDA_CHECK_LAUNCH();
}

template <class T>
void apply_dropout(T* a, int64_t rows, int64_t width, const int64_t* row_src, int64_t batch, uint64_t seed,
                   int64_t layer, double p, cudaStream_t s) {
  if (rows * width == 0) return;
  dev::dropout_kernel<T><<<blocks_for(rows * width), kThreads, 0, s>>>(a, rows, width, row_src, batch, seed, layer, p);
  FASTGRU_CUDA_CHECK_LAUNCH();
}

template <class T>
void column_sums(const T* a, int64_t rows, int64_t cols, int64_t lda, T* out, cudaStream_t s) {
  dev::column_sums_kernel<T>
      <<<blocks_for(cols, dev::kColumns), dev::kColumns * dev::kRowGroups, 0, s>>>(a, rows, cols, lda, out);
  FASTGRU_CUDA_CHECK_LAUNCH();
}

template <class T>
void batch_norm_forward(int64_t rows, int64_t H, T* gx, const T* gamma, const T* beta, const T* running_mean,
                        const T* running_var, double eps, bool batch_stats, T* x_hat, T* inv_std, T* stats_out,
                        double* scratch, cudaStream_t s) {
  const int64_t C = 2 * H;
  if (batch_stats)
    dev::bn_batch_stats_kernel<T><<<blocks_for(C, dev::kColumns), dev::kColumns * dev::kRowGroups, 0, s>>>(
        rows, H, gx, eps, scratch, inv_std, stats_out);
  else
    dev::bn_running_stats_kernel<T><<<blocks_for(C), kThreads, 0, s>>>(H, running_mean, running_var, eps, scratch,
                                                                       inv_std);
  FASTGRU_CUDA_CHECK_LAUNCH();
  dev::bn_apply_kernel<T><<<blocks_for(rows * C), kThreads, 0, s>>>(rows, H, gx, gamma, beta, scratch, x_hat);
  FASTGRU_CUDA_CHECK_LAUNCH();
}

template <class T>
void batch_norm_backward(int64_t rows, int64_t H, T* dgx, const T* x_hat, const T* inv_std, const T* gamma,
                         bool batch_stats, T* dgamma, T* dbeta, double* scratch, cudaStream_t s) {
  const int64_t C = 2 * H;
  dev::bn_grad_sums_kernel<T><<<blocks_for(C, dev::kColumns), dev::kColumns * dev::kRowGroups, 0, s>>>(
      rows, H, dgx, x_hat, scratch, dgamma, dbeta);
  FASTGRU_CUDA_CHECK_LAUNCH();
  dev::bn_grad_apply_kernel<T>
      <<<blocks_for(rows * C), kThreads, 0, s>>>(rows, H, dgx, x_hat, inv_std, gamma, batch_stats, scratch);
  FASTGRU_CUDA_CHECK_LAUNCH();
}

#define FASTGRU_INSTANTIATE(T)                                                                                     \
  template void gemm<T>(const Gemm<T>&, const DeviceInfo&, cudaStream_t);                                          \
  template void gates_forward_after<T>(const GateForward<T>&, cudaStream_t);                                       \
  template void gates_forward_before_rz<T>(const GateForward<T>&, cudaStream_t);                                   \
  template void gates_forward_before_n<T>(const GateForward<T>&, cudaStream_t);                                    \
  template void gates_backward_after<T>(const GateBackward<T>&, cudaStream_t);                                     \
  template void gates_backward_before_n<T>(const GateBackward<T>&, cudaStream_t);                                  \
  template void gates_backward_before_r<T>(const GateBackward<T>&, cudaStream_t);                                  \
  template void gather_rows<T>(const T*, const int64_t*, int64_t, int64_t, T*, cudaStream_t);                      \
  template void scatter_rows<T>(const T*, const int64_t*, int64_t, int64_t, T*, int64_t, cudaStream_t);            \
  template void to_slots<T>(const T*, const int64_t*, int64_t, int64_t, T*, cudaStream_t);                         \
  template void apply_dropout<T>(T*, int64_t, int64_t, const int64_t*, int64_t, uint64_t, int64_t, double,         \
                                 cudaStream_t);                                                                    \
  template void column_sums<T>(const T*, int64_t, int64_t, int64_t, T*, cudaStream_t);                             \
  template void batch_norm_forward<T>(int64_t, int64_t, T*, const T*, const T*, const T*, const T*, double, bool, \
                                      T*, T*, T*, double*, cudaStream_t);                                          \
  template void batch_norm_backward<T>(int64_t, int64_t, T*, const T*, const T*, const T*, bool, T*, T*, double*, \
                                       cudaStream_t);
FASTGRU_INSTANTIATE(float)
FASTGRU_INSTANTIATE(double)
#undef FASTGRU_INSTANTIATE

}  // namespace ops
}  // namespace fastgru::cuda
