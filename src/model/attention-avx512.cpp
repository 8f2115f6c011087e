// Attention on 16-float vectors: the prefill tile kernel (attention-tile.inc: twice the keys per
// broadcast query value, 32 registers for 24 accumulators) and the decode-row kernel below.
// Compiled with the avx512 path's flags; attention.cpp calls them when the CPU runs that path
// and head_dim % 32 == 0.
#include "model/kernels-x86.h"

#if defined(__AVX512F__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <immintrin.h>

// GCC 12's _mm512_cvtph_ps passes _mm512_undefined_ps() as the unused merge source, which its
// own -Wmaybe-uninitialized then flags (a false positive; tensor/packed-avx512.cpp too).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "model/simd-avx2.h"

namespace parley::model::ops {
namespace {

struct Zmm {
  using V = __m512;
  static constexpr int kLanes = 16, kMaxRows = 12;  // 24 accumulators of the 32 registers
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V bcast(const float* p) { return _mm512_set1_ps(*p); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
};

}  // namespace
}  // namespace parley::model::ops

#include "model/attention-tile.inc"

// ---- decode rows on 16-float vectors -------------------------------------------------------------
// One row's G query heads against positions [0, n), as avx2_attend (attention-avx2.cpp), with
// twice the lanes: scores for 2 heads x 4 keys (8 accumulators over head_dim, reduced four at a
// time by a shuffle tree), softmax, then values for 2 heads with the whole output row (up to 128
// dims = 8 registers a head) accumulated over the sequence in registers.

#include <algorithm>
#include <cmath>

namespace parley::model::ops {
namespace {

// Values d..d+15 of a stored F32, F16 or BF16 row.
template <DType T>
inline __m512 load16(const uint8_t* row, int32_t d) {
  const auto* p = reinterpret_cast<const uint16_t*>(row) + d;
  if constexpr (T == DType::f16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  } else if constexpr (T == DType::bf16) {
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
  } else {
    static_assert(T == DType::f32);
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + d);
  }
}

// The four sums of a0..a3 as one 128-bit vector.
inline __m128 hsum4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  const __m512 s01 = _mm512_add_ps(_mm512_shuffle_f32x4(a0, a1, 0x44), _mm512_shuffle_f32x4(a0, a1, 0xEE));
  const __m512 s23 = _mm512_add_ps(_mm512_shuffle_f32x4(a2, a3, 0x44), _mm512_shuffle_f32x4(a2, a3, 0xEE));
  // 128-bit lane k now holds 4 partial sums of a_k.
  __m512 u = _mm512_add_ps(_mm512_shuffle_f32x4(s01, s23, 0x88), _mm512_shuffle_f32x4(s01, s23, 0xDD));
  u = _mm512_add_ps(u, _mm512_permute_ps(u, 0x4E));
  u = _mm512_add_ps(u, _mm512_permute_ps(u, 0xB1));
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  return _mm512_castps512_ps128(_mm512_permutexvar_ps(idx, u));
}

template <DType T, int R>
void scores16(const float* q, int32_t D, const uint8_t* rows, int32_t m, size_t row_bytes, float scale, float* s0,
              float* s1) {
  int32_t j = 0;
  const __m128 sc = _mm_set1_ps(scale);
  for (; j + 4 <= m; j += 4) {
    __m512 acc[R][4];
#pragma GCC unroll 8
    for (int c = 0; c < R * 4; c++) acc[c / 4][c % 4] = _mm512_setzero_ps();
    const uint8_t* k0 = rows + static_cast<size_t>(j) * row_bytes;
    for (int32_t d = 0; d < D; d += 16) {
      __m512 kv[4];
#pragma GCC unroll 4
      for (int k = 0; k < 4; k++) kv[k] = load16<T>(k0 + static_cast<size_t>(k) * row_bytes, d);
#pragma GCC unroll 2
      for (int r = 0; r < R; r++) {
        const __m512 qv = _mm512_loadu_ps(q + r * D + d);
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) acc[r][k] = _mm512_fmadd_ps(qv, kv[k], acc[r][k]);
      }
    }
    _mm_storeu_ps(s0 + j, _mm_mul_ps(hsum4(acc[0][0], acc[0][1], acc[0][2], acc[0][3]), sc));
    if constexpr (R == 2) _mm_storeu_ps(s1 + j, _mm_mul_ps(hsum4(acc[R - 1][0], acc[R - 1][1], acc[R - 1][2], acc[R - 1][3]), sc));
  }
  for (; j < m; j++) {
    const uint8_t* kr = rows + static_cast<size_t>(j) * row_bytes;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    for (int32_t d = 0; d < D; d += 16) {
      const __m512 kv = load16<T>(kr, d);
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + d), kv, a0);
      if constexpr (R == 2) a1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + D + d), kv, a1);
    }
    s0[j] = _mm512_reduce_add_ps(a0) * scale;
    if constexpr (R == 2) s1[j] = _mm512_reduce_add_ps(a1) * scale;
  }
}

