// The avx512 path's kernels for packed weights (tensor/packed.h): 16 rows per 512-bit vector,
// int32 lane r = row r. Per block and token: one vpdpbusd per 4 quants of all 16 rows (the
// activation's 4 bytes broadcast), then the block's 16 scales applied in one convert and two
// FMAs: y += d * dx * sum(q * xq) + off * s, with off = -8 d (Q4_0) or -128 d (Q8_0, whose packed
// quants are q + 128) and s = dx * sum(xq) — the same float steps, in the same order, as the
// unpacked kernels' (kernels-x86.inc), so Q4_0 gives the same bits packed or not.
// Tiles of 16 rows x up to 8 tokens (two token groups) share each block's unpacked quants.
#include "tensor/kernels.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__F16C__)

#include <immintrin.h>

// GCC 12's _mm512_cvtepi32_ps / _mm512_cvtph_ps pass _mm512_undefined_ps() as the unused
// merge source, which its own -Wmaybe-uninitialized then flags (a false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <cstring>

#include "tensor/quant-blocks.h"

namespace parley::kernels {
namespace {

constexpr int kLanes = 16;  // rows per group record (tensor/packed.h: kPackRows)

// The 16 rows' fp16 scales at the start of a record.
inline __m512 half_scales16(const uint8_t* rec) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(rec)));
}

struct PQ4_0 {
  static constexpr size_t kRecord = kLanes * sizeof(BlockQ4_0);  // bytes of one group record
  static constexpr size_t kScaleBytes = 2 * kLanes;              // the quants follow them
  static constexpr float kOffset = -8.0f;
  static inline __m512 scales(const uint8_t* rec) { return half_scales16(rec); }
  // W[k] holds elements 4k..4k+3 (k < 4: low nibbles) or 16 + 4(k-4).. (high nibbles).
  static inline void quants(const uint8_t* q, __m512i W[8]) {
    const __m512i m4 = _mm512_set1_epi8(15);
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
      const __m512i v = _mm512_loadu_si512(q + 64 * j);
      W[j] = _mm512_and_si512(v, m4);
      W[4 + j] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
    }
  }
  static constexpr int x_offset(int k) { return k < 4 ? 4 * k : 16 + 4 * (k - 4); }
};

struct PQ8_0 {
  static constexpr size_t kRecord = kLanes * sizeof(BlockQ8_0);
  static constexpr size_t kScaleBytes = 2 * kLanes;
  static constexpr float kOffset = -128.0f;
  static inline __m512 scales(const uint8_t* rec) { return half_scales16(rec); }
  static inline void quants(const uint8_t* q, __m512i W[8]) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) W[j] = _mm512_loadu_si512(q + 64 * j);
  }
  static constexpr int x_offset(int k) { return 4 * k; }
};

// IQ4_NL and MXFP4 (packed as Q4_0; MXFP4's record starts with its 16 E8M0 bytes): each nibble
// is looked up (vpshufb) in the type's table of levels plus kBias, so the quants are unsigned
// bytes and the products run as Q4_0's with the offset -kBias d (IQ4_NL: levels -127..113 + 128;
// MXFP4: -12..12 + 12).
template <const int8_t* kValues, int kBias>
inline void biased_table_quants(const uint8_t* q, __m512i W[8]) {
  alignas(16) uint8_t biased[16];
  for (int k = 0; k < 16; k++) biased[k] = static_cast<uint8_t>(kValues[k] + kBias);
  const __m512i table = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(biased)));
  const __m512i m4 = _mm512_set1_epi8(15);
#pragma GCC unroll 4
  for (int j = 0; j < 4; j++) {
    const __m512i v = _mm512_loadu_si512(q + 64 * j);
    W[j] = _mm512_shuffle_epi8(table, _mm512_and_si512(v, m4));
    W[4 + j] = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(v, 4), m4));
  }
}

struct PIQ4_NL {
  static constexpr size_t kRecord = kLanes * sizeof(BlockIQ4_NL);
  static constexpr size_t kScaleBytes = 2 * kLanes;
  static constexpr float kOffset = -128.0f;
  static inline __m512 scales(const uint8_t* rec) { return half_scales16(rec); }
  static inline void quants(const uint8_t* q, __m512i W[8]) { biased_table_quants<kValuesIQ4NL, 128>(q, W); }
  static constexpr int x_offset(int k) { return PQ4_0::x_offset(k); }
};

