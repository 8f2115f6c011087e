// gpt-oss: OpenAI's gpt-oss-20b / gpt-oss-120b (llama.cpp's LLM_ARCH_OPENAI_MOE). Pre-norm
// blocks whose attention has biases on q, k, v and the output and a learned sink per query
// head (a logit in the softmax's denominator with no value); layers alternate a sliding window
// (even layers: llama.cpp's set_swa_pattern(2)) and full attention; neox rope with YaRN
// scaling in every layer (the sliding ones at rope.freq_base_swa when the file has it); q . k
// scaled by 1 / sqrt(head_dim). The feed-forward is a mixture of experts normed by
// post_attention_norm: router logits with a bias, the top expert_used_count, softmax over those
// (LLAMA_EXPERT_GATING_FUNC_TYPE_SOFTMAX_WEIGHT), each expert a clamped SwiGLU with biases
// (ggml_swiglu_oai, alpha 1.702, limit 7):
//   x += wo . attn(rmsnorm(x)) + bo
//   x += sum_k w_k (down_k(swiglu_oai(gate_k . h + bg_k, up_k . h + bu_k)) + bd_k), h = rmsnorm(x)
// Untied output.
#include "model/blocks.h"
#include "model/ops.h"

namespace parley::model {
namespace {

Status read_config(ConfigReader& r, Config& c) {
  PARLEY_CHECK_OK(blocks::read_moe_config(r, c, /*ff_required=*/true));
  PARLEY_TRY(c.n_swa, r.count("attention.sliding_window"));
  PARLEY_TRY(auto pattern, r.file().get_uint_opt(r.prefix() + "attention.sliding_window_pattern"));
  if (pattern && *pattern != 2) {
    return Error::fmt("key '%sattention.sliding_window_pattern' (%llu): only 2 (alternating layers) is supported",
                      r.prefix().c_str(), static_cast<unsigned long long>(*pattern));
  }
  c.swa_pattern = 2;
  PARLEY_TRY(c.rope_theta_swa, r.real_or("rope.freq_base_swa", c.rope_theta));
  c.rope_scaled_swa = true;
  return {};
}

Status bind_layer(Binder& b, const std::string& p, const Config& c, LayerWeights& L) {
  PARLEY_CHECK_OK(blocks::bind_attention(b, p, c, L));
  PARLEY_TRY(L.bq, b.vector(p + "attn_q.bias", c.q_dim()));
  PARLEY_TRY(L.bk, b.vector(p + "attn_k.bias", c.kv_dim()));
  PARLEY_TRY(L.bv, b.vector(p + "attn_v.bias", c.kv_dim()));
  PARLEY_TRY(L.bo, b.vector(p + "attn_output.bias", c.n_embd));
  PARLEY_TRY(L.attn_sinks, b.vector(p + "attn_sinks.weight", c.n_head));
  PARLEY_TRY(L.ffn_norm, b.vector(p + "post_attention_norm.weight", c.n_embd));  // the FFN's input norm
  PARLEY_CHECK_OK(blocks::bind_moe_experts(b, p, c, L));
  return blocks::bind_moe_biases(b, p, c, L);
}

void forward(const ForwardArgs& a) {
  const Config& c = a.model.config();
  const int64_t T = a.batch.size();
  const blocks::MoeOptions oai{.swiglu_oai = true};
  float* x = blocks::embed(a);                           // x [T, E]
  for (int32_t l = 0; l < c.n_layer; l++) {
    const LayerWeights& L = a.model.weights().layers[static_cast<size_t>(l)];
    blocks::attention_qkv(a, L, x);                      // q [T, H*D], k v [T, Hkv*D]
    blocks::qkv_bias(a, L);
    float* h = blocks::attend(a, l, L);                  // h [T, E] (sinks; even layers: their window)
    ops::add_bias(h, L.bo, T, c.n_embd);
    ops::add(x, h, T * c.n_embd);                        // x [T, E] += attention
    blocks::moe_ffn(a, L, x, oai);                       // x [T, E] += experts
  }
  ops::logits_head(a, x);                                // [n_out, n_vocab]
}

}  // namespace

extern const Arch kArchGptOss{"gpt-oss", RopeStyle::neox, true, read_config, bind_layer, blocks::moe_scratch, forward};

}  // namespace parley::model
