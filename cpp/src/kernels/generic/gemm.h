// GEMM micro-kernels (included inside an ISA namespace after its Ops and MR/NV constants).
//
// A tile of MR rows x NV registers: each step over k broadcasts one A value per row and does
// MR*NV fused multiply-adds. Every C element is one fma chain over k in increasing order, started
// from zero, whatever the tile height, panel, batch size or thread split: results are
// bit-identical for a given ISA however the work is cut.

static inline int64_t gemm_min(int64_t a, int64_t b) { return a < b ? a : b; }

static inline int lanes_left(int64_t remaining, int w) {
  return remaining <= 0 ? 0 : (remaining >= w ? w : static_cast<int>(remaining));
}

// LOAD_FULL: B rows may be read NV*W wide (packed panels are zero-padded).
// STORE_FULL: all NV*W columns of C exist.
template <class O, int MR, int NV, bool LOAD_FULL, bool STORE_FULL>
static inline void gemm_tile(int64_t k, const typename O::T* a, int64_t rsa, int64_t csa,
                             const typename O::T* b, int64_t ldb, int64_t ncols,
                             typename O::T* c, int64_t ldc, const typename O::T* bias,
                             bool accumulate) {
  using V = typename O::V;
  constexpr int W = O::W;
  V acc[MR][NV];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = O::zero();
  for (int64_t p = 0; p < k; ++p) {
    const typename O::T* brow = b + p * ldb;
    V bv[NV];
    for (int v = 0; v < NV; ++v)
      bv[v] = LOAD_FULL ? O::load(brow + v * W) : O::load_partial(brow + v * W, lanes_left(ncols - v * W, W));
    const typename O::T* ap = a + p * csa;
    for (int i = 0; i < MR; ++i) {
      const V av = O::set1(ap[i * rsa]);
      for (int v = 0; v < NV; ++v) acc[i][v] = O::fmadd(av, bv[v], acc[i][v]);
    }
  }
  for (int i = 0; i < MR; ++i) {
    typename O::T* crow = c + i * ldc;
    for (int v = 0; v < NV; ++v) {
      const int lanes = STORE_FULL ? W : lanes_left(ncols - v * W, W);
      if (lanes == 0) continue;
      V out = acc[i][v];
      if (bias) out = O::add(out, lanes == W ? O::load(bias + v * W) : O::load_partial(bias + v * W, lanes));
      if (accumulate)
        out = O::add(lanes == W ? O::load(crow + v * W) : O::load_partial(crow + v * W, lanes), out);
      if (lanes == W)
        O::store(crow + v * W, out);
      else
        O::store_partial(crow + v * W, out, lanes);
    }
  }
}

// Runs the tile for `rows` (1..MR) rows by picking the matching instantiation.
template <class O, int MR, int NV, bool LOAD_FULL, bool STORE_FULL>
static inline void gemm_rows(int rows, int64_t k, const typename O::T* a, int64_t rsa, int64_t csa,
                             const typename O::T* b, int64_t ldb, int64_t ncols, typename O::T* c,
                             int64_t ldc, const typename O::T* bias, bool accumulate) {
  if constexpr (MR > 0) {
    if (rows == MR) {
      gemm_tile<O, MR, NV, LOAD_FULL, STORE_FULL>(k, a, rsa, csa, b, ldb, ncols, c, ldc, bias,
                                                 accumulate);
    } else {
      gemm_rows<O, MR - 1, NV, LOAD_FULL, STORE_FULL>(rows, k, a, rsa, csa, b, ldb, ncols, c, ldc,
                                                     bias, accumulate);
    }
  }
}

template <class O, int MR, int NV, bool PACKED>
static void gemm_body(const GemmArgs<typename O::T>& g) {
  constexpr int64_t NR = NV * O::W;
  for (int64_t j0 = 0; j0 < g.n; j0 += NR) {
    const int64_t ncols = gemm_min(NR, g.n - j0);
    const typename O::T* b = PACKED ? g.b + j0 * g.k : g.b + j0;
    const int64_t ldb = PACKED ? NR : g.b_row_stride;
    const typename O::T* bias = g.bias ? g.bias + j0 : nullptr;
    for (int64_t i0 = 0; i0 < g.m; i0 += MR) {
      const int rows = static_cast<int>(gemm_min(MR, g.m - i0));
      const typename O::T* a = g.a + i0 * g.a_row_stride;
      typename O::T* c = g.c + i0 * g.ldc + j0;
      if (ncols == NR) {
        gemm_rows<O, MR, NV, true, true>(rows, g.k, a, g.a_row_stride, g.a_col_stride, b, ldb, ncols,
                                         c, g.ldc, bias, g.accumulate);
      } else {
        gemm_rows<O, MR, NV, PACKED, false>(rows, g.k, a, g.a_row_stride, g.a_col_stride, b, ldb,
                                            ncols, c, g.ldc, bias, g.accumulate);
      }
    }
  }
}

// out[p][kk][c] = w[p*NR + c][kk]: panels of NR output columns, k-major, zero-padded.
template <class O, int NV>
static void pack_weights_body(const typename O::T* w, int64_t n, int64_t k, typename O::T* out) {
  constexpr int64_t NR = NV * O::W;
  for (int64_t j0 = 0; j0 < n; j0 += NR) {
    typename O::T* panel = out + j0 * k;
    for (int64_t kk = 0; kk < k; ++kk)
      for (int64_t c = 0; c < NR; ++c)
        panel[kk * NR + c] = (j0 + c < n) ? w[(j0 + c) * k + kk] : typename O::T(0);
  }
}
