// Paged causal attention (declared in ops.h). One task is one row (token) and one kv head: the
// query heads of its group (grouped-query attention) share every K and V row read, so each is
// loaded and converted once for the group. Two passes over the sequence's blocks: scores
// (q . k / sqrt(d), then softmax) and the weighted sum of V. The AVX2 kernels
// (attention-avx2.cpp, chosen at run time) work on two query heads and four keys (scores) or 32
// dims (values) at a time; the scalar path here is the plain definition. Every kernel is a
// template over the cache's element type (F32, F16, BF16, Q8_0; kv-rows.h has the layouts), so
// the conversion is inlined into the loops: F16 and BF16 widen 8 values per instruction pair,
// Q8_0 converts 8 int8 and multiplies by its block's scale, read once per 32 values.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

#include "base/check.h"
#include "base/cpu.h"
#include "model/kernels-x86.h"
#include "model/kv-rows.h"
#include "model/ops.h"
#include "model/parallel.h"
#include "tensor/fp16.h"
#include "tensor/quant-blocks.h"

namespace parley::model::ops {
namespace {

// Element d of a stored F32, F16 or BF16 row.
template <DType T>
inline float element(const uint8_t* row, int32_t d) {
  if constexpr (T == DType::f32) {
    return reinterpret_cast<const float*>(row)[d];
  } else if constexpr (T == DType::f16) {
    return fp16_to_f32(reinterpret_cast<const uint16_t*>(row)[d]);
  } else {
    static_assert(T == DType::bf16);
    return bf16_to_f32(reinterpret_cast<const uint16_t*>(row)[d]);
  }
}

// q . row and o += w * row over D values of a stored row (Q8_0: per block, the scale applied
// once to the block's sum).
template <DType T>
float row_dot(const float* q, const uint8_t* row, int32_t D) {
  float acc = 0;
  if constexpr (T == DType::q8_0) {
    const auto* b = reinterpret_cast<const BlockQ8_0*>(row);
    for (int32_t i = 0; i < D / kQK; i++, q += kQK) {
      float sum = 0;
      for (int k = 0; k < kQK; k++) sum += q[k] * static_cast<float>(b[i].qs[k]);
      acc += fp16_to_f32(b[i].d) * sum;
    }
  } else {
    for (int32_t d = 0; d < D; d++) acc += q[d] * element<T>(row, d);
  }
  return acc;
}

template <DType T>
void row_axpy(float w, const uint8_t* row, int32_t D, float* o) {
  if constexpr (T == DType::q8_0) {
    const auto* b = reinterpret_cast<const BlockQ8_0*>(row);
    for (int32_t i = 0; i < D / kQK; i++, o += kQK) {
      const float wd = w * fp16_to_f32(b[i].d);
      for (int k = 0; k < kQK; k++) o[k] += wd * static_cast<float>(b[i].qs[k]);
    }
  } else {
    for (int32_t d = 0; d < D; d++) o[d] += w * element<T>(row, d);
  }
}

// Scalar definition: rows r < G of q (stride D) against positions [lo, n); sinks (or null):
// each row's attention sink, a logit in the softmax's denominator with no value.
template <DType T>
void attend_scalar(const float* q, int32_t G, const KvRows& kv, int32_t lo, int32_t n, float scale, float* scores,
                   float* out, const float* sinks) {
  const int32_t D = kv.head_dim, m = n - lo;
  for (int32_t r = 0; r < G; r++) {
    float* s = scores + static_cast<size_t>(r) * static_cast<size_t>(m);
    for (int32_t j = 0; j < m; j++) s[j] = row_dot<T>(q + r * D, kv.row(kv.kbase, lo + j), D) * scale;
  }
  for (int32_t r = 0; r < G; r++) {
    float* s = scores + static_cast<size_t>(r) * static_cast<size_t>(m);
    float mx = *std::max_element(s, s + m);
    if (sinks != nullptr) mx = std::max(mx, sinks[r]);
    float sum = sinks != nullptr ? std::exp(sinks[r] - mx) : 0.0f;
    for (int32_t j = 0; j < m; j++) sum += (s[j] = std::exp(s[j] - mx));
    float* o = out + static_cast<size_t>(r) * static_cast<size_t>(D);
    std::fill(o, o + D, 0.0f);
    for (int32_t j = 0; j < m; j++) row_axpy<T>(s[j], kv.row(kv.vbase, lo + j), D, o);
    for (int32_t d = 0; d < D; d++) o[d] /= sum;
  }
}

void attend_scalar_for(DType t, const float* q, int32_t G, const KvRows& kv, int32_t lo, int32_t n, float scale,
                       float* scores, float* out, const float* sinks) {
  switch (t) {
    case DType::f32: return attend_scalar<DType::f32>(q, G, kv, lo, n, scale, scores, out, sinks);
    case DType::f16: return attend_scalar<DType::f16>(q, G, kv, lo, n, scale, scores, out, sinks);
    case DType::bf16: return attend_scalar<DType::bf16>(q, G, kv, lo, n, scale, scores, out, sinks);
    case DType::q8_0: return attend_scalar<DType::q8_0>(q, G, kv, lo, n, scale, scores, out, sinks);
    default: PARLEY_CHECK_MSG(false, "attention: not a KV cache type");
  }
}

}  // namespace

bool attention_has_avx2() { return cpu_path_at_least(CpuPath::avx2); }

namespace {

// Tokens per prefill tile: up to kTileRows query rows (tokens x group), at most 64 tokens.
constexpr int32_t kTileRows = 128;
int32_t tile_tokens(int32_t G) { return std::clamp(kTileRows / G, 1, 64); }
bool use_tiles(AttentionKernel kernel, int32_t head_dim) {
  return kernel == AttentionKernel::best && attention_has_avx2() && head_dim % 16 == 0;
}

}  // namespace

size_t attention_scratch_floats(int32_t group, int32_t head_dim, int32_t n_ctx) {
  const size_t per_token = static_cast<size_t>(group) * static_cast<size_t>(n_ctx);
  return std::max(per_token, attend_tile_floats(tile_tokens(group) * group, head_dim));
}

void attention(const float* q, float* out, const KvView& kv, int32_t layer, const Batch& batch,
               std::span<const SeqKv> seqs, const AttentionShape& shape, float* scores, int32_t n_ctx,
               ThreadPool& pool, AttentionKernel kernel) {
  const int32_t n_head = shape.n_head, n_head_kv = shape.n_head_kv, head_dim = shape.head_dim;
  const int32_t G = n_head / n_head_kv;
  const float scale = shape.scale;
  // Rows at positions >= W see a window that does not start at 0.
  const int32_t W = shape.window > 0 ? shape.window : INT32_MAX;
  const int64_t q_dim = static_cast<int64_t>(n_head) * head_dim;
  const size_t per_thread = attention_scratch_floats(G, head_dim, n_ctx);
  const size_t row_bytes = kv_row_bytes(kv.type, head_dim);
  const bool simd = kernel != AttentionKernel::scalar && attention_has_avx2() && head_dim % 8 == 0;
  const bool tiles = use_tiles(kernel, head_dim);
  const bool wide = tiles && cpu_path_at_least(CpuPath::avx512) && head_dim % 32 == 0;
  PARLEY_CHECK_MSG(kv.type != DType::q8_0 || head_dim % kQK == 0, "Q8_0 KV needs head_dim % 32 == 0");
  // One task is a window of up to `window` batch rows and one kv group. Inside it, each run of
  // consecutive positions of one sequence (a prefill chunk) goes through the tile kernel; single
  // rows (decode) through the per-row kernel. Rows are independent, so any split is exact.
  const int32_t window = tiles ? tile_tokens(G) : 1;
  const int64_t n_windows = (batch.size() + window - 1) / window;
  for_tasks(pool, n_windows * n_head_kv, [&](int64_t task, int thread) {
    const int32_t w0 = static_cast<int32_t>(task / n_head_kv) * window;
    const int32_t w1 = std::min(batch.size(), w0 + window);
    const int32_t g = static_cast<int32_t>(task % n_head_kv);
    float* sc = scores + static_cast<size_t>(thread) * per_thread;
    for (int32_t t = w0; t < w1;) {
      int32_t e = t + 1;
      while (e < w1 && batch.seqs[e] == batch.seqs[t] && batch.positions[e] == batch.positions[e - 1] + 1) e++;
      const SeqKv& seq = seqs[static_cast<size_t>(batch.seqs[t])];
      const int32_t n = batch.positions[e - 1] + 1;  // causal: the run's last row sees positions 0..pos
      PARLEY_CHECK(n <= n_ctx && (n + kv.block_size - 1) / kv.block_size <= seq.n_blocks);
      KvRows rows{kv.k[layer], kv.v[layer], seq.blocks, kv.block_size, n_head_kv, g, head_dim, row_bytes};
      const int64_t head0 = static_cast<int64_t>(g) * G * head_dim;  // the group's first head in a row
      const float* qg = q + t * q_dim + head0;  // G rows of the group for each row of the run
      float* og = out + t * q_dim + head0;
      const float* sk = shape.sinks != nullptr ? shape.sinks + static_cast<ptrdiff_t>(g) * G : nullptr;  // the group's
      if (e - t > 1) {
        const AttendTile tile{qg, og, q_dim, e - t, G, batch.positions[t], scale, shape.window, sk};
        (wide ? avx512_attend_tile : avx2_attend_tile)(kv.type, tile, rows, sc);
      } else if (n > W) {
        // Sliding window: positions lo = n - W .. n - 1. The SIMD kernel starts at lo's block
        // and masks the keys of that block before lo.
        const int32_t lo = n - W;
        if (simd) {
          const int32_t first = lo / kv.block_size, skip = lo - first * kv.block_size;
          KvRows from = rows;
          from.blocks += first;
          avx2_attend(kv.type, qg, G, from, n - first * kv.block_size, scale, sc, og, skip, sk);
        } else {
          attend_scalar_for(kv.type, qg, G, rows, lo, n, scale, sc, og, sk);
        }
      } else if (wide) {
        avx512_attend(kv.type, qg, G, rows, n, scale, sc, og, sk);
      } else if (simd) {
        avx2_attend(kv.type, qg, G, rows, n, scale, sc, og, 0, sk);
      } else {
        attend_scalar_for(kv.type, qg, G, rows, 0, n, scale, sc, og, sk);
      }
      t = e;
    }
  });
}

}  // namespace parley::model::ops
