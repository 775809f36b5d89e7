// GEMM micro-kernels (included inside an ISA namespace after its Ops and MR/NV constants).
//
// A tile of MR rows x NV registers: each step over k broadcasts one A value per row and does
// MR*NV fused multiply-adds. Every C element is one fma chain over k in increasing order, started
// from zero, whatever the tile height, panel, batch size or thread split: results are
// bit-identical for a given ISA however the work is cut.

static inline int64_t gemm_min(int64_t a, int64_t b) { return a < b ? a : b; }

// For micro-kernels that must keep their own register allocation: inlined into a caller's loops,
// GCC has run short of registers and spilled B or accumulators to the stack in the k-loop.
#ifndef FASTGRU_NOINLINE
#if defined(_MSC_VER) && !defined(__clang__)
#define FASTGRU_NOINLINE __declspec(noinline)
#else
#define FASTGRU_NOINLINE __attribute__((noinline))
#endif
#endif

// A hint that the line at p will be written soon (MSVC has no __builtin_prefetch).
static inline void prefetch_for_write(const void* p) {
#if defined(_MSC_VER) && !defined(__clang__)
#if defined(_M_X64) || defined(_M_IX86)
  _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0);
#else
  (void)p;
#endif
#else
  __builtin_prefetch(p, 1, 3);
#endif
}

static inline int lanes_left(int64_t remaining, int w) {
  return remaining <= 0 ? 0 : (remaining >= w ? w : static_cast<int>(remaining));
}

// LOAD_FULL: B rows may be read NV*W wide (packed panels are zero-padded).
// STORE_FULL: all NV*W columns of C exist.
// NV registers per row; every NVP of them come from one B panel, the next NVP from the panel
// `panel_stride` elements further (several gates' panels at once for 1-2 row products, where
// one panel alone would leave too few independent FMA chains to hide their latency).
// A_PACKED: A is an MR-row panel (a[p * MR + i]); the strides are then compile-time constants,
// so every broadcast is a fixed offset from one pointer.
// GATED: the panels are the same columns of different gates; panel q's C (and bias) columns
// start c_panel_stride elements after panel q-1's, and ncols counts the columns of one panel.
template <class O, int MR, int NV, bool LOAD_FULL, bool STORE_FULL, int NVP = NV, bool A_PACKED = false,
          bool GATED = false>
static inline void gemm_tile(int64_t k, const typename O::T* a, int64_t rsa, int64_t csa,
                             const typename O::T* b, int64_t ldb, int64_t ncols,
                             typename O::T* c, int64_t ldc, const typename O::T* bias,
                             bool accumulate, int64_t panel_stride = 0, int64_t c_panel_stride = 0) {
  using V = typename O::V;
  constexpr int W = O::W;
  V acc[MR][NV];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = O::zero();
  if constexpr (!GATED) {
    for (int i = 0; i < MR; ++i)
      for (int64_t off = 0; off < int64_t{NV} * W; off += 64 / int64_t{sizeof(typename O::T)})
        prefetch_for_write(c + i * ldc + off);
  }
  for (int64_t p = 0; p < k; ++p) {
    const typename O::T* brow = b + p * ldb;
    V bv[NV];
    for (int v = 0; v < NV; ++v)
      bv[v] = LOAD_FULL ? O::load(brow + (v / NVP) * panel_stride + (v % NVP) * W)
                        : O::load_partial(brow + v * W, lanes_left(ncols - v * W, W));
    const typename O::T* ap = A_PACKED ? a + p * MR : a + p * csa;
    for (int i = 0; i < MR; ++i) {
      const V av = O::set1(A_PACKED ? ap[i] : ap[i * rsa]);
      for (int v = 0; v < NV; ++v) acc[i][v] = O::fmadd(av, bv[v], acc[i][v]);
    }
  }
  for (int i = 0; i < MR; ++i) {
    typename O::T* crow = c + i * ldc;
    for (int v = 0; v < NV; ++v) {
      const int64_t off = GATED ? (v / NVP) * c_panel_stride + (v % NVP) * W : int64_t{v} * W;
      const int lanes = STORE_FULL ? W : lanes_left(GATED ? ncols - (v % NVP) * W : ncols - v * W, W);
      if (lanes == 0) continue;
      V out = acc[i][v];
      if (bias) out = O::add(out, lanes == W ? O::load(bias + off) : O::load_partial(bias + off, lanes));
      if (accumulate)
        out = O::add(lanes == W ? O::load(crow + off) : O::load_partial(crow + off, lanes), out);
      if (lanes == W)
        O::store(crow + off, out);
      else
        O::store_partial(crow + off, out, lanes);
    }
  }
}

