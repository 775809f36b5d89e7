// Fused gate kernels, forward and backward (included inside an ISA namespace after vmath.h and
// activations.h). Each walks rows x gate columns [col_begin, col_end) one register at a time; the
// last register of a row may be partial. Element-wise only: the matrix products are GEMMs.
//
// GENERAL = false is the standard cell (sigmoid gates, tanh candidate, no clip), the hot path.
// GENERAL = true takes the activations and clip of g.math and also records the raw
// pre-activations [a_r | a_z | a_n] after the standard record, for backward.

template <class O>
struct Lanes {
  int n;  // live lanes in this register (1..W)
  typename O::V load(const typename O::T* p) const {
    return n == O::W ? O::load(p) : O::load_partial(p, n);
  }
  void store(typename O::T* p, typename O::V v) const {
    if (n == O::W)
      O::store(p, v);
    else
      O::store_partial(p, v, n);
  }
};

template <class O, class F>
static inline void for_each_register(int64_t rows, int64_t col_begin, int64_t col_end, F&& f) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t c = col_begin; c < col_end; c += O::W) {
      const int64_t left = col_end - c;
      f(i, c, Lanes<O>{left >= O::W ? O::W : static_cast<int>(left)});
    }
}

// The record of row i: [r | z | n | aux | h_prev] (+ [a_r | a_z | a_n] when GENERAL).
template <class Args>
static inline auto record_of(const Args& g, int64_t i, int64_t c) {
  return g.rec + i * g.rec_ld + c;
}

// The standard reset-after cell on one register: r, z, n and h' from the pre-activations.
template <class O>
struct AfterCell {
  typename O::V r, z, n, h_new;
  AfterCell(typename O::V a_r, typename O::V a_z, typename O::V gx_n, typename O::V gh_n, typename O::V h_prev)
      : r(vsigmoid<O>(a_r)), z(vsigmoid<O>(a_z)), n(vtanh<O>(O::fmadd(r, gh_n, gx_n))),
        h_new(O::fmadd(z, O::sub(h_prev, n), n)) {}  // n + z (h - n), PyTorch's rounding order
};

// reset-after: r, z, n and h' in one pass.
template <class O, bool GENERAL>
static void gates_forward_after_body(const GateArgs<typename O::T>& g) {
  using V = typename O::V;
  const int64_t H = g.hidden;
  for_each_register<O>(g.rows, g.col_begin, g.col_end, [&](int64_t i, int64_t c, Lanes<O> l) {
    const typename O::T* gx = g.gx + i * g.ld_gx + c;
    const typename O::T* gh = g.gh + i * g.ld_gh + c;
    const V hp = l.load(g.h + i * H + c);
    const V a_r = O::add(l.load(gx), l.load(gh));
    const V a_z = O::add(l.load(gx + H), l.load(gh + H));
    const V ghn = l.load(gh + 2 * H);
    V r, z, n, a_n, hn;
    if constexpr (GENERAL) {
      r = act_v<O>(g.math->gate, clip_pre<O>(*g.math, a_r));
      z = act_v<O>(g.math->gate, clip_pre<O>(*g.math, a_z));
      a_n = O::fmadd(r, ghn, l.load(gx + 2 * H));
      n = act_v<O>(g.math->candidate, clip_pre<O>(*g.math, a_n));
      hn = O::fmadd(z, O::sub(hp, n), n);
    } else {
      const AfterCell<O> cell(a_r, a_z, l.load(gx + 2 * H), ghn, hp);
      r = cell.r;
      z = cell.z;
      n = cell.n;
      hn = cell.h_new;
    }
    if (g.rec) {  // only a training forward keeps them
      typename O::T* rec = record_of(g, i, c);
      l.store(rec, r);
      l.store(rec + H, z);
      l.store(rec + 2 * H, n);
      l.store(rec + 3 * H, ghn);
      l.store(rec + 4 * H, hp);
      if constexpr (GENERAL) {
        l.store(rec + 5 * H, a_r);
        l.store(rec + 6 * H, a_z);
        l.store(rec + 7 * H, a_n);
      }
    }
    l.store(g.h_out + i * H + c, hn);
    if (g.y) l.store(g.y + i * g.ld_y + c, hn);
  });
}

