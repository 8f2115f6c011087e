// AVX2 attention kernels (ops::attention in attention.cpp dispatches here when the CPU has
// AVX2 + FMA + F16C; CMake builds this file with those flags). Two query heads and four keys
// (scores) or 32 dims (values) at a time, so the FMA chains are independent.
#include "model/kernels-avx2.h"

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
  for (int32_t d0 = 0; d0 < D; d0 += 8 * NV) {
    __m256 acc[R][NV];
#pragma GCC unroll 8
    for (int c = 0; c < R * NV; c++) acc[c / NV][c % NV] = _mm256_setzero_ps();
    for (int32_t j0 = 0; j0 < n; j0 += bs) {
      const uint8_t* rows = kv.vbase + kv.offset(j0 / bs);
      const int32_t m = std::min(bs, n - j0);
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
    }
#pragma GCC unroll 4
    for (int c = 0; c < NV; c++) {
      _mm256_storeu_ps(o0 + d0 + 8 * c, acc[0][c]);
      if constexpr (R == 2) _mm256_storeu_ps(o1 + d0 + 8 * c, acc[R - 1][c]);
    }
  }
}

// Softmax of s[0..n) in place; returns 1 / sum.
float softmax_unnormalized(float* s, int32_t n) {
  __m256 mx8 = _mm256_set1_ps(-INFINITY);
  int32_t j = 0;
  for (; j + 8 <= n; j += 8) mx8 = _mm256_max_ps(mx8, _mm256_loadu_ps(s + j));
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx8), _mm256_extractf128_ps(mx8, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  float mx = _mm_cvtss_f32(m4);
  for (; j < n; j++) mx = std::max(mx, s[j]);
  for (j = 0; j < n; j++) s[j] -= mx;
  avx2_exp_inplace(s, n);
  __m256 sum8 = _mm256_setzero_ps();
  for (j = 0; j + 8 <= n; j += 8) sum8 = _mm256_add_ps(sum8, _mm256_loadu_ps(s + j));
  float sum = hsum(sum8);
  for (; j < n; j++) sum += s[j];
  return 1.0f / sum;
}

