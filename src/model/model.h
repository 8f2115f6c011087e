// A model ready to run: GGUF metadata normalised into a typed Config and the tensors bound into
// a Weights struct, every shape and type checked once at load ("expected X, got Y"). The
// weights stay in the memory-mapped file; the forward pass never looks a tensor up by name.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "gguf/gguf.h"
#include "tensor/matmul.h"
#include "tensor/packed.h"

namespace parley::model {

// An architecture's registry entry (model/arch.h).
struct Arch;
const char* arch_name(const Arch* a);

// How rotary embedding pairs dimensions within a head: `normal` rotates adjacent pairs
// (x[2i], x[2i+1]) — llama GGUFs, whose converter permuted q/k for it; `neox` rotates split
// halves (x[i], x[i + n_rot/2]) — qwen2/qwen3.
enum class RopeStyle { normal, neox };

struct Config {
  const Arch* arch = nullptr;
  std::string name;          // general.name or the file stem
  int32_t n_vocab = 0;
  int32_t n_ctx_train = 0;   // <arch>.context_length
  int32_t n_embd = 0;
  int32_t n_layer = 0;
  int32_t n_head = 0;
  int32_t n_head_kv = 0;
  int32_t head_dim = 0;
  int32_t n_ff = 0;
  int32_t n_expert = 0;       // mixture of experts: experts per layer (0: dense)
  int32_t n_expert_used = 0;  // experts each token is routed to
  int32_t n_ff_exp = 0;       // one expert's feed-forward width
  int32_t n_rot = 0;         // rotated dimensions per head (<= head_dim)
  float rms_eps = 1e-5f;
  float rope_theta = 10000.0f;
  float rope_freq_scale = 1.0f;  // linear rope scaling: positions are multiplied by this
  // rope.scaling.attn_factor: rope's cos and sin are multiplied by it, so q . k by its square
  // (phi3's LongRoPE: sqrt(1 + ln(context / original) / ln(original))); with YaRN it is part
  // of yarn_mscale.
  float rope_attn_factor = 1.0f;
  // rope.scaling.original_context_length (default: context_length): LongRoPE's long factors are
  // for per-sequence contexts longer than this, its short ones for the others.
  int32_t n_ctx_orig = 0;
  // YaRN rope scaling (rope.scaling.type = yarn; llama.cpp's ggml rope_yarn): rope_freq_scale
  // s is 1 / factor, and pair i's frequency is theta^(-2i/n_rot) * (s (1 - r_i) + r_i), with a
  // ramp r_i = 1 - clamp((i - lo) / (hi - lo), 0, 1) between the correction dims lo and hi
  // (ggml_rope_yarn_corr_dims of beta_fast, beta_slow, the original context and the layer's
  // base); cos and sin are multiplied by yarn_mscale = attn_factor * (1 + 0.1 ln(factor)).
  bool rope_yarn = false;
  int32_t yarn_orig_ctx = 0;
  float yarn_beta_fast = 32.0f, yarn_beta_slow = 1.0f;
  float yarn_mscale = 1.0f;
  RopeStyle rope_style = RopeStyle::normal;
  bool tied_output = false;
  float attn_scale = 0;          // q . k scale (set at load: 1 / sqrt(head_dim) unless the entry says otherwise)
  // Sliding-window attention (gemma3): in a sliding layer the row at position i sees the keys
  // at positions j with i - j < n_swa; layer l slides when l % swa_pattern < swa_pattern - 1
  // (llama.cpp's set_swa_pattern); sliding layers rope with rope_theta_swa and no scaling.
  int32_t n_swa = 0;             // 0: every layer attends to the whole context
  int32_t swa_pattern = 0;
  float rope_theta_swa = 10000.0f;
  bool rope_scaled_swa = false;  // sliding layers scale their rope as the others (gpt-oss); gemma3: unscaled
  float final_logit_softcap = 0; // logits = cap * tanh(logits / cap) when > 0
  // Multipliers the shared blocks apply (granite): the token embeddings are scaled by
  // embd_scale when > 0, each block's output by residual_scale before it is added to the
  // residual stream, and the logits are divided by logit_scale.
  float embd_scale = 0;
  float residual_scale = 1.0f;
  float logit_scale = 1.0f;
  // Layers without rope (smollm3): layer l skips it when no_rope_every > 0 and
  // (l + 1) % no_rope_every == 0 (llama.cpp's n_no_rope_layer_step); 0: every layer ropes.
  int32_t no_rope_every = 0;
  // phi3: attention.sliding_window is read and not applied (llama.cpp turns Phi-3's window off,
  // its ggml-org/llama.cpp#13676); every layer attends to the whole context.
  bool ignores_sliding_window = false;

