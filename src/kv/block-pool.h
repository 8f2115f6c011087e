// Paged KV cache: one pool of fixed-size blocks (every layer's K and V for `block_size`
// positions of one sequence) and a block table per sequence that owns references on its blocks.
// Blocks are reference counted so the prefix cache (radix-cache.h) shares them between
// sequences. Every block is in exactly one of three states:
//   free    no references, on the free list;
//   cached  no references, held by the prefix cache, on the LRU list (evictable);
//   in use  referenced by at least one block table (and maybe also held by the prefix cache).
// release() is the one release path: the last reference sends a block to the free list, or to
// the LRU list when the prefix cache holds it. allocate() takes a free block and falls back to
// evicting the least recently used cached block (the cache is told through its Evictor).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/dtype.h"
#include "base/result.h"

namespace parley::kv {

using BlockId = int32_t;

// The prefix cache's side of eviction: the pool is about to reuse a cached, unreferenced block.
class Evictor {
 public:
  virtual void on_evict(BlockId id) = 0;

 protected:
  ~Evictor() = default;
};

struct PoolShape {
  int32_t n_layer = 0;
  int32_t n_head_kv = 0;
  int32_t head_dim = 0;
  int32_t block_size = 16;  // positions per block
  int32_t n_blocks = 0;
  DType type = DType::f16;  // f32, f16, bf16 or q8_0 (see check_kv_type)
};

// Whether the pool stores this element type for rows of head_dim values: F32, F16, BF16, and
// Q8_0 (blocks of 32 values and an fp16 scale, so head_dim must be a multiple of 32). The
// error says why not.
Status check_kv_type(DType type, int32_t head_dim);

class BlockPool {
 public:
  // Allocates the storage for every block up front (the step loop never allocates).
  static Result<std::unique_ptr<BlockPool>> create(const PoolShape& shape);
  ~BlockPool();
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  const PoolShape& shape() const { return shape_; }
  int32_t block_size() const { return shape_.block_size; }
  int32_t n_blocks() const { return shape_.n_blocks; }
  int32_t n_free() const { return static_cast<int32_t>(free_.size()); }
  // Cached blocks nobody references: reusable by eviction.
  int32_t n_cached() const { return n_lru_; }
  // Blocks referenced by some table.
  int32_t n_used() const { return shape_.n_blocks - n_free() - n_cached(); }
  // What allocate() can hand out: free plus evictable.
  int32_t n_available() const { return n_free() + n_cached(); }

  // A block with one reference: a free one, else the least recently used cached one (evicted),
  // else -1.
  BlockId allocate();
  // Takes a reference. A cached block with no references leaves the LRU list (a prefix hit).
  void retain(BlockId id);
  void release(BlockId id);
  int32_t ref_count(BlockId id) const { return refs_[static_cast<size_t>(id)]; }

  // The prefix cache's hooks. attach_cache: the evictor that allocate() tells (one at a time).
  // set_cached(id, true) marks a referenced block as held by the cache; set_cached(id, false)
  // drops the cache's hold (an unreferenced block goes to the free list).
  void attach_cache(Evictor* evictor);
  void set_cached(BlockId id, bool cached);
  bool is_cached(BlockId id) const { return cached_[static_cast<size_t>(id)] != 0; }
  // The LRU list, oldest first (-1 ends it): for invariant checks.
  BlockId lru_first() const { return lru_head_; }
  BlockId lru_next(BlockId id) const { return lru_next_[static_cast<size_t>(id)]; }

