// int8-weight gate GEMM and its weight packing (kernel_table.h, Int8GateGemmArgs), included
// inside an ISA namespace after OpsF32 and gemm.h. P is the integer dot product:
// P::dot(acc, a, b) adds, per 32-bit lane, the four products of a's unsigned bytes and b's signed
// bytes (vpdpbusd), and P::minus_offset(acc, sum, lanes) gives float(acc - 128 * sum). P::Quad is
// how a quad of A waits in memory (P::quad(bits) makes one), broadcast from there by
// P::broadcast_a. The sums are exact, so every ISA gives the same bits.

// Quantizes one row: scale = max|x| / 127 (0 for a zero row), q = nearbyint(x / scale). Returns
// false when the row holds NaN or infinity (its outputs are then NaN).
static inline bool quantize_int8_row(const float* x, int64_t n, float* scale, int8_t* q) {
  // max |x| as an integer max of the bits without the sign (which the compiler vectorises):
  // non-negative floats order as their bit patterns, and infinity and NaN lie above them all.
  uint32_t top = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, x + i, sizeof bits);
    bits &= 0x7fffffffu;
    top = bits > top ? bits : top;
  }
  if (top >= 0x7f800000u) return false;  // NaN or infinity
  float m;
  std::memcpy(&m, &top, sizeof m);
  const float s = m / 127.0f;
  *scale = s;
  for (int64_t i = 0; i < n; ++i) {
    const float r = s > 0.0f ? nearbyintf(x[i] / s) : 0.0f;
    q[i] = static_cast<int8_t>(r > 127.0f ? 127.0f : (r < -127.0f ? -127.0f : r));
  }
  return true;
}

// out[(kk/4)*4*NR + 4*c + kk%4] = q(w[j0 + c][kk]) per panel of NR columns, zero-padded; scale and
// sum per output row.
template <int NR>
static void pack_weights_int8_body(const float* w, int64_t n, int64_t k, int8_t* out, float* scale,
                                   int32_t* sum) {
  const int64_t k4 = (k + 3) / 4 * 4;
  auto* const q = static_cast<int8_t*>(thread_scratch(ScratchSlot::b_pack, static_cast<size_t>(k)));
  for (int64_t j0 = 0; j0 < n; j0 += NR) {
    int8_t* panel = out + j0 * k4;
    for (int64_t c = 0; c < NR; ++c) {
      const int64_t j = j0 + c;
      int32_t total = 0;
      if (j < n) {
        // Weights come checked (finite) from the model; a non-finite row would quantize to zero.
        if (!quantize_int8_row(w + j * k, k, &scale[j], q)) {
          scale[j] = 0.0f;
          for (int64_t kk = 0; kk < k; ++kk) q[kk] = 0;
        }
        for (int64_t kk = 0; kk < k; ++kk) total += q[kk];
        sum[j] = total;
      }
      for (int64_t kk = 0; kk < k4; ++kk)
        panel[(kk / 4) * 4 * NR + 4 * c + kk % 4] = (j < n && kk < k) ? q[kk] : int8_t{0};
    }
  }
}

constexpr int64_t kInt8BlockRows = 96;  // rows of A quantized at once (their quads stay in L2)