struct PMXFP4 {
  static constexpr size_t kRecord = kLanes * sizeof(BlockMXFP4);
  static constexpr size_t kScaleBytes = kLanes;
  static constexpr float kOffset = -12.0f;
  // e8m0_half of the 16 rows' exponent bytes: (e - 1) << 23, or the subnormals 2^-128 and
  // 2^-127 for e = 0 and 1.
  static inline __m512 scales(const uint8_t* rec) {
    const __m512i e = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rec)));
    const __m512i one = _mm512_set1_epi32(1);
    const __m512i normal = _mm512_slli_epi32(_mm512_sub_epi32(e, one), 23);
    const __m512i subnormal = _mm512_sllv_epi32(_mm512_set1_epi32(0x00200000), e);
    return _mm512_castsi512_ps(_mm512_mask_blend_epi32(_mm512_cmpgt_epi32_mask(e, one), subnormal, normal));
  }
  static inline void quants(const uint8_t* q, __m512i W[8]) { biased_table_quants<kValuesMXFP4, 12>(q, W); }
  static constexpr int x_offset(int k) { return PQ4_0::x_offset(k); }
};

// With several tokens a tile, the work per record is long enough that the hardware prefetcher
// falls behind on weights streamed from memory (a decode step of several sequences: 8-token
// Q4_0 products ran 20-60% faster on Zen 4 with this); the record ~4.5 KB ahead is fetched into
// L1. One token a tile (a single sequence's decode) is bandwidth-bound and measured slower with
// it, and the K-quant tiles (4 tokens at most, records of 2-3 KB) slower too: only ptile uses it.
// Past a group's last record it touches the next group's or nothing (prefetches never fault).
template <int RN>
inline void prefetch_ahead(const uint8_t* rec, size_t record) {
  if constexpr (RN > 1) {
    constexpr size_t kAheadBytes = 4608;
    const size_t ahead = std::max<size_t>(1, kAheadBytes / record) * record;
    for (size_t l = 0; l < record; l += 64) _mm_prefetch(reinterpret_cast<const char*>(rec + ahead + l), _MM_HINT_T0);
  }
}

inline __m512i bcast4(const int8_t* x) {
  int32_t v;
  std::memcpy(&v, x, 4);
  return _mm512_set1_epi32(v);
}

