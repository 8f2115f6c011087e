// AVX2 attention kernels (ops::attention in attention.cpp dispatches here when the CPU has
// AVX2 + FMA + F16C; CMake builds this file with those flags). Two query heads and four keys
// (scores) or 32 dims (values) at a time, so the FMA chains are independent.
#include "model/kernels-x86.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "base/check.h"
#include "model/ops.h"
#include "model/simd-avx2.h"

namespace parley::model::ops {
namespace {

// scores of R (1 or 2) query rows against K rows [0, m) starting at `rows` (contiguous).
template <DType T, int R>
void scores_block(const float* q, int32_t D, const uint8_t* rows, int32_t m, size_t row_bytes, float scale,
                  float* s0, float* s1) {
  int32_t j = 0;
  for (; j + 4 <= m; j += 4) {
    __m256 acc[R][4];
#pragma GCC unroll 8
    for (int c = 0; c < R * 4; c++) acc[c / 4][c % 4] = _mm256_setzero_ps();
    const uint8_t* k0 = rows + static_cast<size_t>(j) * row_bytes;
    if constexpr (T == DType::q8_0) {
      // Per block of 32: the four keys' scales once, then 8 values at a time scaled as loaded
      // (a per-block partial sum for each key and row, scaled once, would need 8 registers more
      // than the 16 there are).
      for (int32_t b = 0; b < D / kQK; b++) {
        const BlockQ8_0* kb[4];
        __m256 dk[4];
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
          kb[k] = reinterpret_cast<const BlockQ8_0*>(k0 + static_cast<size_t>(k) * row_bytes) + b;
          dk[k] = _mm256_set1_ps(_cvtsh_ss(kb[k]->d));
        }
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
          __m256 qv[R];
#pragma GCC unroll 2
          for (int r = 0; r < R; r++) qv[r] = _mm256_loadu_ps(q + r * D + b * kQK + 8 * c);
#pragma GCC unroll 4
          for (int k = 0; k < 4; k++) {
            __m256 kv = _mm256_mul_ps(load8_q8(kb[k]->qs + 8 * c), dk[k]);
#pragma GCC unroll 2
            for (int r = 0; r < R; r++) acc[r][k] = _mm256_fmadd_ps(qv[r], kv, acc[r][k]);
          }
        }
      }
    } else {
      for (int32_t d = 0; d < D; d += 8) {
        __m256 kv[4];
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) kv[k] = load8<T>(k0 + static_cast<size_t>(k) * row_bytes, d);
#pragma GCC unroll 2
        for (int r = 0; r < R; r++) {
          __m256 qv = _mm256_loadu_ps(q + r * D + d);
#pragma GCC unroll 4
          for (int k = 0; k < 4; k++) acc[r][k] = _mm256_fmadd_ps(qv, kv[k], acc[r][k]);
        }
      }
    }
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
      s0[j + k] = hsum(acc[0][k]) * scale;
      if constexpr (R == 2) s1[j + k] = hsum(acc[1][k]) * scale;
    }
  }
  for (; j < m; j++) {
    const uint8_t* kr = rows + static_cast<size_t>(j) * row_bytes;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (int32_t d = 0; d < D; d += 8) {
      __m256 kv;
      if constexpr (T == DType::q8_0) {
        const BlockQ8_0* kb = reinterpret_cast<const BlockQ8_0*>(kr) + d / kQK;
        kv = _mm256_mul_ps(load8_q8(kb->qs + d % kQK), _mm256_set1_ps(_cvtsh_ss(kb->d)));
      } else {
        kv = load8<T>(kr, d);
      }
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), kv, a0);
      if constexpr (R == 2) a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + D + d), kv, a1);
    }
    s0[j] = hsum(a0) * scale;
    if constexpr (R == 2) s1[j] = hsum(a1) * scale;
  }
}

