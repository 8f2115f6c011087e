// AVX2 kernels for the 32-element block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0), the float types
// (F32, F16, BF16) and the activation quantizers. K-quants are in kernels-avx2-k.cpp.
//
// Shape of every kernel: a tile of RM weight rows x RN tokens is accumulated in registers over
// the whole row, so each weight block is unpacked once per RN tokens and each activation block
// loaded once per RM rows. Decode is RN = 1 (memory-bound: the weights stream through once);
// prefill uses the largest tile and walks the tokens in L2-sized blocks so the activations stay
// cached while the thread's rows stream past.
#include "tensor/kernels.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <algorithm>
#include <cstddef>

#include "tensor/quant-blocks.h"
#include "tensor/simd-avx2.h"

namespace parley::kernels {
namespace {

using namespace avx2;

// ---- 32-element block types --------------------------------------------------------------------
// Eight rows at a time with "lanes = rows": each weight block is transposed on the fly into 8
// vectors whose 32-bit lane r holds 4 consecutive quants of row r, and multiplied with the
// activation's matching 4 bytes broadcast to every lane. The integer sums then accumulate per
// row inside the lanes, so the float work (convert, scale by the 8 rows' scales at once, add) is
// paid once per 8 rows instead of once per row, and no horizontal sums are needed.
// W[k] holds elements 4k..4k+3 and W[4 + k] elements 16 + 4k..16 + 4k + 3 (k < 4), which is
// where the Q4/Q5 nibbles already are.
//
// Each decoder gives the 8 rows' quants (unsigned 0..31, or signed for Q8_0), each block's scale
// and offset: value = scale * q + offset, so a row's dot with an activation block is
// scale * dx * sum(q * xq) + offset * s (s = dx * sum xq).

constexpr int kRows8 = 8;

// 4x4 transposes of 32-bit elements inside both 128-bit lanes: in[i] = [row i | row i + 4]
// (4 dwords each) -> out[k] = [dword k of rows 0..3 | dword k of rows 4..7].
inline void transpose4x4_lanes(const __m256i in[4], __m256i out[4]) {
  const __m256i t0 = _mm256_unpacklo_epi32(in[0], in[1]);
  const __m256i t1 = _mm256_unpackhi_epi32(in[0], in[1]);
  const __m256i t2 = _mm256_unpacklo_epi32(in[2], in[3]);
  const __m256i t3 = _mm256_unpackhi_epi32(in[2], in[3]);
  out[0] = _mm256_unpacklo_epi64(t0, t2);
  out[1] = _mm256_unpackhi_epi64(t0, t2);
  out[2] = _mm256_unpacklo_epi64(t1, t3);
  out[3] = _mm256_unpackhi_epi64(t1, t3);
}

// 16 bytes at offset `off` of rows i and i + 4 as one vector.
inline __m256i rows_pair(const uint8_t* const* rows, int i, size_t off) {
  return _mm256_inserti128_si256(_mm256_castsi128_si256(loadu128(rows[i] + off)), loadu128(rows[i + 4] + off), 1);
}

// The nibbles at byte offset `off` of 8 rows' blocks: W[k] low nibbles, W[4 + k] high nibbles.
inline void nibbles8(const uint8_t* const* rows, size_t off, __m256i W[8]) {
  __m256i in[4], v[4];
  #pragma GCC unroll 8
  for (int i = 0; i < 4; i++) in[i] = rows_pair(rows, i, off);
  transpose4x4_lanes(in, v);
  const __m256i m4 = _mm256_set1_epi8(15);
  #pragma GCC unroll 8
  for (int k = 0; k < 4; k++) {
    W[k] = _mm256_and_si256(v[k], m4);
    W[4 + k] = _mm256_and_si256(_mm256_srli_epi16(v[k], 4), m4);
  }
}

// Q5 fifth bits: bits 4k..4k+3 (and 16 + 4k..) of each row's 32-bit qh become 16 in the bytes
// of W[k] (W[4 + k]).
inline void fifth_bits8(const uint8_t* const* rows, size_t off, __m256i W[8]) {
  uint32_t h[8];
  #pragma GCC unroll 8
  for (int r = 0; r < 8; r++) std::memcpy(&h[r], rows[r] + off, 4);
  const __m256i H = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h));
  // Byte 0 of each dword to all its 4 bytes, then test bit m in byte m.
  const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12,
                                          0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12);
  const __m256i bit = _mm256_set1_epi32(0x08040201);
  const __m256i sixteen = _mm256_set1_epi8(16);
  #pragma GCC unroll 8
  for (int k = 0; k < 8; k++) {
    const int shift = k < 4 ? 4 * k : 16 + 4 * (k - 4);
    __m256i v = _mm256_shuffle_epi8(_mm256_srli_epi32(H, shift), spread);
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
    W[k] = _mm256_or_si256(W[k], _mm256_and_si256(v, sixteen));
  }
}

