// Small AVX2 helpers of the model layer's *-avx2.cpp files. Only include where __AVX2__ is
// defined. Internal linkage on purpose (see tensor/simd-avx2.h): no out-of-line copy built with
// these flags may be shared with the portable code.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "base/dtype.h"
#include "tensor/simd-avx2.h"

namespace parley::model::ops {
namespace {

using kernels::avx2::dot_f32;
using kernels::avx2::hmax;
using kernels::avx2::hsum;

// exp for 8 floats: range reduction to 2^n * e^r with |r| <= ln2/2 and a degree-6 polynomial
// (the Cephes expf coefficients); relative error ~1e-7 over the clamped range.
inline __m256 exp8(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

// Values d..d+7 of a stored F32, F16 or BF16 row.
template <DType T>
inline __m256 load8(const uint8_t* row, int32_t d) {
  if constexpr (T == DType::f16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(row) + d)));
  } else if constexpr (T == DType::bf16) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(row) + d));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  } else {
    static_assert(T == DType::f32);
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + d);
  }
}

// 8 int8 of a Q8_0 block as floats (unscaled).
inline __m256 load8_q8(const int8_t* qs) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(qs))));
}

}  // namespace
}  // namespace parley::model::ops
