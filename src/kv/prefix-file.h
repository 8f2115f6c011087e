// One file of the prefix cache on disk (disk-cache.h): a segment of a root-to-node path of the
// radix tree, i.e. the token ids of the whole path and the K/V bytes of its blocks from
// first_block on; the blocks before come from the parent file (parent_key). A session that grows
// turn by turn is thus a chain of files, each holding only what the previous turns did not.
//
// Layout (little-endian), every part checked before use:
//   header      128 bytes: magic "PRLYKVC\0", version, the identity (model digest, KV type,
//               block size, n_layer, n_head_kv, head_dim, block bytes), namespace length,
//               first_block, n_blocks, key, parent_key, XXH64 of the metadata
//   namespace   ns_bytes
//   tokens      n_blocks * block_size int32: the whole path from the root
//   block sums  (n_blocks - first_block) uint64: XXH64 of each held block's K/V bytes
//   K/V         per held block, per layer: K (block_bytes), then V (block_bytes)
// The file name is the key: XXH64 over the identity, the namespace and the tokens, so the same
// prefix of the same model and KV layout always has the same name. Files are untrusted input:
// parse errors name the byte offset; a block's bytes are used only after its sum matched.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/dtype.h"
#include "base/result.h"
#include "base/sha256.h"
#include "kv/block-pool.h"

namespace parley::kv {

// What a file's K/V bytes mean: written by this model into pool blocks of this layout.
struct KvIdentity {
  Sha256Digest model{};
  DType type = DType::f16;
  int32_t block_size = 0;
  int32_t n_layer = 0;
  int32_t n_head_kv = 0;
  int32_t head_dim = 0;
  uint64_t block_bytes = 0;  // K (or V) of one block of one layer

  static KvIdentity of(const Sha256Digest& model, const BlockPool& pool);
  bool operator==(const KvIdentity&) const = default;
  // "KV type F32, block size 16, ..." for messages.
  std::string describe() const;
};

constexpr uint64_t kPrefixHeaderBytes = 128;
constexpr uint32_t kPrefixVersion = 1;

// Everything before the K/V bytes.
struct PrefixMeta {
  KvIdentity id;
  std::string ns;
  uint64_t key = 0;                  // prefix_key(id, ns, tokens)
  uint64_t parent_key = 0;           // the file holding blocks [0, first_block); 0 when first_block == 0
  int32_t first_block = 0;           // first block whose K/V this file holds
  int32_t n_blocks = 0;              // blocks of the whole path
  std::vector<int32_t> tokens;       // n_blocks * block_size
  std::vector<uint64_t> block_sums;  // n_blocks - first_block

  int32_t n_held() const { return n_blocks - first_block; }
  uint64_t meta_bytes() const;
  uint64_t held_block_bytes() const { return 2 * static_cast<uint64_t>(id.n_layer) * id.block_bytes; }
  uint64_t file_bytes() const { return meta_bytes() + static_cast<uint64_t>(n_held()) * held_block_bytes(); }
};

uint64_t prefix_key(const KvIdentity& id, std::string_view ns, std::span<const int32_t> tokens);
std::string prefix_file_name(uint64_t key);  // "<16 hex digits>.pkv"

std::string encode_prefix_meta(const PrefixMeta& meta);
// From the first kPrefixHeaderBytes of a file of file_size bytes: the metadata's size.
Result<uint64_t> prefix_meta_bytes(std::span<const uint8_t> header, uint64_t file_size);
// The metadata of a file of file_size bytes from its first bytes (at least the metadata's size):
// every field in range, the size exact, the metadata's sum and the key right.
Result<PrefixMeta> parse_prefix_meta(std::span<const uint8_t> bytes, uint64_t file_size);
// Reads and parses the metadata of the file at path.
Result<PrefixMeta> read_prefix_meta(const std::string& path);

// Writes dir/prefix_file_name(meta.key) atomically (a temporary file, fsync, rename, fsync of the
// directory) from the pool blocks `blocks` (one per held block, in order), filling
// meta.block_sums. The blocks must not change meanwhile (the caller pins them).
Status write_prefix_file(const std::string& dir, PrefixMeta& meta, BlockPool& pool,
                         std::span<const BlockId> blocks);

// Reads held blocks of one file into pool blocks, checking each against its sum.
class PrefixReader {
 public:
  PrefixReader() = default;
  ~PrefixReader();
  PrefixReader(const PrefixReader&) = delete;
  PrefixReader& operator=(const PrefixReader&) = delete;

  // meta_bytes / block_sums / first_block / n_blocks describe the file (from its index entry).
  Status open(const std::string& path, uint64_t meta_bytes, uint64_t file_bytes);
  void close();
  // Block b (first_block <= b < n_blocks, held index b - first_block) into pool block `dest`;
  // an error (short read, sum mismatch) leaves dest's bytes undefined.
  Status read_block(int32_t held_index, uint64_t sum, BlockPool& pool, BlockId dest);

 private:
  int fd_ = -1;
  std::string path_;
  uint64_t meta_bytes_ = 0;
  uint64_t file_bytes_ = 0;
};

}  // namespace parley::kv
