#include "tensor/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "base/check.h"
#include "tensor/fp16.h"
#include "tensor/quant-internal.h"

namespace parley {
namespace quant {
namespace {

// Q5 fifth bits as a little-endian u32 (the struct has them as bytes; no alignment assumed).
uint32_t load_qh(const uint8_t* qh) {
  return static_cast<uint32_t>(qh[0]) | static_cast<uint32_t>(qh[1]) << 8 |
         static_cast<uint32_t>(qh[2]) << 16 | static_cast<uint32_t>(qh[3]) << 24;
}
void store_qh(uint32_t v, uint8_t* qh) {
  for (int i = 0; i < 4; i++) qh[i] = static_cast<uint8_t>(v >> (8 * i));
}

// The element of largest magnitude, with its sign (symmetric quantizers map it to the most
// negative level so the whole signed range is used).
float signed_absmax(const float* x, int n) {
  float amax = 0, max = 0;
  for (int j = 0; j < n; j++) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}


}  // namespace

void dequantize_q4_0(const BlockQ4_0* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; i++, y += kQK) {
    float d = fp16_to_f32(b[i].d);
    for (int j = 0; j < kQK; j++) y[j] = d * static_cast<float>(nibble(b[i].qs, j) - 8);
  }
}

void dequantize_q4_1(const BlockQ4_1* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; i++, y += kQK) {
    float d = fp16_to_f32(b[i].d), m = fp16_to_f32(b[i].m);
    for (int j = 0; j < kQK; j++) y[j] = d * static_cast<float>(nibble(b[i].qs, j)) + m;
  }
}

void dequantize_q5_0(const BlockQ5_0* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; i++, y += kQK) {
    float d = fp16_to_f32(b[i].d);
    uint32_t qh = load_qh(b[i].qh);
    for (int j = 0; j < kQK; j++) {
      int q = nibble(b[i].qs, j) | static_cast<int>(((qh >> j) & 1) << 4);
      y[j] = d * static_cast<float>(q - 16);
    }
  }
}

void dequantize_q5_1(const BlockQ5_1* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; i++, y += kQK) {
    float d = fp16_to_f32(b[i].d), m = fp16_to_f32(b[i].m);
    uint32_t qh = load_qh(b[i].qh);
    for (int j = 0; j < kQK; j++) {
      int q = nibble(b[i].qs, j) | static_cast<int>(((qh >> j) & 1) << 4);
      y[j] = d * static_cast<float>(q) + m;
    }
  }
}

void dequantize_q8_0(const BlockQ8_0* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; i++, y += kQK) {
    float d = fp16_to_f32(b[i].d);
    for (int j = 0; j < kQK; j++) y[j] = d * static_cast<float>(b[i].qs[j]);
  }
}

void quantize_q4_0(const float* x, BlockQ4_0* b, int64_t n) {
  for (int64_t i = 0; i < n / kQK; i++, x += kQK) {
    b[i].d = f32_to_fp16(signed_absmax(x, kQK) / -8.0f);
    float d = fp16_to_f32(b[i].d);
    float id = d != 0 ? 1.0f / d : 0.0f;
    std::memset(b[i].qs, 0, sizeof(b[i].qs));
    for (int j = 0; j < kQK; j++) {
      int q = round_clamp(x[j] * id + 8.0f, 0, 15);
      b[i].qs[j % 16] |= static_cast<uint8_t>(q << (j < 16 ? 0 : 4));
    }
  }
}

void quantize_q5_0(const float* x, BlockQ5_0* b, int64_t n) {
  for (int64_t i = 0; i < n / kQK; i++, x += kQK) {
    b[i].d = f32_to_fp16(signed_absmax(x, kQK) / -16.0f);
    float d = fp16_to_f32(b[i].d);
    float id = d != 0 ? 1.0f / d : 0.0f;
    std::memset(b[i].qs, 0, sizeof(b[i].qs));
    uint32_t qh = 0;
    for (int j = 0; j < kQK; j++) {
      int q = round_clamp(x[j] * id + 16.0f, 0, 31);
      b[i].qs[j % 16] |= static_cast<uint8_t>((q & 15) << (j < 16 ? 0 : 4));
      qh |= static_cast<uint32_t>(q >> 4) << j;
    }
    store_qh(qh, b[i].qh);
  }
}

