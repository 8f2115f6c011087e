// Test-model generator: GGUF files with seeded random weights of real architectures and real
// tokenizers. Every engine, API and benchmark test gets its models from here (no downloads).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/dtype.h"
#include "base/result.h"
#include "tokenizer/vocab-spec.h"

namespace parley::modelgen {

struct Shape {
  std::string arch = "llama";  // llama | qwen2 | qwen3 | qwen3moe | gemma3 | gpt-oss | granite | smollm3 | phi3
  uint32_t n_layer = 2;
  uint32_t n_embd = 64;
  uint32_t n_head = 4;
  uint32_t n_head_kv = 2;
  uint32_t head_dim = 0;        // 0: n_embd / n_head
  uint32_t n_ff = 128;
  uint32_t n_ctx = 2048;
  float rope_theta = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied_output = false;     // no output.weight: the embedding matrix is reused
  // Mixture of experts (qwen3moe, gpt-oss): experts per layer, experts per token, one expert's ffn width.
  uint32_t n_expert = 0;
  uint32_t n_expert_used = 0;
  uint32_t n_ff_exp = 0;
  // gemma3, gpt-oss: attention.sliding_window, the local layers' window (required there); phi3:
  // the key is written when set (as Phi-3 conversions carry it) and the loaders ignore it;
  // refused elsewhere.
  uint32_t n_swa = 0;
  // YaRN rope scaling (rope.scaling.type yarn, gpt-oss: factor 32 over 4096 positions); factor 0
  // means none. Written with beta_fast 32 and beta_slow 1, as the converter does from gpt-oss's config.
  float rope_yarn_factor = 0.0f;
  uint32_t rope_yarn_orig_ctx = 4096;
  // Llama-3 rope frequency scaling, written as rope_freqs.weight (per-pair frequency divisors)
  // the way the Hugging Face converter does; factor 0 means none. llama only.
  float rope_llama3_factor = 0.0f;
  float rope_llama3_low_freq = 1.0f;
  float rope_llama3_high_freq = 4.0f;
  uint32_t rope_llama3_orig_ctx = 8192;
  // granite: embedding_scale, residual_scale, attention.scale, logit_scale (written for granite
  // only; the defaults are Granite-3.3-2B's multipliers).
  float embedding_scale = 12.0f;
  float residual_scale = 0.22f;
  float attention_scale = 0.015625f;
  float logit_scale = 8.0f;
  // phi3: rotated dims per head, rope.dimension_count (0: the head dim; Phi-4-mini rotates 3/4).
  uint32_t n_rot = 0;
  // phi3 LongRoPE, the context the model was trained at before its extension to n_ctx (0: none):
  // writes rope_factors_long/short.weight (per-pair divisors, long 1..32, short 1..2, rising
  // with the pair's wavelength), rope.scaling.original_context_length and, as the converter,
  // rope.scaling.attn_factor = sqrt(1 + ln(n_ctx / orig) / ln(orig)).
  uint32_t longrope_orig_ctx = 0;
};

struct Types {
  DType matrices = DType::f32;  // attention and feed-forward weights
  DType embedding = DType::f32; // token_embd.weight
  DType output = DType::f32;    // output.weight (when untied)
  // Per-tensor overrides: the first entry whose key is a substring of the tensor name wins
  // ("attn_v" -> Q6_K, "blk.0.ffn_down" -> Q8_0).
  std::vector<std::pair<std::string, DType>> overrides;
  // general.file_type (llama_ftype); unset: derived from `matrices`.
  std::optional<uint32_t> file_type;
};

// The type mix of llama.cpp's named file types, so tests can have files shaped like real
// downloads: "Q4_K_M" is Q4_K matrices with attn_v, ffn_down and output in Q6_K; "Q4_K_S" only
// output in Q6_K; likewise Q5_K_M/S and Q3_K_M/S (Q3_K_M: attn_v, ffn_down in Q5_K). A
// simplification of llama.cpp's per-layer choices. "MXFP4_MOE" (gpt-oss downloads): the expert
// tensors MXFP4, everything else Q8_0. nullopt for other names (plain type names
// such as "Q4_K" are not mixtures).
std::optional<Types> mixture_types(std::string_view name);

// A test fixture's bias: the token's logit is raised by about `logit` at every position, the rest
// of the model staying random. How: embedding dimension 0 is a large constant for every token, so
// it dominates the residual stream and survives the final norm; the output rows read dimension 0
// only for steered tokens. Needs an untied output. Tests use it to steer a random model honestly
// (e.g. to open a tool call) and say so.
struct Steer {
  uint32_t token = 0;
  float logit = 0;
};

struct Options {
  Shape shape;
  Types types;
  std::vector<Steer> steer;
  uint64_t seed = 1;
  std::string name;                // general.name; default "<arch>-random"
  tokenizer::VocabSpec vocab;      // written as tokenizer.ggml.*
  std::string chat_template;       // overrides vocab.chat_template when not empty
};

// Checks the shape against the architecture and the types against the shape (rows must be a
// multiple of the block size) with messages that name the option to change.
Status validate(const Options& options);

// Writes the model. `progress(done, total)` is called after each tensor.
Status write_model(const Options& options, const std::string& path,
                   const std::function<void(size_t, size_t)>& progress = {});

// Number of parameters and bytes the model will have.
struct Size {
  uint64_t n_params = 0;
  uint64_t n_bytes = 0;
};
Size estimate(const Options& options);

}  // namespace parley::modelgen
