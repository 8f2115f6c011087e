// Row conversions between f32 and every stored weight type: the scalar reference that fast
// kernels are tested against. Block layouts follow the GGUF/ggml format.
#pragma once

#include <cstdint>

#include "base/dtype.h"

namespace parley {

// True when dequantize_row / quantize_row support the type.
bool can_dequantize(DType t);
bool can_quantize(DType t);

// n must be a multiple of the type's block size.
void dequantize_row(DType t, const void* src, float* dst, int64_t n);
void quantize_row(DType t, const float* src, void* dst, int64_t n);

}  // namespace parley
