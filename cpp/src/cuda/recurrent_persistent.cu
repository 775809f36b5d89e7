// The persistent recurrent kernel (small batch): one cooperative launch runs every step of one
// layer/direction. Block b owns hidden units [b*cols, (b+1)*cols) and loads the W_hh rows of its
// units (all three gates) into shared memory once; then, per step, it reads h_prev (batch x H,
// from L2), forms its units' recurrent products from the on-chip weights, applies the gates and
// writes its slice of h'. A grid-wide barrier (cooperative groups) separates the steps, so a step
// costs one barrier instead of a reload of W_hh from memory; reset-before needs a second barrier
// per step, because W_hn multiplies r ⊙ h, whose columns come from every block.
#include <cooperative_groups.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "cuda/cuda_check.h"
#include "cuda/gates.cuh"
#include "cuda/gemm.cuh"
#include "cuda/ops.h"

namespace cg = cooperative_groups;

namespace fastgru::cuda {
namespace {

constexpr int kMaxBatch = 8;     // accumulators per thread: one per batch row
constexpr int kThreads = 256;    // 8 warps per block
constexpr int64_t kMinCols = 4;  // at least 12 weight rows per block for its 8 warps (untuned)

struct Plan {
  int cols = 0;    // hidden units per block
  int blocks = 0;  // grid size (<= SM count: one block per SM, all co-resident)
  size_t smem = 0;  // dynamic shared memory, bytes
};

template <class T>
Plan plan_for(const ops::DeviceInfo& dev, int64_t H, int64_t batch) {
  Plan p;
  const int64_t sms = std::max(dev.sm_count, 1);
  const int64_t cols = std::max<int64_t>((H + sms - 1) / sms, std::min<int64_t>(kMinCols, H));
  p.cols = static_cast<int>(cols);
  p.blocks = static_cast<int>((H + cols - 1) / cols);
  // W rows (3 cols x H) + their biases (3 cols) + h or r ⊙ h (batch x H) + products (3 x batch x
  // cols) + z and h_prev kept between the two halves of a reset-before step (2 x batch x cols).
  const int64_t elems = 3 * cols * H + 3 * cols + batch * H + 3 * batch * cols + 2 * batch * cols;
  p.smem = static_cast<size_t>(elems) * sizeof(T);
  return p;
}

// Rows [0, live) of a [*, H] matrix with row stride ld into shared memory, bypassing L1: other
// blocks wrote them before the last grid barrier.
template <class T>
__device__ __forceinline__ void load_rows(T* dst, const T* src, int live, int64_t H, int64_t ld) {
  for (int64_t e = threadIdx.x; e < live * H; e += blockDim.x) dst[e] = __ldcg(src + (e / H) * ld + e % H);
}

// Products of this block's weight rows [g0*cols, g1*cols) with the live rows of hs: warp per
// weight row, lanes along k, one accumulator per batch row; gh[row * batch + b] (+ bias).
template <class T>
__device__ __forceinline__ void block_matvec(const T* W, const T* bias, const T* hs, T* gh, int g0, int g1, int cols,
                                             int ncols, int live, int64_t H, int64_t batch) {
  const int lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
  const int nwarps = static_cast<int>(blockDim.x) / 32;
  for (int row = g0 * cols + warp; row < g1 * cols; row += nwarps) {
    if (row % cols >= ncols) continue;  // past H in the last block (warp-uniform)
    const T* w = W + static_cast<int64_t>(row) * H;
    T acc[kMaxBatch];
#pragma unroll
    for (int b = 0; b < kMaxBatch; ++b) acc[b] = T(0);
    for (int64_t k = lane; k < H; k += 32) {
      const T wv = w[k];
#pragma unroll
      for (int b = 0; b < kMaxBatch; ++b)
        if (b < live) acc[b] = fma(wv, hs[b * H + k], acc[b]);
    }
#pragma unroll
    for (int b = 0; b < kMaxBatch; ++b) {
      if (b < live) {  // block-uniform: the shuffles see a full warp
        const T v = dev::warp_sum(acc[b]);
        if (lane == 0) gh[static_cast<int64_t>(row) * batch + b] = v + bias[row];
      }
    }
  }
}

template <class T, bool AFTER, bool GENERAL>
__global__ void __launch_bounds__(kThreads, 1) persistent_kernel(const ops::Persistent<T> p, int cols) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  const int64_t H = p.hidden, B = p.batch;
  T* W = reinterpret_cast<T*>(smem_raw);
  T* bias = W + 3 * cols * H;
  T* hs = bias + 3 * cols;
  T* gh = hs + B * H;
  T* zs = gh + 3 * B * cols;
  T* hps = zs + B * cols;
  const int64_t j0 = static_cast<int64_t>(blockIdx.x) * cols;
  const int ncols = static_cast<int>(H - j0 < cols ? H - j0 : cols);
  cg::grid_group grid = cg::this_grid();

