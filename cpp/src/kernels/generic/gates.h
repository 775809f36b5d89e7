// Fused gate kernels, forward and backward (included inside an ISA namespace after vmath.h).
// Each walks rows x gate columns [col_begin, col_end) one register at a time; the last register of
// a row may be partial. Element-wise only: the matrix products around them are GEMMs.

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

// reset-after: r, z, n and h' in one pass.
template <class O>
static void gates_forward_after_body(const GateArgs<typename O::T>& g) {
  using V = typename O::V;
  const int64_t H = g.hidden;
  for_each_register<O>(g.rows, g.col_begin, g.col_end, [&](int64_t i, int64_t c, Lanes<O> l) {
    const typename O::T* gx = g.gx + i * g.ld_gx + c;
    const typename O::T* gh = g.gh + i * g.ld_gh + c;
    const V hp = l.load(g.h + i * H + c);
    const V r = vsigmoid<O>(O::add(l.load(gx), l.load(gh)));
    const V z = vsigmoid<O>(O::add(l.load(gx + H), l.load(gh + H)));
    const V ghn = l.load(gh + 2 * H);
    const V n = vtanh<O>(O::fmadd(r, ghn, l.load(gx + 2 * H)));
    const V hn = O::fmadd(z, O::sub(hp, n), n);  // n + z (h - n), PyTorch's rounding order
    if (g.rec) {  // only a training forward keeps them
      typename O::T* rec = g.rec + i * 5 * H + c;
      l.store(rec, r);
      l.store(rec + H, z);
      l.store(rec + 2 * H, n);
      l.store(rec + 3 * H, ghn);
      l.store(rec + 4 * H, hp);
    }
    l.store(g.h_out + i * H + c, hn);
    if (g.y) l.store(g.y + i * g.ld_y + c, hn);
  });
}

// reset-before, stage 1: r, z and r ⊙ h_prev (the input of the W_hn product that follows).
template <class O>
static void gates_forward_before_rz_body(const GateArgs<typename O::T>& g) {
  using V = typename O::V;
  const int64_t H = g.hidden;
  for_each_register<O>(g.rows, g.col_begin, g.col_end, [&](int64_t i, int64_t c, Lanes<O> l) {
    const typename O::T* gx = g.gx + i * g.ld_gx + c;
    const typename O::T* gh = g.gh + i * g.ld_gh + c;
    typename O::T* rec = g.rec + i * 5 * H + c;
    const V hp = l.load(g.h + i * H + c);
    const V r = vsigmoid<O>(O::add(l.load(gx), l.load(gh)));
    const V z = vsigmoid<O>(O::add(l.load(gx + H), l.load(gh + H)));
    l.store(rec, r);
    l.store(rec + H, z);
    l.store(rec + 3 * H, O::mul(r, hp));
    l.store(rec + 4 * H, hp);
  });
}

// reset-before, stage 2: n from W_hn (r ⊙ h) + b_hn (in gh), then h'.
template <class O>
static void gates_forward_before_n_body(const GateArgs<typename O::T>& g) {
  using V = typename O::V;
  const int64_t H = g.hidden;
  for_each_register<O>(g.rows, g.col_begin, g.col_end, [&](int64_t i, int64_t c, Lanes<O> l) {
    typename O::T* rec = g.rec + i * 5 * H + c;
    const V hp = l.load(rec + 4 * H);
    const V z = l.load(rec + H);
    const V n = vtanh<O>(O::add(l.load(g.gx + i * g.ld_gx + 2 * H + c), l.load(g.gh + i * g.ld_gh + c)));
    const V hn = O::fmadd(z, O::sub(hp, n), n);
    l.store(rec + 2 * H, n);
    l.store(g.h_out + i * H + c, hn);
    if (g.y) l.store(g.y + i * g.ld_y + c, hn);
  });
}

// Shared by both formulations: the update gate and candidate parts.
// dn = dh (1 - z), dz = dh (h_prev - n); da_n = dn (1 - n²), da_z = dz z (1 - z).
template <class O>
struct UpdateGrads {
  typename O::V da_n, da_z, dh_direct;
};

template <class O>
static inline UpdateGrads<O> update_grads(typename O::V dh, typename O::V z, typename O::V n,
                                          typename O::V hp) {
  using T = typename O::T;
  const auto one = O::set1(T(1));
  const auto dn = O::fnmadd(dh, z, dh);
  const auto dz = O::mul(dh, O::sub(hp, n));
  return {O::mul(dn, O::fnmadd(n, n, one)), O::mul(dz, O::mul(z, O::sub(one, z))), O::mul(dh, z)};
}

template <class O>
static void gates_backward_after_body(const GateGradArgs<typename O::T>& g) {
  using T = typename O::T;
  using V = typename O::V;
  const int64_t H = g.hidden;
  const V one = O::set1(T(1));
  for_each_register<O>(g.rows, g.col_begin, g.col_end, [&](int64_t i, int64_t c, Lanes<O> l) {
    const T* rec = g.rec + i * 5 * H + c;
    T* dh = g.dh + i * H + c;
    T* dgx = g.dgx + i * 3 * H + c;
    T* dgh = g.dgh + i * 3 * H + c;
    const V r = l.load(rec);
    const V n = l.load(rec + 2 * H);
    const UpdateGrads<O> u = update_grads<O>(l.load(dh), l.load(rec + H), n, l.load(rec + 4 * H));
    // n = tanh(a_n + r ⊙ ghn): da_r = da_n ghn r (1 - r); dghn = da_n r.
    const V da_r = O::mul(O::mul(u.da_n, l.load(rec + 3 * H)), O::mul(r, O::sub(one, r)));
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
template <class O>
static void gates_backward_before_n_body(const GateGradArgs<typename O::T>& g) {
  using T = typename O::T;
  const int64_t H = g.hidden;
  for_each_register<O>(g.rows, g.col_begin, g.col_end, [&](int64_t i, int64_t c, Lanes<O> l) {
    const T* rec = g.rec + i * 5 * H + c;
    T* dh = g.dh + i * H + c;
    const UpdateGrads<O> u =
        update_grads<O>(l.load(dh), l.load(rec + H), l.load(rec + 2 * H), l.load(rec + 4 * H));
    l.store(g.dgx + i * 3 * H + H + c, u.da_z);
    l.store(g.dgx + i * 3 * H + 2 * H + c, u.da_n);
    l.store(g.dgh + i * 3 * H + H + c, u.da_z);
    l.store(g.dgh + i * 3 * H + 2 * H + c, u.da_n);
    l.store(dh, u.dh_direct);
  });
}

// reset-before, stage 2: the reset gate, from drh = dL/d(r ⊙ h_prev).
template <class O>
static void gates_backward_before_r_body(const GateGradArgs<typename O::T>& g) {
  using T = typename O::T;
  using V = typename O::V;
  const int64_t H = g.hidden;
  const V one = O::set1(T(1));
  for_each_register<O>(g.rows, g.col_begin, g.col_end, [&](int64_t i, int64_t c, Lanes<O> l) {
    const T* rec = g.rec + i * 5 * H + c;
    T* dh = g.dh + i * H + c;
    const V r = l.load(rec);
    const V drh = l.load(g.drh + i * H + c);
    const V da_r = O::mul(O::mul(drh, l.load(rec + 4 * H)), O::mul(r, O::sub(one, r)));
    l.store(g.dgx + i * 3 * H + c, da_r);
    l.store(g.dgh + i * 3 * H + c, da_r);
    l.store(dh, O::fmadd(drh, r, l.load(dh)));
  });
}