  // Storage. Within a layer, block b holds for each kv head g the rows of its block_size
  // positions: element (b, g, slot, d) at ((b * n_head_kv + g) * block_size + slot) * head_dim + d;
  // generally row (b, g, slot) at ((b * n_head_kv + g) * block_size + slot) * row_bytes().
  uint8_t* k_layer(int32_t layer) { return base_.get() + layer_offset(layer, 0); }
  uint8_t* v_layer(int32_t layer) { return base_.get() + layer_offset(layer, 1); }
  // Bytes of K (or V) for one block of one layer.
  size_t block_bytes() const { return block_bytes_; }
  // Bytes of one row: head_dim values of the element type (Q8_0: head_dim / 32 * 34).
  size_t row_bytes() const { return block_bytes_ / (static_cast<size_t>(shape_.n_head_kv) * static_cast<size_t>(shape_.block_size)); }
  // All storage: n_layer * 2 * n_blocks * block_bytes.
  size_t total_bytes() const { return block_bytes_ * 2 * static_cast<size_t>(shape_.n_layer) * static_cast<size_t>(shape_.n_blocks); }

  // free + cached + used == total, no block in two states or twice in a list, free and cached
  // blocks have no references, cached blocks are held by the cache. Aborts on a broken
  // invariant (tests call it after every step).
  void check_invariants() const;

 private:
  BlockPool() = default;
  size_t layer_offset(int32_t layer, int kv) const {
    return (static_cast<size_t>(layer) * 2 + static_cast<size_t>(kv)) * static_cast<size_t>(shape_.n_blocks) * block_bytes_;
  }

  struct Free {
    void operator()(uint8_t* p) const;
  };
  void lru_push_back(BlockId id);
  void lru_remove(BlockId id);

  PoolShape shape_;
  size_t block_bytes_ = 0;
  std::unique_ptr<uint8_t, Free> base_;
  std::vector<int32_t> refs_;
  std::vector<BlockId> free_;  // a stack: the most recently released block is reused first
  std::vector<uint8_t> cached_;  // held by the prefix cache
  // Cached blocks with no references, least recently released first (a doubly linked list
  // through the block ids, so nothing allocates).
  std::vector<BlockId> lru_prev_, lru_next_;
  BlockId lru_head_ = -1, lru_tail_ = -1;
  int32_t n_lru_ = 0;
  Evictor* evictor_ = nullptr;
};

// The blocks of one sequence, in position order: position p lives in blocks()[p / block_size]
// at slot p % block_size. Owns one reference on each block; releases them when cleared or
// destroyed.
class BlockTable {
 public:
  explicit BlockTable(BlockPool& pool) : pool_(&pool) {}
  ~BlockTable() { clear(); }
  BlockTable(BlockTable&& other) noexcept;
  BlockTable& operator=(BlockTable&& other) noexcept;
  BlockTable(const BlockTable&) = delete;
  BlockTable& operator=(const BlockTable&) = delete;

  // Grows the table until it holds n_positions. All or nothing: returns false and changes
  // nothing when the pool has too few free blocks.
  bool reserve(int32_t n_positions);
  // Number of new blocks reserve(n_positions) would take.
  int32_t blocks_needed(int32_t n_positions) const;
  // Appends a block that another table holds too (prefix sharing): takes a new reference.
  void append_shared(BlockId id);
  // Replaces block i by `id` (a block with the same contents that the prefix cache holds):
  // takes a reference on id, releases the old one.
  void replace(size_t i, BlockId id);
  // Leading blocks that are in the prefix cache's tree (maintained by RadixCache).
  int32_t n_cached_blocks() const { return n_cached_blocks_; }
  void set_n_cached_blocks(int32_t n) { n_cached_blocks_ = n; }
  // Drops blocks beyond the first n_positions. Never to a position inside one of the leading
  // cached blocks (those are shared and must stay full): that aborts.
  void truncate(int32_t n_positions);
  void clear() { truncate(0); }

  int32_t capacity() const { return static_cast<int32_t>(blocks_.size()) * pool_->block_size(); }
  const std::vector<BlockId>& blocks() const { return blocks_; }
  BlockPool& pool() const { return *pool_; }

 private:
  BlockPool* pool_;
  std::vector<BlockId> blocks_;
  int32_t n_cached_blocks_ = 0;
};

}  // namespace parley::kv