// Rows [0, mc) of A as quads of offset bytes in panels of PMR rows, quad-major (a[q * PMR + i]),
// with each row's scale (NaN for a non-finite row); rows past mc are zero. q: room for 4 * kq
// values.
template <class P, int PMR>
static void quantize_a(const float* a, int64_t lda, int64_t mc, int64_t k, typename P::Quad* out, float* row_scale,
                       int8_t* q) {
  const int64_t kq = (k + 3) / 4;
  const auto* bytes = reinterpret_cast<const uint8_t*>(q);
  for (int64_t ip = 0; ip < mc; ip += PMR) {
    typename P::Quad* panel = out + ip * kq;
    for (int i = 0; i < PMR; ++i) {
      const int64_t row = ip + i;
      const bool finite = row < mc && quantize_int8_row(a + row * lda, k, &row_scale[row], q);
      if (row < mc && !finite) row_scale[row] = NAN;
      for (int64_t kk = finite ? k : 0; kk < 4 * kq; ++kk) q[kk] = 0;  // padding, or a row of zeros
      // Byte t of a quad is q[4p + t] + 128, which is q's two's-complement byte with its top bit
      // flipped.
      for (int64_t p = 0; p < kq; ++p) {
        const uint8_t* b4 = bytes + 4 * p;
        const uint32_t quad = uint32_t{b4[0]} | uint32_t{b4[1]} << 8 | uint32_t{b4[2]} << 16 | uint32_t{b4[3]} << 24;
        panel[p * PMR + i] = P::quad(quad ^ 0x80808080u);
      }
    }
  }
}

// R rows x NG gates x NV registers of C (columns j0.. of each gate) over all kq quads. BT: B's
// packed int8 panels, or (int16_t) a panel widened by P::widen_b; P::load_b reads either.
template <class O, class P, int R, int NG, int NV, int PMR, class BT>
FASTGRU_NOINLINE static void int8_tile(int64_t kq, const typename P::Quad* a, const float* a_scale, const BT* b,
                                       int64_t gate_stride, int64_t ncols, float* c, int64_t ldc, int64_t hidden,
                                       const float* w_scale, const int32_t* w_sum, const float* bias) {
  constexpr int W = O::W;
  constexpr int64_t NR = NV * W;
  typename P::Acc acc[R][NG * NV];
  for (int i = 0; i < R; ++i)
    for (int v = 0; v < NG * NV; ++v) acc[i][v] = P::zero();
  for (int64_t q = 0; q < kq; ++q) {
    typename P::B bv[NG * NV];
    for (int g = 0; g < NG; ++g)
      for (int v = 0; v < NV; ++v) bv[g * NV + v] = P::load_b(b + g * gate_stride + q * 4 * NR + v * 4 * W);
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
        const int64_t col = g * hidden + v * W;
        const auto scale = O::mul(O::set1(a_scale[i]), O::load_partial(w_scale + col, lanes));
        // One fused multiply-add on every ISA (a separate multiply and add could be contracted
        // into one on some ISAs and not on others).
        const auto r = P::fused_madd(P::minus_offset(acc[i][g * NV + v], w_sum + col, lanes), scale,
                                     O::load_partial(bias + col, lanes));
        O::store_partial(c + i * ldc + col, r, lanes);
      }
}

template <class O, class P, int MR, int NG, int NV, int PMR = MR, class BT>
static inline void int8_rows(int rows, int64_t kq, const typename P::Quad* a, const float* a_scale, const BT* b,
                             int64_t gate_stride, int64_t ncols, float* c, int64_t ldc, int64_t hidden,
                             const float* w_scale, const int32_t* w_sum, const float* bias) {
  if constexpr (MR > 0) {
    if (rows == MR)
      int8_tile<O, P, MR, NG, NV, PMR, BT>(kq, a, a_scale, b, gate_stride, ncols, c, ldc, hidden, w_scale, w_sum, bias);
    else
      int8_rows<O, P, MR - 1, NG, NV, PMR, BT>(rows, kq, a, a_scale, b, gate_stride, ncols, c, ldc, hidden, w_scale,
                                               w_sum, bias);
  }
}

// One B panel (kq quads) as P::widen_b lays it out for P::load_b(const int16_t*): what the
// batch tiles would otherwise re-split from bytes in every row tile, done once per row block.
template <class O, class P, int NV>
static void widen_b_panel(const int8_t* b, int64_t kq, int16_t* out) {
  for (int64_t e = 0; e < kq * 4 * NV * O::W; e += 4 * O::W) P::widen_b(b + e, out + e);
}