  int32_t q_dim() const { return n_head * head_dim; }
  bool is_swa(int32_t layer) const { return n_swa > 0 && layer % swa_pattern < swa_pattern - 1; }
  bool has_rope(int32_t layer) const { return no_rope_every == 0 || (layer + 1) % no_rope_every != 0; }
  int32_t kv_dim() const { return n_head_kv * head_dim; }
};

// n matrices of one shape stored one after another: a GGUF 3-D tensor [n_cols, n_rows, n].
struct ExpertWeights {
  WeightView first;  // expert 0
  int32_t n = 0;
  size_t stride = 0;  // bytes from one expert's matrix to the next
  std::vector<const uint8_t*> packed;  // each expert's packed copy (tensor/packed.h), or empty

  WeightView at(int32_t e) const {
    WeightView w = first;
    w.data = static_cast<const uint8_t*>(first.data) + static_cast<size_t>(e) * stride;
    w.packed = packed.empty() ? nullptr : packed[static_cast<size_t>(e)];
    return w;
  }
};

struct LayerWeights {
  const float* attn_norm = nullptr;   // [n_embd]
  WeightView wq, wk, wv, wo;          // [q_dim x n_embd], [kv_dim x n_embd] x2, [n_embd x q_dim]
  const float* bq = nullptr;          // qwen2: [q_dim]
  const float* bk = nullptr;          // qwen2: [kv_dim]
  const float* bv = nullptr;          // qwen2: [kv_dim]
  const float* bo = nullptr;          // gpt-oss: attn_output.bias [n_embd]
  const float* attn_sinks = nullptr;  // gpt-oss: a sink logit per query head [n_head]
  const float* q_norm = nullptr;      // qwen3: [head_dim]
  const float* k_norm = nullptr;      // qwen3: [head_dim]
  const float* attn_post_norm = nullptr;  // gemma3: on the attention output, [n_embd]
  const float* ffn_norm = nullptr;    // [n_embd]
  const float* ffn_post_norm = nullptr;   // gemma3: on the feed-forward output, [n_embd]
  WeightView w_gate, w_up, w_down;    // [n_ff x n_embd] x2, [n_embd x n_ff]
  WeightView router;                  // MoE: ffn_gate_inp [n_expert x n_embd]
  const float* router_b = nullptr;    // gpt-oss: ffn_gate_inp.bias [n_expert]
  const float* gate_exps_b = nullptr; // gpt-oss: per-expert biases [n_expert x n_ff_exp]
  const float* up_exps_b = nullptr;   //   [n_expert x n_ff_exp]
  const float* down_exps_b = nullptr; //   [n_expert x n_embd]
  ExpertWeights gate_exps, up_exps;   // MoE: n_expert x [n_ff_exp x n_embd]
  ExpertWeights down_exps;            // MoE: n_expert x [n_embd x n_ff_exp]
};

struct Weights {
  WeightView token_embd;              // [n_vocab x n_embd] (rows are looked up)
  std::vector<LayerWeights> layers;
  const float* output_norm = nullptr; // [n_embd]
  WeightView output;                  // [n_vocab x n_embd]; token_embd when tied
  const float* rope_freqs = nullptr;  // Llama-3 frequency factors [n_rot / 2], or null
  // LongRoPE frequency divisors [n_rot / 2] (phi3's rope_factors_long / _short), both or neither.
  const float* rope_long = nullptr;
  const float* rope_short = nullptr;
};

class Model {
 public:
  // Opens, maps and checks a GGUF model. Every problem is one line naming the file.
  static Result<std::unique_ptr<Model>> load(const std::string& path);
  // The same from an opened file (tests build files in memory).
  static Result<std::unique_ptr<Model>> from_file(gguf::File file, const std::string& display_name);

  const Config& config() const { return config_; }
  const Weights& weights() const { return weights_; }
  const gguf::File& file() const { return file_; }
  // Bytes of tensor data (what decode reads per token, roughly).
  uint64_t weight_bytes() const { return weight_bytes_; }
  // The matrices re-laid out at load for the CPU path's packed kernels (tensor/packed.h; none
  // when the path has none or PARLEY_REPACK=0), and the seconds that took.
  const PackedWeights& packed() const { return packed_; }
  double pack_seconds() const { return pack_seconds_; }

 private:
  Model() = default;
  void pack_weights();
  gguf::File file_;
  Config config_;
  Weights weights_;
  uint64_t weight_bytes_ = 0;
  PackedWeights packed_;
  double pack_seconds_ = 0;
};

// The rope frequency divisors of a forward whose sequences hold up to n_ctx positions, as
// llama.cpp picks them: rope_freqs when the file has it, else LongRoPE's long factors when
// n_ctx > Config::n_ctx_orig and its short ones otherwise; null when there are none. The K/V a
// forward writes depend on the choice (the disk cache's identity includes it).
const float* rope_factors(const Model& m, int32_t n_ctx);

// Bytes of KV cache per position (all layers, K and V) for a cache element type.
uint64_t kv_bytes_per_position(const Config& c, DType kv_type);

}  // namespace parley::model
