// Small AVX2 helpers of the model layer's *-avx2.cpp files. Only include where __AVX2__ is
// defined. Internal linkage on purpose (see tensor/simd-avx2.h): no out-of-line copy built with
// these flags may be shared with the portable code.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "base/dtype.h"
#include "tensor/simd-avx2.h"

namespace parley::model::ops {
namespace {

using kernels::avx2::dot_f32;
using kernels::avx2::exp8;
using kernels::avx2::hmax;
using kernels::avx2::hsum;

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

// Asks for `bytes` from p into the caches (a kv head's rows are contiguous only within a block,
// 4 KB for 16 F16 rows of 128, where the hardware prefetcher stops). Only for contexts whose
// rows are unlikely to be cached (below kPrefetchKeys the requests cost more than they save).
constexpr int32_t kPrefetchKeys = 4096;
inline void prefetch_block(const uint8_t* p, size_t bytes) {
  for (size_t off = 0; off < bytes; off += 64) _mm_prefetch(reinterpret_cast<const char*>(p + off), _MM_HINT_T0);
}

// 8 int8 of a Q8_0 block as floats (unscaled).
inline __m256 load8_q8(const int8_t* qs) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(qs))));
}

}  // namespace
}  // namespace parley::model::ops
