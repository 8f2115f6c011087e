// qwen3: Qwen3 (dense). The llama block with an RMSNorm over each q and k head (before rope),
// rope on split halves (neox), head dim independent of the width (q proj 1024 -> 2048 for
// 0.6B). Pre-norm blocks as llama.
#include "model/blocks.h"
#include "model/ops.h"

namespace parley::model {
namespace {

Status bind_layer(Binder& b, const std::string& p, const Config& c, LayerWeights& L) {
  PARLEY_CHECK_OK(blocks::bind_attention(b, p, c, L));
  PARLEY_CHECK_OK(blocks::bind_qk_norm(b, p, c, L));
  return blocks::bind_swiglu_ffn(b, p, c, L);
}

void forward(const ForwardArgs& a) {
  const Config& c = a.model.config();
  float* x = blocks::embed(a);                           // x [T, E]
  for (int32_t l = 0; l < c.n_layer; l++) {
    const LayerWeights& L = a.model.weights().layers[static_cast<size_t>(l)];
    blocks::attention_qkv(a, L, x);                      // q [T, H*D], k v [T, Hkv*D]
    blocks::qk_norm(a, L);                               // q, k: RMSNorm per head
    blocks::attention(a, l, L, x);                       // x [T, E] += attention
    blocks::swiglu_ffn(a, L, x);                         // x [T, E] += feed-forward
  }
  ops::logits_head(a, x);                                // [n_out, n_vocab]
}

}  // namespace

extern const Arch kArchQwen3{"qwen3", RopeStyle::neox, false, nullptr, bind_layer, blocks::dense_scratch, forward};

}  // namespace parley::model
