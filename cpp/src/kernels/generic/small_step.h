// A batch-1 streaming step of a small layer (included inside an ISA namespace after gates.h).
// At H <= nr a step is a few hundred FMAs; done as two gemm_gates calls and a gate pass, it
// spends most of its time on calls, stores and reloads, and waits on three short FMA chains per
// product. Here the x and h chains run interleaved (six or more independent chains), and the
// projections, gates and h' stay in registers. The arithmetic is gemm_gates' (one chain per
// kGemmKc slice, slices added in order, bias added to the first) and AfterCell's, so results
// are bit-identical to the general path.

// NV registers per packed panel row, of which the first NL hold live columns (the rest is the
// panel's zero padding, skipped).

// acc[g][v] += a[p] * panel_g[p][v] for p in [p0, p1).
template <class O, int NV, int NL>
static inline void small_chain(const typename O::T* a, const typename O::T* w, int64_t stride, int64_t p0,
                               int64_t p1, typename O::V (&acc)[3][NL]) {
  for (int64_t p = p0; p < p1; ++p) {
    const typename O::V av = O::set1(a[p]);
    for (int g = 0; g < 3; ++g)
      for (int v = 0; v < NL; ++v)
        acc[g][v] = O::fmadd(av, O::load(w + g * stride + p * NV * O::W + v * O::W), acc[g][v]);
  }
}

template <class O, int NV, int NL>
static void small_step_nv(const SmallStepArgs<typename O::T>& s) {
  using V = typename O::V;
  constexpr int W = O::W;
  const int64_t H = s.hidden;
  V ax[3][NL], ah[3][NL];
  for (int g = 0; g < 3; ++g)
    for (int v = 0; v < NL; ++v) ax[g][v] = ah[g][v] = O::zero();
  // First slice of x together with h (H <= nr <= kGemmKc: h is always one slice).
  const int64_t kx = s.din < kGemmKc ? s.din : kGemmKc, both = kx < H ? kx : H;
  for (int64_t p = 0; p < both; ++p) {
    const V xv = O::set1(s.x[p]), hv = O::set1(s.h[p]);
    for (int g = 0; g < 3; ++g)
      for (int v = 0; v < NL; ++v) {
        ax[g][v] = O::fmadd(xv, O::load(s.w_ih + g * s.ih_stride + p * NV * W + v * W), ax[g][v]);
        ah[g][v] = O::fmadd(hv, O::load(s.w_hh + g * s.hh_stride + p * NV * W + v * W), ah[g][v]);
      }
  }
  small_chain<O, NV, NL>(s.x, s.w_ih, s.ih_stride, both, kx, ax);
  small_chain<O, NV, NL>(s.h, s.w_hh, s.hh_stride, both, H, ah);
  for (int v = 0; v < NL; ++v) {
    const int64_t left = H - v * W;
    const Lanes<O> l{left >= W ? W : static_cast<int>(left)};
    V gx[3], gh[3];
    for (int g = 0; g < 3; ++g) {
      gx[g] = O::add(ax[g][v], l.load(s.bias_ih + g * H + v * W));
      gh[g] = O::add(ah[g][v], l.load(s.bias_hh + g * H + v * W));
    }
    // Later slices of x: each its own chain from zero, added to the sum so far.
    for (int64_t k0 = kGemmKc; k0 < s.din; k0 += kGemmKc) {
      V part[3] = {O::zero(), O::zero(), O::zero()};
      const int64_t k1 = s.din - k0 < kGemmKc ? s.din : k0 + kGemmKc;
      for (int64_t p = k0; p < k1; ++p) {
        const V xv = O::set1(s.x[p]);
        for (int g = 0; g < 3; ++g)
          part[g] = O::fmadd(xv, O::load(s.w_ih + g * s.ih_stride + p * NV * W + v * W), part[g]);
      }
      for (int g = 0; g < 3; ++g) gx[g] = O::add(gx[g], part[g]);
    }
    const AfterCell<O> cell(O::add(gx[0], gh[0]), O::add(gx[1], gh[1]), gx[2], gh[2], l.load(s.h + v * W));
    l.store(s.h_out + v * W, cell.h_new);
  }
}

template <class O>
static void small_step_body(const SmallStepArgs<typename O::T>& s) {
  const int64_t live = (s.hidden + O::W - 1) / O::W;
  switch (s.nr / O::W) {  // registers per packed panel: 1, 2 or 4 in every table
    case 1: return small_step_nv<O, 1, 1>(s);
    case 2: return live == 1 ? small_step_nv<O, 2, 1>(s) : small_step_nv<O, 2, 2>(s);
    default:
      if (live == 1) return small_step_nv<O, 4, 1>(s);
      if (live == 2) return small_step_nv<O, 4, 2>(s);
      if (live == 3) return small_step_nv<O, 4, 3>(s);
      return small_step_nv<O, 4, 4>(s);
  }
}