// out[t] lane r = row r of the group . token t0 + t over all blocks (RN <= 4 or 8 = two groups).
template <class P, int RN>
inline void ptile(const uint8_t* group, size_t record, const Acts& a, int64_t t0, __m512 out[]) {
  static_assert(RN <= 4 || RN == 8);
  __m512 acc[RN];
#pragma GCC unroll 8
  for (int t = 0; t < RN; t++) acc[t] = _mm512_setzero_ps();
  const int64_t g = a.group;
  const int8_t* xq[2] = {a.qs_at(t0, 0), RN == 8 ? a.qs_at(t0 + 4, 0) : nullptr};
  const float* xd[2] = {a.d_at(t0, 0), RN == 8 ? a.d_at(t0 + 4, 0) : nullptr};
  const float* xs[2] = {a.s_at(t0, 0), RN == 8 ? a.s_at(t0 + 4, 0) : nullptr};
  const __m512 offset = _mm512_set1_ps(P::kOffset);
  for (int64_t b = 0; b < a.n_blocks; b++) {
    const uint8_t* rec = group + static_cast<size_t>(b) * record;
    prefetch_ahead<RN>(rec, record);
    const __m512 sc = P::scales(rec);
    const __m512 off = _mm512_mul_ps(sc, offset);
    __m512i W[8];
    P::quants(rec + P::kScaleBytes, W);
#pragma GCC unroll 8
    for (int t = 0; t < RN; t++) {
      const int grp = t / 4, slot = t % 4;
      const int8_t* x = xq[grp] + (b * g + slot) * kQK;
      __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 8
      for (int k = 0; k < 8; k++) isum = _mm512_dpbusd_epi32(isum, W[k], bcast4(x + P::x_offset(k)));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(sc, _mm512_set1_ps(xd[grp][b * g + slot])), acc[t]);
      acc[t] = _mm512_fmadd_ps(off, _mm512_set1_ps(xs[grp][b * g + slot]), acc[t]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < RN; t++) out[t] = acc[t];
}

template <class P>
inline void ptile_rn(int rn, const uint8_t* group, size_t record, const Acts& a, int64_t t0, __m512 acc[]) {
  switch (rn) {
    case 1: ptile<P, 1>(group, record, a, t0, acc); return;
    case 2: ptile<P, 2>(group, record, a, t0, acc); return;
    case 3: ptile<P, 3>(group, record, a, t0, acc); return;
    case 4: ptile<P, 4>(group, record, a, t0, acc); return;
    default: ptile<P, 8>(group, record, a, t0, acc); return;
  }
}

template <class P>
void packed_kernel(const WeightView& w, int64_t r0, int64_t r1, const Acts& a, float* y, int64_t ldy, float*) {
  const size_t record = P::kRecord;
  const int rn_max = a.group == 4 ? 8 : static_cast<int>(a.group);
  // Tokens per pass: ~192 KB of quantized activations stay in L2 while the rows stream past.
  const int64_t per_token = a.n_cols + 8 * a.n_blocks;
  const int64_t tb = std::max<int64_t>(8, (192 * 1024) / std::max<int64_t>(per_token, 1) / 8 * 8);
  for (int64_t tb0 = 0; tb0 < a.n_tokens; tb0 += tb) {
    const int64_t tb1 = std::min(a.n_tokens, tb0 + tb);
    for (int64_t rg = r0; rg < r1; rg += kLanes) {
      const int rm = static_cast<int>(std::min<int64_t>(kLanes, r1 - rg));
      const uint8_t* group = w.packed + static_cast<size_t>(rg / kLanes * a.n_blocks) * record;
      for (int64_t t = tb0; t < tb1;) {
        int rn = static_cast<int>(std::min<int64_t>(rn_max, tb1 - t));
        if (rn < 8 && rn > 4) rn = 4;
        __m512 acc[8];
        ptile_rn<P>(rn, group, record, a, t, acc);
        const __mmask16 keep = static_cast<__mmask16>(rm == kLanes ? 0xFFFF : (1u << rm) - 1);
        for (int j = 0; j < rn; j++) _mm512_mask_storeu_ps(y + (t + j) * ldy + rg, keep, acc[j]);
        t += rn;
      }
    }
  }
}

// ---- Q4_K ---------------------------------------------------------------------------------------
// Per super-block, exact in int32 as the unpacked kernels: sum_s sc_s * (q . xq over sub-block s)
// (one vpdpbusd per 4 quants of 16 rows, one vpmulld per sub-block) and sum_s m_s * xsum_s (one
// vpdpwssd per pair of sub-blocks on the widened min pairs), then scaled once:
// y += d dx isum - dmin dx msum.

// Q5_K is the same with its fifth bits (packed.h: 8 vectors after the quants) or-ed in as 16.

constexpr size_t kRecordQ4K = kLanes * (sizeof(BlockQ4_K) + 4);
constexpr size_t kRecordQ5K = kLanes * (sizeof(BlockQ5_K) + 4);

template <bool kFifth, int RN>
inline void ptile_q45k(const uint8_t* group, const Acts& a, int64_t t0, __m512 out[]) {
  static_assert(RN >= 1 && RN <= 4);
  constexpr size_t kRecord = kFifth ? kRecordQ5K : kRecordQ4K;
  __m512 acc[RN];
#pragma GCC unroll 4
  for (int t = 0; t < RN; t++) acc[t] = _mm512_setzero_ps();
  const __m512i m4 = _mm512_set1_epi8(15);
  for (int64_t b = 0; b < a.n_blocks; b++) {
    const uint8_t* rec = group + static_cast<size_t>(b) * kRecord;
    const int8_t* xq[RN];
    int32_t pairs[RN][4];  // (xsum_2i, xsum_2i+1) as int16 pairs: the sub-block sums of 32
#pragma GCC unroll 4
    for (int t = 0; t < RN; t++) {
      xq[t] = a.qs_at(t0 + t, b);
      const int16_t* bs = a.bsums_at(t0 + t, b);
      const __m128i h = _mm_hadd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bs)),
                                       _mm_loadu_si128(reinterpret_cast<const __m128i*>(bs + 8)));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(pairs[t]), h);
    }
    __m512i isum[RN];
#pragma GCC unroll 4
    for (int t = 0; t < RN; t++) isum[t] = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
      __m512i raw[8];
#pragma GCC unroll 8
      for (int k = 0; k < 8; k++) raw[k] = _mm512_loadu_si512(rec + 320 + 64 * (8 * j + k));
