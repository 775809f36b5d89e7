// AVX2 + FMA registers: 8 floats / 4 doubles. Included inside namespace
// fastgru::kernels::avx2 after <immintrin.h>; compiled only with -mavx2 -mfma.

static inline __m256i avx2_tail_mask32(int n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

static inline __m256i avx2_tail_mask64(int n) {
  const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
  return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), idx);
}

struct OpsF32 {
  using T = float;
  using V = __m256;
  static constexpr int W = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(T x) { return _mm256_set1_ps(x); }
  static V load(const T* p) { return _mm256_loadu_ps(p); }
  static V load_partial(const T* p, int n) { return _mm256_maskload_ps(p, avx2_tail_mask32(n)); }
  static void store(T* p, V v) { _mm256_storeu_ps(p, v); }
  static void store_partial(T* p, V v, int n) { _mm256_maskstore_ps(p, avx2_tail_mask32(n), v); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V fnmadd(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }
  // max/min return their second operand when either is NaN: x goes second so NaN survives.
  static V clamp(V x, V lo, V hi) { return _mm256_min_ps(hi, _mm256_max_ps(lo, x)); }
  static V round(V x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // |x| < limit ? a : b (NaN takes b).
  static V select_small(V x, V limit, V a, V b) {
    const V abs = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(abs, limit, _CMP_LT_OQ));
  }
  static V scale2(V p, V n) {
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  }
};

struct OpsF64 {
  using T = double;
  using V = __m256d;
  static constexpr int W = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V set1(T x) { return _mm256_set1_pd(x); }
  static V load(const T* p) { return _mm256_loadu_pd(p); }
  static V load_partial(const T* p, int n) { return _mm256_maskload_pd(p, avx2_tail_mask64(n)); }
  static void store(T* p, V v) { _mm256_storeu_pd(p, v); }
  static void store_partial(T* p, V v, int n) { _mm256_maskstore_pd(p, avx2_tail_mask64(n), v); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static V sub(V a, V b) { return _mm256_sub_pd(a, b); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static V div(V a, V b) { return _mm256_div_pd(a, b); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V fnmadd(V a, V b, V c) { return _mm256_fnmadd_pd(a, b, c); }
  static V clamp(V x, V lo, V hi) { return _mm256_min_pd(hi, _mm256_max_pd(lo, x)); }
  static V round(V x) { return _mm256_round_pd(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static V select_small(V x, V limit, V a, V b) {
    const V abs = _mm256_andnot_pd(_mm256_set1_pd(-0.0), x);
    return _mm256_blendv_pd(b, a, _mm256_cmp_pd(abs, limit, _CMP_LT_OQ));
  }
  static V scale2(V p, V n) {
    const __m256i k = _mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(n));
    const __m256i e = _mm256_slli_epi64(_mm256_add_epi64(k, _mm256_set1_epi64x(1023)), 52);
    return _mm256_mul_pd(p, _mm256_castsi256_pd(e));
  }
};