// The fp16 at byte offset `off` of each of 8 rows, as 8 floats (lane r = row r).
inline __m256 halves8(const uint8_t* const* rows, size_t off) {
  auto h = [&](int r) {
    uint16_t v;
    std::memcpy(&v, rows[r] + off, 2);
    return static_cast<int>(v);
  };
  __m128i v = _mm_cvtsi32_si128(h(0));
  v = _mm_insert_epi16(v, h(1), 1);
  v = _mm_insert_epi16(v, h(2), 2);
  v = _mm_insert_epi16(v, h(3), 3);
  v = _mm_insert_epi16(v, h(4), 4);
  v = _mm_insert_epi16(v, h(5), 5);
  v = _mm_insert_epi16(v, h(6), 6);
  v = _mm_insert_epi16(v, h(7), 7);
  return _mm256_cvtph_ps(v);
}

struct DecQ4_0 {
  using Block = BlockQ4_0;
  static constexpr bool kSigned = false, kOffset = true;
  static constexpr int kMaxQ = 15;
  static void quants(const uint8_t* const* rows, int64_t b, __m256i W[8]) {
    nibbles8(rows, static_cast<size_t>(b) * sizeof(Block) + offsetof(Block, qs), W);
  }
  static void scales8(const uint8_t* const* rows, int64_t b, __m256* d, __m256* off) {
    *d = halves8(rows, static_cast<size_t>(b) * sizeof(Block) + offsetof(Block, d));
    *off = _mm256_mul_ps(*d, _mm256_set1_ps(-8.0f));
  }
};

struct DecQ4_1 {
  using Block = BlockQ4_1;
  static constexpr bool kSigned = false, kOffset = true;
  static constexpr int kMaxQ = 15;
  static void quants(const uint8_t* const* rows, int64_t b, __m256i W[8]) {
    nibbles8(rows, static_cast<size_t>(b) * sizeof(Block) + offsetof(Block, qs), W);
  }
  static void scales8(const uint8_t* const* rows, int64_t b, __m256* d, __m256* off) {
    *d = halves8(rows, static_cast<size_t>(b) * sizeof(Block) + offsetof(Block, d));
    *off = halves8(rows, static_cast<size_t>(b) * sizeof(Block) + offsetof(Block, m));
  }
};

struct DecQ5_0 {
  using Block = BlockQ5_0;
  static constexpr bool kSigned = false, kOffset = true;
  static constexpr int kMaxQ = 31;
  static void quants(const uint8_t* const* rows, int64_t b, __m256i W[8]) {
    const size_t base = static_cast<size_t>(b) * sizeof(Block);
    nibbles8(rows, base + offsetof(Block, qs), W);
    fifth_bits8(rows, base + offsetof(Block, qh), W);
  }
  static void scales8(const uint8_t* const* rows, int64_t b, __m256* d, __m256* off) {
    *d = halves8(rows, static_cast<size_t>(b) * sizeof(Block) + offsetof(Block, d));
    *off = _mm256_mul_ps(*d, _mm256_set1_ps(-16.0f));
  }
};

struct DecQ5_1 {
  using Block = BlockQ5_1;
  static constexpr bool kSigned = false, kOffset = true;
  static constexpr int kMaxQ = 31;
  static void quants(const uint8_t* const* rows, int64_t b, __m256i W[8]) {
    const size_t base = static_cast<size_t>(b) * sizeof(Block);
    nibbles8(rows, base + offsetof(Block, qs), W);
    fifth_bits8(rows, base + offsetof(Block, qh), W);
  }
  static void scales8(const uint8_t* const* rows, int64_t b, __m256* d, __m256* off) {
    *d = halves8(rows, static_cast<size_t>(b) * sizeof(Block) + offsetof(Block, d));
    *off = halves8(rows, static_cast<size_t>(b) * sizeof(Block) + offsetof(Block, m));
  }
};