#pragma GCC unroll 2
      for (int h = 0; h < 2; h++) {
        __m512i W[8];
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) W[k] = _mm512_and_si512(h ? _mm512_srli_epi16(raw[k], 4) : raw[k], m4);
        if constexpr (kFifth) {
          // Bit 2j + h of each qh byte to bit 4 (a shift within the byte), then or-ed in.
          const int bit = 2 * j + h;
          const __m512i b4 = _mm512_set1_epi8(16);
#pragma GCC unroll 8
          for (int k = 0; k < 8; k++) {
            const __m512i qh = _mm512_loadu_si512(rec + 2368 + 64 * k);
            const __m512i moved = bit <= 4 ? _mm512_slli_epi16(qh, 4 - bit) : _mm512_srli_epi16(qh, bit - 4);
            W[k] = _mm512_or_si512(W[k], _mm512_and_si512(moved, b4));
          }
        }
        const __m512i sc = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rec + 64 + 16 * (2 * j + h))));
#pragma GCC unroll 4
        for (int t = 0; t < RN; t++) {
          const int8_t* x = xq[t] + 64 * j + 32 * h;
          __m512i s = _mm512_setzero_si512();
#pragma GCC unroll 8
          for (int k = 0; k < 8; k++) s = _mm512_dpbusd_epi32(s, W[k], bcast4(x + 4 * k));
          isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s, sc));
        }
      }
    }
    __m512i msum[RN];
#pragma GCC unroll 4
    for (int t = 0; t < RN; t++) msum[t] = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
      const __m512i M = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(rec + 192 + 32 * i)));
#pragma GCC unroll 4
      for (int t = 0; t < RN; t++) msum[t] = _mm512_dpwssd_epi32(msum[t], M, _mm512_set1_epi32(pairs[t][i]));
    }
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(rec)));
    const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(rec + 32)));
#pragma GCC unroll 4
    for (int t = 0; t < RN; t++) {
      const __m512 dx = _mm512_set1_ps(*a.d_at(t0 + t, b));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(d, dx), acc[t]);
      acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum[t]), _mm512_mul_ps(dmin, dx), acc[t]);
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < RN; t++) out[t] = acc[t];
}

// ---- Q6_K ---------------------------------------------------------------------------------------
// Per super-block, exact in int32: sum_s sc_s * (q . xq over 16-element sub-block s) minus
// 32 * sum_s sc_s * xsum_s (vpdpwssd on the scale pairs and the activation's sums of 16), then
// y += d dx isum. The 6-bit quants are rebuilt from the nibble and top-bit vectors (packed.h).

constexpr size_t kRecordQ6K = kLanes * sizeof(BlockQ6_K);