// Runs the tile for `rows` (1..MR) rows by picking the matching instantiation. A packed A panel
// is PANEL_MR rows wide: the full tile reads it with compile-time offsets, a shorter one (the
// last rows of a block) with the panel's runtime strides.
template <class O, int MR, int NV, bool LOAD_FULL, bool STORE_FULL, bool A_PACKED, int PANEL_MR = MR>
static inline void gemm_rows(int rows, int64_t k, const typename O::T* a, int64_t rsa, int64_t csa,
                             const typename O::T* b, int64_t ldb, int64_t ncols, typename O::T* c,
                             int64_t ldc, const typename O::T* bias, bool accumulate) {
  if constexpr (MR > 0) {
    if (rows == MR) {
      if constexpr (A_PACKED && MR == PANEL_MR)
        gemm_tile<O, MR, NV, LOAD_FULL, STORE_FULL, NV, true>(k, a, 1, MR, b, ldb, ncols, c, ldc, bias, accumulate);
      else
        gemm_tile<O, MR, NV, LOAD_FULL, STORE_FULL>(k, a, rsa, csa, b, ldb, ncols, c, ldc, bias, accumulate);
    } else {
      gemm_rows<O, MR - 1, NV, LOAD_FULL, STORE_FULL, A_PACKED, PANEL_MR>(rows, k, a, rsa, csa, b, ldb, ncols, c,
                                                                        ldc, bias, accumulate);
    }
  }
}

// Copies A[rows, kc] (any strides) into MR-row panels, k-major: out[p * MR + i] = A[i, p].
// Rows past `rows` are zero. One gather per block instead of one per B panel.
template <int MR, class T>
static inline void pack_a_panel(const T* a, int64_t rsa, int64_t csa, int rows, int64_t kc, T* out) {
  if (rows == MR && rsa == 1) {  // a transposed view (weight gradients): MR adjacent values per k
    for (int64_t p = 0; p < kc; ++p)
      for (int i = 0; i < MR; ++i) out[p * MR + i] = a[p * csa + i];
    return;
  }
  for (int64_t p = 0; p < kc; ++p)
    for (int i = 0; i < MR; ++i) out[p * MR + i] = i < rows ? a[i * rsa + p * csa] : T(0);
}

// Blocking: K in slices of kGemmKc (kernel_table.h; a B micro-panel of KC x NR stays in L1),
// rows in blocks of MC (their packed A, MC x KC, stays in L2). The order of the k-slices is
// fixed, so each C element is still the same sequence of operations however M and N are cut.
// Every row block streams all of B from L3 once more, so MC is as large as L2 comfortably
// holds: 144 float32 rows take a whole batch of 128 in one block, and a recurrent step then
// reads its weights once rather than twice. Measured on Zen 3 (AVX2), one thread, the gate GEMM
// 128 x 1024 x 3072: 73.5 -> 80.3 GFLOP/s with another process streaming memory on the other
// core, 81 -> 85 on a quiet one; whole S5 calls moved less than their noise.
constexpr int64_t kGemmMcBytes = 144 * 1024;

template <class T, int MR>
constexpr int64_t gemm_mc_rows() {
  constexpr int64_t panels = kGemmMcBytes / (int64_t{sizeof(T)} * kGemmKc * MR);
  return (panels > 0 ? panels : 1) * MR;
}

// Packs rows [0, mc) x k-slice [0, kc) of A into MR-row panels when that pays: always for a
// strided A, and when several row panels will reuse each B panel. Returns whether it packed;
// a few row-major rows (batch-1 steps) are read in place.
template <int MR, class T>
static inline bool pack_a_block(const T* a, int64_t rsa, int64_t csa, int64_t mc, int64_t kc, T* a_pack) {
  const bool pack = csa != 1 || mc > MR;
  if (pack)
    for (int64_t ip = 0; ip < mc; ip += MR)
      pack_a_panel<MR>(a + ip * rsa, rsa, csa, static_cast<int>(gemm_min(MR, mc - ip)), kc, a_pack + ip * kc);
  return pack;
}

