#include "model/kv-rows.h"

#include <cmath>
#include <cstring>

#include "base/check.h"
#include "base/cpu.h"
#include "model/kernels-x86.h"
#include "tensor/fp16.h"
#include "tensor/quant-blocks.h"
#include "tensor/quant.h"

namespace parley::model {
namespace {

void store_f16_scalar(const float* src, uint16_t* dst, int32_t n) {
  for (int32_t i = 0; i < n; i++) dst[i] = f32_to_fp16(src[i]);
}
void store_bf16_scalar(const float* src, uint16_t* dst, int32_t n) {
  for (int32_t i = 0; i < n; i++) dst[i] = f32_to_bf16(src[i]);
}


}  // namespace

void kv_row_store(DType t, const float* src, uint8_t* dst, int32_t n, KvRowPath path) {
  const bool simd = path == KvRowPath::best && cpu_path_at_least(CpuPath::avx2);
  switch (t) {
    case DType::f32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case DType::f16:
      if (simd) return avx2_store_f16(src, reinterpret_cast<uint16_t*>(dst), n);
      return store_f16_scalar(src, reinterpret_cast<uint16_t*>(dst), n);
    case DType::bf16:
      if (simd) return avx2_store_bf16(src, reinterpret_cast<uint16_t*>(dst), n);
      return store_bf16_scalar(src, reinterpret_cast<uint16_t*>(dst), n);
    case DType::q8_0:
      PARLEY_CHECK_MSG(n % kQK == 0, "Q8_0 KV rows are whole blocks of 32");
      if (simd) return avx2_store_q8_0(src, reinterpret_cast<BlockQ8_0*>(dst), n);
      return quantize_row(DType::q8_0, src, dst, n);
    default: PARLEY_CHECK_MSG(false, "kv_row_store: not a KV cache type");
  }
}

void kv_row_load(DType t, const uint8_t* src, float* dst, int32_t n) {
  switch (t) {
    case DType::f32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case DType::f16:
      for (int32_t i = 0; i < n; i++) dst[i] = fp16_to_f32(reinterpret_cast<const uint16_t*>(src)[i]);
      return;
    case DType::bf16:
      for (int32_t i = 0; i < n; i++) dst[i] = bf16_to_f32(reinterpret_cast<const uint16_t*>(src)[i]);
      return;
    case DType::q8_0: dequantize_row(DType::q8_0, src, dst, n); return;
    default: PARLEY_CHECK_MSG(false, "kv_row_load: not a KV cache type");
  }
}

}  // namespace parley::model
