// K-quants (Q2_K..Q6_K): scalar dequantization (the reference the kernels are tested against)
// and a quantizer for make-model and tests. The quantizer fits each sub-block by least squares
// and then rounds the sub-block scales to the super-block's integer grid; it is not llama.cpp's
// importance-weighted search, only a correct one of reasonable quality.
#include <cmath>
#include <cstring>

#include "tensor/fp16.h"
#include "tensor/quant-internal.h"

namespace parley::quant {
namespace {

// Fits x[i] ~= a * q[i] - b with integer q in [0, nmax], a >= 0 and b >= 0 (mins are stored
// unsigned). Starts from the range and refines by alternating rounding and least squares.
void fit_scale_min(const float* x, int n, int nmax, float* a_out, float* b_out) {
  float lo = 0, hi = x[0];
  for (int i = 0; i < n; i++) {
    lo = std::fmin(lo, x[i]);
    hi = std::fmax(hi, x[i]);
  }
  float a = (hi - lo) / static_cast<float>(nmax), b = -lo;
  *a_out = a;
  *b_out = b;
  if (a <= 0) {
    *a_out = 0;
    return;
  }
  auto error = [&](float sa, float sb) {
    double e = 0;
    for (int i = 0; i < n; i++) {
      float q = static_cast<float>(round_clamp((x[i] + sb) / sa, 0, nmax));
      double diff = static_cast<double>(sa * q - sb - x[i]);
      e += diff * diff;
    }
    return e;
  };
  double best = error(a, b);
  for (int iter = 0; iter < 4; iter++) {
    double sq = 0, sqq = 0, sx = 0, sqx = 0;
    for (int i = 0; i < n; i++) {
      double q = round_clamp((x[i] + b) / a, 0, nmax);
      sq += q;
      sqq += q * q;
      sx += x[i];
      sqx += q * x[i];
    }
    double det = n * sqq - sq * sq;
    if (det <= 0) break;
    double na = (n * sqx - sq * sx) / det;
    double nc = (sqq * sx - sq * sqx) / det;  // x ~= na * q + nc
    if (nc > 0) {                             // b = -nc must stay >= 0
      nc = 0;
      na = sqx / sqq;
    }
    if (!(na > 0)) break;
    float ca = static_cast<float>(na), cb = static_cast<float>(-nc);
    double e = error(ca, cb);
    if (!(e < best)) break;
    best = e;
    a = ca;
    b = cb;
  }
  *a_out = a;
  *b_out = b;
}

// Fits x[i] ~= a * q[i] with integer q in [-qneg, qneg - 1]; a may be negative (the element of
// largest magnitude maps to -qneg).
float fit_scale_symmetric(const float* x, int n, int qneg) {
  float amax = 0, max = 0;
  for (int i = 0; i < n; i++) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax == 0) return 0;
  float a = max / static_cast<float>(-qneg);
  auto error = [&](float s) {
    double e = 0;
    for (int i = 0; i < n; i++) {
      double diff = static_cast<double>(s * static_cast<float>(round_clamp(x[i] / s, -qneg, qneg - 1)) - x[i]);
      e += diff * diff;
    }
    return e;
  };
  double best = error(a);
  for (int iter = 0; iter < 3; iter++) {
    double sqq = 0, sqx = 0;
    for (int i = 0; i < n; i++) {
      double q = round_clamp(x[i] / a, -qneg, qneg - 1);
      sqq += q * q;
      sqx += q * x[i];
    }
    if (sqq <= 0) break;
    float na = static_cast<float>(sqx / sqq);
    if (na == 0) break;
    double e = error(na);
    if (!(e < best)) break;
    best = e;
    a = na;
  }
  return a;
}

// The value of largest magnitude, keeping its sign.
float signed_max(const float* v, int n) {
  float best = 0;
  for (int i = 0; i < n; i++) {
    if (std::fabs(v[i]) > std::fabs(best)) best = v[i];
  }
  return best;
}

float max_of(const float* v, int n) {
  float m = 0;
  for (int i = 0; i < n; i++) m = std::fmax(m, v[i]);
  return m;
}

// Super-block scale d for sub-block scales a[] stored as integers up to `top`: returns the fp16
// bits and writes the integer sub-block scales.
uint16_t pack_unsigned_scales(const float* a, int n, int top, int* out) {
  uint16_t bits = f32_to_fp16(max_of(a, n) / static_cast<float>(top));
  float d = fp16_to_f32(bits);
  for (int i = 0; i < n; i++) out[i] = d > 0 ? round_clamp(a[i] / d, 0, top) : 0;
  return bits;
}

}  // namespace

// ---- dequantize -------------------------------------------------------------------------------