template <DType T>
void attend_avx2(const float* q, int32_t G, const KvRows& kv, int32_t n, float scale, float* scores, float* out) {
  const int32_t D = kv.head_dim, bs = kv.block_size;
  const size_t row_bytes = kv.row_bytes;
  for (int32_t r = 0; r < G; r += 2) {
    const bool pair = r + 1 < G;
    float* s0 = scores + static_cast<size_t>(r) * static_cast<size_t>(n);
    float* s1 = s0 + n;
    for (int32_t j0 = 0; j0 < n; j0 += bs) {
      const uint8_t* rows = kv.kbase + kv.offset(j0 / bs);
      const int32_t m = std::min(bs, n - j0);
      if (pair) {
        scores_block<T, 2>(q + r * D, D, rows, m, row_bytes, scale, s0 + j0, s1 + j0);
      } else {
        scores_block<T, 1>(q + r * D, D, rows, m, row_bytes, scale, s0 + j0, nullptr);
      }
    }
  }
  for (int32_t r = 0; r < G; r++) {
    float* s = scores + static_cast<size_t>(r) * static_cast<size_t>(n);
    float inv = softmax_unnormalized(s, n);
    for (int32_t j = 0; j < n; j++) s[j] *= inv;
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

// ---- tiles of consecutive tokens (prefill) ------------------------------------------------------
// R = m * G query rows (token i, head h at row i * G + h) against the keys in tiles of kTileKeys:
// S = Q K^T as a small GEMM (K transposed into the tile once, every row reuses it), an online
// softmax per row (running max and sum; earlier output rescaled when the max grows), then
// O += P V. K and V are converted to f32 once per tile for all R rows, so the conversion and
// the cache reads are paid once per tile instead of once per token and head.

// The first n values of a stored row as floats.
template <DType T>
inline void row_f32(const uint8_t* row, int32_t D, float* dst) {
  if constexpr (T == DType::q8_0) {
    const auto* b = reinterpret_cast<const BlockQ8_0*>(row);
    for (int32_t i = 0; i < D / kQK; i++) {
      const __m256 d = _mm256_set1_ps(_cvtsh_ss(b[i].d));
#pragma GCC unroll 4
      for (int c = 0; c < 4; c++) _mm256_storeu_ps(dst + i * kQK + 8 * c, _mm256_mul_ps(load8_q8(b[i].qs + 8 * c), d));
    }
  } else {
    for (int32_t d = 0; d < D; d += 8) _mm256_storeu_ps(dst + d, load8<T>(row, d));
  }
}

// 8x8 transpose: rows r[0..8) of 8 floats -> columns.
inline void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 2
  for (int i = 0; i < 2; i++) {
    u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) {
    r[i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x20);
    r[4 + i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x31);
  }
}

// Keys [j0, j0 + kt) of the tile: V rows as floats (vf[jj * D + d]) and K transposed
// (kt_[d * kTileKeys + jj]; columns kt.. zero). kf is kTileKeys * D floats of room.
template <DType T>
void load_tile(const KvRows& kv, int32_t j0, int32_t kt, float* kf, float* ktr, float* vf) {
  const int32_t D = kv.head_dim;
  for (int32_t jj = 0; jj < kt; jj++) {
    row_f32<T>(kv.row(kv.kbase, j0 + jj), D, kf + jj * D);
    row_f32<T>(kv.row(kv.vbase, j0 + jj), D, vf + jj * D);
  }
  const int32_t kt8 = (kt + 7) / 8 * 8;
  for (int32_t jj = kt; jj < kt8; jj++) std::fill(kf + jj * D, kf + (jj + 1) * D, 0.0f);
  for (int32_t j8 = 0; j8 < kt8; j8 += 8) {
    for (int32_t d8 = 0; d8 < D; d8 += 8) {
      __m256 r[8];
#pragma GCC unroll 8
      for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(kf + (j8 + i) * D + d8);
      transpose8(r);
#pragma GCC unroll 8
      for (int i = 0; i < 8; i++) _mm256_storeu_ps(ktr + (d8 + i) * kTileKeys + j8, r[i]);
    }
  }
  for (int32_t d = 0; d < D; d++) std::fill(ktr + d * kTileKeys + kt8, ktr + (d + 1) * kTileKeys, 0.0f);
}

// s[rr * kTileKeys + jj] = q row rr . key jj for RR rows and the tile's kc (a multiple of 16) keys.
template <int RR>
void tile_scores(const float* q, int32_t D, const float* ktr, int32_t kc, float* s) {
  for (int32_t c = 0; c < kc; c += 16) {
    __m256 acc[RR][2];
#pragma GCC unroll 8
    for (int i = 0; i < RR * 2; i++) acc[i / 2][i % 2] = _mm256_setzero_ps();
    for (int32_t d = 0; d < D; d++) {
      const __m256 k0 = _mm256_loadu_ps(ktr + d * kTileKeys + c), k1 = _mm256_loadu_ps(ktr + d * kTileKeys + c + 8);
#pragma GCC unroll 6
      for (int rr = 0; rr < RR; rr++) {
        const __m256 qv = _mm256_broadcast_ss(q + rr * D + d);
        acc[rr][0] = _mm256_fmadd_ps(qv, k0, acc[rr][0]);
        acc[rr][1] = _mm256_fmadd_ps(qv, k1, acc[rr][1]);
      }
    }
#pragma GCC unroll 6
    for (int rr = 0; rr < RR; rr++) {
      _mm256_storeu_ps(s + rr * kTileKeys + c, acc[rr][0]);
      _mm256_storeu_ps(s + rr * kTileKeys + c + 8, acc[rr][1]);
    }
  }
}

// o[rr * D + d] += sum_jj p[rr * kTileKeys + jj] * v[jj * D + d] for RR rows, keys jj < kt.
template <int RR>
void tile_values(const float* p, int32_t kt, const float* vf, int32_t D, float* o) {
  for (int32_t d0 = 0; d0 < D; d0 += 16) {
    __m256 acc[RR][2];
#pragma GCC unroll 6
    for (int rr = 0; rr < RR; rr++) {
      acc[rr][0] = _mm256_loadu_ps(o + rr * D + d0);
      acc[rr][1] = _mm256_loadu_ps(o + rr * D + d0 + 8);
    }
    for (int32_t jj = 0; jj < kt; jj++) {
      const __m256 v0 = _mm256_loadu_ps(vf + jj * D + d0), v1 = _mm256_loadu_ps(vf + jj * D + d0 + 8);
#pragma GCC unroll 6
      for (int rr = 0; rr < RR; rr++) {
        const __m256 pv = _mm256_broadcast_ss(p + rr * kTileKeys + jj);
        acc[rr][0] = _mm256_fmadd_ps(pv, v0, acc[rr][0]);
        acc[rr][1] = _mm256_fmadd_ps(pv, v1, acc[rr][1]);
      }
    }
#pragma GCC unroll 6
    for (int rr = 0; rr < RR; rr++) {
      _mm256_storeu_ps(o + rr * D + d0, acc[rr][0]);
      _mm256_storeu_ps(o + rr * D + d0 + 8, acc[rr][1]);
    }
  }
}

// Rows [0, R) in groups of up to 6 (12 accumulators + 2 operands of the 16 ymm registers).
template <class Fn>
inline void by_row_groups(int32_t R, const Fn& fn) {
  int32_t r = 0;
  for (; r + 6 <= R; r += 6) fn(r, std::integral_constant<int, 6>{});
  switch (R - r) {
    case 5: fn(r, std::integral_constant<int, 5>{}); break;
    case 4: fn(r, std::integral_constant<int, 4>{}); break;
    case 3: fn(r, std::integral_constant<int, 3>{}); break;
    case 2: fn(r, std::integral_constant<int, 2>{}); break;
    case 1: fn(r, std::integral_constant<int, 1>{}); break;
    default: break;
  }
}

// Online softmax over one tile's scores of row r (the first `valid` keys are visible): p =
// exp(s - new max) in place (0 beyond valid, up to kc), returns the factor earlier sums and
// outputs are multiplied by.
inline float tile_softmax(float* s, int32_t valid, int32_t kc, float* mx, float* sum) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  auto visible = [&](int32_t j) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid - j), lane); };
  __m256 m8 = _mm256_set1_ps(*mx);
  for (int32_t j = 0; j < valid; j += 8) {
    m8 = _mm256_max_ps(m8, _mm256_blendv_ps(m8, _mm256_loadu_ps(s + j), _mm256_castsi256_ps(visible(j))));
  }
  const float m = hmax(m8);
  const float corr = *mx == -INFINITY ? 0.0f : std::exp(*mx - m);
  const __m256 mv = _mm256_set1_ps(m);
  __m256 add = _mm256_setzero_ps();
  for (int32_t j = 0; j < kc; j += 8) {
    const __m256 e = _mm256_and_ps(exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), mv)), _mm256_castsi256_ps(visible(j)));
    _mm256_storeu_ps(s + j, e);
    add = _mm256_add_ps(add, e);
  }
  *mx = m;
  *sum = *sum * corr + hsum(add);
  return corr;
}

