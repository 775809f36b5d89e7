// bf16-weight gate GEMM and its weight packing (kernel_table.h, Bf16GateGemmArgs), included
// inside an ISA namespace after OpsF32 and gemm.h. P is the pair arithmetic: P::dot(acc, a, b)
// adds a's and b's pair products to acc as vdpbf16ps does (P::Mode: the float environment it
// needs while in scope); P::Pair is how a pair of A waits in memory (P::pair(bits) makes one),
// broadcast from there by P::broadcast_a. Every output is the same sequence of pair-dots over k, slice by slice,
// whatever the ISA, tile, row block or thread split: bit-identical everywhere.

// Pairs of k per slice: a B slice of one panel (kBf16SlicePairs * 2 * NR bf16) stays in L1.
constexpr int64_t kBf16SlicePairs = kGemmKc / 2;
constexpr int64_t kBf16BlockRows = 96;  // rows of A converted at once (their pairs stay in L2)

// out[(kk/2)*2*NR + 2*c + kk%2] = bf16(w[j0 + c][kk]) per panel of NR columns, zero-padded.
template <int NR>
static void pack_weights_bf16_body(const float* w, int64_t n, int64_t k, uint16_t* out) {
  const int64_t k_even = (k + 1) / 2 * 2;
  for (int64_t j0 = 0; j0 < n; j0 += NR) {
    uint16_t* panel = out + j0 * k_even;
    for (int64_t kk = 0; kk < k_even; ++kk)
      for (int64_t c = 0; c < NR; ++c)
        panel[(kk / 2) * 2 * NR + 2 * c + kk % 2] = (j0 + c < n && kk < k) ? to_bf16(w[(j0 + c) * k + kk]) : 0;
  }
}

// R rows x NG gates x NV registers of C (columns j0.. of each gate) over one k-slice of qc pairs.
// a: the tile's A panel (PMR rows, pair-major: a[q * PMR + i]).
template <class O, class P, int R, int NG, int NV, int PMR>
FASTGRU_NOINLINE static void bf16_tile(int64_t qc, const typename P::Pair* a, const uint16_t* b,
                                       int64_t gate_stride, int64_t ncols, float* c, int64_t ldc, int64_t hidden,
                                       const float* bias, bool accumulate) {
  using V = typename O::V;
  constexpr int W = O::W;
  constexpr int64_t NR = NV * W;
  V acc[R][NG * NV];
  for (int i = 0; i < R; ++i)
    for (int v = 0; v < NG * NV; ++v) acc[i][v] = O::zero();
  for (int64_t q = 0; q < qc; ++q) {
    typename P::B bv[NG * NV];
    for (int g = 0; g < NG; ++g)
      for (int v = 0; v < NV; ++v) bv[g * NV + v] = P::load_b(b + g * gate_stride + q * 2 * NR + v * 2 * W);
    for (int i = 0; i < R; ++i) {
      const typename P::A av = P::broadcast_a(a[q * PMR + i]);
      for (int v = 0; v < NG * NV; ++v) acc[i][v] = P::dot(acc[i][v], av, bv[v]);
    }
  }
  for (int i = 0; i < R; ++i)
    for (int g = 0; g < NG; ++g)
      for (int v = 0; v < NV; ++v) {
        const int lanes = lanes_left(ncols - v * W, W);
        if (lanes == 0) continue;
        float* out = c + i * ldc + g * hidden + v * W;
        V r = acc[i][g * NV + v];
        if (bias) r = O::add(r, O::load_partial(bias + g * hidden + v * W, lanes));
        if (accumulate) r = O::add(O::load_partial(out, lanes), r);
        O::store_partial(out, r, lanes);
      }
}

// Picks the tile height for `rows` (1..MR) rows.
template <class O, class P, int MR, int NG, int NV, int PMR = MR>
static inline void bf16_rows(int rows, int64_t qc, const typename P::Pair* a, const uint16_t* b, int64_t gate_stride,
                             int64_t ncols, float* c, int64_t ldc, int64_t hidden, const float* bias,
                             bool accumulate) {
  if constexpr (MR > 0) {
    if (rows == MR)
      bf16_tile<O, P, MR, NG, NV, PMR>(qc, a, b, gate_stride, ncols, c, ldc, hidden, bias, accumulate);
    else
      bf16_rows<O, P, MR - 1, NG, NV, PMR>(rows, qc, a, b, gate_stride, ncols, c, ldc, hidden, bias, accumulate);
  }
}

