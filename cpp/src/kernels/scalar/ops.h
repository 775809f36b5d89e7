// Scalar "registers" of one lane: the portable fallback, compiled at baseline flags.
// Included inside namespace fastgru::kernels::scalar; <cmath> is included before it.

template <class Scalar>
struct ScalarOps {
  using T = Scalar;
  using V = Scalar;
  static constexpr int W = 1;
  static V zero() { return V(0); }
  static V set1(T x) { return x; }
  static V load(const T* p) { return *p; }
  static V load_partial(const T* p, int n) { return n > 0 ? *p : V(0); }
  static void store(T* p, V v) { *p = v; }
  static void store_partial(T* p, V v, int n) {
    if (n > 0) *p = v;
  }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V div(V a, V b) { return a / b; }
  // Multiply then add: baseline x86-64 has no FMA instruction and std::fma would be a slow
  // library call. Results differ from the vector ISAs by float rounding only.
  static V fmadd(V a, V b, V c) { return a * b + c; }
  static V fnmadd(V a, V b, V c) { return c - a * b; }
  // NaN fails both comparisons and passes through.
  static V clamp(V x, V lo, V hi) { return x < lo ? lo : (x > hi ? hi : x); }
  static V round(V x) { return std::nearbyint(x); }
  // |x| < limit ? a : b (NaN takes b).
  static V select_small(V x, V limit, V a, V b) { return std::fabs(x) < limit ? a : b; }
  static V scale2(V p, V n) { return std::ldexp(p, static_cast<int>(n)); }
};

using OpsF32 = ScalarOps<float>;
using OpsF64 = ScalarOps<double>;