void dequantize_q2_k(const BlockQ2_K* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; i++, y += kQK_K) {
    float d = fp16_to_f32(b[i].d), dmin = fp16_to_f32(b[i].dmin);
    for (int e = 0; e < kQK_K; e++) {
      int h = e / 128, j = (e / 32) % 4, l = e % 32;
      int q = (b[i].qs[32 * h + l] >> (2 * j)) & 3;
      uint8_t sm = b[i].scales[8 * h + 2 * j + l / 16];
      y[e] = d * static_cast<float>((sm & 15) * q) - dmin * static_cast<float>(sm >> 4);
    }
  }
}

void dequantize_q3_k(const BlockQ3_K* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; i++, y += kQK_K) {
    float d = fp16_to_f32(b[i].d);
    for (int e = 0; e < kQK_K; e++) {
      int h = e / 128, j = (e / 32) % 4, l = e % 32;
      int q = (b[i].qs[32 * h + l] >> (2 * j)) & 3;
      q |= ((b[i].hmask[l] >> (4 * h + j)) & 1) << 2;
      int sc = q3k_scale(8 * h + 2 * j + l / 16, b[i].scales);
      y[e] = d * static_cast<float>(sc * (q - 4));
    }
  }
}

void dequantize_q4_k(const BlockQ4_K* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; i++, y += kQK_K) {
    float d = fp16_to_f32(b[i].d), dmin = fp16_to_f32(b[i].dmin);
    for (int s = 0; s < 8; s++) {
      uint8_t sc, m;
      k_scale_min(s, b[i].scales, &sc, &m);
      const uint8_t* qs = b[i].qs + 32 * (s / 2);
      for (int l = 0; l < 32; l++) {
        int q = s % 2 == 0 ? qs[l] & 15 : qs[l] >> 4;
        y[32 * s + l] = d * static_cast<float>(sc * q) - dmin * static_cast<float>(m);
      }
    }
  }
}

void dequantize_q5_k(const BlockQ5_K* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; i++, y += kQK_K) {
    float d = fp16_to_f32(b[i].d), dmin = fp16_to_f32(b[i].dmin);
    for (int s = 0; s < 8; s++) {
      uint8_t sc, m;
      k_scale_min(s, b[i].scales, &sc, &m);
      const uint8_t* qs = b[i].qs + 32 * (s / 2);
      for (int l = 0; l < 32; l++) {
        int q = s % 2 == 0 ? qs[l] & 15 : qs[l] >> 4;
        q |= ((b[i].qh[l] >> s) & 1) << 4;
        y[32 * s + l] = d * static_cast<float>(sc * q) - dmin * static_cast<float>(m);
      }
    }
  }
}

void dequantize_q6_k(const BlockQ6_K* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; i++, y += kQK_K) {
    float d = fp16_to_f32(b[i].d);
    for (int e = 0; e < kQK_K; e++) {
      int h = e / 128, k = (e / 32) % 4, l = e % 32;
      uint8_t lo = b[i].ql[64 * h + l + 32 * (k & 1)];
      int q = (k < 2 ? lo & 15 : lo >> 4) | (((b[i].qh[32 * h + l] >> (2 * k)) & 3) << 4);
      int sc = b[i].scales[8 * h + 2 * k + l / 16];
      y[e] = d * static_cast<float>(sc * (q - 32));
    }
  }
}

// ---- quantize ---------------------------------------------------------------------------------

void quantize_q2_k(const float* x, BlockQ2_K* b, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; i++, x += kQK_K) {
    float a[16], m[16];
    for (int s = 0; s < 16; s++) fit_scale_min(x + 16 * s, 16, 3, &a[s], &m[s]);
    int isc[16], im[16];
    b[i].d = pack_unsigned_scales(a, 16, 15, isc);
    b[i].dmin = pack_unsigned_scales(m, 16, 15, im);
    float d = fp16_to_f32(b[i].d), dmin = fp16_to_f32(b[i].dmin);
    std::memset(b[i].qs, 0, sizeof(b[i].qs));
    for (int s = 0; s < 16; s++) b[i].scales[s] = static_cast<uint8_t>(isc[s] | (im[s] << 4));
    for (int e = 0; e < kQK_K; e++) {
      int s = e / 16, h = e / 128, j = (e / 32) % 4, l = e % 32;
      float step = d * static_cast<float>(isc[s]);
      int q = step > 0 ? round_clamp((x[e] + dmin * static_cast<float>(im[s])) / step, 0, 3) : 0;
      b[i].qs[32 * h + l] |= static_cast<uint8_t>(q << (2 * j));
    }
  }
}

