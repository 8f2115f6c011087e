// The supported architectures: one line each.
#include "model/arch.h"

namespace parley::model {

extern const Arch kArchLlama, kArchQwen2, kArchQwen3, kArchQwen3Moe, kArchGemma3, kArchGptOss, kArchGranite, kArchSmolLM3,
    kArchPhi3;

namespace {
const Arch* const kArchs[] = {&kArchLlama,   &kArchQwen2,   &kArchQwen3,    &kArchQwen3Moe, &kArchGemma3,
                              &kArchGptOss,  &kArchGranite, &kArchSmolLM3,  &kArchPhi3};
}  // namespace

std::span<const Arch* const> all_archs() { return kArchs; }

const Arch* find_arch(std::string_view name) {
  for (const Arch* a : kArchs) {
    if (name == a->name) return a;
  }
  return nullptr;
}

}  // namespace parley::model
