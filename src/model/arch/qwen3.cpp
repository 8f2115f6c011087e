// qwen3: Qwen3 (dense). The llama block with an RMSNorm over each q and k head (before rope),
// rope on split halves (neox), head dim independent of the width (q proj 1024 -> 2048 for
// 0.6B). Pre-norm blocks as llama.
#include "model/blocks.h"
#include "model/ops.h"

namespace parley::model {
namespace {

Status bind_layer(Binder& b, const std::string& p, const Config& c, LayerWeights& L) {
  PARLEY_CHECK_OK(blocks::bind_attention(b, p, c, L));
  PARLEY_TRY(L.q_norm, b.vector(p + "attn_q_norm.weight", c.head_dim));
  PARLEY_TRY(L.k_norm, b.vector(p + "attn_k_norm.weight", c.head_dim));
  return blocks::bind_swiglu_ffn(b, p, c, L);
}

void forward(const ForwardArgs& a) {
  const Config& c = a.model.config();
  const int64_t T = a.batch.size();
  Forward::Scratch& s = a.s;
  float* x = blocks::embed(a);                           // x [T, E]
  for (int32_t l = 0; l < c.n_layer; l++) {
    const LayerWeights& L = a.model.weights().layers[static_cast<size_t>(l)];
    blocks::attention_qkv(a, L, x);                      // q [T, H*D], k v [T, Hkv*D]
    ops::rmsnorm(s.q.data(), L.q_norm, s.q.data(), T * c.n_head, c.head_dim, c.rms_eps, a.pool);  // per head
    ops::rmsnorm(s.k.data(), L.k_norm, s.k.data(), T * c.n_head_kv, c.head_dim, c.rms_eps, a.pool);
    blocks::attention(a, l, L, x);                       // x [T, E] += attention
    blocks::swiglu_ffn(a, L, x);                         // x [T, E] += feed-forward
  }
  ops::logits_head(a, x);                                // [n_out, n_vocab]
}

}  // namespace

extern const Arch kArchQwen3{"qwen3", RopeStyle::neox, nullptr, bind_layer, blocks::dense_scratch, forward};

}  // namespace parley::model
