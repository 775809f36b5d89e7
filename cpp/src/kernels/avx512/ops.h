// AVX-512 registers: 16 floats / 8 doubles, masked tails. Included inside namespace
// fastgru::kernels::avx512 after <immintrin.h>; compiled only with the AVX-512 flags.

struct OpsF32 {
  using T = float;
  using V = __m512;
  static constexpr int W = 16;
  static __mmask16 mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(T x) { return _mm512_set1_ps(x); }
  static V load(const T* p) { return _mm512_loadu_ps(p); }
  static V load_partial(const T* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static void store(T* p, V v) { _mm512_storeu_ps(p, v); }
  static void store_partial(T* p, V v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V fnmadd(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }
  // max/min return their second operand when either is NaN: x goes second so NaN survives.
  static V clamp(V x, V lo, V hi) { return _mm512_min_ps(hi, _mm512_max_ps(lo, x)); }
  static V round(V x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // |x| < limit ? a : b (NaN takes b).
  static V select_small(V x, V limit, V a, V b) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(_mm512_abs_ps(x), limit, _CMP_LT_OQ), b, a);
  }
  static V scale2(V p, V n) { return _mm512_scalef_ps(p, n); }
};

struct OpsF64 {
  using T = double;
  using V = __m512d;
  static constexpr int W = 8;
  static __mmask8 mask(int n) { return static_cast<__mmask8>((1u << n) - 1u); }
  static V zero() { return _mm512_setzero_pd(); }
  static V set1(T x) { return _mm512_set1_pd(x); }
  static V load(const T* p) { return _mm512_loadu_pd(p); }
  static V load_partial(const T* p, int n) { return _mm512_maskz_loadu_pd(mask(n), p); }
  static void store(T* p, V v) { _mm512_storeu_pd(p, v); }
  static void store_partial(T* p, V v, int n) { _mm512_mask_storeu_pd(p, mask(n), v); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static V sub(V a, V b) { return _mm512_sub_pd(a, b); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static V div(V a, V b) { return _mm512_div_pd(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V fnmadd(V a, V b, V c) { return _mm512_fnmadd_pd(a, b, c); }
  static V clamp(V x, V lo, V hi) { return _mm512_min_pd(hi, _mm512_max_pd(lo, x)); }
  static V round(V x) { return _mm512_roundscale_pd(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static V select_small(V x, V limit, V a, V b) {
    return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(_mm512_abs_pd(x), limit, _CMP_LT_OQ), b, a);
  }
  static V scale2(V p, V n) { return _mm512_scalef_pd(p, n); }
};