// reset-before, stage 1: r, z and r ⊙ h_prev (the input of the W_hn product that follows).
template <class O, bool GENERAL>
static void gates_forward_before_rz_body(const GateArgs<typename O::T>& g) {
  using V = typename O::V;
  const int64_t H = g.hidden;
  for_each_register<O>(g.rows, g.col_begin, g.col_end, [&](int64_t i, int64_t c, Lanes<O> l) {
    const typename O::T* gx = g.gx + i * g.ld_gx + c;
    const typename O::T* gh = g.gh + i * g.ld_gh + c;
    typename O::T* rec = record_of(g, i, c);
    const V hp = l.load(g.h + i * H + c);
    const V a_r = O::add(l.load(gx), l.load(gh));
    const V a_z = O::add(l.load(gx + H), l.load(gh + H));
    V r, z;
    if constexpr (GENERAL) {
      r = act_v<O>(g.math->gate, clip_pre<O>(*g.math, a_r));
      z = act_v<O>(g.math->gate, clip_pre<O>(*g.math, a_z));
      l.store(rec + 5 * H, a_r);
      l.store(rec + 6 * H, a_z);
    } else {
      r = vsigmoid<O>(a_r);
      z = vsigmoid<O>(a_z);
    }
    l.store(rec, r);
    l.store(rec + H, z);
    l.store(rec + 3 * H, O::mul(r, hp));
    l.store(rec + 4 * H, hp);
  });
}

// reset-before, stage 2: n from W_hn (r ⊙ h) + b_hn (in gh), then h'.
template <class O, bool GENERAL>
static void gates_forward_before_n_body(const GateArgs<typename O::T>& g) {
  using V = typename O::V;
  const int64_t H = g.hidden;
  for_each_register<O>(g.rows, g.col_begin, g.col_end, [&](int64_t i, int64_t c, Lanes<O> l) {
    typename O::T* rec = record_of(g, i, c);
    const V hp = l.load(rec + 4 * H);
    const V z = l.load(rec + H);
    const V a_n = O::add(l.load(g.gx + i * g.ld_gx + 2 * H + c), l.load(g.gh + i * g.ld_gh + c));
    V n;
    if constexpr (GENERAL) {
      n = act_v<O>(g.math->candidate, clip_pre<O>(*g.math, a_n));
      l.store(rec + 7 * H, a_n);
    } else {
      n = vtanh<O>(a_n);
    }
    const V hn = O::fmadd(z, O::sub(hp, n), n);
    l.store(rec + 2 * H, n);
    l.store(g.h_out + i * H + c, hn);
    if (g.y) l.store(g.y + i * g.ld_y + c, hn);
  });
}

// Shared by both formulations: the update gate and candidate parts.
// dn = dh (1 - z), dz = dh (h_prev - n); da_n = dn g'(a_n), da_z = dz f'(a_z)
// (standard cell: g' = 1 - n², f' = z (1 - z), from the outputs).
template <class O>
struct UpdateGrads {
  typename O::V da_n, da_z, dh_direct;
};

template <class O, bool GENERAL>
static inline UpdateGrads<O> update_grads(const GateGradArgs<typename O::T>& g, const typename O::T* rec,
                                          const Lanes<O>& l, typename O::V dh) {
  using T = typename O::T;
  const int64_t H = g.hidden;
  const auto one = O::set1(T(1));
  const auto z = l.load(rec + H), n = l.load(rec + 2 * H), hp = l.load(rec + 4 * H);
  const auto dn = O::fnmadd(dh, z, dh);
  const auto dz = O::mul(dh, O::sub(hp, n));
  if constexpr (GENERAL) {
    return {O::mul(dn, act_grad_v<O>(*g.math, g.math->candidate, l.load(rec + 7 * H))),
            O::mul(dz, act_grad_v<O>(*g.math, g.math->gate, l.load(rec + 6 * H))), O::mul(dh, z)};
  } else {
    return {O::mul(dn, O::fnmadd(n, n, one)), O::mul(dz, O::mul(z, O::sub(one, z))), O::mul(dh, z)};
  }
}

