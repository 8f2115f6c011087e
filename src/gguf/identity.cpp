#include "gguf/identity.h"

#include <algorithm>
#include <string_view>

namespace parley::gguf {

Sha256Digest identity(const File& file) {
  constexpr uint64_t kSample = 64 << 10;
  constexpr uint64_t kSamples = 16;
  const uint64_t size = file.file_size();
  const char* bytes = reinterpret_cast<const char*>(file.bytes());
  Sha256 h;
  h.update("parley gguf identity v1");
  uint64_t le = size;
  char size_bytes[8];
  for (char& b : size_bytes) {
    b = static_cast<char>(le & 0xff);
    le >>= 8;
  }
  h.update(std::string_view(size_bytes, 8));
  const uint64_t head = std::min(file.data_offset(), size);
  h.update(std::string_view(bytes, head));
  const uint64_t data = size - head;
  if (data <= (kSamples + 1) * kSample) {
    h.update(std::string_view(bytes + head, data));
  } else {
    // Evenly spaced samples, the first at the start of the data, plus the last bytes.
    const uint64_t stride = (data - kSample) / kSamples;
    for (uint64_t i = 0; i < kSamples; i++) h.update(std::string_view(bytes + head + i * stride, kSample));
    h.update(std::string_view(bytes + size - kSample, kSample));
  }
  return h.finish();
}

}  // namespace parley::gguf