// out rows (R of D) = sum_j p_r[j] * V row j; dims [d0, d0 + 16 NV) per pass.
template <DType T, int R, int NV>
void values16(const KvRows& kv, int32_t n, int32_t d0, const float* p0, const float* p1, float* o0, float* o1) {
  const int32_t bs = kv.block_size;
  const size_t row_bytes = kv.row_bytes;
  __m512 acc[R][NV];
#pragma GCC unroll 8
  for (int c = 0; c < NV; c++) {
    acc[0][c] = _mm512_setzero_ps();
    if constexpr (R == 2) acc[R - 1][c] = _mm512_setzero_ps();
  }
  for (int32_t j0 = 0; j0 < n; j0 += bs) {
    const uint8_t* rows = kv.vbase + kv.offset(j0 / bs);
    const int32_t m = std::min(bs, n - j0);
    if (n >= kPrefetchKeys && j0 + 2 * bs < n) prefetch_block(kv.vbase + kv.offset(j0 / bs + 2), std::min(bs, n - j0 - 2 * bs) * row_bytes);
    for (int32_t j = 0; j < m; j++) {
      const uint8_t* vr = rows + static_cast<size_t>(j) * row_bytes;
      const __m512 w0 = _mm512_set1_ps(p0[j0 + j]);
      const __m512 w1 = R == 2 ? _mm512_set1_ps(p1[j0 + j]) : w0;
#pragma GCC unroll 8
      for (int c = 0; c < NV; c++) {
        const __m512 v = load16<T>(vr, d0 + 16 * c);
        acc[0][c] = _mm512_fmadd_ps(w0, v, acc[0][c]);
        if constexpr (R == 2) acc[R - 1][c] = _mm512_fmadd_ps(w1, v, acc[R - 1][c]);
      }
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < NV; c++) {
    _mm512_storeu_ps(o0 + d0 + 16 * c, acc[0][c]);
    if constexpr (R == 2) _mm512_storeu_ps(o1 + d0 + 16 * c, acc[R - 1][c]);
  }
}

template <DType T, int R>
void values16_all(const KvRows& kv, int32_t n, const float* p0, const float* p1, float* o0, float* o1) {
  const int32_t D = kv.head_dim;
  for (int32_t d0 = 0; d0 < D;) {
    const int32_t left = D - d0;
    if (left >= 128) {
      values16<T, R, 8>(kv, n, d0, p0, p1, o0, o1);
      d0 += 128;
    } else if (left >= 64) {
      values16<T, R, 4>(kv, n, d0, p0, p1, o0, o1);
      d0 += 64;
    } else {
      values16<T, R, 2>(kv, n, d0, p0, p1, o0, o1);
      d0 += 32;
    }
  }
}

template <DType T>
void attend16(const float* q, int32_t G, const KvRows& kv, int32_t n, float scale, float* scores, float* out,
              const float* sinks) {
  const int32_t D = kv.head_dim, bs = kv.block_size;
  const size_t row_bytes = kv.row_bytes;
  for (int32_t r = 0; r < G; r += 2) {
    const bool pair = r + 1 < G;
    float* s0 = scores + static_cast<size_t>(r) * static_cast<size_t>(n);
    float* s1 = s0 + n;
    for (int32_t j0 = 0; j0 < n; j0 += bs) {
      const uint8_t* rows = kv.kbase + kv.offset(j0 / bs);
      const int32_t m = std::min(bs, n - j0);
      if (n >= kPrefetchKeys && j0 + 2 * bs < n) prefetch_block(kv.kbase + kv.offset(j0 / bs + 2), std::min(bs, n - j0 - 2 * bs) * row_bytes);
      if (pair) {
        scores16<T, 2>(q + r * D, D, rows, m, row_bytes, scale, s0 + j0, s1 + j0);
      } else {
        scores16<T, 1>(q + r * D, D, rows, m, row_bytes, scale, s0 + j0, nullptr);
      }
    }
  }
  for (int32_t r = 0; r < G; r++) {
    float* s = scores + static_cast<size_t>(r) * static_cast<size_t>(n);
    __m512 mx16 = _mm512_set1_ps(-INFINITY);
    int32_t j = 0;
    for (; j + 16 <= n; j += 16) mx16 = _mm512_max_ps(mx16, _mm512_loadu_ps(s + j));
    float mx = _mm512_reduce_max_ps(mx16);
    for (; j < n; j++) mx = std::max(mx, s[j]);
    if (sinks != nullptr) mx = std::max(mx, sinks[r]);  // the sink: a logit with no value
    for (j = 0; j < n; j++) s[j] -= mx;
    avx2_exp_inplace(s, n);
    __m512 sum16 = _mm512_setzero_ps();
    for (j = 0; j + 16 <= n; j += 16) sum16 = _mm512_add_ps(sum16, _mm512_loadu_ps(s + j));
    float sum = _mm512_reduce_add_ps(sum16);
    for (; j < n; j++) sum += s[j];
    if (sinks != nullptr) sum += std::exp(sinks[r] - mx);
    const float inv = 1.0f / sum;
    for (j = 0; j < n; j++) s[j] *= inv;
  }
  for (int32_t r = 0; r < G; r += 2) {
    const float* p0 = scores + static_cast<size_t>(r) * static_cast<size_t>(n);
    float* o0 = out + static_cast<size_t>(r) * static_cast<size_t>(D);
    if (r + 1 < G) {
      values16_all<T, 2>(kv, n, p0, p0 + n, o0, o0 + D);
    } else {
      values16_all<T, 1>(kv, n, p0, nullptr, o0, nullptr);
    }
  }
}

}  // namespace

void avx512_attend_tile(DType t, const AttendTile& a, const KvRows& kv, float* scratch) {
  attend_tile_for<Zmm>(t, a, kv, scratch);
}

void avx512_attend(DType t, const float* q, int32_t G, const KvRows& kv, int32_t n, float scale, float* scores,
                   float* out, const float* sinks) {
  switch (t) {
    case DType::f32: return attend16<DType::f32>(q, G, kv, n, scale, scores, out, sinks);
    case DType::f16: return attend16<DType::f16>(q, G, kv, n, scale, scores, out, sinks);
    case DType::bf16: return attend16<DType::bf16>(q, G, kv, n, scale, scores, out, sinks);
    default: return avx2_attend(t, q, G, kv, n, scale, scores, out, 0, sinks);  // Q8_0: the 256-bit kernel
  }
}

}  // namespace parley::model::ops

#else  // not an x86 build: never called (cpu_path() is scalar)

namespace parley::model::ops {
void avx512_attend_tile(DType, const AttendTile&, const KvRows&, float*) {}
void avx512_attend(DType, const float*, int32_t, const KvRows&, int32_t, float, float*, float*, const float*) {}
}  // namespace parley::model::ops

#endif