void quantize_q3_k(const float* x, BlockQ3_K* b, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; i++, x += kQK_K) {
    float a[16];
    for (int s = 0; s < 16; s++) a[s] = fit_scale_symmetric(x + 16 * s, 16, 4);
    b[i].d = f32_to_fp16(signed_max(a, 16) / -32.0f);
    float d = fp16_to_f32(b[i].d);
    int sc[16];
    for (int s = 0; s < 16; s++) sc[s] = d != 0 ? round_clamp(a[s] / d, -32, 31) : 0;
    std::memset(b[i].scales, 0, sizeof(b[i].scales));
    for (int s = 0; s < 16; s++) {
      int u = sc[s] + 32;
      b[i].scales[s % 8] |= static_cast<uint8_t>((u & 15) << (s < 8 ? 0 : 4));
      b[i].scales[8 + s % 4] |= static_cast<uint8_t>((u >> 4) << (2 * (s / 4)));
    }
    std::memset(b[i].qs, 0, sizeof(b[i].qs));
    std::memset(b[i].hmask, 0, sizeof(b[i].hmask));
    for (int e = 0; e < kQK_K; e++) {
      int s = e / 16, h = e / 128, j = (e / 32) % 4, l = e % 32;
      float step = d * static_cast<float>(sc[s]);
      int q = (step != 0 ? round_clamp(x[e] / step, -4, 3) : 0) + 4;
      b[i].qs[32 * h + l] |= static_cast<uint8_t>((q & 3) << (2 * j));
      b[i].hmask[l] |= static_cast<uint8_t>((q >> 2) << (4 * h + j));
    }
  }
}

// Q4_K and Q5_K share the scale packing; `bits` is 4 or 5.
template <class Block, int kBits>
void quantize_q45_k(const float* x, Block* b, int64_t n) {
  constexpr int nmax = (1 << kBits) - 1;
  for (int64_t i = 0; i < n / kQK_K; i++, x += kQK_K) {
    float a[8], m[8];
    for (int s = 0; s < 8; s++) fit_scale_min(x + 32 * s, 32, nmax, &a[s], &m[s]);
    int isc[8], im[8];
    b[i].d = pack_unsigned_scales(a, 8, 63, isc);
    b[i].dmin = pack_unsigned_scales(m, 8, 63, im);
    float d = fp16_to_f32(b[i].d), dmin = fp16_to_f32(b[i].dmin);
    for (int j = 0; j < 4; j++) {
      b[i].scales[j] = static_cast<uint8_t>((isc[j] & 63) | ((isc[j + 4] >> 4) << 6));
      b[i].scales[j + 4] = static_cast<uint8_t>((im[j] & 63) | ((im[j + 4] >> 4) << 6));
      b[i].scales[j + 8] = static_cast<uint8_t>((isc[j + 4] & 15) | ((im[j + 4] & 15) << 4));
    }
    std::memset(b[i].qs, 0, sizeof(b[i].qs));
    if constexpr (kBits == 5) std::memset(b[i].qh, 0, sizeof(b[i].qh));
    for (int e = 0; e < kQK_K; e++) {
      int s = e / 32, l = e % 32;
      float step = d * static_cast<float>(isc[s]);
      int q = step > 0 ? round_clamp((x[e] + dmin * static_cast<float>(im[s])) / step, 0, nmax) : 0;
      b[i].qs[32 * (s / 2) + l] |= static_cast<uint8_t>((q & 15) << (s % 2 == 0 ? 0 : 4));
      if constexpr (kBits == 5) b[i].qh[l] |= static_cast<uint8_t>((q >> 4) << s);
    }
  }
}

void quantize_q4_k(const float* x, BlockQ4_K* b, int64_t n) { quantize_q45_k<BlockQ4_K, 4>(x, b, n); }
void quantize_q5_k(const float* x, BlockQ5_K* b, int64_t n) { quantize_q45_k<BlockQ5_K, 5>(x, b, n); }

void quantize_q6_k(const float* x, BlockQ6_K* b, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; i++, x += kQK_K) {
    float a[16];
    for (int s = 0; s < 16; s++) a[s] = fit_scale_symmetric(x + 16 * s, 16, 32);
    b[i].d = f32_to_fp16(signed_max(a, 16) / -128.0f);
    float d = fp16_to_f32(b[i].d);
    int sc[16];
    for (int s = 0; s < 16; s++) {
      sc[s] = d != 0 ? round_clamp(a[s] / d, -128, 127) : 0;
      b[i].scales[s] = static_cast<int8_t>(sc[s]);
    }
    std::memset(b[i].ql, 0, sizeof(b[i].ql));
    std::memset(b[i].qh, 0, sizeof(b[i].qh));
    for (int e = 0; e < kQK_K; e++) {
      int s = e / 16, h = e / 128, k = (e / 32) % 4, l = e % 32;
      float step = d * static_cast<float>(sc[s]);
      int q = (step != 0 ? round_clamp(x[e] / step, -32, 31) : 0) + 32;
      b[i].ql[64 * h + l + 32 * (k & 1)] |= static_cast<uint8_t>((q & 15) << (k < 2 ? 0 : 4));
      b[i].qh[32 * h + l] |= static_cast<uint8_t>((q >> 4) << (2 * k));
    }
  }
}

}  // namespace parley::quant
