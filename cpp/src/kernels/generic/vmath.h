// Vectorised exp / sigmoid / tanh on an Ops register (included inside an ISA namespace).
//
// exp: x = n ln2 + r, |r| <= ln2/2 (Cody-Waite split of ln2), Taylor polynomial for e^r
// (degree 7 for float, 13 for double: truncation error below 1e-8 resp. 1e-17 relative), then
// scaled by 2^n. Inputs are clamped so 2^n stays a normal number; NaN passes through the clamp.
// Error bound (tested in tests/test_vmath.py against float64): sigmoid and tanh within
// 4 float32 ulp-of-1 (2.4e-7 absolute) for float, 1e-15 absolute for double.

template <class O>
static inline typename O::V vexp(typename O::V x) {
  using T = typename O::T;
  using V = typename O::V;
  if constexpr (sizeof(T) == 4) {
    x = O::clamp(x, O::set1(T(-87.0f)), O::set1(T(88.0f)));
    V n = O::round(O::mul(x, O::set1(T(1.44269504088896341f))));
    V r = O::fnmadd(n, O::set1(T(0.693359375f)), x);
    r = O::fnmadd(n, O::set1(T(-2.12194440e-4f)), r);
    V p = O::set1(T(1.0f / 5040.0f));
    p = O::fmadd(p, r, O::set1(T(1.0f / 720.0f)));
    p = O::fmadd(p, r, O::set1(T(1.0f / 120.0f)));
    p = O::fmadd(p, r, O::set1(T(1.0f / 24.0f)));
    p = O::fmadd(p, r, O::set1(T(1.0f / 6.0f)));
    p = O::fmadd(p, r, O::set1(T(0.5f)));
    p = O::fmadd(p, r, O::set1(T(1.0f)));
    p = O::fmadd(p, r, O::set1(T(1.0f)));
    return O::scale2(p, n);
  } else {
    x = O::clamp(x, O::set1(T(-708.0)), O::set1(T(709.0)));
    V n = O::round(O::mul(x, O::set1(T(1.4426950408889634074))));
    V r = O::fnmadd(n, O::set1(T(6.93147180369123816490e-01)), x);
    r = O::fnmadd(n, O::set1(T(1.90821492927058770002e-10)), r);
    // Horner over 1/k!, k = 13 .. 0.
    const T inv_fact[14] = {1.0,
                            1.0,
                            0.5,
                            1.0 / 6.0,
                            1.0 / 24.0,
                            1.0 / 120.0,
                            1.0 / 720.0,
                            1.0 / 5040.0,
                            1.0 / 40320.0,
                            1.0 / 362880.0,
                            1.0 / 3628800.0,
                            1.0 / 39916800.0,
                            1.0 / 479001600.0,
                            1.0 / 6227020800.0};
    V p = O::set1(inv_fact[13]);
    for (int i = 12; i >= 0; --i) p = O::fmadd(p, r, O::set1(inv_fact[i]));
    return O::scale2(p, n);
  }
}

template <class O>
static inline typename O::V vsigmoid(typename O::V x) {
  using T = typename O::T;
  const auto one = O::set1(T(1));
  return O::div(one, O::add(one, vexp<O>(O::sub(O::zero(), x))));
}

// tanh(x) = 1 - 2 / (e^{2x} + 1): saturates cleanly to ±1 and keeps NaN.
template <class O>
static inline typename O::V vtanh(typename O::V x) {
  using T = typename O::T;
  const auto one = O::set1(T(1));
  const auto e = vexp<O>(O::add(x, x));
  return O::sub(one, O::div(O::set1(T(2)), O::add(e, one)));
}