// out rows (R of D) = sum_j p_r[j] * V row j, over the sequence's blocks; 8 * NV dims at a
// time (NV = 4 when D is a multiple of 32, always for Q8_0: then the 32 dims are one block and
// its scale is folded into the weights), accumulators in registers.
template <DType T, int R, int NV>
void values(const KvRows& kv, int32_t n, const float* p0, const float* p1, float* o0, float* o1) {
  static_assert(T != DType::q8_0 || NV * 8 == kQK);
  const int32_t D = kv.head_dim, bs = kv.block_size;
  const size_t row_bytes = kv.row_bytes;
  std::fill(o0, o0 + D, 0.0f);
  if constexpr (R == 2) std::fill(o1, o1 + D, 0.0f);
  // Block by block, all dims of a block's rows before the next block: each V row is read from
  // memory once (the outputs stay in L1), and the block after next is requested meanwhile.
  for (int32_t j0 = 0; j0 < n; j0 += bs) {
    const uint8_t* rows = kv.vbase + kv.offset(j0 / bs);
    const int32_t m = std::min(bs, n - j0);
    if (n >= kPrefetchKeys && j0 + 2 * bs < n) prefetch_block(kv.vbase + kv.offset(j0 / bs + 2), std::min(bs, n - j0 - 2 * bs) * row_bytes);
    for (int32_t d0 = 0; d0 < D; d0 += 8 * NV) {
      __m256 acc[R][NV];
#pragma GCC unroll 4
      for (int c = 0; c < NV; c++) {
        acc[0][c] = _mm256_loadu_ps(o0 + d0 + 8 * c);
        if constexpr (R == 2) acc[R - 1][c] = _mm256_loadu_ps(o1 + d0 + 8 * c);
      }
      for (int32_t j = 0; j < m; j++) {
        const uint8_t* vr = rows + static_cast<size_t>(j) * row_bytes;
        float w0s = p0[j0 + j], w1s = w0s;
        if constexpr (R == 2) w1s = p1[j0 + j];
        const BlockQ8_0* vb = nullptr;
        if constexpr (T == DType::q8_0) {
          vb = reinterpret_cast<const BlockQ8_0*>(vr) + d0 / kQK;
          const float dv = _cvtsh_ss(vb->d);
          w0s *= dv;
          w1s *= dv;
        }
        const __m256 w0 = _mm256_set1_ps(w0s), w1 = _mm256_set1_ps(w1s);
#pragma GCC unroll 4
        for (int c = 0; c < NV; c++) {
          __m256 v;
          if constexpr (T == DType::q8_0) {
            v = load8_q8(vb->qs + 8 * c);
          } else {
            v = load8<T>(vr, d0 + 8 * c);
          }
          acc[0][c] = _mm256_fmadd_ps(w0, v, acc[0][c]);
          if constexpr (R == 2) acc[R - 1][c] = _mm256_fmadd_ps(w1, v, acc[R - 1][c]);
        }
      }
#pragma GCC unroll 4
      for (int c = 0; c < NV; c++) {
        _mm256_storeu_ps(o0 + d0 + 8 * c, acc[0][c]);
        if constexpr (R == 2) _mm256_storeu_ps(o1 + d0 + 8 * c, acc[R - 1][c]);
      }
    }
  }
}

// Softmax of s[0..n) in place; returns 1 / sum. sink (null: none) is one more logit in the
// denominator, with no value.
float softmax_unnormalized(float* s, int32_t n, const float* sink) {
  __m256 mx8 = _mm256_set1_ps(-INFINITY);
  int32_t j = 0;
  for (; j + 8 <= n; j += 8) mx8 = _mm256_max_ps(mx8, _mm256_loadu_ps(s + j));
  float mx = hmax(mx8);
  for (; j < n; j++) mx = std::max(mx, s[j]);
  if (sink != nullptr) mx = std::max(mx, *sink);
  for (j = 0; j < n; j++) s[j] -= mx;
  avx2_exp_inplace(s, n);
  __m256 sum8 = _mm256_setzero_ps();
  for (j = 0; j + 8 <= n; j += 8) sum8 = _mm256_add_ps(sum8, _mm256_loadu_ps(s + j));
  float sum = hsum(sum8);
  for (; j < n; j++) sum += s[j];
  if (sink != nullptr) sum += std::exp(*sink - mx);
  return 1.0f / sum;
}