template <DType T>
void attend_tile_avx2(const AttendTile& a, const KvRows& kv, float* scratch) {
  const int32_t D = kv.head_dim, G = a.n_group, R = a.n_tokens * G;
  float* qs = scratch;                          // [R, D] queries, scaled
  float* o = qs + R * D;                        // [R, D] unnormalized outputs
  float* s = o + R * D;                         // [R, kTileKeys] scores, then weights
  float* mx = s + R * kTileKeys;                // [R] running max
  float* sum = mx + R;                          // [R] running sum
  float* kf = sum + R;                          // [kTileKeys, D] keys as floats
  float* ktr = kf + kTileKeys * D;              // [D, kTileKeys] keys transposed
  float* vf = ktr + kTileKeys * D;              // [kTileKeys, D] values as floats
  const __m256 sc = _mm256_set1_ps(a.scale);
  for (int32_t r = 0; r < R; r++) {
    const float* src = a.q + (r / G) * a.stride + (r % G) * D;
    for (int32_t d = 0; d < D; d += 8) _mm256_storeu_ps(qs + r * D + d, _mm256_mul_ps(_mm256_loadu_ps(src + d), sc));
    mx[r] = -INFINITY;
    sum[r] = 0;
  }
  std::fill(o, o + R * D, 0.0f);
  const int32_t n_keys = a.position + a.n_tokens;  // the last token sees them all
  for (int32_t j0 = 0; j0 < n_keys; j0 += kTileKeys) {
    const int32_t kt = std::min(kTileKeys, n_keys - j0), kc = (kt + 15) / 16 * 16;
    load_tile<T>(kv, j0, kt, kf, ktr, vf);
    // Rows of tokens that see no key of this tile (all later than them) are skipped.
    const int32_t first_token = std::max(0, j0 - a.position);
    const int32_t r0 = first_token * G;
    by_row_groups(R - r0, [&](int32_t r, auto rr) {
      tile_scores<decltype(rr)::value>(qs + (r0 + r) * D, D, ktr, kc, s + (r0 + r) * kTileKeys);
    });
    for (int32_t r = r0; r < R; r++) {
      const int32_t valid = std::min(kt, a.position + r / G - j0 + 1);
      const float corr = tile_softmax(s + r * kTileKeys, valid, kc, mx + r, sum + r);
      if (corr != 1.0f) {
        const __m256 cv = _mm256_set1_ps(corr);
        for (int32_t d = 0; d < D; d += 8) _mm256_storeu_ps(o + r * D + d, _mm256_mul_ps(_mm256_loadu_ps(o + r * D + d), cv));
      }
    }
    by_row_groups(R - r0, [&](int32_t r, auto rr) {
      tile_values<decltype(rr)::value>(s + (r0 + r) * kTileKeys, kt, vf, D, o + (r0 + r) * D);
    });
  }
  for (int32_t r = 0; r < R; r++) {
    float* dst = a.out + (r / G) * a.stride + (r % G) * D;
    const __m256 inv = _mm256_set1_ps(1.0f / sum[r]);
    for (int32_t d = 0; d < D; d += 8) _mm256_storeu_ps(dst + d, _mm256_mul_ps(_mm256_loadu_ps(o + r * D + d), inv));
  }
}

}  // namespace

