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

#include "tensor/quant-blocks.h"
#include "tensor/simd-avx2.h"

namespace parley::kernels {
namespace {

using namespace avx2;

// ---- 32-element block types --------------------------------------------------------------------
// A decoder gives each block's quants as 32 bytes (unsigned 0..31, or signed for Q8_0), its
// scale, and its offset: value = scale * q + offset, so the dot with an activation block is
// scale * dx * sum(q * xq) + offset * s (s = dx * sum xq). The offset part is summed per row
// after the loop as a dot of the row's offsets with the token's s values.

struct DecQ4_0 {
  using Block = BlockQ4_0;
  static constexpr bool kSigned = false, kOffset = true;
  static __m256i quants(const Block& b) { return unpack_nibbles(b.qs); }
  static void scales(const Block& b, float* d, float* off) {
    *d = load_half(&b.d);
    *off = -8.0f * *d;
  }
};

struct DecQ4_1 {
  using Block = BlockQ4_1;
  static constexpr bool kSigned = false, kOffset = true;
  static __m256i quants(const Block& b) { return unpack_nibbles(b.qs); }
  static void scales(const Block& b, float* d, float* off) {
    *d = load_half(&b.d);
    *off = load_half(&b.m);
  }
};

inline __m256i fifth_bits(const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  return _mm256_and_si256(bytes_from_bits(bits), _mm256_set1_epi8(16));
}

struct DecQ5_0 {
  using Block = BlockQ5_0;
  static constexpr bool kSigned = false, kOffset = true;
  static __m256i quants(const Block& b) { return _mm256_or_si256(unpack_nibbles(b.qs), fifth_bits(b.qh)); }
  static void scales(const Block& b, float* d, float* off) {
    *d = load_half(&b.d);
    *off = -16.0f * *d;
  }
};

struct DecQ5_1 {
  using Block = BlockQ5_1;
  static constexpr bool kSigned = false, kOffset = true;
  static __m256i quants(const Block& b) { return _mm256_or_si256(unpack_nibbles(b.qs), fifth_bits(b.qh)); }
  static void scales(const Block& b, float* d, float* off) {
    *d = load_half(&b.d);
    *off = load_half(&b.m);
  }
};

struct DecQ8_0 {
  using Block = BlockQ8_0;
  static constexpr bool kSigned = true, kOffset = false;
  static __m256i quants(const Block& b) { return loadu256(b.qs); }
  static void scales(const Block& b, float* d, float* off) {
    *d = load_half(&b.d);
    *off = 0;
  }
};

constexpr int kRM = static_cast<int>(kRowTile);
constexpr int kRN32 = 3;  // tokens per prefill tile (RM x RN accumulators must fit 16 registers)

// out[r * RN + t] = sum over blocks of scale_r * dx_t * (q_r . xq_t).
template <class D, int RM, int RN>
void tile32(const typename D::Block* const* rows, const float* const* dw, const Acts& a, int64_t t0,
            float* out) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[RM][RN];
#pragma GCC unroll 4
  for (int r = 0; r < RM; r++) {
#pragma GCC unroll 4
    for (int t = 0; t < RN; t++) acc[r][t] = _mm256_setzero_ps();
  }
  const int8_t* xq[RN];
  const float* xd[RN];
#pragma GCC unroll 4
  for (int t = 0; t < RN; t++) {
    xq[t] = a.qs + (t0 + t) * a.n_cols;
    xd[t] = a.d + (t0 + t) * a.n_blocks;
  }
  for (int64_t b = 0; b < a.n_blocks; b++) {
    __m256i q[RM], qa[RM];
#pragma GCC unroll 4
    for (int r = 0; r < RM; r++) {
      q[r] = D::quants(rows[r][b]);
      if constexpr (D::kSigned) qa[r] = _mm256_sign_epi8(q[r], q[r]);
    }
#pragma GCC unroll 4
    for (int t = 0; t < RN; t++) {
      const __m256i x = loadu256(xq[t] + b * kQK);
      const __m256 dx = _mm256_broadcast_ss(xd[t] + b);
#pragma GCC unroll 4
      for (int r = 0; r < RM; r++) {
        __m256i p;
        if constexpr (D::kSigned) {
          // maddubs wants an unsigned left side: |w| * (x with w's sign).
          p = _mm256_maddubs_epi16(qa[r], _mm256_sign_epi8(x, q[r]));
        } else {
          p = _mm256_maddubs_epi16(q[r], x);
        }
        const __m256 sum = _mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones));
        acc[r][t] = _mm256_fmadd_ps(sum, _mm256_mul_ps(_mm256_broadcast_ss(dw[r] + b), dx), acc[r][t]);
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
void tile32_rn(int rn, const typename D::Block* const* rows, const float* const* dw, const Acts& a,
               int64_t t0, float* out) {
  switch (rn) {
    case 1: tile32<D, RM, 1>(rows, dw, a, t0, out); return;
    case 2: tile32<D, RM, 2>(rows, dw, a, t0, out); return;
    default: tile32<D, RM, 3>(rows, dw, a, t0, out); return;
  }
}

// Tokens per cache block: about 192 KB of quantized activations.
int64_t token_block(int64_t bytes_per_token, int rn) {
  int64_t tb = (192 * 1024) / std::max<int64_t>(bytes_per_token, 1);
  return std::max<int64_t>(rn, tb / rn * rn);
}

template <class D>
void kernel32(const WeightView& w, int64_t r0, int64_t r1, const Acts& a, float* y, int64_t ldy,
              float* scratch) {
  using Block = typename D::Block;
  const int64_t nb = a.n_blocks;
  float* dw[kRM];
  float* off[kRM];
  for (int r = 0; r < kRM; r++) {
    dw[r] = scratch + r * nb;
    off[r] = scratch + (kRM + r) * nb;
  }
  const int64_t tb = token_block(a.n_cols + 8 * nb, kRN32);
  float out[kRM * kRN32];
  for (int64_t tb0 = 0; tb0 < a.n_tokens; tb0 += tb) {
    const int64_t tb1 = std::min(a.n_tokens, tb0 + tb);
    for (int64_t rt = r0; rt < r1; rt += kRM) {
      const int rm = static_cast<int>(std::min<int64_t>(kRM, r1 - rt));
      const Block* rows[kRM];
      for (int r = 0; r < rm; r++) {
        rows[r] = reinterpret_cast<const Block*>(w.row(rt + r));
        for (int64_t b = 0; b < nb; b++) D::scales(rows[r][b], &dw[r][b], &off[r][b]);
      }
      for (int64_t t = tb0; t < tb1; t += kRN32) {
        const int rn = static_cast<int>(std::min<int64_t>(kRN32, tb1 - t));
        switch (rm) {
          case 1: tile32_rn<D, 1>(rn, rows, dw, a, t, out); break;
          case 2: tile32_rn<D, 2>(rn, rows, dw, a, t, out); break;
          case 3: tile32_rn<D, 3>(rn, rows, dw, a, t, out); break;
          default: tile32_rn<D, 4>(rn, rows, dw, a, t, out); break;
        }
        for (int r = 0; r < rm; r++) {
          for (int j = 0; j < rn; j++) {
            float v = out[r * rn + j];
            if constexpr (D::kOffset) v += dot_f32(off[r], a.s + (t + j) * nb, nb);
            y[(t + j) * ldy + rt + r] = v;
          }
        }
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

constexpr int kRNf = 2;

template <class L, int RM, int RN>
void tile_f(const uint8_t* const* rows, const Acts& a, int64_t t0, float* out) {
  __m256 acc[RM][RN];
#pragma GCC unroll 4
  for (int r = 0; r < RM; r++) {
#pragma GCC unroll 4
    for (int t = 0; t < RN; t++) acc[r][t] = _mm256_setzero_ps();
  }
  const float* x[RN];
#pragma GCC unroll 4
  for (int t = 0; t < RN; t++) x[t] = a.x + (t0 + t) * a.n_cols;
  int64_t c = 0;
  for (; c + 8 <= a.n_cols; c += 8) {
    __m256 wv[RM];
#pragma GCC unroll 4
    for (int r = 0; r < RM; r++) wv[r] = L::load8(rows[r], c);
#pragma GCC unroll 4
    for (int t = 0; t < RN; t++) {
      const __m256 xv = _mm256_loadu_ps(x[t] + c);
#pragma GCC unroll 4
      for (int r = 0; r < RM; r++) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < RM; r++) {
#pragma GCC unroll 4
    for (int t = 0; t < RN; t++) {
      float v = hsum(acc[r][t]);
      for (int64_t k = c; k < a.n_cols; k++) v += L::load1(rows[r], k) * x[t][k];
      out[r * RN + t] = v;
    }
  }
}

template <class L, int RM>
void tile_f_rn(int rn, const uint8_t* const* rows, const Acts& a, int64_t t0, float* out) {
  if (rn == 1) {
    tile_f<L, RM, 1>(rows, a, t0, out);
  } else {
    tile_f<L, RM, 2>(rows, a, t0, out);
  }
}

template <class L>
void kernel_f(const WeightView& w, int64_t r0, int64_t r1, const Acts& a, float* y, int64_t ldy, float*) {
  const int64_t tb = token_block(a.n_cols * 4, kRNf);
  float out[kRM * kRNf];
  for (int64_t tb0 = 0; tb0 < a.n_tokens; tb0 += tb) {
    const int64_t tb1 = std::min(a.n_tokens, tb0 + tb);
    for (int64_t rt = r0; rt < r1; rt += kRM) {
      const int rm = static_cast<int>(std::min<int64_t>(kRM, r1 - rt));
      const uint8_t* rows[kRM];
      for (int r = 0; r < rm; r++) rows[r] = w.row(rt + r);
      for (int64_t t = tb0; t < tb1; t += kRNf) {
        const int rn = static_cast<int>(std::min<int64_t>(kRNf, tb1 - t));
        switch (rm) {
          case 1: tile_f_rn<L, 1>(rn, rows, a, t, out); break;
          case 2: tile_f_rn<L, 2>(rn, rows, a, t, out); break;
          case 3: tile_f_rn<L, 3>(rn, rows, a, t, out); break;
          default: tile_f_rn<L, 4>(rn, rows, a, t, out); break;
        }
        for (int r = 0; r < rm; r++) {
          for (int j = 0; j < rn; j++) y[(t + j) * ldy + rt + r] = out[r * rn + j];
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
  for (int64_t t = t0; t < t1; t++) {
    const float* xt = x + t * a.n_cols;
    int8_t* q = a.qs + t * a.n_cols;
    float* d = a.d + t * a.n_blocks;
    if (a.kind == ActKind::q8_32) {
      float* s = a.s + t * a.n_blocks;
      for (int64_t b = 0; b < a.n_blocks; b++) {
        d[b] = quantize_block(xt + b * kQK, kQK, q + b * kQK, sums16);
        s[b] = d[b] * static_cast<float>(sums16[0] + sums16[1]);
      }
    } else {
      int16_t* bs = a.bsums + t * (a.n_cols / 16);
      for (int64_t b = 0; b < a.n_blocks; b++) {
        d[b] = quantize_block(xt + b * kQK_K, kQK_K, q + b * kQK_K, sums16);
        for (int k = 0; k < 16; k++) bs[b * 16 + k] = static_cast<int16_t>(sums16[k]);
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
