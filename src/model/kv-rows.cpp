#include "model/kv-rows.h"

#include <cmath>
#include <cstring>

#include "base/check.h"
#include "tensor/fp16.h"
#include "tensor/quant-blocks.h"
#include "tensor/quant.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define PARLEY_KV_AVX2 1
#endif

namespace parley::model {
namespace {

void store_f16_scalar(const float* src, uint16_t* dst, int32_t n) {
  for (int32_t i = 0; i < n; i++) dst[i] = f32_to_fp16(src[i]);
}
void store_bf16_scalar(const float* src, uint16_t* dst, int32_t n) {
  for (int32_t i = 0; i < n; i++) dst[i] = f32_to_bf16(src[i]);
}

#ifdef PARLEY_KV_AVX2
void store_f16_avx2(const float* src, uint16_t* dst, int32_t n) {
  int32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
  }
  store_f16_scalar(src + i, dst + i, n - i);
}

// f32_to_bf16 on 8 lanes: add 0x7FFF plus the kept lowest bit (ties to even), keep the upper
// half; a NaN keeps its upper half with the quiet bit set instead.
void store_bf16_avx2(const float* src, uint16_t* dst, int32_t n) {
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
  store_bf16_scalar(src + i, dst + i, n - i);
}

// quantize_q8_0 (tensor/quant.cpp) on 32 lanes at a time, bit-identical: the same amax, the
// same fp16-rounded scale and x * (1 / d), clamped to [-127, 127] and rounded to nearest even.
void store_q8_0_avx2(const float* src, BlockQ8_0* dst, int32_t n) {
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
#endif

}  // namespace

void kv_row_store(DType t, const float* src, uint8_t* dst, int32_t n, KvRowPath path) {
#ifdef PARLEY_KV_AVX2
  const bool simd = path == KvRowPath::best;
#else
  (void)path;
#endif
  switch (t) {
    case DType::f32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case DType::f16:
#ifdef PARLEY_KV_AVX2
      if (simd) return store_f16_avx2(src, reinterpret_cast<uint16_t*>(dst), n);
#endif
      return store_f16_scalar(src, reinterpret_cast<uint16_t*>(dst), n);
    case DType::bf16:
#ifdef PARLEY_KV_AVX2
      if (simd) return store_bf16_avx2(src, reinterpret_cast<uint16_t*>(dst), n);
#endif
      return store_bf16_scalar(src, reinterpret_cast<uint16_t*>(dst), n);
    case DType::q8_0:
      PARLEY_CHECK_MSG(n % kQK == 0, "Q8_0 KV rows are whole blocks of 32");
#ifdef PARLEY_KV_AVX2
      if (simd) return store_q8_0_avx2(src, reinterpret_cast<BlockQ8_0*>(dst), n);
#endif
      return quantize_row(DType::q8_0, src, dst, n);
    default: PARLEY_CHECK_MSG(false, "kv_row_store: not a KV cache type");
  }
}

void kv_row_load(DType t, const uint8_t* src, float* dst, int32_t n) {
  switch (t) {
    case DType::f32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case DType::f16:
      for (int32_t i = 0; i < n; i++) dst[i] = fp16_to_f32(reinterpret_cast<const uint16_t*>(src)[i]);
      return;
    case DType::bf16:
      for (int32_t i = 0; i < n; i++) dst[i] = bf16_to_f32(reinterpret_cast<const uint16_t*>(src)[i]);
      return;
    case DType::q8_0: dequantize_row(DType::q8_0, src, dst, n); return;
    default: PARLEY_CHECK_MSG(false, "kv_row_load: not a KV cache type");
  }
}

}  // namespace parley::model
