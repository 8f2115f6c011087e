// AVX2 versions of kv-rows.cpp's row conversions (kv_row_store dispatches here when the CPU
// has AVX2 + FMA + F16C; CMake builds this file with those flags).
#include "model/kernels-x86.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <immintrin.h>

#include "tensor/fp16.h"

namespace parley::model {

void avx2_store_f16(const float* src, uint16_t* dst, int32_t n) {
  int32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; i++) dst[i] = f32_to_fp16(src[i]);
}

// f32_to_bf16 on 8 lanes: add 0x7FFF plus the kept lowest bit (ties to even), keep the upper
// half; a NaN keeps its upper half with the quiet bit set instead.
void avx2_store_bf16(const float* src, uint16_t* dst, int32_t n) {
  int32_t i = 0;
  const __m256i one = _mm256_set1_epi32(1), round = _mm256_set1_epi32(0x7FFF);
  const __m256i abs_mask = _mm256_set1_epi32(0x7FFFFFFF), inf = _mm256_set1_epi32(0x7F800000);
  const __m256i quiet = _mm256_set1_epi32(0x00400000);
  for (; i + 8 <= n; i += 8) {
    __m256i x = _mm256_castps_si256(_mm256_loadu_ps(src + i));
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), one);
    __m256i r = _mm256_add_epi32(x, _mm256_add_epi32(round, lsb));
    __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(x, abs_mask), inf);
    r = _mm256_srli_epi32(_mm256_blendv_epi8(r, _mm256_or_si256(x, quiet), nan), 16);
    // packus works within 128-bit lanes: [0..3, 0..3, 4..7, 4..7] -> take qwords 0 and 2.
    __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_castsi256_si128(p));
  }
  for (; i < n; i++) dst[i] = f32_to_bf16(src[i]);
}

// quantize_q8_0 (tensor/quant.cpp) on 32 lanes at a time, bit-identical: the same amax, the
// same fp16-rounded scale and x * (1 / d), clamped to [-127, 127] and rounded to nearest even.
void avx2_store_q8_0(const float* src, BlockQ8_0* dst, int32_t n) {
  const __m256 sign = _mm256_set1_ps(-0.0f), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int32_t b = 0; b < n / kQK; b++, src += kQK) {
    __m256 x[4];
    __m256 mx = _mm256_setzero_ps();
    for (int c = 0; c < 4; c++) {
      x[c] = _mm256_loadu_ps(src + 8 * c);
      mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, x[c]));
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    dst[b].d = f32_to_fp16(amax / 127.0f);
    const float d = fp16_to_f32(dst[b].d);
    const __m256 id = _mm256_set1_ps(d != 0 ? 1.0f / d : 0.0f);
    __m256i q[4];
    for (int c = 0; c < 4; c++) {
      __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(x[c], id), lo), hi);
      q[c] = _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    p = _mm256_permutevar8x32_epi32(p, perm);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst[b].qs), p);
  }
}

}  // namespace parley::model

#else  // not an x86 build: never called (cpu_path() is scalar)

namespace parley::model {
void avx2_store_f16(const float*, uint16_t*, int32_t) {}
void avx2_store_bf16(const float*, uint16_t*, int32_t) {}
void avx2_store_q8_0(const float*, BlockQ8_0*, int32_t) {}
}  // namespace parley::model

#endif
