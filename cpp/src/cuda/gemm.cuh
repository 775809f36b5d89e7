// The backend's own GEMMs (no cuBLAS): FMA kernels on shared-memory tiles, correct for any shape
// (every tile edge is bounds-checked, so tails in m, n and k need no padding) and any of the four
// operand layouts the GRU needs (see ops::Gemm). Two families:
//  - gemm_tiled: BM x BN output tiles, BK-deep slabs of A and B staged in shared memory, TM x TN
//    outputs per thread held in registers; the big input projections and weight gradients.
//  - gemm_skinny_*: m <= 8 rows (per-step recurrent products at small batch, streaming steps),
//    where a tiled GEMM would compute mostly padding; these read each weight once, coalesced.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/ops.h"

namespace fastgru::cuda::dev {

template <class T>
__device__ __forceinline__ T load_a(const ops::Gemm<T>& g, int64_t i, int64_t p) {
  return g.a_trans ? g.a[p * g.lda + i] : g.a[i * g.lda + p];
}

template <class T>
__device__ __forceinline__ T load_b(const ops::Gemm<T>& g, int64_t p, int64_t j) {
  return g.b_trans ? g.b[j * g.ldb + p] : g.b[p * g.ldb + j];
}

template <class T>
__device__ __forceinline__ void store_c(const ops::Gemm<T>& g, int64_t i, int64_t j, T v) {
  if (g.bias) v += g.bias[j];
  T* c = g.c + i * g.ldc + j;
  *c = g.accumulate ? *c + v : v;
}

// Tiles are stored k-major (As[p][i], Bs[p][j]) so the inner product loop reads a row of each.
// A thread owns rows ty + t*(BM/TM) and columns tx + t*(BN/TN): neighbouring threads read
// neighbouring shared-memory words (no bank conflicts) and write neighbouring C columns.
// AT / BT fix the layout at compile time so each tile load walks the operand's contiguous axis
// with consecutive threads (coalesced global reads).
// MINB: blocks per SM the register budget must allow (2 keeps the 128x128 tile at <= 128
// registers, so two blocks share an SM and hide each other's barrier waits).
template <class T, bool AT, bool BT, int BM, int BN, int BK, int TM, int TN, int MINB>
__global__ void __launch_bounds__((BM / TM) * (BN / TN), MINB) gemm_tiled(const ops::Gemm<T> g) {
  constexpr int TX = BN / TN, TY = BM / TM, NT = TX * TY;
  // +1: the transposing stores of a k-contiguous operand hit distinct banks.
  __shared__ T As[BK][BM + 1];
  __shared__ T Bs[BK][BN + 1];
  const int tx = static_cast<int>(threadIdx.x) % TX, ty = static_cast<int>(threadIdx.x) / TX;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * BM, n0 = static_cast<int64_t>(blockIdx.x) * BN;

  T acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = T(0);

  for (int64_t k0 = 0; k0 < g.k; k0 += BK) {
#pragma unroll
    for (int e = static_cast<int>(threadIdx.x); e < BM * BK; e += NT) {
      const int i = AT ? e % BM : e / BK;
      const int p = AT ? e / BM : e % BK;
      const int64_t gi = m0 + i, gp = k0 + p;
      T v = T(0);
      if (gi < g.m && gp < g.k) v = AT ? g.a[gp * g.lda + gi] : g.a[gi * g.lda + gp];
      As[p][i] = v;
    }
#pragma unroll
    for (int e = static_cast<int>(threadIdx.x); e < BN * BK; e += NT) {
      const int j = BT ? e / BK : e % BN;
      const int p = BT ? e % BK : e / BN;
      const int64_t gj = n0 + j, gp = k0 + p;
      T v = T(0);
      if (gj < g.n && gp < g.k) v = BT ? g.b[gj * g.ldb + gp] : g.b[gp * g.ldb + gj];
      Bs[p][j] = v;
    }
    __syncthreads();
#pragma unroll
    for (int p = 0; p < BK; ++p) {
      T a[TM], b[TN];
#pragma unroll
      for (int i = 0; i < TM; ++i) a[i] = As[p][ty + i * TY];
#pragma unroll
      for (int j = 0; j < TN; ++j) b[j] = Bs[p][tx + j * TX];
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int64_t gi = m0 + ty + i * TY;
    if (gi >= g.m) continue;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int64_t gj = n0 + tx + j * TX;
      if (gj < g.n) store_c(g, gi, gj, acc[i][j]);
    }
  }
}

constexpr int kSkinnyRows = 8;  // the most rows the skinny kernels take
constexpr int kSkinnyChunk = 256;  // k values of A staged in shared memory at a time

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// m <= 8 rows, B = Wᵀ with W [n, k] row-major (b_trans): one warp per output column j reads W's
// row j once, coalesced along k, and multiplies it into every row of A (staged in shared memory).
template <class T, int WARPS>
__global__ void __launch_bounds__(WARPS * 32) gemm_skinny_bt(const ops::Gemm<T> g) {
  __shared__ T As[kSkinnyRows][kSkinnyChunk];
  const int lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
  const int64_t j = static_cast<int64_t>(blockIdx.x) * WARPS + warp;
  const int rows = static_cast<int>(g.m);
  T acc[kSkinnyRows];
#pragma unroll
  for (int i = 0; i < kSkinnyRows; ++i) acc[i] = T(0);
  for (int64_t k0 = 0; k0 < g.k; k0 += kSkinnyChunk) {
    const int kc = static_cast<int>(g.k - k0 < kSkinnyChunk ? g.k - k0 : kSkinnyChunk);
    for (int e = static_cast<int>(threadIdx.x); e < rows * kc; e += WARPS * 32)
      As[e / kc][e % kc] = load_a(g, e / kc, k0 + e % kc);
    __syncthreads();
    if (j < g.n) {
      const T* w = g.b + j * g.ldb + k0;
      for (int p = lane; p < kc; p += 32) {
        const T wv = w[p];
#pragma unroll
        for (int i = 0; i < kSkinnyRows; ++i)
          if (i < rows) acc[i] = fma(As[i][p], wv, acc[i]);
      }
    }
    __syncthreads();
  }
  if (j >= g.n) return;
#pragma unroll
  for (int i = 0; i < kSkinnyRows; ++i) {
    if (i >= rows) break;
    const T v = warp_sum(acc[i]);
    if (lane == 0) store_c(g, i, j, v);
  }
}

// m <= 8 rows, B [k, n] with n contiguous (not b_trans): lanes take 32 neighbouring columns
// (coalesced rows of B), the block's warps take interleaved slices of k, and the slices are summed
// in a fixed order at the end.
template <class T, int WARPS>
__global__ void __launch_bounds__(WARPS * 32) gemm_skinny_bn(const ops::Gemm<T> g) {
  __shared__ T part[WARPS][kSkinnyRows][32];
  const int lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
  const int64_t j = static_cast<int64_t>(blockIdx.x) * 32 + lane;
  const int rows = static_cast<int>(g.m);
  T acc[kSkinnyRows];
#pragma unroll
  for (int i = 0; i < kSkinnyRows; ++i) acc[i] = T(0);
  if (j < g.n) {
    for (int64_t p = warp; p < g.k; p += WARPS) {
      const T bv = g.b[p * g.ldb + j];
#pragma unroll
      for (int i = 0; i < kSkinnyRows; ++i)
        if (i < rows) acc[i] = fma(load_a(g, i, p), bv, acc[i]);  // the same A word for the warp: a broadcast
    }
  }
#pragma unroll
  for (int i = 0; i < kSkinnyRows; ++i) part[warp][i][lane] = acc[i];
  __syncthreads();
  if (warp != 0 || j >= g.n) return;
  for (int i = 0; i < rows; ++i) {
    T v = part[0][i][lane];
#pragma unroll
    for (int w = 1; w < WARPS; ++w) v += part[w][i][lane];
    store_c(g, i, j, v);
  }
}

}  // namespace fastgru::cuda::dev