// One k-slice of one row block against n columns of B: `a` is the block's raw A (row i0,
// column k0), used in place when not packed; `b` points at column 0 of these n columns in this
// k-slice (packed: consecutive panels are k_total * NR apart).
template <class O, int MR, int NV, bool PACKED>
static inline void gemm_block(bool pack, const typename O::T* a_pack, const typename O::T* a, int64_t rsa,
                              int64_t mc, int64_t kc, const typename O::T* b, int64_t ldb, int64_t k_total, int64_t n,
                              typename O::T* c, int64_t ldc, const typename O::T* bias, bool accumulate) {
  using T = typename O::T;
  constexpr int64_t NR = NV * O::W;
  for (int64_t j0 = 0; j0 < n; j0 += NR) {
    const int64_t ncols = gemm_min(NR, n - j0);
    const T* bj = PACKED ? b + j0 * k_total : b + j0;
    const T* biasj = bias ? bias + j0 : nullptr;
    for (int64_t ip = 0; ip < mc; ip += MR) {
      const int rows = static_cast<int>(gemm_min(MR, mc - ip));
      T* cj = c + ip * ldc + j0;
      if (pack) {
        const T* ap = a_pack + ip * kc;
        if (ncols == NR)
          gemm_rows<O, MR, NV, true, true, true>(rows, kc, ap, 1, MR, bj, ldb, ncols, cj, ldc, biasj, accumulate);
        else
          gemm_rows<O, MR, NV, PACKED, false, true>(rows, kc, ap, 1, MR, bj, ldb, ncols, cj, ldc, biasj, accumulate);
      } else if (ncols == NR) {
        gemm_rows<O, MR, NV, true, true, false>(rows, kc, a + ip * rsa, rsa, 1, bj, ldb, ncols, cj, ldc, biasj,
                                                accumulate);
      } else {
        gemm_rows<O, MR, NV, PACKED, false, false>(rows, kc, a + ip * rsa, rsa, 1, bj, ldb, ncols, cj, ldc, biasj,
                                                   accumulate);
      }
    }
  }
}

// Copies B[kc, nc] (row stride ldb) into NR-column panels, k-major and zero-padded: the layout
// of pack_weights for one k-slice (panel q at out + q * kc * NR).
template <int NR, class T>
static inline void pack_b_block(const T* b, int64_t ldb, int64_t kc, int64_t nc, T* out) {
  for (int64_t j0 = 0; j0 < nc; j0 += NR) {
    T* panel = out + j0 * kc;
    const int64_t w = gemm_min(NR, nc - j0);
    for (int64_t p = 0; p < kc; ++p) {
      const T* row = b + p * ldb + j0;
      for (int64_t c = 0; c < w; ++c) panel[p * NR + c] = row[c];
      for (int64_t c = w; c < NR; ++c) panel[p * NR + c] = T(0);
    }
  }
}

// Row-major B used by many row panels (the weight-gradient and input-gradient GEMMs over all
// steps): each k-slice of NC columns is packed once into contiguous panels, as pack_weights
// lays them out. Read in place, rows of B lie ldb apart, and with ldb a multiple of 1 KB the
// panel's rows fall into a few L1 sets and evict each other. Same tiles, same k-slices, same
// order: bit-identical to the unpacked path.
constexpr int64_t kGemmNcPanels = 16;  // NC = 16 * NR columns per packed block of B

template <class O, int MR, int NV>
static void gemm_rowmajor_packing_b(const GemmArgs<typename O::T>& g) {
  using T = typename O::T;
  constexpr int64_t NR = NV * O::W;
  constexpr int64_t MC = gemm_mc_rows<T, MR>(), NC = kGemmNcPanels * NR;
  T* const a_pack = static_cast<T*>(thread_scratch(ScratchSlot::a_pack, sizeof(T) * MC * kGemmKc));
  T* const b_pack = static_cast<T*>(thread_scratch(ScratchSlot::b_pack, sizeof(T) * NC * kGemmKc));
  for (int64_t k0 = 0; k0 < g.k; k0 += kGemmKc) {
    const int64_t kc = gemm_min(kGemmKc, g.k - k0);
    for (int64_t j0 = 0; j0 < g.n; j0 += NC) {
      const int64_t nc = gemm_min(NC, g.n - j0);
      pack_b_block<NR>(g.b + k0 * g.b_row_stride + j0, g.b_row_stride, kc, nc, b_pack);
      for (int64_t i0 = 0; i0 < g.m; i0 += MC) {
        const int64_t mc = gemm_min(MC, g.m - i0);
        const T* a = g.a + i0 * g.a_row_stride + k0 * g.a_col_stride;
        const bool pack = pack_a_block<MR>(a, g.a_row_stride, g.a_col_stride, mc, kc, a_pack);
        gemm_block<O, MR, NV, true>(pack, a_pack, a, g.a_row_stride, mc, kc, b_pack, NR, kc, nc,
                                    g.c + i0 * g.ldc + j0, g.ldc, k0 == 0 && g.bias ? g.bias + j0 : nullptr,
                                    g.accumulate || k0 > 0);
      }
    }
  }
}

