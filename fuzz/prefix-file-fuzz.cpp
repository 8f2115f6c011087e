// Fuzzes the prefix-cache file parser (kv/prefix-file.h): the metadata of a file in --cache-dir
// is untrusted; any bytes and any claimed file size give metadata or an error, never a crash or
// a huge allocation. The first 8 input bytes are the claimed file size, the rest the file's start.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kv/prefix-file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  uint64_t file_size = 0;
  std::memcpy(&file_size, data, 8);
  // Half the inputs claim exactly their own size, so the parser gets past the size check.
  if (file_size & 1) file_size = size - 8;
  auto m = parley::kv::parse_prefix_meta({data + 8, size - 8}, file_size);
  if (!m) return 0;
  // Whatever parses is consistent: its sizes add up to the claimed file size.
  if (m->file_bytes() != file_size || m->meta_bytes() > size - 8) __builtin_trap();
  return 0;
}
