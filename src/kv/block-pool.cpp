#include "kv/block-pool.h"

#include <cstdlib>

#include "base/check.h"

namespace parley::kv {

void BlockPool::Free::operator()(uint8_t* p) const { std::free(p); }

Result<std::unique_ptr<BlockPool>> BlockPool::create(const PoolShape& s) {
  if (s.type != DType::f32 && s.type != DType::f16) {
    return Error::fmt("KV cache type %s is not supported (F32 or F16)", std::string(dtype_name(s.type)).c_str());
  }
  if (s.n_layer <= 0 || s.n_head_kv <= 0 || s.head_dim <= 0 || s.block_size <= 0 || s.n_blocks <= 0) {
    return Error{"KV cache shape must be positive in every dimension"};
  }
  std::unique_ptr<BlockPool> pool(new BlockPool());
  pool->shape_ = s;
  size_t elem = s.type == DType::f32 ? 4 : 2;
  pool->block_bytes_ = elem * static_cast<size_t>(s.n_head_kv) * static_cast<size_t>(s.block_size) *
                       static_cast<size_t>(s.head_dim);
  size_t total = pool->total_bytes();
  // Rounded up to the alignment as aligned_alloc requires; the pages are touched only as
  // blocks are written, so resident memory grows with use.
  size_t align = 64;
  void* p = std::aligned_alloc(align, (total + align - 1) / align * align);
  if (p == nullptr) {
    return Error::fmt("cannot allocate %zu bytes for the KV cache", total);
  }
  pool->base_.reset(static_cast<uint8_t*>(p));
  pool->refs_.assign(static_cast<size_t>(s.n_blocks), 0);
  pool->free_.reserve(static_cast<size_t>(s.n_blocks));
  for (int32_t b = s.n_blocks - 1; b >= 0; b--) pool->free_.push_back(b);
  return pool;
}

BlockPool::~BlockPool() = default;

BlockId BlockPool::allocate() {
  if (free_.empty()) return -1;
  BlockId id = free_.back();
  free_.pop_back();
  PARLEY_CHECK(refs_[static_cast<size_t>(id)] == 0);
  refs_[static_cast<size_t>(id)] = 1;
  return id;
}

void BlockPool::retain(BlockId id) {
  PARLEY_CHECK(id >= 0 && id < shape_.n_blocks);
  PARLEY_CHECK_MSG(refs_[static_cast<size_t>(id)] > 0, "retain of a free block");
  refs_[static_cast<size_t>(id)]++;
}

void BlockPool::release(BlockId id) {
  PARLEY_CHECK(id >= 0 && id < shape_.n_blocks);
  int32_t& r = refs_[static_cast<size_t>(id)];
  PARLEY_CHECK_MSG(r > 0, "release of a free block (double free)");
  if (--r == 0) free_.push_back(id);
}

void BlockPool::check_invariants() const {
  std::vector<uint8_t> seen(static_cast<size_t>(shape_.n_blocks), 0);
  for (BlockId id : free_) {
    PARLEY_CHECK(id >= 0 && id < shape_.n_blocks);
    PARLEY_CHECK_MSG(seen[static_cast<size_t>(id)] == 0, "block on the free list twice");
    seen[static_cast<size_t>(id)] = 1;
    PARLEY_CHECK_MSG(refs_[static_cast<size_t>(id)] == 0, "free block with references");
  }
  int32_t used = 0;
  for (int32_t r : refs_) {
    PARLEY_CHECK(r >= 0);
    used += r > 0 ? 1 : 0;
  }
  PARLEY_CHECK_MSG(used + n_free() == shape_.n_blocks, "free + used != total");
}

BlockTable::BlockTable(BlockTable&& other) noexcept : pool_(other.pool_), blocks_(std::move(other.blocks_)) {
  other.blocks_.clear();
}

BlockTable& BlockTable::operator=(BlockTable&& other) noexcept {
  if (this != &other) {
    clear();
    pool_ = other.pool_;
    blocks_ = std::move(other.blocks_);
    other.blocks_.clear();
  }
  return *this;
}

int32_t BlockTable::blocks_needed(int32_t n_positions) const {
  int32_t bs = pool_->block_size();
  int32_t want = (n_positions + bs - 1) / bs;
  int32_t have = static_cast<int32_t>(blocks_.size());
  return want > have ? want - have : 0;
}

bool BlockTable::reserve(int32_t n_positions) {
  int32_t need = blocks_needed(n_positions);
  if (need > pool_->n_free()) return false;
  for (int32_t i = 0; i < need; i++) {
    BlockId id = pool_->allocate();
    PARLEY_CHECK(id >= 0);
    blocks_.push_back(id);
  }
  return true;
}

void BlockTable::append_shared(BlockId id) {
  pool_->retain(id);
  blocks_.push_back(id);
}

void BlockTable::truncate(int32_t n_positions) {
  int32_t bs = pool_->block_size();
  size_t keep = static_cast<size_t>((n_positions + bs - 1) / bs);
  while (blocks_.size() > keep) {
    pool_->release(blocks_.back());
    blocks_.pop_back();
  }
}

}  // namespace parley::kv
