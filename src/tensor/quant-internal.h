// Per-type scalar row conversions behind quant.h's dispatch (quant.cpp: 32-element block types,
// quant-k.cpp: K-quants, quant-iq.cpp: IQ4_NL and IQ4_XS). n is a multiple of the block size.
#pragma once

#include <cmath>
#include <cstdint>

#include "tensor/quant-blocks.h"

namespace parley::quant {

// Nearest integer clamped to [lo, hi]; NaN goes to lo (no undefined float->int conversion).
inline int round_clamp(float v, int lo, int hi) {
  if (!(v >= static_cast<float>(lo))) return lo;
  if (v >= static_cast<float>(hi)) return hi;
  return static_cast<int>(std::nearbyint(v));
}

// Nibble index of element j of a 32-element block: low nibbles hold 0..15, high 16..31.
inline uint8_t nibble(const uint8_t* qs, int j) { return static_cast<uint8_t>(j < 16 ? qs[j] & 15 : qs[j - 16] >> 4); }

void dequantize_q4_0(const BlockQ4_0* b, float* y, int64_t n);
void dequantize_q4_1(const BlockQ4_1* b, float* y, int64_t n);
void dequantize_q5_0(const BlockQ5_0* b, float* y, int64_t n);
void dequantize_q5_1(const BlockQ5_1* b, float* y, int64_t n);
void dequantize_q8_0(const BlockQ8_0* b, float* y, int64_t n);
void dequantize_mxfp4(const BlockMXFP4* b, float* y, int64_t n);
void dequantize_iq4_nl(const BlockIQ4_NL* b, float* y, int64_t n);
void dequantize_iq4_xs(const BlockIQ4_XS* b, float* y, int64_t n);
void dequantize_q2_k(const BlockQ2_K* b, float* y, int64_t n);
void dequantize_q3_k(const BlockQ3_K* b, float* y, int64_t n);
void dequantize_q4_k(const BlockQ4_K* b, float* y, int64_t n);
void dequantize_q5_k(const BlockQ5_K* b, float* y, int64_t n);
void dequantize_q6_k(const BlockQ6_K* b, float* y, int64_t n);

void quantize_q4_0(const float* x, BlockQ4_0* b, int64_t n);
void quantize_q4_1(const float* x, BlockQ4_1* b, int64_t n);
void quantize_q5_0(const float* x, BlockQ5_0* b, int64_t n);
void quantize_q5_1(const float* x, BlockQ5_1* b, int64_t n);
void quantize_q8_0(const float* x, BlockQ8_0* b, int64_t n);
void quantize_mxfp4(const float* x, BlockMXFP4* b, int64_t n);
void quantize_iq4_nl(const float* x, BlockIQ4_NL* b, int64_t n);
void quantize_iq4_xs(const float* x, BlockIQ4_XS* b, int64_t n);
void quantize_q2_k(const float* x, BlockQ2_K* b, int64_t n);
void quantize_q3_k(const float* x, BlockQ3_K* b, int64_t n);
void quantize_q4_k(const float* x, BlockQ4_K* b, int64_t n);
void quantize_q5_k(const float* x, BlockQ5_K* b, int64_t n);
void quantize_q6_k(const float* x, BlockQ6_K* b, int64_t n);

}  // namespace parley::quant
