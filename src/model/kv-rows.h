// One K or V row (head_dim values of one kv head at one position) in each KV cache element
// type: what kv_store writes and what attention's kernels read (attention.cpp has its own
// inlined readers; kv_row_load is the plain definition tests compare them with).
//   F32   head_dim floats
//   F16   IEEE half, round to nearest even
//   BF16  the upper 16 bits of the f32, round to nearest even (NaN stays a quiet NaN)
//   Q8_0  head_dim / 32 blocks of {fp16 d, int8 q[32]}, x = d * q, d = amax / 127 (GGUF's Q8_0
//         block, byte for byte what tensor/quant.h's quantize_row writes)
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/dtype.h"

namespace parley::model {

// Which code converts: `best` is the AVX2 path when the CPU runs it (base/cpu.h), `scalar` the
// portable one (tests run both; they write identical bytes).
enum class KvRowPath { best, scalar };

// Bytes of a row of n values (n a multiple of 32 for Q8_0).
inline size_t kv_row_bytes(DType t, int32_t n) { return static_cast<size_t>(dtype_row_bytes(t, static_cast<uint64_t>(n))); }

// Quantizes n floats into dst (kv_row_bytes(t, n) bytes). t is F32, F16, BF16 or Q8_0.
void kv_row_store(DType t, const float* src, uint8_t* dst, int32_t n, KvRowPath path = KvRowPath::best);
// The stored row back as floats (scalar reference).
void kv_row_load(DType t, const uint8_t* src, float* dst, int32_t n);

}  // namespace parley::model