template <class O, int MR, int NV, bool PACKED>
static void gemm_body(const GemmArgs<typename O::T>& g) {
  using T = typename O::T;
  constexpr int64_t NR = NV * O::W;
  constexpr int64_t MC = gemm_mc_rows<T, MR>();
  // Packing a slice of B costs kc * n copies against m * kc * n multiply-adds: worth it once
  // several row blocks reuse it.
  if constexpr (!PACKED) {
    if (g.m >= 2 * MC) return gemm_rowmajor_packing_b<O, MR, NV>(g);
  }
  T* const a_pack = static_cast<T*>(thread_scratch(ScratchSlot::a_pack, sizeof(T) * MC * kGemmKc));
  for (int64_t k0 = 0; k0 < g.k; k0 += kGemmKc) {
    const int64_t kc = gemm_min(kGemmKc, g.k - k0);
    const T* b = PACKED ? g.b + k0 * NR : g.b + k0 * g.b_row_stride;
    for (int64_t i0 = 0; i0 < g.m; i0 += MC) {
      const int64_t mc = gemm_min(MC, g.m - i0);
      const T* a = g.a + i0 * g.a_row_stride + k0 * g.a_col_stride;
      const bool pack = pack_a_block<MR>(a, g.a_row_stride, g.a_col_stride, mc, kc, a_pack);
      gemm_block<O, MR, NV, PACKED>(pack, a_pack, a, g.a_row_stride, mc, kc, b, PACKED ? NR : g.b_row_stride, g.k, g.n,
                                    g.c + i0 * g.ldc, g.ldc, k0 == 0 ? g.bias : nullptr, g.accumulate || k0 > 0);
    }
  }
}

// Streaming steps (1-2 rows): the same column panel of up to three gate blocks in one tile,
// so a batch-1 step has 3*NV independent FMA chains per tile instead of NV, and one call does
// what three GEMMs did. K is cut into the same kGemmKc slices as gemm_body, so every element is
// computed exactly as there (bit-identical to the batched path).
// With fewer than three gates, the tile's "gates" are instead PANELS adjacent column panels of
// one gate (panels NR * k elements of B apart), for about 8 chains: one or two gates alone
// (reset-before's r, z then n products) left a batch-1 step waiting on FMA latency.
template <class O, int NV, int R, int NP>
static void gemm_gates_fixed(const GateGemmArgs<typename O::T>& g) {
  using T = typename O::T;
  constexpr int64_t NR = NV * O::W;
  constexpr int PANELS = NP == 3 || R * NV >= 8 ? 1 : 8 / (R * NV);
  for (int64_t k0 = 0; k0 < g.k; k0 += kGemmKc) {
    const int64_t kc = gemm_min(kGemmKc, g.k - k0);
    const bool accumulate = k0 > 0;
    int64_t j0 = g.col_begin;
    if constexpr (PANELS > 1) {
      const int64_t wide_end = g.col_begin + (g.col_end - g.col_begin) / (PANELS * NR) * (PANELS * NR);
      for (int gate = 0; gate < NP; ++gate)
        for (j0 = g.col_begin; j0 < wide_end; j0 += PANELS * NR) {
          const int64_t col = gate * g.hidden + j0;
          gemm_tile<O, R, PANELS * NV, true, true, NV, false, true>(
              kc, g.a + k0, g.lda, 1, g.b + gate * g.block_stride + j0 * g.k + k0 * NR, NR, NR, g.c + col, g.ldc,
              accumulate ? nullptr : g.bias + col, accumulate, NR * g.k, NR);
        }
      j0 = wide_end;
    }
    for (; j0 < g.col_end; j0 += NR) {
      const int64_t ncols = gemm_min(NR, g.col_end - j0);
      const T* b = g.b + j0 * g.k + k0 * NR;
      const T* bias = accumulate ? nullptr : g.bias + j0;
      if (ncols == NR)
        gemm_tile<O, R, NP * NV, true, true, NV, false, true>(kc, g.a + k0, g.lda, 1, b, NR, ncols, g.c + j0, g.ldc,
                                                              bias, accumulate, g.block_stride, g.hidden);
      else if (NV > 1 && ncols <= O::W)  // one register of each panel holds every live column
        gemm_tile<O, R, NP, true, false, 1, false, true>(kc, g.a + k0, g.lda, 1, b, NR, ncols, g.c + j0, g.ldc, bias,
                                                         accumulate, g.block_stride, g.hidden);
      else
        gemm_tile<O, R, NP * NV, true, false, NV, false, true>(kc, g.a + k0, g.lda, 1, b, NR, ncols, g.c + j0,
                                                               g.ldc, bias, accumulate, g.block_stride, g.hidden);
    }
  }
}

