// Fuzzes the GGUF parser and what reads its metadata: any byte string must give a File or an
// error, never a crash, a hang or a huge allocation.
#include <cstddef>
#include <cstdint>

#include "gguf/gguf.h"
#include "tokenizer/vocab-spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = parley::gguf::File::parse(data, size, "fuzz");
  if (!f) return 0;
  // Walk everything a caller may touch.
  for (const auto& [key, value] : f->metadata()) {
    (void)value.summary();
    (void)value.to_f32();
    (void)value.to_i64();
  }
  uint64_t sum = 0;
  for (const auto& t : f->tensors()) {
    if (t.n_bytes > 0) sum += t.data[0] + t.data[t.n_bytes - 1];
  }
  (void)parley::tokenizer::vocab_from_gguf(*f);
  return static_cast<int>(sum & 0);
}
