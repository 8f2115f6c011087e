// AVX2 kernels for the K-quants (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) against Q8 activations in
// 256-element blocks. Within a super-block the sub-block scales are small integers, so the
// whole super-block accumulates in int32 (maddubs, then madd with the sub-block scales) and is
// scaled to f32 once; mins and the constant offsets of Q3_K/Q6_K come from the activation
// block's sums of 16.
#include "tensor/kernels.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <algorithm>

#include "tensor/quant-blocks.h"
#include "tensor/simd-avx2.h"

namespace parley::kernels {
namespace {

using namespace avx2;

// A super-block's scales unpacked for one row: value = d * sc[s] * q - dmin * mn[s] for
// 16-element sub-block s (32-element sub-blocks repeat their scale twice). Kept in memory:
// the chunk loop reads one scale pair at a time, and registers are better spent on the
// accumulators.
struct Prep {
  alignas(32) int16_t sc[16];
  alignas(32) int16_t mn[16];
  float d;
  float dmin;
  void set(__m256i scales, __m256i mins) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(sc), scales);
    _mm256_store_si256(reinterpret_cast<__m256i*>(mn), mins);
  }
  __m256i scales() const { return _mm256_load_si256(reinterpret_cast<const __m256i*>(sc)); }
  __m256i mins() const { return _mm256_load_si256(reinterpret_cast<const __m256i*>(mn)); }
};

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Each int16 lane twice: [a0 a0 a1 a1 ... a7 a7].
inline __m256i dup16(__m128i a) { return _mm256_set_m128i(_mm_unpackhi_epi16(a, a), _mm_unpacklo_epi16(a, a)); }

// Moves bit `from` of every byte to bit `to` (other bits are garbage; the caller masks).
inline __m256i move_bit(__m256i v, int from, int to) {
  if (to > from) return _mm256_slli_epi16(v, to - from);
  if (to < from) return _mm256_srli_epi16(v, from - to);
  return v;
}

// Each decoder: quants(b, c) gives the 32 elements 32c..32c+31 of super-block b as unsigned
// bytes; value = q - kOffset (kOffset = 1 << kOffsetShift, or none when kOffsetShift < 0).

struct DecQ2K {
  using Block = BlockQ2_K;
  static constexpr bool kMins = true;
  static constexpr int kOffsetShift = -1;
  static void prepare(const Block& b, Prep* p) {
    const __m128i v = loadu128(b.scales);
    const __m128i m4 = _mm_set1_epi8(15);
    p->set(_mm256_cvtepu8_epi16(_mm_and_si128(v, m4)), _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(v, 4), m4)));
    p->d = load_half(&b.d);
    p->dmin = load_half(&b.dmin);
  }
  static __m256i quants(const Block& b, int c) {
    __m256i v = loadu256(b.qs + 32 * (c / 4));
    return _mm256_and_si256(_mm256_srli_epi16(v, 2 * (c % 4)), _mm256_set1_epi8(3));
  }
};

struct DecQ3K {
  using Block = BlockQ3_K;
  static constexpr bool kMins = false;
  static constexpr int kOffsetShift = 2;  // q - 4
  static void prepare(const Block& b, Prep* p) {
    // The 16 6-bit scales (see BlockQ3_K), four bytes at a time, then minus 32.
    const uint32_t u0 = load_u32(b.scales), u1 = load_u32(b.scales + 4), u2 = load_u32(b.scales + 8);
    const uint32_t lo = 0x0f0f0f0f, hi = 0x03030303;
    const __m128i v = _mm_setr_epi32(static_cast<int>((u0 & lo) | ((u2 & hi) << 4)),
                                     static_cast<int>((u1 & lo) | (((u2 >> 2) & hi) << 4)),
                                     static_cast<int>(((u0 >> 4) & lo) | (((u2 >> 4) & hi) << 4)),
                                     static_cast<int>(((u1 >> 4) & lo) | (((u2 >> 6) & hi) << 4)));
    p->set(_mm256_cvtepi8_epi16(_mm_sub_epi8(v, _mm_set1_epi8(32))), _mm256_setzero_si256());
    p->d = load_half(&b.d);
    p->dmin = 0;
  }
  static __m256i quants(const Block& b, int c) {
    const int h = c / 4, j = c % 4;
    __m256i low = _mm256_and_si256(_mm256_srli_epi16(loadu256(b.qs + 32 * h), 2 * j), _mm256_set1_epi8(3));
    __m256i high = _mm256_and_si256(move_bit(loadu256(b.hmask), 4 * h + j, 2), _mm256_set1_epi8(4));
    return _mm256_or_si256(low, high);
  }
};