struct DecQ8_0 {
  using Block = BlockQ8_0;
  static constexpr bool kSigned = true, kOffset = false;
  static constexpr int kMaxQ = 127;
  static void quants(const uint8_t* const* rows, int64_t b, __m256i W[8]) {
    const size_t base = static_cast<size_t>(b) * sizeof(Block) + offsetof(Block, qs);
    __m256i in[4];
    #pragma GCC unroll 8
    for (int i = 0; i < 4; i++) in[i] = rows_pair(rows, i, base);
    transpose4x4_lanes(in, W);
    #pragma GCC unroll 8
    for (int i = 0; i < 4; i++) in[i] = rows_pair(rows, i, base + 16);
    transpose4x4_lanes(in, W + 4);
  }
  static void scales8(const uint8_t* const* rows, int64_t b, __m256* d, __m256* off) {
    *d = halves8(rows, static_cast<size_t>(b) * sizeof(Block) + offsetof(Block, d));
    *off = _mm256_setzero_ps();
  }
};

// dpbusd(acc, u, s): u8 x s8 products summed in groups of 4 into the int32 lanes of acc, one
// instruction with VNNI (AVX512-VNNI on 256-bit vectors, or AVX-VNNI). Builds for CPUs without
// it use maddubs + madd in dot8 instead.
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define PARLEY_VNNI 1
inline __m256i dpbusd(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(acc, u, s); }
#elif defined(__AVXVNNI__)
#define PARLEY_VNNI 1
inline __m256i dpbusd(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_avx_epi32(acc, u, s); }
#endif

// Per-row int32 sums (lane r) of one block of 8 rows with one token's activation block x.
template <class D>
inline __m256i dot8(const __m256i W[8], const __m256i A[8], const int8_t* x) {
  auto xb = [&](int k) {
    int32_t v;
    std::memcpy(&v, x + (k < 4 ? 4 * k : 16 + 4 * (k - 4)), 4);
    return _mm256_set1_epi32(v);
  };
#ifdef PARLEY_VNNI
  static_assert(D::kMaxQ <= 127, "quants must fit dpbusd's byte operands");
  __m256i sum = _mm256_setzero_si256();
#pragma GCC unroll 8
  for (int k = 0; k < 8; k++) {
    if constexpr (D::kSigned) {
      sum = dpbusd(sum, A[k], _mm256_sign_epi8(xb(k), W[k]));
    } else {
      sum = dpbusd(sum, W[k], xb(k));
    }
  }
  return sum;
#else
  const __m256i ones = _mm256_set1_epi16(1);
  if constexpr (D::kSigned) {
    // |w| * (x with w's sign); a maddubs lane can reach 2 * 128 * 127, so each is widened.
    static_assert(D::kMaxQ == 127);
    __m256i sum = _mm256_madd_epi16(_mm256_maddubs_epi16(A[0], _mm256_sign_epi8(xb(0), W[0])), ones);
#pragma GCC unroll 8
    for (int k = 1; k < 8; k++) {
      sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_maddubs_epi16(A[k], _mm256_sign_epi8(xb(k), W[k])), ones));
    }
    return sum;
  } else if constexpr (D::kMaxQ <= 15) {
    // A maddubs lane is at most 2 * 15 * 127 = 3810: all 8 fit one int16 sum (30480).
    __m256i s16 = _mm256_maddubs_epi16(W[0], xb(0));
#pragma GCC unroll 8
    for (int k = 1; k < 8; k++) s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(W[k], xb(k)));
    return _mm256_madd_epi16(s16, ones);
  } else {
    // Up to 2 * 31 * 127 = 7874 per lane: 4 per int16 sum.
    __m256i s0 = _mm256_maddubs_epi16(W[0], xb(0));
    __m256i s1 = _mm256_maddubs_epi16(W[4], xb(4));
#pragma GCC unroll 8
    for (int k = 1; k < 4; k++) {
      s0 = _mm256_add_epi16(s0, _mm256_maddubs_epi16(W[k], xb(k)));
      s1 = _mm256_add_epi16(s1, _mm256_maddubs_epi16(W[4 + k], xb(4 + k)));
    }
    return _mm256_add_epi32(_mm256_madd_epi16(s0, ones), _mm256_madd_epi16(s1, ones));
  }
#endif
}