// Batches (3+ rows): like gemm_body, with A packed once per block for all the gates.
template <class O, int MR, int NV>
static void gemm_gates_blocked(const GateGemmArgs<typename O::T>& g) {
  using T = typename O::T;
  constexpr int64_t NR = NV * O::W;
  constexpr int64_t MC = gemm_mc_rows<T, MR>();
  T* const a_pack = static_cast<T*>(thread_scratch(ScratchSlot::a_pack, sizeof(T) * MC * kGemmKc));
  const int64_t n = g.col_end - g.col_begin;
  for (int64_t k0 = 0; k0 < g.k; k0 += kGemmKc) {
    const int64_t kc = gemm_min(kGemmKc, g.k - k0);
    for (int64_t i0 = 0; i0 < g.rows; i0 += MC) {
      const int64_t mc = gemm_min(MC, g.rows - i0);
      const T* a = g.a + i0 * g.lda + k0;
      const bool pack = pack_a_block<MR>(a, g.lda, 1, mc, kc, a_pack);
      for (int64_t gate = 0; gate < g.gates; ++gate) {
        const int64_t col = gate * g.hidden + g.col_begin;
        gemm_block<O, MR, NV, true>(pack, a_pack, a, g.lda, mc, kc, g.b + gate * g.block_stride + g.col_begin * g.k + k0 * NR,
                                    NR, g.k, n, g.c + i0 * g.ldc + col, g.ldc, k0 == 0 ? g.bias + col : nullptr,
                                    k0 > 0);
      }
    }
  }
}

template <class O, int MR, int NV>
static void gemm_gates_body(const GateGemmArgs<typename O::T>& g) {
#define FASTGRU_GATES(R, NP) \
  if (g.rows == R && g.gates == NP) return gemm_gates_fixed<O, NV, R, NP>(g);
  FASTGRU_GATES(1, 1) FASTGRU_GATES(1, 2) FASTGRU_GATES(1, 3)
  FASTGRU_GATES(2, 1) FASTGRU_GATES(2, 2) FASTGRU_GATES(2, 3)
#undef FASTGRU_GATES
  gemm_gates_blocked<O, MR, NV>(g);
}

// The tile columns of a bf16 or int8 gate block: NG gates per tile or, with COLUMNS, NG adjacent
// column panels of one gate (panel_stride elements of B apart) while whole ones remain, then
// one panel at a time. tiles(GateCount<n>, gate, j0, gate_stride, ncols, hidden) runs one.
template <int N>
struct GateCount {
  static constexpr int value = N;
};

template <int NG, bool COLUMNS, int64_t NR, class Tiles>
static inline void for_each_gate_tile(int64_t gates, int64_t col_begin, int64_t col_end, int64_t block_stride,
                                      int64_t panel_stride, int64_t hidden, Tiles&& tiles) {
  for (int64_t gate = 0; gate < gates; gate += COLUMNS ? 1 : NG) {
    int64_t j0 = col_begin;
    if constexpr (COLUMNS)
      for (; j0 + NG * NR <= col_end; j0 += NG * NR) tiles(GateCount<NG>(), gate, j0, panel_stride, NR, NR);
    for (; j0 < col_end; j0 += NR)
      tiles(GateCount<COLUMNS ? 1 : NG>(), gate, j0, block_stride, gemm_min(NR, col_end - j0), hidden);
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
