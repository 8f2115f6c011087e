// gemma3: Gemma 3 text models (1B, 4B, 12B, 27B; the text tower of the multimodal ones).
// Five sliding-window layers, then one global layer (llama.cpp: set_swa_pattern(6)); the local
// layers rope with base 10000 (fixed, as llama.cpp), the global ones with rope.freq_base and
// its linear scaling. Each block norms its input and its output:
//   x += rmsnorm(attn(rmsnorm(x)));  x += rmsnorm(ffn(rmsnorm(x)))
// with q/k RMSNorm per head, neox rope, a GeGLU (tanh GELU) feed-forward, embeddings scaled by
// sqrt(n_embd), and q . k scaled by 1 / sqrt(head_dim) (27B: 1 / sqrt(n_embd / n_head), its
// query_pre_attn_scalar; llama.cpp picks it by the layer count, 62). The GGUF converter stores
// Gemma's norm weights with the 1 of "x * (1 + w)" added, so the norms are plain RMSNorms.
#include <cmath>

#include "model/blocks.h"
#include "model/ops.h"

namespace parley::model {
namespace {

Status read_config(ConfigReader& r, Config& c) {
  PARLEY_TRY(c.n_swa, r.count("attention.sliding_window"));
  c.swa_pattern = 6;
  c.rope_theta_swa = 10000.0f;
  if (c.n_layer == 62) c.attn_scale = 1.0f / std::sqrt(static_cast<float>(c.n_embd / c.n_head));
  PARLEY_TRY(float attn_cap, r.real_or("attn_logit_softcapping", 0.0f));
  if (attn_cap > 0) {
    return Error::fmt("key '%sattn_logit_softcapping' (%g): attention logit soft-capping is not supported",
                      r.prefix().c_str(), attn_cap);
  }
  PARLEY_TRY(c.final_logit_softcap, r.real_or("final_logit_softcapping", 0.0f));
  return {};
}

Status bind_layer(Binder& b, const std::string& p, const Config& c, LayerWeights& L) {
  PARLEY_CHECK_OK(blocks::bind_attention(b, p, c, L));
  PARLEY_CHECK_OK(blocks::bind_qk_norm(b, p, c, L));
  PARLEY_CHECK_OK(blocks::bind_post_norms(b, p, c, L));
  return blocks::bind_swiglu_ffn(b, p, c, L);  // the same tensors feed the GeGLU
}

void forward(const ForwardArgs& a) {
  const Config& c = a.model.config();
  const int64_t T = a.batch.size();
  float* x = blocks::embed(a);                           // x [T, E]
  const float embd_scale = std::sqrt(static_cast<float>(c.n_embd));
  for (int64_t i = 0; i < T * c.n_embd; i++) x[i] *= embd_scale;
  for (int32_t l = 0; l < c.n_layer; l++) {
    const LayerWeights& L = a.model.weights().layers[static_cast<size_t>(l)];
    blocks::attention_qkv(a, L, x);                      // q [T, H*D], k v [T, Hkv*D]
    blocks::qk_norm(a, L);                               // q, k: RMSNorm per head
    float* h = blocks::attend(a, l, L);                  // h [T, E] (local layers: their window)
    blocks::post_norm_add(a, L.attn_post_norm, h, x);    // x [T, E] += rmsnorm(h)
    h = blocks::geglu_ffn(a, L, x);                      // h [T, E]
    blocks::post_norm_add(a, L.ffn_post_norm, h, x);     // x [T, E] += rmsnorm(h)
  }
  ops::logits_head(a, x);                                // [n_out, n_vocab]
  if (c.final_logit_softcap > 0) {
    int64_t n_out = 0;
    for (int32_t t = 0; t < a.batch.size(); t++) n_out += a.batch.want_logits[t] ? 1 : 0;
    ops::softcap(a.logits, n_out * c.n_vocab, c.final_logit_softcap);
  }
}

}  // namespace

extern const Arch kArchGemma3{"gemma3", RopeStyle::neox, false, read_config, bind_layer, blocks::dense_scratch, forward};

}  // namespace parley::model
