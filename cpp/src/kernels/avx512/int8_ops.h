// The shared part of the avx512 int8 dot products (gemm_int8.cpp, gemm_int8_native.cpp):
// float(acc - 128 * sum) for the live lanes. Included inside namespace fastgru::kernels::avx512.
static inline __m512 int8_minus_offset(__m512i acc, const int32_t* sum, int lanes) {
  const __m512i s = _mm512_maskz_loadu_epi32(static_cast<__mmask16>((1u << lanes) - 1u), sum);
  return _mm512_cvtepi32_ps(_mm512_sub_epi32(acc, _mm512_slli_epi32(s, 7)));
}
