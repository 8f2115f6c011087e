#include "tensor/quant.h"

#include <cmath>
#include <cstring>

#include "base/check.h"
#include "tensor/fp16.h"
#include "tensor/quant-blocks.h"

namespace parley {
namespace {

void dequantize_q8_0(const BlockQ8_0* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK8_0; i++) {
    float d = fp16_to_f32(b[i].d);
    for (int j = 0; j < kQK8_0; j++) y[i * kQK8_0 + j] = d * static_cast<float>(b[i].qs[j]);
  }
}

void quantize_q8_0(const float* x, BlockQ8_0* b, int64_t n) {
  for (int64_t i = 0; i < n / kQK8_0; i++) {
    const float* xb = x + i * kQK8_0;
    float amax = 0;
    for (int j = 0; j < kQK8_0; j++) amax = std::fmax(amax, std::fabs(xb[j]));
    float d = amax / 127.0f;
    float id = d != 0 ? 1.0f / d : 0.0f;
    b[i].d = f32_to_fp16(d);
    for (int j = 0; j < kQK8_0; j++) b[i].qs[j] = static_cast<int8_t>(std::lround(xb[j] * id));
  }
}

void dequantize_q4_0(const BlockQ4_0* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK4_0; i++) {
    float d = fp16_to_f32(b[i].d);
    for (int j = 0; j < kQK4_0 / 2; j++) {
      y[i * kQK4_0 + j] = d * static_cast<float>((b[i].qs[j] & 0x0F) - 8);
      y[i * kQK4_0 + j + kQK4_0 / 2] = d * static_cast<float>((b[i].qs[j] >> 4) - 8);
    }
  }
}

void quantize_q4_0(const float* x, BlockQ4_0* b, int64_t n) {
  for (int64_t i = 0; i < n / kQK4_0; i++) {
    const float* xb = x + i * kQK4_0;
    // The element of largest magnitude maps to -8, so the full [-8, 7] range is used.
    float amax = 0, max = 0;
    for (int j = 0; j < kQK4_0; j++) {
      if (std::fabs(xb[j]) > amax) {
        amax = std::fabs(xb[j]);
        max = xb[j];
      }
    }
    float d = max / -8.0f;
    float id = d != 0 ? 1.0f / d : 0.0f;
    b[i].d = f32_to_fp16(d);
    for (int j = 0; j < kQK4_0 / 2; j++) {
      int q0 = static_cast<int>(xb[j] * id + 8.5f);
      int q1 = static_cast<int>(xb[j + kQK4_0 / 2] * id + 8.5f);
      q0 = q0 > 15 ? 15 : q0;
      q1 = q1 > 15 ? 15 : q1;
      b[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

}  // namespace

bool can_dequantize(DType t) {
  switch (t) {
    case DType::f32: case DType::f16: case DType::bf16: case DType::q8_0: case DType::q4_0:
      return true;
    default:
      return false;
  }
}

bool can_quantize(DType t) { return can_dequantize(t); }

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  switch (t) {
    case DType::f32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case DType::f16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; i++) dst[i] = fp16_to_f32(s[i]);
      return;
    }
    case DType::bf16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; i++) dst[i] = bf16_to_f32(s[i]);
      return;
    }
    case DType::q8_0: dequantize_q8_0(static_cast<const BlockQ8_0*>(src), dst, n); return;
    case DType::q4_0: dequantize_q4_0(static_cast<const BlockQ4_0*>(src), dst, n); return;
    default: PARLEY_CHECK_MSG(false, "dequantize_row: unsupported type");
  }
}

void quantize_row(DType t, const float* src, void* dst, int64_t n) {
  switch (t) {
    case DType::f32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case DType::f16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; i++) d[i] = f32_to_fp16(src[i]);
      return;
    }
    case DType::bf16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; i++) d[i] = f32_to_bf16(src[i]);
      return;
    }
    case DType::q8_0: quantize_q8_0(src, static_cast<BlockQ8_0*>(dst), n); return;
    case DType::q4_0: quantize_q4_0(src, static_cast<BlockQ4_0*>(dst), n); return;
    default: PARLEY_CHECK_MSG(false, "quantize_row: unsupported type");
  }
}

}  // namespace parley