// f'(a_r) times the incoming gradient of r.
template <class O, bool GENERAL>
static inline typename O::V reset_grad(const GateGradArgs<typename O::T>& g, const typename O::T* rec,
                                       const Lanes<O>& l, typename O::V dr) {
  using T = typename O::T;
  if constexpr (GENERAL) {
    return O::mul(dr, act_grad_v<O>(*g.math, g.math->gate, l.load(rec + 5 * g.hidden)));
  } else {
    const auto r = l.load(rec);
    return O::mul(dr, O::mul(r, O::sub(O::set1(T(1)), r)));
  }
}

template <class O, bool GENERAL>
static void gates_backward_after_body(const GateGradArgs<typename O::T>& g) {
  using T = typename O::T;
  using V = typename O::V;
  const int64_t H = g.hidden;
  for_each_register<O>(g.rows, g.col_begin, g.col_end, [&](int64_t i, int64_t c, Lanes<O> l) {
    const T* rec = record_of(g, i, c);
    T* dh = g.dh + i * H + c;
    T* dgx = g.dgx + i * 3 * H + c;
    T* dgh = g.dgh + i * 3 * H + c;
    const V r = l.load(rec);
    const UpdateGrads<O> u = update_grads<O, GENERAL>(g, rec, l, l.load(dh));
    // a_n = x_n + r ⊙ ghn: dr = da_n ghn; dghn = da_n r.
    const V da_r = reset_grad<O, GENERAL>(g, rec, l, O::mul(u.da_n, l.load(rec + 3 * H)));
    l.store(dgx, da_r);
    l.store(dgx + H, u.da_z);
    l.store(dgx + 2 * H, u.da_n);
    l.store(dgh, da_r);
    l.store(dgh + H, u.da_z);
    l.store(dgh + 2 * H, O::mul(u.da_n, r));
    l.store(dh, u.dh_direct);
  });
}

// reset-before, stage 1 (before the d(r ⊙ h) = da_n W_hn product): z and n parts.
template <class O, bool GENERAL>
static void gates_backward_before_n_body(const GateGradArgs<typename O::T>& g) {
  using T = typename O::T;
  const int64_t H = g.hidden;
  for_each_register<O>(g.rows, g.col_begin, g.col_end, [&](int64_t i, int64_t c, Lanes<O> l) {
    const T* rec = record_of(g, i, c);
    T* dh = g.dh + i * H + c;
    const UpdateGrads<O> u = update_grads<O, GENERAL>(g, rec, l, l.load(dh));
    l.store(g.dgx + i * 3 * H + H + c, u.da_z);
    l.store(g.dgx + i * 3 * H + 2 * H + c, u.da_n);
    l.store(g.dgh + i * 3 * H + H + c, u.da_z);
    l.store(g.dgh + i * 3 * H + 2 * H + c, u.da_n);
    l.store(dh, u.dh_direct);
  });
}

// reset-before, stage 2: the reset gate, from drh = dL/d(r ⊙ h_prev).
template <class O, bool GENERAL>
static void gates_backward_before_r_body(const GateGradArgs<typename O::T>& g) {
  using T = typename O::T;
  using V = typename O::V;
  const int64_t H = g.hidden;
  for_each_register<O>(g.rows, g.col_begin, g.col_end, [&](int64_t i, int64_t c, Lanes<O> l) {
    const T* rec = record_of(g, i, c);
    T* dh = g.dh + i * H + c;
    const V r = l.load(rec);
    const V drh = l.load(g.drh + i * H + c);
    const V da_r = reset_grad<O, GENERAL>(g, rec, l, O::mul(drh, l.load(rec + 4 * H)));
    l.store(g.dgx + i * 3 * H + c, da_r);
    l.store(g.dgh + i * 3 * H + c, da_r);
    l.store(dh, O::fmadd(drh, r, l.load(dh)));
  });
}