// Q4_K / Q5_K: the 8 6-bit scales and mins (see k_scale_min), four bytes at a time.
inline void prepare_q45k(const uint8_t* scales, const uint16_t& d, const uint16_t& dmin, Prep* p) {
  const uint32_t u0 = load_u32(scales), u1 = load_u32(scales + 4), u2 = load_u32(scales + 8);
  const uint32_t m6 = 0x3f3f3f3f, lo = 0x0f0f0f0f, hi = 0x03030303;
  const __m128i sc = _mm_cvtepu8_epi16(_mm_setr_epi32(static_cast<int>(u0 & m6),
                                                      static_cast<int>((u2 & lo) | (((u0 >> 6) & hi) << 4)), 0, 0));
  const __m128i mn = _mm_cvtepu8_epi16(_mm_setr_epi32(static_cast<int>(u1 & m6),
                                                      static_cast<int>(((u2 >> 4) & lo) | (((u1 >> 6) & hi) << 4)), 0, 0));
  p->set(dup16(sc), dup16(mn));
  p->d = load_half(&d);
  p->dmin = load_half(&dmin);
}

struct DecQ4K {
  using Block = BlockQ4_K;
  static constexpr bool kMins = true;
  static constexpr int kOffsetShift = -1;
  static void prepare(const Block& b, Prep* p) { prepare_q45k(b.scales, b.d, b.dmin, p); }
  static __m256i quants(const Block& b, int c) {
    __m256i v = loadu256(b.qs + 32 * (c / 2));
    if (c % 2) v = _mm256_srli_epi16(v, 4);
    return _mm256_and_si256(v, _mm256_set1_epi8(15));
  }
};

struct DecQ5K {
  using Block = BlockQ5_K;
  static constexpr bool kMins = true;
  static constexpr int kOffsetShift = -1;
  static void prepare(const Block& b, Prep* p) { prepare_q45k(b.scales, b.d, b.dmin, p); }
  static __m256i quants(const Block& b, int c) {
    __m256i v = loadu256(b.qs + 32 * (c / 2));
    if (c % 2) v = _mm256_srli_epi16(v, 4);
    __m256i high = _mm256_and_si256(move_bit(loadu256(b.qh), c, 4), _mm256_set1_epi8(16));
    return _mm256_or_si256(_mm256_and_si256(v, _mm256_set1_epi8(15)), high);
  }
};

struct DecQ6K {
  using Block = BlockQ6_K;
  static constexpr bool kMins = false;
  static constexpr int kOffsetShift = 5;  // q - 32
  static void prepare(const Block& b, Prep* p) {
    p->set(_mm256_cvtepi8_epi16(loadu128(b.scales)), _mm256_setzero_si256());
    p->d = load_half(&b.d);
    p->dmin = 0;
  }
  static __m256i quants(const Block& b, int c) {
    const int h = c / 4, k = c % 4;
    __m256i low = loadu256(b.ql + 64 * h + 32 * (k & 1));
    if (k >= 2) low = _mm256_srli_epi16(low, 4);
    low = _mm256_and_si256(low, _mm256_set1_epi8(15));
    // Bits 2k, 2k+1 of qh go to bits 4, 5.
    __m256i high = _mm256_and_si256(move_bit(loadu256(b.qh + 32 * h), 2 * k, 4), _mm256_set1_epi8(0x30));
    return _mm256_or_si256(low, high);
  }
};

// Sub-block scales of chunk c as 16 int16 lanes matching maddubs' output (lanes 0-7 come from
// elements 32c..32c+15, lanes 8-15 from the next 16): scales 2c and 2c + 1 are one dword of
// p.sc; broadcast it (a load), then spread its low half over lane 0 and its high half over lane 1.
inline __m256i chunk_scales(const Prep& p, int c) {
  const __m256i pattern = _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
                                           2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
  int32_t pair;
  std::memcpy(&pair, p.sc + 2 * c, 4);
  return _mm256_shuffle_epi8(_mm256_set1_epi32(pair), pattern);
}

