// llama: Llama 2/3, Mistral (without sliding window), SmolLM2, TinyLlama.
// Pre-norm blocks: x += attn(rmsnorm(x)); x += ffn(rmsnorm(x)). Rope on adjacent pairs (the
// GGUF converter permuted q/k rows for it), optional Llama-3 frequency factors, GQA. Other
// entries reuse this composition (arch.h llama_forward) with Config settings the blocks apply.
#include "model/blocks.h"
#include "model/ops.h"

namespace parley::model {

Status llama_bind_layer(Binder& b, const std::string& p, const Config& c, LayerWeights& L) {
  PARLEY_CHECK_OK(blocks::bind_attention(b, p, c, L));
  return blocks::bind_swiglu_ffn(b, p, c, L);
}

void llama_forward(const ForwardArgs& a) {
  const Config& c = a.model.config();
  float* x = blocks::embed(a);                           // x [T, E]
  for (int32_t l = 0; l < c.n_layer; l++) {
    const LayerWeights& L = a.model.weights().layers[static_cast<size_t>(l)];
    blocks::attention_qkv(a, L, x);                      // q [T, H*D], k v [T, Hkv*D]
    blocks::attention(a, l, L, x);                       // x [T, E] += attention
    blocks::swiglu_ffn(a, L, x);                         // x [T, E] += feed-forward
  }
  ops::logits_head(a, x);                                // [n_out, n_vocab]
}

extern const Arch kArchLlama{"llama", RopeStyle::normal, false, nullptr, llama_bind_layer, blocks::dense_scratch, llama_forward};

}  // namespace parley::model