// NG gates per tile; COLUMNS: the tile's NG "gates" are instead NG adjacent column panels of
// one gate (1-2 rows with fewer than three gates: reset-before's products), for as many chains.
// WIDEN_B: one-gate tiles read each panel widened first into b_wide (P::widen_b).
template <class O, class P, int MR, int NG, int NV, bool COLUMNS = false, bool WIDEN_B = false>
static void int8_block(const Int8GateGemmArgs& g, typename P::Quad* a_quads, float* a_scale, int8_t* row_q, int64_t kq,
                       int64_t i0, int64_t mc, int16_t* b_wide = nullptr) {
  constexpr int64_t NR = NV * O::W;
  quantize_a<P, MR>(g.a + i0 * g.lda, g.lda, mc, g.k, a_quads, a_scale, row_q);
  auto tiles = [&](auto ngt, int64_t gate, int64_t j0, int64_t gate_stride, int64_t ncols, int64_t hidden) {
    constexpr int ng = decltype(ngt)::value;
    const int64_t col = gate * g.hidden + j0;
    const int8_t* b = g.b + gate * g.block_stride + j0 * 4 * kq;
    auto rows = [&](const auto* panel) {
      for (int64_t ip = 0; ip < mc; ip += MR)
        int8_rows<O, P, MR, ng, NV>(static_cast<int>(gemm_min(MR, mc - ip)), kq, a_quads + ip * kq, a_scale + ip,
                                    panel, gate_stride, ncols, g.c + (i0 + ip) * g.ldc + col, g.ldc, hidden,
                                    g.scale + col, g.sum + col, g.bias + col);
    };
    if constexpr (WIDEN_B && ng == 1) {
      widen_b_panel<O, P, NV>(b, kq, b_wide);
      rows(static_cast<const int16_t*>(b_wide));
    } else {
      rows(b);
    }
  };
  for_each_gate_tile<NG, COLUMNS, NR>(g.gates, g.col_begin, g.col_end, g.block_stride, NR * 4 * kq, g.hidden, tiles);
}

// SMALL_GATES: how many gates a 1-2 row tile may take at once, 3 or 1 (what the registers hold).
// WIDEN_B: batches (more than 2 rows) widen each B panel once per row block (int8_block).
template <class O, class P, int MR, int NV, int SMALL_GATES, bool WIDEN_B = false>
static void gemm_gates_int8_body(const Int8GateGemmArgs& g) {
  static_assert(kInt8BlockRows % MR == 0 && kInt8BlockRows % 2 == 0, "row blocks of whole panels");
  const int64_t kq = (g.k + 3) / 4;
  using Quad = typename P::Quad;
  Quad* const a_quads = static_cast<Quad*>(
      thread_scratch(ScratchSlot::a_pack, sizeof(Quad) * static_cast<size_t>(kInt8BlockRows * kq)));
  int8_t* const row_q = static_cast<int8_t*>(thread_scratch(ScratchSlot::b_pack, static_cast<size_t>(4 * kq)));
  int16_t* const b_wide =
      WIDEN_B && g.rows > 2
          ? static_cast<int16_t*>(thread_scratch(ScratchSlot::b_widened,
                                                 sizeof(int16_t) * static_cast<size_t>(4 * kq * NV * O::W)))
          : nullptr;
  float a_scale[kInt8BlockRows];
  for (int64_t i0 = 0; i0 < g.rows; i0 += kInt8BlockRows) {
    const int64_t mc = gemm_min(kInt8BlockRows, g.rows - i0);
    if (SMALL_GATES >= 3 && mc <= 2 && g.gates == 3)
      int8_block<O, P, 2, (SMALL_GATES >= 3 ? 3 : 1), NV>(g, a_quads, a_scale, row_q, kq, i0, mc);
    else if (SMALL_GATES >= 3 && mc <= 2)
      int8_block<O, P, 2, (SMALL_GATES >= 3 ? 3 : 1), NV, true>(g, a_quads, a_scale, row_q, kq, i0, mc);
    else
      int8_block<O, P, MR, 1, NV, false, WIDEN_B>(g, a_quads, a_scale, row_q, kq, i0, mc, b_wide);
  }
}
