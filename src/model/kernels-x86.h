// The model layer's x86 kernels: avx2_* (attention-avx2.cpp, ops-avx2.cpp, kv-rows-avx2.cpp,
// compiled with AVX2 + FMA + F16C) and avx512_* (attention-avx512.cpp, AVX-512 F/BW/VL/DQ).
// Call them only when cpu_path_at_least(CpuPath::avx2 / avx512) (base/cpu.h); the portable
// files dispatch. Internal to src/model/.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/dtype.h"
#include "tensor/quant-blocks.h"

namespace parley::model {
namespace ops {

// Where the rows of one sequence's positions live for one kv head.
struct KvRows {
  const uint8_t* kbase;
  const uint8_t* vbase;
  const int32_t* blocks;
  int32_t block_size;
  int32_t n_head_kv;
  int32_t head;
  int32_t head_dim;
  size_t row_bytes;  // one stored row of head_dim values
  // First row of block index bi (block_size rows, contiguous).
  [[gnu::always_inline]] size_t offset(int32_t bi) const {
    int64_t b = blocks[bi];
    return static_cast<size_t>((b * n_head_kv + head) * block_size) * row_bytes;
  }
  [[gnu::always_inline]] const uint8_t* row(const uint8_t* base, int32_t j) const {
    return base + offset(j / block_size) + static_cast<size_t>(j % block_size) * row_bytes;
  }
};

// One attention task (ops::attention): G query rows of one kv group against positions
// [skip, n) (skip > 0: a sliding window, with kv's blocks starting at the window's first
// block); t is the cache's element type (F32, F16, BF16, Q8_0), head_dim a multiple of 8.
// sinks (null: none): row r's attention sink, an extra logit in its softmax's denominator
// with no value (gpt-oss).
void avx2_attend(DType t, const float* q, int32_t G, const KvRows& kv, int32_t n, float scale, float* scores,
                 float* out, int32_t skip = 0, const float* sinks = nullptr);

// Prefill attention for n_tokens consecutive tokens of one sequence (positions position ..
// position + n_tokens - 1, each seeing the keys up to its own) and one kv group: token i's head
// h (h < n_group) reads q[i * stride + h * head_dim] and writes out[i * stride + h * head_dim].
// head_dim a multiple of 16 (32 for avx512_attend_tile); scratch: attend_tile_floats.
struct AttendTile {
  const float* q;
  float* out;
  int64_t stride;
  int32_t n_tokens;
  int32_t n_group;
  int32_t position;
  float scale;
  int32_t window = 0;  // sliding window (0: none): token i sees keys from position + i - window + 1
  const float* sinks = nullptr;  // head h's attention sink (gpt-oss), or null
};
constexpr int32_t kTileKeys = 64;  // keys per step of the tile kernel
inline size_t attend_tile_floats(int32_t n_rows, int32_t head_dim) {
  return static_cast<size_t>(n_rows) * static_cast<size_t>(2 * head_dim + kTileKeys + 2) +
         3 * static_cast<size_t>(kTileKeys) * static_cast<size_t>(head_dim);
}
void avx2_attend_tile(DType t, const AttendTile& a, const KvRows& kv, float* scratch);
void avx512_attend_tile(DType t, const AttendTile& a, const KvRows& kv, float* scratch);
// avx2_attend on 512-bit vectors (F32, F16, BF16; Q8_0 goes to avx2_attend); head_dim % 32 == 0.
void avx512_attend(DType t, const float* q, int32_t G, const KvRows& kv, int32_t n, float scale, float* scores,
                   float* out, const float* sinks = nullptr);

// ops.h's dot, exp_inplace and one row of swiglu (gate[i] = silu(gate[i]) * up[i]) or geglu.
float avx2_dot(const float* a, const float* b, int64_t n);
void avx2_exp_inplace(float* x, int64_t n);
void avx2_swiglu_row(float* gate, const float* up, int64_t n);
void avx2_geglu_row(float* gate, const float* up, int64_t n);  // gate[i] = gelu_tanh(gate[i]) * up[i]
void avx2_swiglu_oai_row(float* gate, const float* up, int64_t n, float alpha, float limit);  // ops::swiglu_oai

}  // namespace ops

// kv_row_store's conversions (kv-rows.h), byte for byte the scalar ones.
void avx2_store_f16(const float* src, uint16_t* dst, int32_t n);
void avx2_store_bf16(const float* src, uint16_t* dst, int32_t n);
void avx2_store_q8_0(const float* src, BlockQ8_0* dst, int32_t n);

}  // namespace parley::model
