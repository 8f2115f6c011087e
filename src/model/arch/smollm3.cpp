// smollm3: SmolLM3 (SmolLM3-3B). The llama block (adjacent-pair rope on the converter's
// permuted q/k, GQA, SwiGLU, tied embeddings) where every fourth layer (3, 7, 11, ...) has no
// rope: its q and k enter attention unrotated (Hugging Face's no_rope_layers with
// no_rope_layer_interval 4). GGUF files carry no key for it: llama.cpp fixes the interval at 4
// (n_no_rope_layer_step), and so does this entry.
#include "model/blocks.h"

namespace parley::model {
namespace {

Status read_config(ConfigReader&, Config& c) {
  c.no_rope_every = 4;
  return {};
}

}  // namespace

extern const Arch kArchSmolLM3{"smollm3", RopeStyle::normal, false, read_config, llama_bind_layer, blocks::dense_scratch, llama_forward};

}  // namespace parley::model