// out[t] lane r = row r . token t0 + t over all blocks. RN = 8 spans two token groups (t0 a
// multiple of 4, a.group == 4): the block transposes are then shared by 8 tokens.
template <class D, int RN>
void tile8(const uint8_t* const* rows, const Acts& a, int64_t t0, __m256 out[]) {
  static_assert(RN <= 4 || RN == 8);
  __m256 acc[RN];
#pragma GCC unroll 8
  for (int t = 0; t < RN; t++) acc[t] = _mm256_setzero_ps();
  const int64_t g = a.group;
  // Token t's data: group t / 4 (second group only when RN == 8), slot t % 4.
  const int8_t* xq[2] = {a.qs_at(t0, 0), RN == 8 ? a.qs_at(t0 + 4, 0) : nullptr};
  const float* xd[2] = {a.d_at(t0, 0), RN == 8 ? a.d_at(t0 + 4, 0) : nullptr};
  const float* xs[2] = {D::kOffset ? a.s_at(t0, 0) : nullptr, D::kOffset && RN == 8 ? a.s_at(t0 + 4, 0) : nullptr};
  for (int64_t b = 0; b < a.n_blocks; b++) {
    __m256i W[8], A[8];
    D::quants(rows, b, W);
    if constexpr (D::kSigned) {
#pragma GCC unroll 8
      for (int k = 0; k < 8; k++) A[k] = _mm256_sign_epi8(W[k], W[k]);
    }
    __m256 sc, off;
    D::scales8(rows, b, &sc, &off);
#pragma GCC unroll 8
    for (int t = 0; t < RN; t++) {
      const int grp = t / 4, slot = t % 4;
      const __m256i isum = dot8<D>(W, A, xq[grp] + (b * g + slot) * kQK);
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(sc, _mm256_broadcast_ss(xd[grp] + b * g + slot)),
                               acc[t]);
      if constexpr (D::kOffset) acc[t] = _mm256_fmadd_ps(off, _mm256_broadcast_ss(xs[grp] + b * g + slot), acc[t]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < RN; t++) out[t] = acc[t];
}

template <class D>
void tile8_rn(int rn, const uint8_t* const* rows, const Acts& a, int64_t t0, __m256 acc[]) {
  switch (rn) {
    case 1: tile8<D, 1>(rows, a, t0, acc); return;
    case 2: tile8<D, 2>(rows, a, t0, acc); return;
    case 3: tile8<D, 3>(rows, a, t0, acc); return;
    case 4: tile8<D, 4>(rows, a, t0, acc); return;
    default: tile8<D, 8>(rows, a, t0, acc); return;
  }
}

// Tokens per cache block: about 192 KB of quantized activations.
int64_t token_block(int64_t bytes_per_token, int rn) {
  int64_t tb = (192 * 1024) / std::max<int64_t>(bytes_per_token, 1);
  return std::max<int64_t>(rn, tb / rn * rn);
}

template <class D>
void kernel32(const WeightView& w, int64_t r0, int64_t r1, const Acts& a, float* y, int64_t ldy, float*) {
  const int rn_max = a.group == 4 ? 8 : static_cast<int>(a.group);
  const int64_t tb = token_block(a.n_cols + 8 * a.n_blocks, 8);
  for (int64_t tb0 = 0; tb0 < a.n_tokens; tb0 += tb) {
    const int64_t tb1 = std::min(a.n_tokens, tb0 + tb);
    for (int64_t rt = r0; rt < r1; rt += kRows8) {
      const int rm = static_cast<int>(std::min<int64_t>(kRows8, r1 - rt));
      // Missing rows of a partial tile repeat the last row; their lanes are not stored.
      const uint8_t* rows[kRows8];
      for (int r = 0; r < kRows8; r++) rows[r] = w.row(rt + std::min(r, rm - 1));
      for (int64_t t = tb0; t < tb1;) {
        // 8 tokens when two whole groups remain, else what is left of the current group.
        int rn = static_cast<int>(std::min<int64_t>(rn_max, tb1 - t));
        if (rn < 8 && rn > 4) rn = 4;
        __m256 acc[8];
        tile8_rn<D>(rn, rows, a, t, acc);
        for (int j = 0; j < rn; j++) {
          float* out = y + (t + j) * ldy + rt;
          if (rm == kRows8) {
            _mm256_storeu_ps(out, acc[j]);
          } else {
            alignas(32) float v[8];
            _mm256_store_ps(v, acc[j]);
            for (int r = 0; r < rm; r++) out[r] = v[r];
          }
        }
        t += rn;
      }
    }
  }
}

// ---- float types -------------------------------------------------------------------------------

struct LoadF32 {
  static __m256 load8(const uint8_t* row, int64_t c) { return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + c); }
  static float load1(const uint8_t* row, int64_t c) {
    float v;
    std::memcpy(&v, row + 4 * c, 4);
    return v;
  }
};
struct LoadF16 {
  static __m256 load8(const uint8_t* row, int64_t c) { return _mm256_cvtph_ps(loadu128(row + 2 * c)); }
  static float load1(const uint8_t* row, int64_t c) { return load_half(row + 2 * c); }
};
struct LoadBF16 {
  static __m256 load8(const uint8_t* row, int64_t c) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(loadu128(row + 2 * c)), 16));
  }
  static float load1(const uint8_t* row, int64_t c) {
    uint16_t h;
    std::memcpy(&h, row + 2 * c, 2);
    uint32_t u = static_cast<uint32_t>(h) << 16;
    float v;
    std::memcpy(&v, &u, 4);
    return v;
  }
};

