// phi3: Phi-3 / Phi-3.5 mini and medium, Phi-4 and Phi-4-mini (Phi3ForCausalLM). The llama
// block with neox rope (split halves, on the first rope.dimension_count dims of each head:
// Phi-4-mini rotates 96 of 128) and two fused matrices: attn_qkv (q's rows, then k's, then v's)
// and ffn_up (the SwiGLU gate's rows, then up's); separate attn_q/k/v are accepted too, as
// llama.cpp does. Long-context files carry LongRoPE: rope_factors_long / rope_factors_short
// (per-pair frequency divisors; model.h rope_factors picks one set by the context, as llama.cpp
// does) and rope.scaling.attn_factor (cos and sin scaled by it). attention.sliding_window is
// ignored, as llama.cpp ignores it for phi3.
#include "model/blocks.h"

namespace parley::model {
namespace {

Status read_config(ConfigReader&, Config& c) {
  c.ignores_sliding_window = true;
  return {};
}

Status bind_layer(Binder& b, const std::string& p, const Config& c, LayerWeights& L) {
  PARLEY_CHECK_OK(blocks::bind_attention(b, p, c, L));
  return blocks::bind_fused_swiglu_ffn(b, p, c, L);
}

}  // namespace

extern const Arch kArchPhi3{"phi3", RopeStyle::neox, false, read_config, bind_layer, blocks::dense_scratch, llama_forward};

}  // namespace parley::model