// Q4_1 / Q5_1: affine over [min, max] of the block with `levels` steps.
template <class Block>
void quantize_affine(const float* x, Block* b, int64_t n, int levels) {
  for (int64_t i = 0; i < n / kQK; i++, x += kQK) {
    float lo = x[0], hi = x[0];
    for (int j = 1; j < kQK; j++) {
      lo = std::fmin(lo, x[j]);
      hi = std::fmax(hi, x[j]);
    }
    b[i].d = f32_to_fp16((hi - lo) / static_cast<float>(levels));
    b[i].m = f32_to_fp16(lo);
    float d = fp16_to_f32(b[i].d), m = fp16_to_f32(b[i].m);
    float id = d != 0 ? 1.0f / d : 0.0f;
    std::memset(b[i].qs, 0, sizeof(b[i].qs));
    uint32_t qh = 0;
    for (int j = 0; j < kQK; j++) {
      int q = round_clamp((x[j] - m) * id, 0, levels);
      b[i].qs[j % 16] |= static_cast<uint8_t>((q & 15) << (j < 16 ? 0 : 4));
      qh |= static_cast<uint32_t>(q >> 4) << j;
    }
    if constexpr (std::is_same_v<Block, BlockQ5_1>) store_qh(qh, b[i].qh);
  }
}

void quantize_q4_1(const float* x, BlockQ4_1* b, int64_t n) { quantize_affine(x, b, n, 15); }
void quantize_q5_1(const float* x, BlockQ5_1* b, int64_t n) { quantize_affine(x, b, n, 31); }

void quantize_q8_0(const float* x, BlockQ8_0* b, int64_t n) {
  for (int64_t i = 0; i < n / kQK; i++, x += kQK) {
    float amax = 0;
    for (int j = 0; j < kQK; j++) amax = std::fmax(amax, std::fabs(x[j]));
    b[i].d = f32_to_fp16(amax / 127.0f);
    float d = fp16_to_f32(b[i].d);
    float id = d != 0 ? 1.0f / d : 0.0f;
    for (int j = 0; j < kQK; j++) b[i].qs[j] = static_cast<int8_t>(round_clamp(x[j] * id, -127, 127));
  }
}

void dequantize_mxfp4(const BlockMXFP4* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; i++, y += kQK) {
    float d = e8m0_half(b[i].e);
    for (int j = 0; j < kQK; j++) y[j] = d * static_cast<float>(kValuesMXFP4[nibble(b[i].qs, j)]);
  }
}

// The OCP microscaling rule (as llama.cpp's quantizer): the shared exponent is
// floor(log2(max|x|)) minus E2M1's largest exponent (2), so the block maximum lands in [4, 8)
// before rounding and saturates to 6; each element then takes the nearest of the 16 values
// (the lowest code on a tie, so zero is code 0, never -0).
void quantize_mxfp4(const float* x, BlockMXFP4* b, int64_t n) {
  for (int64_t i = 0; i < n / kQK; i++, x += kQK) {
    float amax = 0;
    for (int j = 0; j < kQK; j++) amax = std::fmax(amax, std::fabs(x[j]));
    int e = 0;
    if (amax > 0 && std::isfinite(amax)) e = std::clamp(static_cast<int>(std::floor(std::log2(amax))) - 2 + 127, 0, 254);
    b[i].e = static_cast<uint8_t>(e);
    const float d = e8m0_half(b[i].e);
    std::memset(b[i].qs, 0, sizeof(b[i].qs));
    for (int j = 0; j < kQK; j++) {
      int best = 0;
      float best_err = std::fabs(static_cast<float>(kValuesMXFP4[0]) * d - x[j]);
      for (int k = 1; k < 16; k++) {
        float err = std::fabs(static_cast<float>(kValuesMXFP4[k]) * d - x[j]);
        if (err < best_err) {
          best = k;
          best_err = err;
        }
      }
      b[i].qs[j % 16] |= static_cast<uint8_t>(best << (j < 16 ? 0 : 4));
    }
  }
}

}  // namespace quant

bool can_dequantize(DType t) {
  switch (t) {
    case DType::f32: case DType::f16: case DType::bf16:
    case DType::q4_0: case DType::q4_1: case DType::q5_0: case DType::q5_1: case DType::q8_0:
    case DType::q2_k: case DType::q3_k: case DType::q4_k: case DType::q5_k: case DType::q6_k:
    case DType::mxfp4: case DType::iq4_nl: case DType::iq4_xs:
      return true;
    default:
      return false;
  }
}