// Rows [0, mc) of A as bf16 pairs in panels of PMR rows, pair-major (zero rows past mc): each
// tile then broadcasts from one contiguous run instead of PMR rows lying k apart (which, for k
// a multiple of 512, fall into the same few L1 sets).
template <class P, int PMR>
static void convert_a(const float* a, int64_t lda, int64_t mc, int64_t k, typename P::Pair* out) {
  const int64_t kp = (k + 1) / 2;
  for (int64_t ip = 0; ip < mc; ip += PMR) {
    typename P::Pair* panel = out + ip * kp;
    for (int i = 0; i < PMR; ++i) {
      if (ip + i >= mc) {
        for (int64_t q = 0; q < kp; ++q) panel[q * PMR + i] = P::pair(0);
        continue;
      }
      const float* row = a + (ip + i) * lda;
      for (int64_t q = 0; q < k / 2; ++q) panel[q * PMR + i] = P::pair(bf16_pair(row[2 * q], row[2 * q + 1]));
      if (k % 2) panel[(kp - 1) * PMR + i] = P::pair(bf16_pair(row[k - 1], 0.0f));
    }
  }
}

// NG gates per tile: 1-2 rows (streaming steps) take all the gates at once for more independent
// accumulators; batches take one gate at a time with MR rows. COLUMNS: the tile's NG "gates"
// are instead NG adjacent column panels of one gate (1-2 rows with fewer than three gates:
// reset-before's products), for as many chains.
template <class O, class P, int MR, int NG, int NV, bool COLUMNS = false>
static void bf16_block(const Bf16GateGemmArgs& g, typename P::Pair* a_pairs, int64_t kp, int64_t i0, int64_t mc) {
  constexpr int64_t NR = NV * O::W;
  convert_a<P, MR>(g.a + i0 * g.lda, g.lda, mc, g.k, a_pairs);
  for (int64_t q0 = 0; q0 < kp; q0 += kBf16SlicePairs) {
    const int64_t qc = gemm_min(kBf16SlicePairs, kp - q0);
    const bool first = q0 == 0;
    auto tiles = [&](auto ngt, int64_t gate, int64_t j0, int64_t gate_stride, int64_t ncols, int64_t hidden) {
      const int64_t col = gate * g.hidden + j0;
      const uint16_t* b = g.b + gate * g.block_stride + j0 * 2 * kp + q0 * 2 * NR;
      for (int64_t ip = 0; ip < mc; ip += MR)
        bf16_rows<O, P, MR, decltype(ngt)::value, NV>(static_cast<int>(gemm_min(MR, mc - ip)), qc,
                                                      a_pairs + ip * kp + q0 * MR, b, gate_stride, ncols,
                                                      g.c + (i0 + ip) * g.ldc + col, g.ldc, hidden,
                                                      first ? g.bias + col : nullptr, !first);
    };
    for_each_gate_tile<NG, COLUMNS, NR>(g.gates, g.col_begin, g.col_end, g.block_stride, NR * 2 * kp, g.hidden, tiles);
  }
}

// Batches where the pair-dot is emulated with two FMAs (P::B is a pair's odd and even halves as
// floats): fma(a_even, b_even, fma(a_odd, b_odd, acc)) is the float32 tile's k-loop over k in the
// order 1, 0, 3, 2, ... So A and each k-slice of a B panel are widened once to float32 in that
// order, and gemm.h's float32 tile (WMR rows) runs on them: bf16_tile's bits, without splitting
// B again in every row tile, and with the float32 tile's independent accumulators.
constexpr int64_t kBf16WidenMinRows = 12;  // fewer rows share a widened slice too little

// Rows [0, mc) of A rounded to bf16, as float32 panels of PMR rows over k in pair order (odd
// first): out[ip * 2kp + p * PMR + i]; rows past mc are zero.
template <int PMR>
static void widen_a(const float* a, int64_t lda, int64_t mc, int64_t k, float* out) {
  const int64_t kp = (k + 1) / 2;
  for (int64_t ip = 0; ip < mc; ip += PMR) {
    float* panel = out + ip * 2 * kp;
    for (int i = 0; i < PMR; ++i) {
      const float* row = ip + i < mc ? a + (ip + i) * lda : nullptr;
      for (int64_t q = 0; q < kp; ++q) {
        const uint32_t bits = row ? bf16_pair(row[2 * q], 2 * q + 1 < k ? row[2 * q + 1] : 0.0f) : 0u;
        panel[2 * q * PMR + i] = from_bf16(static_cast<uint16_t>(bits >> 16));
        panel[(2 * q + 1) * PMR + i] = from_bf16(static_cast<uint16_t>(bits));
      }
    }
  }
}

// qc pairs of one packed B panel as float32 rows of NR columns, odd k first: the packed panel
// layout of gemm.h for 2 * qc values of k.
template <class O, class P, int NV>
static void widen_b_slice(const uint16_t* b, int64_t qc, float* out) {
  constexpr int W = O::W;
  constexpr int64_t NR = NV * W;
  for (int64_t q = 0; q < qc; ++q)
    for (int v = 0; v < NV; ++v) {
      const typename P::B pairs = P::load_b(b + q * 2 * NR + v * 2 * W);
      O::store(out + 2 * q * NR + v * W, pairs.odd);
      O::store(out + (2 * q + 1) * NR + v * W, pairs.even);
    }
}

