// qwen2: Qwen2 / Qwen2.5. The llama block with biases on the q/k/v projections and rope on
// split halves (neox). Pre-norm blocks: x += attn(rmsnorm(x)); x += ffn(rmsnorm(x)).
// Usually tied output.
#include "model/blocks.h"
#include "model/ops.h"

namespace parley::model {
namespace {

Status bind_layer(Binder& b, const std::string& p, const Config& c, LayerWeights& L) {
  PARLEY_CHECK_OK(blocks::bind_attention(b, p, c, L));
  PARLEY_TRY(L.bq, b.vector(p + "attn_q.bias", c.q_dim()));
  PARLEY_TRY(L.bk, b.vector(p + "attn_k.bias", c.kv_dim()));
  PARLEY_TRY(L.bv, b.vector(p + "attn_v.bias", c.kv_dim()));
  return blocks::bind_swiglu_ffn(b, p, c, L);
}

void forward(const ForwardArgs& a) {
  const Config& c = a.model.config();
  float* x = blocks::embed(a);                           // x [T, E]
  for (int32_t l = 0; l < c.n_layer; l++) {
    const LayerWeights& L = a.model.weights().layers[static_cast<size_t>(l)];
    blocks::attention_qkv(a, L, x);                      // q [T, H*D], k v [T, Hkv*D]
    blocks::qkv_bias(a, L);
    blocks::attention(a, l, L, x);                       // x [T, E] += attention
    blocks::swiglu_ffn(a, L, x);                         // x [T, E] += feed-forward
  }
  ops::logits_head(a, x);                                // [n_out, n_vocab]
}

}  // namespace

extern const Arch kArchQwen2{"qwen2", RopeStyle::neox, false, nullptr, bind_layer, blocks::dense_scratch, forward};

}  // namespace parley::model