bool can_quantize(DType t) { return can_dequantize(t); }

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  PARLEY_CHECK(n % static_cast<int64_t>(dtype_info(t).block_elems) == 0);
  using namespace quant;
  switch (t) {
    case DType::f32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case DType::f16: {
      const uint8_t* s = static_cast<const uint8_t*>(src);
      for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        std::memcpy(&h, s + 2 * i, 2);
        dst[i] = fp16_to_f32(h);
      }
      return;
    }
    case DType::bf16: {
      const uint8_t* s = static_cast<const uint8_t*>(src);
      for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        std::memcpy(&h, s + 2 * i, 2);
        dst[i] = bf16_to_f32(h);
      }
      return;
    }
    case DType::q4_0: dequantize_q4_0(static_cast<const BlockQ4_0*>(src), dst, n); return;
    case DType::q4_1: dequantize_q4_1(static_cast<const BlockQ4_1*>(src), dst, n); return;
    case DType::q5_0: dequantize_q5_0(static_cast<const BlockQ5_0*>(src), dst, n); return;
    case DType::q5_1: dequantize_q5_1(static_cast<const BlockQ5_1*>(src), dst, n); return;
    case DType::q8_0: dequantize_q8_0(static_cast<const BlockQ8_0*>(src), dst, n); return;
    case DType::q2_k: dequantize_q2_k(static_cast<const BlockQ2_K*>(src), dst, n); return;
    case DType::q3_k: dequantize_q3_k(static_cast<const BlockQ3_K*>(src), dst, n); return;
    case DType::q4_k: dequantize_q4_k(static_cast<const BlockQ4_K*>(src), dst, n); return;
    case DType::q5_k: dequantize_q5_k(static_cast<const BlockQ5_K*>(src), dst, n); return;
    case DType::q6_k: dequantize_q6_k(static_cast<const BlockQ6_K*>(src), dst, n); return;
    case DType::mxfp4: dequantize_mxfp4(static_cast<const BlockMXFP4*>(src), dst, n); return;
    case DType::iq4_nl: dequantize_iq4_nl(static_cast<const BlockIQ4_NL*>(src), dst, n); return;
    case DType::iq4_xs: dequantize_iq4_xs(static_cast<const BlockIQ4_XS*>(src), dst, n); return;
    default: PARLEY_CHECK_MSG(false, "dequantize_row: unsupported type");
  }
}

void quantize_row(DType t, const float* src, void* dst, int64_t n) {
  PARLEY_CHECK(n % static_cast<int64_t>(dtype_info(t).block_elems) == 0);
  using namespace quant;
  switch (t) {
    case DType::f32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case DType::f16: {
      uint8_t* d = static_cast<uint8_t*>(dst);
      for (int64_t i = 0; i < n; i++) {
        uint16_t h = f32_to_fp16(src[i]);
        std::memcpy(d + 2 * i, &h, 2);
      }
      return;
    }
    case DType::bf16: {
      uint8_t* d = static_cast<uint8_t*>(dst);
      for (int64_t i = 0; i < n; i++) {
        uint16_t h = f32_to_bf16(src[i]);
        std::memcpy(d + 2 * i, &h, 2);
      }
      return;
    }
    case DType::q4_0: quantize_q4_0(src, static_cast<BlockQ4_0*>(dst), n); return;
    case DType::q4_1: quantize_q4_1(src, static_cast<BlockQ4_1*>(dst), n); return;
    case DType::q5_0: quantize_q5_0(src, static_cast<BlockQ5_0*>(dst), n); return;
    case DType::q5_1: quantize_q5_1(src, static_cast<BlockQ5_1*>(dst), n); return;
    case DType::q8_0: quantize_q8_0(src, static_cast<BlockQ8_0*>(dst), n); return;
    case DType::q2_k: quantize_q2_k(src, static_cast<BlockQ2_K*>(dst), n); return;
    case DType::q3_k: quantize_q3_k(src, static_cast<BlockQ3_K*>(dst), n); return;
    case DType::q4_k: quantize_q4_k(src, static_cast<BlockQ4_K*>(dst), n); return;
    case DType::q5_k: quantize_q5_k(src, static_cast<BlockQ5_K*>(dst), n); return;
    case DType::q6_k: quantize_q6_k(src, static_cast<BlockQ6_K*>(dst), n); return;
    case DType::mxfp4: quantize_mxfp4(src, static_cast<BlockMXFP4*>(dst), n); return;
    case DType::iq4_nl: quantize_iq4_nl(src, static_cast<BlockIQ4_NL*>(dst), n); return;
    case DType::iq4_xs: quantize_iq4_xs(src, static_cast<BlockIQ4_XS*>(dst), n); return;
    default: PARLEY_CHECK_MSG(false, "quantize_row: unsupported type");
  }
}

}  // namespace parley
