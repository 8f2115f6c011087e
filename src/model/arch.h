// The architecture registry: everything Parley knows about one architecture is its entry,
// defined in model/arch/<name>.cpp and listed once in model/arch/registry.cpp. The loader reads
// the keys every architecture shares and calls the entry for the rest; the forward pass calls
// the entry's forward, which composes the shared blocks of model/blocks.h.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "base/result.h"
#include "model/forward.h"
#include "model/load.h"
#include "model/model.h"

namespace parley::model {

// Floats per batch row of the forward's scratch buffers that depend on the architecture
// (Forward::Scratch; x and h are always n_embd wide).
struct ScratchShape {
  int64_t q = 0;              // q, att
  int64_t kv = 0;             // k, v
  int64_t ff = 0;             // gate, up
  int64_t matmul_cols = 0;    // the widest matmul input (quantized activations)
  int32_t n_expert = 0;       // mixture of experts: router logits per row
  int32_t n_expert_used = 0;  // routes per row
};

struct Arch {
  const char* name;  // general.architecture
  RopeStyle rope_style;
  bool experts;  // reads <arch>.expert_count (mixture of experts); other entries refuse such files
  // Keys beyond the shared ones (model.cpp read_config); null when there are none.
  Status (*read_config)(ConfigReader& r, Config& c);
  // The tensors of one layer; prefix is "blk.N.".
  Status (*bind_layer)(Binder& b, const std::string& prefix, const Config& c, LayerWeights& L);
  ScratchShape (*scratch)(const Config& c);
  void (*forward)(const ForwardArgs& a);
};

// The llama entry's layer tensors and forward (model/arch/llama.cpp), for the entries that are
// the llama block under other Config settings, which the blocks apply (granite's multipliers,
// smollm3's layers without rope, phi3's fused tensors and LongRoPE).
Status llama_bind_layer(Binder& b, const std::string& prefix, const Config& c, LayerWeights& L);
void llama_forward(const ForwardArgs& a);

// The entry for a general.architecture value; nullptr when unsupported.
const Arch* find_arch(std::string_view name);
// Every entry, in registration order.
std::span<const Arch* const> all_archs();

}  // namespace parley::model