  // This block's rows of W_hh and b_hh, once for all steps (rows g*cols + jj, zero past H).
  for (int64_t e = threadIdx.x; e < 3 * cols * H; e += blockDim.x) {
    const int64_t row = e / H, k = e % H, g = row / cols, jj = row % cols;
    W[e] = jj < ncols ? p.w_hh[(g * H + j0 + jj) * H + k] : T(0);
  }
  for (int e = static_cast<int>(threadIdx.x); e < 3 * cols; e += static_cast<int>(blockDim.x)) {
    const int g = e / cols, jj = e % cols;
    bias[e] = jj < ncols ? p.b_hh[g * H + j0 + jj] : T(0);
  }
  __syncthreads();

  for (int64_t s = 0; s < p.steps; ++s) {
    const int64_t t = p.reverse ? p.steps - 1 - s : s;
    const int live = static_cast<int>(p.batch_sizes ? p.batch_sizes[t] : B);
    const int64_t base = p.offsets ? p.offsets[t] : t * B;
    const T* hp = p.state[s & 1];
    T* hn = p.state[(s & 1) ^ 1];
    const T* gx = p.gx + base * 3 * H;

    load_rows(hs, hp, live, H, H);
    __syncthreads();
    block_matvec(W, bias, hs, gh, 0, AFTER ? 3 : 2, cols, ncols, live, H, B);
    __syncthreads();

    if constexpr (AFTER) {
      for (int e = static_cast<int>(threadIdx.x); e < B * ncols; e += static_cast<int>(blockDim.x)) {
        const int b = e / ncols, jj = e % ncols;
        const int64_t j = j0 + jj;
        if (b >= live) {  // ended sequence: keeps its state
          hn[b * H + j] = __ldcg(hp + b * H + j);
          continue;
        }
        const T* x = gx + b * 3 * H + j;
        T* rec = p.rec ? p.rec + (base + b) * p.rec_ld + j : nullptr;
        const T v = dev::cell_after<T, GENERAL>(p.math, x[0], x[H], x[2 * H], gh[jj * B + b],
                                                gh[(cols + jj) * B + b], gh[(2 * cols + jj) * B + b],
                                                hs[b * H + j], rec, H);
        hn[b * H + j] = v;
        p.y[(base + b) * p.ld_y + j] = v;
      }
    } else {
      // r ⊙ h goes where the W_hn product of every block can read it: the records' aux column,
      // or the scratch rows when no records are kept.
      T* rh = p.rec ? p.rec + base * p.rec_ld + 3 * H : p.rh;
      const int64_t rh_ld = p.rec ? p.rec_ld : H;
      for (int e = static_cast<int>(threadIdx.x); e < live * ncols; e += static_cast<int>(blockDim.x)) {
        const int b = e / ncols, jj = e % ncols;
        const int64_t j = j0 + jj;
        const T* x = gx + b * 3 * H + j;
        T* rec = p.rec ? p.rec + (base + b) * p.rec_ld + j : nullptr;
        const T h_old = hs[b * H + j];
        T z;
        rh[b * rh_ld + j] = dev::cell_before_rz<T, GENERAL>(p.math, x[0], x[H], gh[jj * B + b],
                                                             gh[(cols + jj) * B + b], h_old, rec, H, &z);
        zs[e] = z;
        hps[e] = h_old;
      }
      grid.sync();
      load_rows(hs, rh, live, H, rh_ld);
      __syncthreads();
      block_matvec(W, bias, hs, gh, 2, 3, cols, ncols, live, H, B);
      __syncthreads();
      for (int e = static_cast<int>(threadIdx.x); e < B * ncols; e += static_cast<int>(blockDim.x)) {
        const int b = e / ncols, jj = e % ncols;
        const int64_t j = j0 + jj;
        if (b >= live) {
          hn[b * H + j] = __ldcg(hp + b * H + j);
          continue;
        }
        T* rec = p.rec ? p.rec + (base + b) * p.rec_ld + j : nullptr;
        const T v = dev::cell_before_n<T, GENERAL>(p.math, gx[b * 3 * H + 2 * H + j], gh[(2 * cols + jj) * B + b],
                                                   zs[e], hps[e], rec, H);
        hn[b * H + j] = v;
        p.y[(base + b) * p.ld_y + j] = v;
      }
    }
    grid.sync();
  }
}

template <class T, bool AFTER, bool GENERAL>
void launch(const ops::Persistent<T>& p, const ops::DeviceInfo& dev, const Plan& plan, cudaStream_t s) {
  auto kernel = persistent_kernel<T, AFTER, GENERAL>;
  FASTGRU_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          static_cast<int>(plan.smem)));
  int per_sm = 0;
  FASTGRU_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, plan.smem));
  if (static_cast<int64_t>(per_sm) * dev.sm_count < plan.blocks)
    throw std::runtime_error("persistent GRU kernel: " + std::to_string(plan.blocks) +
                             " blocks cannot all be resident on this device (" + std::to_string(per_sm) +
                             " per SM x " + std::to_string(dev.sm_count) + " SMs)");
  ops::Persistent<T> params = p;
  int cols = plan.cols;
  void* args[] = {&params, &cols};
  FASTGRU_CUDA_CHECK(cudaLaunchCooperativeKernel(reinterpret_cast<const void*>(kernel), dim3(plan.blocks),
                                                 dim3(kThreads), args, plan.smem, s));
}

}  // namespace

