// granite: IBM Granite 3.x dense models (granite-3.3-2b/8b). The llama block (adjacent-pair
// rope, GQA, SwiGLU) with four multipliers from the GGUF, as llama.cpp's granite graph applies
// them: the token embeddings times embedding_scale, each attention and feed-forward output times
// residual_scale before its residual add, q . k times attention.scale (in place of
// 1 / sqrt(head_dim)) and the logits divided by logit_scale (required). The absent optional keys
// leave that step out. rope.scaling.finetuned = false (llama.cpp's switch for no rope) is
// refused in one line.
#include "model/blocks.h"

namespace parley::model {
namespace {

Status read_config(ConfigReader& r, Config& c) {
  PARLEY_TRY(c.logit_scale, r.real("logit_scale"));
  PARLEY_TRY(c.embd_scale, r.real_or("embedding_scale", 0.0f));
  PARLEY_TRY(c.residual_scale, r.real_or("residual_scale", 1.0f));
  PARLEY_TRY(c.attn_scale, r.real_or("attention.scale", c.attn_scale));
  PARLEY_TRY(auto rope, r.file().get_bool_opt(r.prefix() + "rope.scaling.finetuned"));
  if (rope && !*rope) {
    return Error::fmt("key '%srope.scaling.finetuned' is false: granite without rope is not supported", r.prefix().c_str());
  }
  return {};
}

}  // namespace

extern const Arch kArchGranite{"granite", RopeStyle::normal, false, read_config, llama_bind_layer, blocks::dense_scratch, llama_forward};

}  // namespace parley::model