void avx2_attend(DType t, const float* q, int32_t G, const KvRows& kv, int32_t n, float scale, float* scores,
                 float* out) {
  switch (t) {
    case DType::f32: return attend_avx2<DType::f32>(q, G, kv, n, scale, scores, out);
    case DType::f16: return attend_avx2<DType::f16>(q, G, kv, n, scale, scores, out);
    case DType::bf16: return attend_avx2<DType::bf16>(q, G, kv, n, scale, scores, out);
    case DType::q8_0: return attend_avx2<DType::q8_0>(q, G, kv, n, scale, scores, out);
    default: PARLEY_CHECK_MSG(false, "attention: not a KV cache type");
  }
}

void avx2_attend_tile(DType t, const AttendTile& a, const KvRows& kv, float* scratch) {
  switch (t) {
    case DType::f32: return attend_tile_avx2<DType::f32>(a, kv, scratch);
    case DType::f16: return attend_tile_avx2<DType::f16>(a, kv, scratch);
    case DType::bf16: return attend_tile_avx2<DType::bf16>(a, kv, scratch);
    case DType::q8_0: return attend_tile_avx2<DType::q8_0>(a, kv, scratch);
    default: PARLEY_CHECK_MSG(false, "attention: not a KV cache type");
  }
}

}  // namespace parley::model::ops

#else  // not an x86 build: never called (cpu_path() is scalar)

namespace parley::model::ops {
void avx2_attend(DType, const float*, int32_t, const KvRows&, int32_t, float, float*, float*) {}
void avx2_attend_tile(DType, const AttendTile&, const KvRows&, float*) {}
}  // namespace parley::model::ops

#endif