namespace ops {

template <class T>
bool persistent_fits(const DeviceInfo& dev, int64_t hidden, int64_t batch) {
  if (!dev.cooperative || batch < 1 || batch > kMaxBatch || hidden < 1) return false;
  const Plan plan = plan_for<T>(dev, hidden, batch);
  return plan.blocks <= dev.sm_count && plan.smem <= static_cast<size_t>(dev.max_smem_optin);
}

template <class T>
void persistent_forward(const Persistent<T>& p, const DeviceInfo& dev, cudaStream_t s) {
  if (!persistent_fits<T>(dev, p.hidden, p.batch))
    throw std::runtime_error("the persistent GRU kernel does not fit this device for hidden_size " +
                             std::to_string(p.hidden) + " and batch " + std::to_string(p.batch));
  if (!p.y) throw std::invalid_argument("persistent GRU kernel: no output buffer");
  if (!p.reset_after && !p.rec && !p.rh) throw std::invalid_argument("persistent GRU kernel: no r*h buffer");
  const Plan plan = plan_for<T>(dev, p.hidden, p.batch);
  if (p.reset_after) {
    if (p.general)
      launch<T, true, true>(p, dev, plan, s);
    else
      launch<T, true, false>(p, dev, plan, s);
  } else {
    if (p.general)
      launch<T, false, true>(p, dev, plan, s);
    else
      launch<T, false, false>(p, dev, plan, s);
  }
}

template bool persistent_fits<float>(const DeviceInfo&, int64_t, int64_t);
template bool persistent_fits<double>(const DeviceInfo&, int64_t, int64_t);
template void persistent_forward<float>(const Persistent<float>&, const DeviceInfo&, cudaStream_t);
template void persistent_forward<double>(const Persistent<double>&, const DeviceInfo&, cudaStream_t);

}  // namespace ops
}  // namespace fastgru::cuda