constexpr int kRM = 4;  // float kernels: 4 rows x 2 tokens
constexpr int kRNf = 2;
// Columns per pass: 4 rows and the token block's activations for this many columns stay in
// L1/L2 (whole rows of 2048+ f32 columns do not, and the kernel then waits on L2).
constexpr int64_t kColBlock = 512;
constexpr int64_t kTokBlockF = 64;

// acc[r * RN + t] += row r . token t0 + t over columns [c0, c1) (a multiple of 8 long).
template <class L, int RM, int RN>
void tile_f(const uint8_t* const* rows, const Acts& a, int64_t t0, int64_t c0, int64_t c1, __m256* accs) {
  __m256 acc[RM][RN];
#pragma GCC unroll 4
  for (int r = 0; r < RM; r++) {
#pragma GCC unroll 4
    for (int t = 0; t < RN; t++) acc[r][t] = accs[r * RN + t];
  }
  const float* x = a.x + t0 * a.n_cols;
  for (int64_t c = c0; c < c1; c += 8) {
    __m256 wv[RM];
#pragma GCC unroll 4
    for (int r = 0; r < RM; r++) wv[r] = L::load8(rows[r], c);
#pragma GCC unroll 4
    for (int t = 0; t < RN; t++) {
      __m256 xv = _mm256_loadu_ps(x + t * a.n_cols + c);
      // Keep xv in a register: left alone, GCC folds the load into every FMA, and the loop then
      // runs out of load slots rather than FMA slots.
      __asm__("" : "+x"(xv));
#pragma GCC unroll 4
      for (int r = 0; r < RM; r++) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < RM; r++) {
#pragma GCC unroll 4
    for (int t = 0; t < RN; t++) accs[r * RN + t] = acc[r][t];
  }
}

template <class L, int RM>
void tile_f_rn(int rn, const uint8_t* const* rows, const Acts& a, int64_t t0, int64_t c0, int64_t c1, __m256* accs) {
  if (rn == 1) {
    tile_f<L, RM, 1>(rows, a, t0, c0, c1, accs);
  } else {
    tile_f<L, RM, 2>(rows, a, t0, c0, c1, accs);
  }
}

// Each (row, token) sums its 8-lane partial products over the columns in order, whatever the
// column blocking or the batch, so a token's result does not depend on the other tokens.
template <class L>
void kernel_f(const WeightView& w, int64_t r0, int64_t r1, const Acts& a, float* y, int64_t ldy, float*) {
  const int64_t c8 = a.n_cols / 8 * 8;
  __m256 accs[kTokBlockF / kRNf][kRM * kRNf];
  for (int64_t tb0 = 0; tb0 < a.n_tokens; tb0 += kTokBlockF) {
    const int64_t tb1 = std::min(a.n_tokens, tb0 + kTokBlockF);
    for (int64_t rt = r0; rt < r1; rt += kRM) {
      const int rm = static_cast<int>(std::min<int64_t>(kRM, r1 - rt));
      const uint8_t* rows[kRM];
      for (int r = 0; r < rm; r++) rows[r] = w.row(rt + r);
      for (auto& tile : accs) {
        for (auto& v : tile) v = _mm256_setzero_ps();
      }
      for (int64_t c0 = 0; c0 < c8; c0 += kColBlock) {
        const int64_t c1 = std::min(c8, c0 + kColBlock);
        for (int64_t t = tb0; t < tb1; t += kRNf) {
          const int rn = static_cast<int>(std::min<int64_t>(kRNf, tb1 - t));
          __m256* acc = accs[(t - tb0) / kRNf];
          switch (rm) {
            case 1: tile_f_rn<L, 1>(rn, rows, a, t, c0, c1, acc); break;
            case 2: tile_f_rn<L, 2>(rn, rows, a, t, c0, c1, acc); break;
            case 3: tile_f_rn<L, 3>(rn, rows, a, t, c0, c1, acc); break;
            default: tile_f_rn<L, 4>(rn, rows, a, t, c0, c1, acc); break;
          }
        }
      }
      for (int64_t t = tb0; t < tb1; t += kRNf) {
        const int rn = static_cast<int>(std::min<int64_t>(kRNf, tb1 - t));
        const __m256* acc = accs[(t - tb0) / kRNf];
        for (int r = 0; r < rm; r++) {
          for (int j = 0; j < rn; j++) {
            float v = hsum(acc[r * rn + j]);
            const float* x = a.x + (t + j) * a.n_cols;
            for (int64_t k = c8; k < a.n_cols; k++) v += L::load1(rows[r], k) * x[k];
            y[(t + j) * ldy + rt + r] = v;
          }
        }
      }
    }
  }
}

// ---- activation quantization --------------------------------------------------------------------

// Quantizes n floats (a multiple of 32) with scale d = max|x| / 127 into q and returns d;
// sums16[k] gets the sum of quants 16k..16k+15.
inline float quantize_block(const float* x, int n, int8_t* q, int32_t* sums16) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 amax = _mm256_setzero_ps();
  for (int i = 0; i < n; i += 8) amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
  const float d = hmax(amax) / 127.0f;
  const __m256 id = _mm256_set1_ps(d != 0 ? 1.0f / d : 0.0f);
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int i = 0; i < n; i += 32) {
    __m256i v[4];
    #pragma GCC unroll 8
    for (int k = 0; k < 4; k++) v[k] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * k), id));
    sums16[i / 16] = hsum_i32(_mm256_add_epi32(v[0], v[1]));
    sums16[i / 16 + 1] = hsum_i32(_mm256_add_epi32(v[2], v[3]));
    // packs work within 128-bit lanes; the permute restores element order.
    __m256i p16a = _mm256_packs_epi32(v[0], v[1]);
    __m256i p16b = _mm256_packs_epi32(v[2], v[3]);
    __m256i p8 = _mm256_packs_epi16(p16a, p16b);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), _mm256_permutevar8x32_epi32(p8, perm));
  }
  return d;
}

}  // namespace