// One widened B slice against rows [0, mc) of widened A (tiles of WMR rows); out of line, as
// inlined into the block's loops it spilled B and its loop counters.
template <class O, int WMR, int NV>
FASTGRU_NOINLINE static void bf16_widened_rows(int64_t mc, int64_t kc, const float* a_wide, int64_t lda_wide,
                                               const float* b_wide, int64_t ncols, float* c, int64_t ldc,
                                               const float* bias, bool accumulate) {
  constexpr int64_t NR = NV * O::W;
  for (int64_t ip = 0; ip < mc; ip += WMR) {
    const int rows = static_cast<int>(gemm_min(WMR, mc - ip));
    const float* ap = a_wide + ip * lda_wide;
    if (ncols == NR)
      gemm_rows<O, WMR, NV, true, true, true>(rows, kc, ap, 1, WMR, b_wide, NR, ncols, c + ip * ldc, ldc, bias,
                                              accumulate);
    else
      gemm_rows<O, WMR, NV, true, false, true>(rows, kc, ap, 1, WMR, b_wide, NR, ncols, c + ip * ldc, ldc, bias,
                                               accumulate);
  }
}

template <class O, class P, int WMR, int NV>
static void bf16_block_widened(const Bf16GateGemmArgs& g, float* a_wide, float* b_wide, int64_t kp, int64_t i0,
                               int64_t mc) {
  constexpr int64_t NR = NV * O::W;
  widen_a<WMR>(g.a + i0 * g.lda, g.lda, mc, g.k, a_wide);
  for (int64_t q0 = 0; q0 < kp; q0 += kBf16SlicePairs) {
    const int64_t qc = gemm_min(kBf16SlicePairs, kp - q0);
    const bool first = q0 == 0;
    auto panel = [&](auto, int64_t gate, int64_t j0, int64_t, int64_t ncols, int64_t) {
      const int64_t col = gate * g.hidden + j0;
      widen_b_slice<O, P, NV>(g.b + gate * g.block_stride + j0 * 2 * kp + q0 * 2 * NR, qc, b_wide);
      bf16_widened_rows<O, WMR, NV>(mc, 2 * qc, a_wide + 2 * q0 * WMR, 2 * kp, b_wide, ncols,
                                    g.c + i0 * g.ldc + col, g.ldc, first ? g.bias + col : nullptr, !first);
    };
    for_each_gate_tile<1, false, NR>(g.gates, g.col_begin, g.col_end, g.block_stride, NR * 2 * kp, g.hidden, panel);
  }
}

// SMALL_GATES: how many gates a 1-2 row tile may take at once, 3 or 1 (what the registers hold).
// WIDEN_MR: the float32 tile's height where batches run bf16_block_widened (0: never; P must
// then be an emulation whose B is float halves).
template <class O, class P, int MR, int NV, int SMALL_GATES, int WIDEN_MR = 0>
static void gemm_gates_bf16_body(const Bf16GateGemmArgs& g) {
  const typename P::Mode mode;
  const int64_t kp = (g.k + 1) / 2;
  // kBf16BlockRows is a multiple of every panel height, so a block holds whole panels.
  static_assert(kBf16BlockRows % MR == 0 && kBf16BlockRows % 2 == 0, "row blocks of whole panels");
  static_assert(WIDEN_MR == 0 || kBf16BlockRows % WIDEN_MR == 0, "row blocks of whole widened panels");
  constexpr size_t a_bytes_per_pair = sizeof(typename P::Pair) > 2 * sizeof(float) ? sizeof(typename P::Pair)
                                                                                     : 2 * sizeof(float);
  void* const a_scratch =
      thread_scratch(ScratchSlot::a_pack, a_bytes_per_pair * static_cast<size_t>(kBf16BlockRows * kp));
  auto* const a_pairs = static_cast<typename P::Pair*>(a_scratch);
  for (int64_t i0 = 0; i0 < g.rows; i0 += kBf16BlockRows) {
    const int64_t mc = gemm_min(kBf16BlockRows, g.rows - i0);
    if constexpr (WIDEN_MR > 0) {
      if (mc >= kBf16WidenMinRows) {
        auto* const b_wide = static_cast<float*>(thread_scratch(
            ScratchSlot::b_widened, sizeof(float) * static_cast<size_t>(2 * kBf16SlicePairs * NV * O::W)));
        bf16_block_widened<O, P, WIDEN_MR, NV>(g, static_cast<float*>(a_scratch), b_wide, kp, i0, mc);
        continue;
      }
    }
    if (SMALL_GATES >= 3 && mc <= 2 && g.gates == 3)
      bf16_block<O, P, 2, (SMALL_GATES >= 3 ? 3 : 1), NV>(g, a_pairs, kp, i0, mc);
    else if (SMALL_GATES >= 3 && mc <= 2)
      bf16_block<O, P, 2, (SMALL_GATES >= 3 ? 3 : 1), NV, true>(g, a_pairs, kp, i0, mc);
    else
      bf16_block<O, P, MR, 1, NV>(g, a_pairs, kp, i0, mc);
  }
}