// skip: keys 0..skip-1 are masked (a sliding window starting inside the first block).
template <DType T>
void attend_avx2(const float* q, int32_t G, const KvRows& kv, int32_t n, int32_t skip, float scale, float* scores,
                 float* out, const float* sinks) {
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
        scores_block<T, 2>(q + r * D, D, rows, m, row_bytes, scale, s0 + j0, s1 + j0);
      } else {
        scores_block<T, 1>(q + r * D, D, rows, m, row_bytes, scale, s0 + j0, nullptr);
      }
    }
  }
  for (int32_t r = 0; r < G; r++) {
    float* s = scores + static_cast<size_t>(r) * static_cast<size_t>(n);
    std::fill(s, s + skip, 0.0f);  // weight 0: the values pass reads those rows for nothing
    float inv = softmax_unnormalized(s + skip, n - skip, sinks != nullptr ? sinks + r : nullptr);
    for (int32_t j = skip; j < n; j++) s[j] *= inv;
  }
  for (int32_t r = 0; r < G; r += 2) {
    const float* p0 = scores + static_cast<size_t>(r) * static_cast<size_t>(n);
    float* o0 = out + static_cast<size_t>(r) * static_cast<size_t>(D);
    const bool pair = r + 1 < G;
    if (T == DType::q8_0 || D % 32 == 0) {
      pair ? values<T, 2, 4>(kv, n, p0, p0 + n, o0, o0 + D) : values<T, 1, 4>(kv, n, p0, nullptr, o0, nullptr);
    } else if constexpr (T != DType::q8_0) {
      pair ? values<T, 2, 1>(kv, n, p0, p0 + n, o0, o0 + D) : values<T, 1, 1>(kv, n, p0, nullptr, o0, nullptr);
    }
  }
}

// The prefill tile kernel on 8-float vectors.
struct Ymm {
  using V = __m256;
  static constexpr int kLanes = 8, kMaxRows = 6;  // 12 accumulators of the 16 registers
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V bcast(const float* p) { return _mm256_broadcast_ss(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
};

}  // namespace

}  // namespace parley::model::ops

#include "model/attention-tile.inc"

namespace parley::model::ops {

void avx2_attend(DType t, const float* q, int32_t G, const KvRows& kv, int32_t n, float scale, float* scores,
                 float* out, int32_t skip, const float* sinks) {
  switch (t) {
    case DType::f32: return attend_avx2<DType::f32>(q, G, kv, n, skip, scale, scores, out, sinks);
    case DType::f16: return attend_avx2<DType::f16>(q, G, kv, n, skip, scale, scores, out, sinks);
    case DType::bf16: return attend_avx2<DType::bf16>(q, G, kv, n, skip, scale, scores, out, sinks);
    case DType::q8_0: return attend_avx2<DType::q8_0>(q, G, kv, n, skip, scale, scores, out, sinks);
    default: PARLEY_CHECK_MSG(false, "attention: not a KV cache type");
  }
}

void avx2_attend_tile(DType t, const AttendTile& a, const KvRows& kv, float* scratch) {
  attend_tile_for<Ymm>(t, a, kv, scratch);
}

}  // namespace parley::model::ops

#else  // not an x86 build: never called (cpu_path() is scalar)

namespace parley::model::ops {
void avx2_attend(DType, const float*, int32_t, const KvRows&, int32_t, float, float*, float*, int32_t, const float*) {}
void avx2_attend_tile(DType, const AttendTile&, const KvRows&, float*) {}
}  // namespace parley::model::ops

#endif