void avx2_quantize_acts(const Acts& a, const float* x, int64_t t0, int64_t t1) {
  if (a.kind == ActKind::f32) return;
  int32_t sums16[kQK_K / 16];
  const int block = static_cast<int>(a.block_elems);
  for (int64_t t = t0; t < t1; t++) {
    const float* xt = x + t * a.n_cols;
    for (int64_t b = 0; b < a.n_blocks; b++) {
      const float d = quantize_block(xt + b * block, block, a.qs_at(t, b), sums16);
      *a.d_at(t, b) = d;
      if (a.kind == ActKind::q8_32) {
        *a.s_at(t, b) = d * static_cast<float>(sums16[0] + sums16[1]);
      } else {
        int16_t* bs = a.bsums_at(t, b);
        #pragma GCC unroll 8
        for (int k = 0; k < 16; k++) bs[k] = static_cast<int16_t>(sums16[k]);
      }
    }
  }
}

Kernel avx2_kernel(DType t) {
  switch (t) {
    case DType::f32: return kernel_f<LoadF32>;
    case DType::f16: return kernel_f<LoadF16>;
    case DType::bf16: return kernel_f<LoadBF16>;
    case DType::q4_0: return kernel32<DecQ4_0>;
    case DType::q4_1: return kernel32<DecQ4_1>;
    case DType::q5_0: return kernel32<DecQ5_0>;
    case DType::q5_1: return kernel32<DecQ5_1>;
    case DType::q8_0: return kernel32<DecQ8_0>;
    default: return avx2_kernel_k(t);
  }
}

}  // namespace parley::kernels

#else  // no AVX2: matmul never selects this path

namespace parley::kernels {
Kernel avx2_kernel(DType) { return nullptr; }
void avx2_quantize_acts(const Acts&, const float*, int64_t, int64_t) {}
}  // namespace parley::kernels

#endif
