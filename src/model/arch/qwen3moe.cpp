// qwen3moe: Qwen3-MoE (Qwen3-30B-A3B, Qwen3-Coder-30B-A3B, Qwen3-235B-A22B). The qwen3 block
// (q/k RMSNorm per head, neox rope) with a mixture of SwiGLU experts in place of the dense FFN:
// a softmax router picks expert_used_count of expert_count experts per token and renormalises
// their weights to sum 1; no shared expert.
#include <algorithm>

#include "model/blocks.h"
#include "model/ops.h"

namespace parley::model {
namespace {

Status read_config(ConfigReader& r, Config& c) { return blocks::read_moe_config(r, c, /*ff_required=*/false); }

Status bind_layer(Binder& b, const std::string& p, const Config& c, LayerWeights& L) {
  PARLEY_CHECK_OK(blocks::bind_attention(b, p, c, L));
  PARLEY_CHECK_OK(blocks::bind_qk_norm(b, p, c, L));
  return blocks::bind_moe_ffn(b, p, c, L);
}

void forward(const ForwardArgs& a) {
  const Config& c = a.model.config();
  float* x = blocks::embed(a);                           // x [T, E]
  for (int32_t l = 0; l < c.n_layer; l++) {
    const LayerWeights& L = a.model.weights().layers[static_cast<size_t>(l)];
    blocks::attention_qkv(a, L, x);                      // q [T, H*D], k v [T, Hkv*D]
    blocks::qk_norm(a, L);                               // q, k: RMSNorm per head
    blocks::attention(a, l, L, x);                       // x [T, E] += attention
    blocks::moe_ffn(a, L, x);                            // x [T, E] += experts
  }
  ops::logits_head(a, x);                                // [n_out, n_vocab]
}

}  // namespace

extern const Arch kArchQwen3Moe{"qwen3moe", RopeStyle::neox, true, read_config, bind_layer, blocks::moe_scratch, forward};

}  // namespace parley::model