template <int RN>
inline void ptile_q6k(const uint8_t* group, const Acts& a, int64_t t0, __m512 out[]) {
  static_assert(RN >= 1 && RN <= 4);
  __m512 acc[RN];
#pragma GCC unroll 4
  for (int t = 0; t < RN; t++) acc[t] = _mm512_setzero_ps();
  const __m512i m4 = _mm512_set1_epi8(15), m30 = _mm512_set1_epi8(0x30);
  for (int64_t b = 0; b < a.n_blocks; b++) {
    const uint8_t* rec = group + static_cast<size_t>(b) * kRecordQ6K;
    const uint8_t* quads = rec + 288;  // per quad u: nibbles of quarters 0|2, 1|3, top bits
    const int8_t* xq[RN];
#pragma GCC unroll 4
    for (int t = 0; t < RN; t++) xq[t] = a.qs_at(t0 + t, b);
    __m512i isum[RN];
#pragma GCC unroll 4
    for (int t = 0; t < RN; t++) isum[t] = _mm512_setzero_si512();
    // Quad u of each quarter Q (elements 64Q + 4u..): its nibbles are in the first (Q even) or
    // second vector of quad u (high nibbles for Q >= 2), its top bits in bits 2Q, 2Q+1 of the
    // third. One pass over u = 4 s4 + k builds the four quarters' vectors from three loads,
    // feeding the sums of sub-blocks 4Q + s4 (Q < 4).
#pragma GCC unroll 4
    for (int s4 = 0; s4 < 4; s4++) {
      __m512i sum[4][RN];
#pragma GCC unroll 4
      for (int Q = 0; Q < 4; Q++) {
#pragma GCC unroll 4
        for (int t = 0; t < RN; t++) sum[Q][t] = _mm512_setzero_si512();
      }
#pragma GCC unroll 4
      for (int k = 0; k < 4; k++) {
        const int u = 4 * s4 + k;
        const __m512i lo0 = _mm512_loadu_si512(quads + 192 * u);
        const __m512i lo1 = _mm512_loadu_si512(quads + 192 * u + 64);
        const __m512i hi = _mm512_loadu_si512(quads + 192 * u + 128);
        // (lo & 0x0f) | hi bits: ternary logic 0xCA = A ? B : C per bit, A = the 0x0f mask.
        const __m512i W[4] = {
            _mm512_ternarylogic_epi32(m4, lo0, _mm512_and_si512(_mm512_slli_epi16(hi, 4), m30), 0xCA),
            _mm512_ternarylogic_epi32(m4, lo1, _mm512_and_si512(_mm512_slli_epi16(hi, 2), m30), 0xCA),
            _mm512_ternarylogic_epi32(m4, _mm512_srli_epi16(lo0, 4), _mm512_and_si512(hi, m30), 0xCA),
            _mm512_ternarylogic_epi32(m4, _mm512_srli_epi16(lo1, 4), _mm512_and_si512(_mm512_srli_epi16(hi, 2), m30), 0xCA)};
#pragma GCC unroll 4
        for (int Q = 0; Q < 4; Q++) {
#pragma GCC unroll 4
          for (int t = 0; t < RN; t++) sum[Q][t] = _mm512_dpbusd_epi32(sum[Q][t], W[Q], bcast4(xq[t] + 64 * Q + 4 * u));
        }
      }
#pragma GCC unroll 4
      for (int Q = 0; Q < 4; Q++) {
        const int sb = 4 * Q + s4;  // the sub-block; its scale is half h of pair sb / 2
        const __m512i P = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(rec + 32 + 32 * (sb / 2))));
        const __m512i sc = sb % 2 ? _mm512_srai_epi32(P, 16) : _mm512_srai_epi32(_mm512_slli_epi32(P, 16), 16);
#pragma GCC unroll 4
        for (int t = 0; t < RN; t++) isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(sum[Q][t], sc));
      }
    }
    // The -32 offset: sum_s sc_s * xsum_s over the 8 scale pairs.
#pragma GCC unroll 4
    for (int t = 0; t < RN; t++) {
      const int16_t* bs = a.bsums_at(t0 + t, b);
      __m512i osum = _mm512_setzero_si512();
#pragma GCC unroll 8
      for (int i = 0; i < 8; i++) {
        const __m512i P = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(rec + 32 + 32 * i)));
        int32_t pair;
        std::memcpy(&pair, bs + 2 * i, 4);
        osum = _mm512_dpwssd_epi32(osum, P, _mm512_set1_epi32(pair));
      }
      isum[t] = _mm512_sub_epi32(isum[t], _mm512_slli_epi32(osum, 5));
    }
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(rec)));
#pragma GCC unroll 4
    for (int t = 0; t < RN; t++) {
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(d, _mm512_set1_ps(*a.d_at(t0 + t, b))), acc[t]);
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < RN; t++) out[t] = acc[t];
}

// ---- IQ4_XS -------------------------------------------------------------------------------------
// Per super-block, exact in int32 as the unpacked kernel: per sub-block s of 32, the nibbles
// looked up as levels + 128 (unsigned), one vpdpbusd per 4 quants of 16 rows, minus 128 x the
// activations' sum over s (from the sums of 16), times the signed 6-bit scale (one vpmulld);
// then scaled once: y += d dx isum. Record (packed.h): the 16 d, the 8 scales of each row as
// int8 (scale s of row r at 32 + 16 s + r), the 128 quant bytes as 32 vectors of 4 bytes x 16
// rows.

constexpr size_t kRecordIQ4XS = kLanes * (sizeof(BlockIQ4_XS) + 2);

template <int RN>
inline void ptile_iq4xs(const uint8_t* group, const Acts& a, int64_t t0, __m512 out[]) {
  static_assert(RN >= 1 && RN <= 4);
  __m512 acc[RN];
#pragma GCC unroll 4
  for (int t = 0; t < RN; t++) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < a.n_blocks; b++) {
    const uint8_t* rec = group + static_cast<size_t>(b) * kRecordIQ4XS;
    const int8_t* xq[RN];
    const int16_t* bs[RN];
    __m512i isum[RN];
#pragma GCC unroll 4
    for (int t = 0; t < RN; t++) {
      xq[t] = a.qs_at(t0 + t, b);
      bs[t] = a.bsums_at(t0 + t, b);
      isum[t] = _mm512_setzero_si512();
    }
#pragma GCC unroll 8
    for (int sb = 0; sb < 8; sb++) {
      __m512i W[8];
      biased_table_quants<kValuesIQ4NL, 128>(rec + 160 + 256 * sb, W);
      const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rec + 32 + 16 * sb)));
