// The ops the shared blocks (model/blocks.h) and the forward passes are made of: RMSNorm,
// rotary embedding, paged causal attention, gated FFN activation. Rows are tokens; all buffers
// are row-major. Each op spreads its rows (or row x head tasks) over the thread pool.
#pragma once

#include <cstdint>
#include <span>

#include "model/forward.h"
#include "model/model.h"
#include "tensor/matmul.h"
#include "tensor/thread-pool.h"

namespace parley::model::ops {

// out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w, for n_rows rows of n. out may be x.
void rmsnorm(const float* x, const float* w, float* out, int64_t n_rows, int64_t n, float eps, ThreadPool& pool);

// out[t] = row tokens[t] of the embedding table, dequantized: [n_tokens, table.n_cols].
void embed(const WeightView& table, const int32_t* tokens, int64_t n_tokens, float* out);

// x[r] += b for each of n_rows rows of n.
void add_bias(float* x, const float* b, int64_t n_rows, int64_t n);
// x += y over n elements.
void add(float* x, const float* y, int64_t n);

// Rotary embedding. inv_freq[i] = theta^(-2i / n_rot) / freq_factor[i] (Llama-3 rope_freqs,
// LongRoPE's factors); cos_sin gets, per row, (cos, sin) of position * freq_scale * inv_freq[i]
// for each pair i, times mscale (rope_mscale: Config::rope_attn_factor, or YaRN's): [n_rows, n_rot].
// rope() then rotates the first n_rot dims of each head of each row.
// rope_inv_freq_swa: the same for the sliding-window layers (theta c.rope_theta_swa, no factors).
// With YaRN (Config::rope_yarn) inv_freq holds the mixed frequencies, the positions are not
// scaled (rope_position_scale) and cos/sin are multiplied by rope_mscale.
void rope_inv_freq(const Config& c, const float* freq_factors, float* inv_freq);
void rope_inv_freq_swa(const Config& c, float* inv_freq);
float rope_position_scale(const Config& c, bool swa);
float rope_mscale(const Config& c, bool swa);
void rope_cos_sin(const int32_t* positions, int64_t n_rows, const float* inv_freq, int32_t n_rot,
                  float freq_scale, float mscale, float* cos_sin);
void rope(float* x, int64_t n_rows, int32_t n_heads, int32_t head_dim, int32_t n_rot, RopeStyle style,
          const float* cos_sin, ThreadPool& pool);

// Writes the batch's K and V rows ([n_rows, n_head_kv * head_dim]) into the paged cache,
// converted to its element type (kv-rows.h).
void kv_store(const KvView& kv, int32_t layer, const float* k, const float* v, const Batch& batch,
              std::span<const SeqKv> seqs, int32_t n_head_kv, int32_t head_dim);

// Which attention kernel runs: `best` is the AVX2 one when the CPU runs it and head_dim is a
// multiple of 8, with runs of consecutive positions (prefill) as tiles when it is a multiple of
// 16; `rows` the per-row SIMD kernel for every row (no tiles); `scalar` the plain definition.
// Tests compare them; bench-attention measures them.
enum class AttentionKernel { best, rows, scalar };
bool attention_has_avx2();
// Floats of `scores` attention needs per thread (group = n_head / n_head_kv).
size_t attention_scratch_floats(int32_t group, int32_t head_dim, int32_t n_ctx);

// Causal attention of each row's query heads ([n_rows, n_head * head_dim]) over positions
// 0..position of its sequence in the cache (grouped-query: head h reads kv head
// h / (n_head / n_head_kv)), scores q . k * scale. With window > 0 (sliding-window layers) the
// row at position p sees positions p - window + 1..p only (every kernel masks the rest; the
// prefill tiles start at the run's first window). out: [n_rows, n_head * head_dim]. The cache
// is F32, F16, BF16 or Q8_0 (kv.type; kv-rows.h). scores: pool.size() x
// attention_scratch_floats(...). In attention.cpp.
// sinks (gpt-oss): per query head a learned logit that joins each row's softmax denominator
// (weights exp(s_j - m) / (sum_j exp(s_j - m) + exp(sink - m))) and has no value; null: none.
struct AttentionShape {
  int32_t n_head, n_head_kv, head_dim;
  float scale;     // usually 1 / sqrt(head_dim)
  int32_t window;  // 0: none
  const float* sinks = nullptr;  // [n_head], or null
};
void attention(const float* q, float* out, const KvView& kv, int32_t layer, const Batch& batch,
               std::span<const SeqKv> seqs, const AttentionShape& shape, float* scores, int32_t n_ctx,
               ThreadPool& pool, AttentionKernel kernel = AttentionKernel::best);

// The projections that read the same normalized rows h ([n_rows, n_embd]) as one matmul_multi
// call: h is quantized once and all their rows share one parallel job (identical results to
// separate matmuls, fewer thread wake-ups in decode).
void project_qkv(const LayerWeights& L, const float* h, int64_t n_rows, float* q, float* k, float* v,
                 ThreadPool& pool, MatmulScratch& mm);
void project_gate_up(const LayerWeights& L, const float* h, int64_t n_rows, float* gate, float* up,
                     ThreadPool& pool, MatmulScratch& mm);

// gate = silu(gate) * up over n_rows rows of n.
void swiglu(float* gate, const float* up, int64_t n_rows, int64_t n, ThreadPool& pool);
// gpt-oss's clamped SwiGLU (ggml_swiglu_oai): with x = min(gate, limit) and
// y = clamp(up, -limit, limit), gate = x * sigmoid(alpha x) * (y + 1).
void swiglu_oai(float* gate, const float* up, int64_t n_rows, int64_t n, float alpha, float limit, ThreadPool& pool);
// gate = gelu(gate) * up, GELU in its tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
// (Gemma's gelu_pytorch_tanh).
void geglu(float* gate, const float* up, int64_t n_rows, int64_t n, ThreadPool& pool);
// x = cap * tanh(x / cap) over n values (final logit soft-capping).
void softcap(float* x, int64_t n, float cap);

// The output head for the rows that want logits: gathers them from the residual stream x
// ([n_rows, n_embd]), applies the final RMSNorm and the vocabulary projection into a.logits
// (divided by Config::logit_scale when it is not 1).
void logits_head(const ForwardArgs& a, const float* x);

// Vector helpers (AVX2 with a scalar fallback), exposed for tests.
float dot(const float* a, const float* b, int64_t n);
void exp_inplace(float* x, int64_t n);

}  // namespace parley::model::ops
