// Vectorised exp / sigmoid / tanh on an Ops register (included inside an ISA namespace).
//
// exp: x = n ln2 + r, |r| <= ln2/2 (Cody-Waite split of ln2), Taylor polynomial for e^r
// (degree 7 for float, 13 for double: truncation error below 1e-8 resp. 1e-17 relative), then
// scaled by 2^n. Inputs are clamped so 2^n stays a normal number; NaN passes through the clamp.
// Error bounds (tests/test_vmath.py checks them against float64 / long double on every ISA), for
// float and double alike: sigmoid within 3 ulp of its value where that is a normal number, tanh
// within 4 ulp everywhere (the series branch keeps small arguments relative-accurate), both within
// 2 epsilon absolute; NaN in, NaN out; ±inf saturate.

// e^r - 1 for |r| <= ln2/2 by its Taylor series without the constant term, so it keeps full
// relative accuracy where e^r - 1 would cancel. Degree 7 (float) / 13 (double), as vexp.
template <class O>
static inline typename O::V vexpm1_reduced(typename O::V r) {
  using T = typename O::T;
  constexpr int degree = sizeof(T) == 4 ? 7 : 13;
  T inv_fact[degree + 1];
  inv_fact[0] = T(1);
  for (int k = 1; k <= degree; ++k) inv_fact[k] = inv_fact[k - 1] / T(k);
  typename O::V p = O::set1(inv_fact[degree]);
  for (int k = degree - 1; k >= 1; --k) p = O::fmadd(p, r, O::set1(inv_fact[k]));
  return O::mul(p, r);
}

template <class O>
static inline typename O::V vexp(typename O::V x) {
  using T = typename O::T;
  using V = typename O::V;
  constexpr bool f32 = sizeof(T) == 4;
  // Below: 2^n stays normal. Above: 2^n overflows to +inf, so sigmoid(-x) is exactly 0 there.
  x = O::clamp(x, O::set1(T(f32 ? -87.0 : -708.0)), O::set1(T(f32 ? 89.0 : 710.0)));
  const V n = O::round(O::mul(x, O::set1(T(1.4426950408889634074))));
  // Cody-Waite: ln2 = hi + lo with hi exact in few bits, so n * hi is exact.
  V r = O::fnmadd(n, O::set1(T(f32 ? 0.693359375 : 6.93147180369123816490e-01)), x);
  r = O::fnmadd(n, O::set1(T(f32 ? -2.12194440e-4 : 1.90821492927058770002e-10)), r);
  return O::scale2(O::add(vexpm1_reduced<O>(r), O::set1(T(1))), n);
}

template <class O>
static inline typename O::V vsigmoid(typename O::V x) {
  using T = typename O::T;
  const auto one = O::set1(T(1));
  return O::div(one, O::add(one, vexp<O>(O::sub(O::zero(), x))));
}

// tanh(x) = m / (m + 2) with m = e^{2x} - 1: for |x| < ln2/4, m comes from the series (full
// relative accuracy near 0), else from vexp; one division either way. Saturates to ±1, keeps NaN.
template <class O>
static inline typename O::V vtanh(typename O::V x) {
  using T = typename O::T;
  // tanh is ±1 in this precision well before 20 (float) / 40 (double); clamping keeps e^{2x} finite.
  const T limit = T(sizeof(T) == 4 ? 20 : 40);
  x = O::clamp(x, O::set1(-limit), O::set1(limit));
  const auto two_x = O::add(x, x);
  const auto m_small = vexpm1_reduced<O>(two_x);
  const auto m_big = O::sub(vexp<O>(two_x), O::set1(T(1)));
  const auto m = O::select_small(x, O::set1(T(0.17328679513998632)), m_small, m_big);
  return O::div(m, O::add(m, O::set1(T(2))));
}