#pragma GCC unroll 4
      for (int t = 0; t < RN; t++) {
        __m512i dot = _mm512_set1_epi32(-128 * (bs[t][2 * sb] + bs[t][2 * sb + 1]));
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) dot = _mm512_dpbusd_epi32(dot, W[k], bcast4(xq[t] + 32 * sb + PQ4_0::x_offset(k)));
        isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(dot, sc));
      }
    }
    const __m512 d = half_scales16(rec);
#pragma GCC unroll 4
    for (int t = 0; t < RN; t++) {
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(d, _mm512_set1_ps(*a.d_at(t0 + t, b))), acc[t]);
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < RN; t++) out[t] = acc[t];
}

// 16-row groups x up to 4 tokens (one activation group), tokens in L2-sized blocks.
template <void (*Tile1)(const uint8_t*, const Acts&, int64_t, __m512*), void (*Tile2)(const uint8_t*, const Acts&, int64_t, __m512*),
          void (*Tile3)(const uint8_t*, const Acts&, int64_t, __m512*), void (*Tile4)(const uint8_t*, const Acts&, int64_t, __m512*),
          size_t kRecord>
void packed_kernel_k(const WeightView& w, int64_t r0, int64_t r1, const Acts& a, float* y, int64_t ldy, float*) {
  const int tile_tokens = static_cast<int>(std::min<int64_t>(4, a.group));
  const int64_t per_token = a.n_cols + 36 * a.n_blocks;
  const int64_t tb = std::max<int64_t>(4, (192 * 1024) / per_token / 4 * 4);
  for (int64_t tb0 = 0; tb0 < a.n_tokens; tb0 += tb) {
    const int64_t tb1 = std::min(a.n_tokens, tb0 + tb);
    for (int64_t rg = r0; rg < r1; rg += kLanes) {
      const int rm = static_cast<int>(std::min<int64_t>(kLanes, r1 - rg));
      const __mmask16 keep = static_cast<__mmask16>(rm == kLanes ? 0xFFFF : (1u << rm) - 1);
      const uint8_t* group = w.packed + static_cast<size_t>(rg / kLanes * a.n_blocks) * kRecord;
      for (int64_t t = tb0; t < tb1; t += tile_tokens) {
        const int rn = static_cast<int>(std::min<int64_t>(tile_tokens, tb1 - t));
        __m512 acc[4];
        switch (rn) {
          case 1: Tile1(group, a, t, acc); break;
          case 2: Tile2(group, a, t, acc); break;
          case 3: Tile3(group, a, t, acc); break;
          default: Tile4(group, a, t, acc); break;
        }
        for (int j = 0; j < rn; j++) _mm512_mask_storeu_ps(y + (t + j) * ldy + rg, keep, acc[j]);
      }
    }
  }
}

}  // namespace

Kernel avx512_packed_kernel(DType t) {
  switch (t) {
    case DType::q4_0: return packed_kernel<PQ4_0>;
    case DType::q8_0: return packed_kernel<PQ8_0>;
    case DType::iq4_nl: return packed_kernel<PIQ4_NL>;
    case DType::mxfp4: return packed_kernel<PMXFP4>;
    case DType::iq4_xs: return packed_kernel_k<ptile_iq4xs<1>, ptile_iq4xs<2>, ptile_iq4xs<3>, ptile_iq4xs<4>, kRecordIQ4XS>;
    case DType::q4_k: return packed_kernel_k<ptile_q45k<false, 1>, ptile_q45k<false, 2>, ptile_q45k<false, 3>, ptile_q45k<false, 4>, kRecordQ4K>;
    case DType::q5_k: return packed_kernel_k<ptile_q45k<true, 1>, ptile_q45k<true, 2>, ptile_q45k<true, 3>, ptile_q45k<true, 4>, kRecordQ5K>;
    case DType::q6_k: return packed_kernel_k<ptile_q6k<1>, ptile_q6k<2>, ptile_q6k<3>, ptile_q6k<4>, kRecordQ6K>;
    default: return nullptr;
  }
}

}  // namespace parley::kernels

#else  // not an x86 build: nothing is ever packed

namespace parley::kernels {
Kernel avx512_packed_kernel(DType) { return nullptr; }
}  // namespace parley::kernels

#endif
