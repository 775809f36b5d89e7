// The LiBRU's gate kernels, forward and backward (included inside an ISA namespace after
// gates.h, whose for_each_register / Lanes / record_of they use), and their definitions for this
// ISA. The products are the reset-after ones; the r block is not used (its gradients are zero).
// The update runs lane by lane in double precision (libru_scalar.h: three exp and three log1p
// from the C math library); backward is vectorised, from what forward recorded.
//
// Record per row (ld rec_ld = 8H): [p | z | c | aux | h_prev | σ(a_n) | a_z | a_n],
// aux = U_n h + b_hn (the reset-after record's), p = the old state's weight in h'.

#include "kernels/libru_scalar.h"

template <class O>
static void gates_forward_libru_body(const GateArgs<typename O::T>& g) {
  using T = typename O::T;
  using V = typename O::V;
  const int64_t H = g.hidden;
  for_each_register<O>(g.rows, g.col_begin, g.col_end, [&](int64_t i, int64_t c, Lanes<O> l) {
    const T* gx = g.gx + i * g.ld_gx + c;
    const T* gh = g.gh + i * g.ld_gh + c;
    const V ghn = l.load(gh + 2 * H);
    const V a_z = O::add(l.load(gx + H), l.load(gh + H));
    const V a_n = O::add(l.load(gx + 2 * H), ghn);
    T az[O::W], an[O::W], hp[O::W], hn[O::W], p[O::W], z[O::W], cn[O::W], sn[O::W];
    O::store(az, a_z);
    O::store(an, a_n);
    O::store(hp, l.load(g.h + i * H + c));
    for (int k = 0; k < O::W; ++k) {
      const LibruLane o = libru_lane(az[k], an[k], hp[k]);
      hn[k] = static_cast<T>(o.h_new);
      p[k] = static_cast<T>(o.p);
      z[k] = static_cast<T>(o.z);
      cn[k] = static_cast<T>(o.c);
      sn[k] = static_cast<T>(o.s_n);
    }
    const V h_new = O::load(hn);
    if (g.rec) {  // only a training forward keeps them
      T* rec = record_of(g, i, c);
      l.store(rec, O::load(p));
      l.store(rec + H, O::load(z));
      l.store(rec + 2 * H, O::load(cn));
      l.store(rec + 3 * H, ghn);
      l.store(rec + 4 * H, O::load(hp));
      l.store(rec + 5 * H, O::load(sn));
      l.store(rec + 6 * H, a_z);
      l.store(rec + 7 * H, a_n);
    }
    l.store(g.h_out + i * H + c, h_new);
    if (g.y) l.store(g.y + i * g.ld_y + c, h_new);
  });
}

// dh_prev (direct) = dh p; da_z = dh (p - z); da_n = dh (1 - p) σ(a_n), in both dgx and dgh
// (a_n = gx_n + gh_n); the r block's gradients are zero.
template <class O>
static void gates_backward_libru_body(const GateGradArgs<typename O::T>& g) {
  using T = typename O::T;
  using V = typename O::V;
  const int64_t H = g.hidden;
  for_each_register<O>(g.rows, g.col_begin, g.col_end, [&](int64_t i, int64_t c, Lanes<O> l) {
    const T* rec = record_of(g, i, c);
    T* dh = g.dh + i * H + c;
    T* dgx = g.dgx + i * 3 * H + c;
    T* dgh = g.dgh + i * 3 * H + c;
    const V d = l.load(dh), p = l.load(rec), z = l.load(rec + H), s_n = l.load(rec + 5 * H);
    const V dp = O::mul(d, p);
    const V da_z = O::sub(dp, O::mul(d, z));
    const V da_n = O::mul(O::sub(d, dp), s_n);
    l.store(dgx, O::zero());
    l.store(dgx + H, da_z);
    l.store(dgx + 2 * H, da_n);
    l.store(dgh, O::zero());
    l.store(dgh + H, da_z);
    l.store(dgh + 2 * H, da_n);
    l.store(dh, dp);
  });
}

void gates_forward_libru(const GateArgs<float>& g) { gates_forward_libru_body<OpsF32>(g); }
void gates_forward_libru(const GateArgs<double>& g) { gates_forward_libru_body<OpsF64>(g); }
void gates_backward_libru(const GateGradArgs<float>& g) { gates_backward_libru_body<OpsF32>(g); }
void gates_backward_libru(const GateGradArgs<double>& g) { gates_backward_libru_body<OpsF64>(g); }
