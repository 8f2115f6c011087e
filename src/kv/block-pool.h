// Paged KV cache: one pool of fixed-size blocks (every layer's K and V for `block_size`
// positions of one sequence) and a block table per sequence that owns references on its blocks.
// Blocks are reference counted so the prefix cache can later share a block between sequences;
// a block returns to the free list when its last reference is released (the one release path).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/dtype.h"
#include "base/result.h"

namespace parley::kv {

using BlockId = int32_t;

struct PoolShape {
  int32_t n_layer = 0;
  int32_t n_head_kv = 0;
  int32_t head_dim = 0;
  int32_t block_size = 16;  // positions per block
  int32_t n_blocks = 0;
  DType type = DType::f16;  // f32 or f16
};

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
  int32_t n_used() const { return shape_.n_blocks - n_free(); }

  // A free block with one reference, or -1 when none is free.
  BlockId allocate();
  void retain(BlockId id);
  void release(BlockId id);
  int32_t ref_count(BlockId id) const { return refs_[static_cast<size_t>(id)]; }

  // Storage. Within a layer, block b holds for each kv head g the rows of its block_size
  // positions: element (b, g, slot, d) at ((b * n_head_kv + g) * block_size + slot) * head_dim + d.
  uint8_t* k_layer(int32_t layer) { return base_.get() + layer_offset(layer, 0); }
  uint8_t* v_layer(int32_t layer) { return base_.get() + layer_offset(layer, 1); }
  // Bytes of K (or V) for one block of one layer.
  size_t block_bytes() const { return block_bytes_; }
  // All storage: n_layer * 2 * n_blocks * block_bytes.
  size_t total_bytes() const { return block_bytes_ * 2 * static_cast<size_t>(shape_.n_layer) * static_cast<size_t>(shape_.n_blocks); }

  // free + used == total, free blocks have no references, no block is free twice. Aborts on a
  // broken invariant (tests call it after every step).
  void check_invariants() const;

 private:
  BlockPool() = default;
  size_t layer_offset(int32_t layer, int kv) const {
    return (static_cast<size_t>(layer) * 2 + static_cast<size_t>(kv)) * static_cast<size_t>(shape_.n_blocks) * block_bytes_;
  }

  struct Free {
    void operator()(uint8_t* p) const;
  };
  PoolShape shape_;
  size_t block_bytes_ = 0;
  std::unique_ptr<uint8_t, Free> base_;
  std::vector<int32_t> refs_;
  std::vector<BlockId> free_;  // a stack: the most recently released block is reused first
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
  // Drops blocks beyond the first n_positions.
  void truncate(int32_t n_positions);
  void clear() { truncate(0); }

  int32_t capacity() const { return static_cast<int32_t>(blocks_.size()) * pool_->block_size(); }
  const std::vector<BlockId>& blocks() const { return blocks_; }
  BlockPool& pool() const { return *pool_; }

 private:
  BlockPool* pool_;
  std::vector<BlockId> blocks_;
};

}  // namespace parley::kv
