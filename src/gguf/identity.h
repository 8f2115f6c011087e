// A model file's identity for caches that outlive the process (the prefix cache on disk): the
// same bytes give the same digest; another model, a re-quantization or a fine-tune of the same
// architecture gives another. Hashing a 10 GB file whole would cost seconds at every start, so
// the digest covers the file size, every byte of the metadata and tensor directory (names,
// shapes, types, offsets, the tokenizer) and 17 samples of 64 KiB spread over the tensor data
// (which differs everywhere between two sets of weights): a few MB, a few ms.
#pragma once

#include "base/sha256.h"
#include "gguf/gguf.h"

namespace parley::gguf {

Sha256Digest identity(const File& file);

}  // namespace parley::gguf