template <class D, int RM, int RN>
void tile256(const typename D::Block* const* rows, const Acts& a, int64_t t0, float* out) {
  __m256 acc[RM][RN];
#pragma GCC unroll 4
  for (int r = 0; r < RM; r++) {
#pragma GCC unroll 4
    for (int t = 0; t < RN; t++) acc[r][t] = _mm256_setzero_ps();
  }
  const int8_t* xq = a.qs_at(t0, 0);
  const float* xd = a.d_at(t0, 0);
  const int16_t* xs = a.bsums_at(t0, 0);
  const int64_t g = a.group;
  for (int64_t i = 0; i < a.n_blocks; i++, xq += g * kQK_K, xd += g, xs += g * 16) {
    Prep p[RM];
#pragma GCC unroll 4
    for (int r = 0; r < RM; r++) D::prepare(rows[r][i], &p[r]);
    __m256i iacc[RM][RN];
#pragma GCC unroll 4
    for (int r = 0; r < RM; r++) {
#pragma GCC unroll 4
      for (int t = 0; t < RN; t++) iacc[r][t] = _mm256_setzero_si256();
    }
    #pragma GCC unroll 8
    for (int c = 0; c < 8; c++) {
      __m256i q[RM], sc[RM];
#pragma GCC unroll 4
      for (int r = 0; r < RM; r++) {
        q[r] = D::quants(rows[r][i], c);
        sc[r] = chunk_scales(p[r], c);
      }
#pragma GCC unroll 4
      for (int t = 0; t < RN; t++) {
        const __m256i x = loadu256(xq + t * kQK_K + 32 * c);
#pragma GCC unroll 4
        for (int r = 0; r < RM; r++) {
          iacc[r][t] = _mm256_add_epi32(iacc[r][t], _mm256_madd_epi16(_mm256_maddubs_epi16(q[r], x), sc[r]));
        }
      }
    }
#pragma GCC unroll 4
    for (int t = 0; t < RN; t++) {
      const __m256i bs = loadu256(xs + t * 16);
      const float dx = xd[t];
#pragma GCC unroll 4
      for (int r = 0; r < RM; r++) {
        __m256i isum = iacc[r][t];
        if constexpr (D::kOffsetShift >= 0) {
          isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(_mm256_madd_epi16(p[r].scales(), bs), D::kOffsetShift));
        }
        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(p[r].d * dx), acc[r][t]);
        if constexpr (D::kMins) {
          acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(p[r].mins(), bs)),
                                      _mm256_set1_ps(-p[r].dmin * dx), acc[r][t]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < RM; r++) {
#pragma GCC unroll 4
    for (int t = 0; t < RN; t++) out[r * RN + t] = hsum(acc[r][t]);
  }
}

template <class D, int RM>
void tile256_rn(int rn, const typename D::Block* const* rows, const Acts& a, int64_t t0, float* out) {
  switch (rn) {
    case 1: tile256<D, RM, 1>(rows, a, t0, out); return;
    case 2: tile256<D, RM, 2>(rows, a, t0, out); return;
    case 3: tile256<D, RM, 3>(rows, a, t0, out); return;
    default: tile256<D, RM, 4>(rows, a, t0, out); return;
  }
}

// One row at a time against up to 4 tokens: the 4 int32 accumulators, the row's unpacked
// chunk, its scales and one activation chunk stay in registers (tiles of 2 or 4 rows spilled
// the accumulators and ran 30-50% slower). Tokens go in L2-sized blocks.
template <class D>
void kernel256(const WeightView& w, int64_t r0, int64_t r1, const Acts& a, float* y, int64_t ldy, float*) {
  using Block = typename D::Block;
  const int tile_tokens = static_cast<int>(std::min<int64_t>(4, a.group));
  const int64_t per_token = a.n_cols + 6 * a.n_blocks + a.n_cols / 8;
  const int64_t tb = std::max<int64_t>(4, (192 * 1024) / per_token / 4 * 4);
  float out[4];
  for (int64_t tb0 = 0; tb0 < a.n_tokens; tb0 += tb) {
    const int64_t tb1 = std::min(a.n_tokens, tb0 + tb);
    for (int64_t r = r0; r < r1; r++) {
      const Block* row = reinterpret_cast<const Block*>(w.row(r));
      for (int64_t t = tb0; t < tb1; t += tile_tokens) {
        const int rn = static_cast<int>(std::min<int64_t>(tile_tokens, tb1 - t));
        tile256_rn<D, 1>(rn, &row, a, t, out);
        for (int j = 0; j < rn; j++) y[(t + j) * ldy + r] = out[j];
      }
    }
  }
}

}  // namespace

Kernel avx2_kernel_k(DType t) {
  switch (t) {
    case DType::q2_k: return kernel256<DecQ2K>;
    case DType::q3_k: return kernel256<DecQ3K>;
    case DType::q4_k: return kernel256<DecQ4K>;
    case DType::q5_k: return kernel256<DecQ5K>;
    case DType::q6_k: return kernel256<DecQ6K>;
    default: return nullptr;
  }
}

}  // namespace parley::kernels

#endif
