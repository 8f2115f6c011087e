#include "kv/block-pool.h"

#include <algorithm>
#include <cstdlib>

#include "base/check.h"
#include "base/memory.h"

namespace parley::kv {

void BlockPool::Free::operator()(uint8_t* p) const { std::free(p); }

Status check_kv_type(DType type, int32_t head_dim) {
  switch (type) {
    case DType::f32: case DType::f16: case DType::bf16: return Status{};
    case DType::q8_0:
      if (head_dim % 32 != 0) {
        return Error::fmt("KV cache type Q8_0 stores blocks of 32 values, but the model's head size is %d "
                          "(not a multiple of 32); use F16 or BF16", head_dim);
      }
      return Status{};
    default:
      return Error::fmt("KV cache type %s is not supported (F32, F16, BF16 or Q8_0)",
                        std::string(dtype_name(type)).c_str());
  }
}

Result<std::unique_ptr<BlockPool>> BlockPool::create(const PoolShape& s) {
  if (s.n_layer <= 0 || s.n_head_kv <= 0 || s.head_dim <= 0 || s.block_size <= 0 || s.n_blocks <= 0) {
    return Error{"KV cache shape must be positive in every dimension"};
  }
  PARLEY_CHECK_OK(check_kv_type(s.type, s.head_dim));
  std::unique_ptr<BlockPool> pool(new BlockPool());
  pool->shape_ = s;
  // Rows of head_dim values (Q8_0: head_dim / 32 blocks of 34 bytes, never split across rows).
  pool->block_bytes_ = dtype_row_bytes(s.type, static_cast<uint64_t>(s.head_dim)) *
                       static_cast<size_t>(s.n_head_kv) * static_cast<size_t>(s.block_size);
  size_t total = pool->total_bytes();
  // The pages are touched only as blocks are written, so resident memory grows with use; huge
  // pages where the kernel offers them (base/memory.h: decode reads scattered 4 KB runs).
  void* p = allocate_large(total);
  if (p == nullptr) {
    return Error::fmt("cannot allocate %zu bytes for the KV cache", total);
  }
  pool->base_.reset(static_cast<uint8_t*>(p));
  pool->refs_.assign(static_cast<size_t>(s.n_blocks), 0);
  pool->cached_.assign(static_cast<size_t>(s.n_blocks), 0);
  pool->lru_prev_.assign(static_cast<size_t>(s.n_blocks), -1);
  pool->lru_next_.assign(static_cast<size_t>(s.n_blocks), -1);
  pool->free_.reserve(static_cast<size_t>(s.n_blocks));
  for (int32_t b = s.n_blocks - 1; b >= 0; b--) pool->free_.push_back(b);
  return pool;
}

BlockPool::~BlockPool() = default;

BlockId BlockPool::allocate() {
  BlockId id = -1;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else if (lru_head_ >= 0) {
    // Evict the least recently released cached block; the cache keeps its LRU leaves first.
    id = lru_head_;
    lru_remove(id);
    cached_[static_cast<size_t>(id)] = 0;
    PARLEY_CHECK(evictor_ != nullptr);
    evictor_->on_evict(id);
  } else {
    return -1;
  }
  PARLEY_CHECK(refs_[static_cast<size_t>(id)] == 0);
  refs_[static_cast<size_t>(id)] = 1;
  return id;
}

void BlockPool::retain(BlockId id) {
  PARLEY_CHECK(id >= 0 && id < shape_.n_blocks);
  int32_t& r = refs_[static_cast<size_t>(id)];
  if (r == 0) {
    PARLEY_CHECK_MSG(cached_[static_cast<size_t>(id)] != 0, "retain of a free block");
    lru_remove(id);
  }
  r++;
}

void BlockPool::release(BlockId id) {
  PARLEY_CHECK(id >= 0 && id < shape_.n_blocks);
  int32_t& r = refs_[static_cast<size_t>(id)];
  PARLEY_CHECK_MSG(r > 0, "release of a free block (double free)");
  if (--r > 0) return;
  if (cached_[static_cast<size_t>(id)] != 0) {
    lru_push_back(id);
  } else {
    free_.push_back(id);
  }
}

void BlockPool::attach_cache(Evictor* evictor) {
  PARLEY_CHECK_MSG(evictor == nullptr || evictor_ == nullptr, "the pool already has a prefix cache");
  evictor_ = evictor;
}

void BlockPool::set_cached(BlockId id, bool cached) {
  PARLEY_CHECK(id >= 0 && id < shape_.n_blocks);
  uint8_t& c = cached_[static_cast<size_t>(id)];
  if (cached) {
    // Only a block a table holds can enter the cache: its contents are known.
    PARLEY_CHECK_MSG(refs_[static_cast<size_t>(id)] > 0 && c == 0, "caching a free or cached block");
    c = 1;
    return;
  }
  PARLEY_CHECK_MSG(c != 0, "uncaching a block the cache does not hold");
  c = 0;
  if (refs_[static_cast<size_t>(id)] == 0) {
    lru_remove(id);
    free_.push_back(id);
  }
}

void BlockPool::lru_push_back(BlockId id) {
  size_t i = static_cast<size_t>(id);
  lru_prev_[i] = lru_tail_;
  lru_next_[i] = -1;
  if (lru_tail_ >= 0) {
    lru_next_[static_cast<size_t>(lru_tail_)] = id;
  } else {
    lru_head_ = id;
  }
  lru_tail_ = id;
  n_lru_++;
}

void BlockPool::lru_remove(BlockId id) {
  size_t i = static_cast<size_t>(id);
  BlockId prev = lru_prev_[i], next = lru_next_[i];
  if (prev >= 0) {
    lru_next_[static_cast<size_t>(prev)] = next;
  } else {
    PARLEY_CHECK(lru_head_ == id);
    lru_head_ = next;
  }
  if (next >= 0) {
    lru_prev_[static_cast<size_t>(next)] = prev;
  } else {
    PARLEY_CHECK(lru_tail_ == id);
    lru_tail_ = prev;
  }
  lru_prev_[i] = lru_next_[i] = -1;
  n_lru_--;
}

void BlockPool::check_invariants() const {
  // 1: free, 2: cached (on the LRU list).
  std::vector<uint8_t> seen(static_cast<size_t>(shape_.n_blocks), 0);
  for (BlockId id : free_) {
    PARLEY_CHECK(id >= 0 && id < shape_.n_blocks);
    PARLEY_CHECK_MSG(seen[static_cast<size_t>(id)] == 0, "block on the free list twice");
    seen[static_cast<size_t>(id)] = 1;
    PARLEY_CHECK_MSG(refs_[static_cast<size_t>(id)] == 0, "free block with references");
    PARLEY_CHECK_MSG(cached_[static_cast<size_t>(id)] == 0, "free block held by the cache");
  }
  int32_t n_lru = 0;
  BlockId prev = -1;
  for (BlockId id = lru_head_; id >= 0; id = lru_next_[static_cast<size_t>(id)]) {
    PARLEY_CHECK(id < shape_.n_blocks);
    PARLEY_CHECK_MSG(seen[static_cast<size_t>(id)] == 0, "cached block also free, or on the LRU list twice");
    seen[static_cast<size_t>(id)] = 2;
    PARLEY_CHECK_MSG(refs_[static_cast<size_t>(id)] == 0, "block on the LRU list with references");
    PARLEY_CHECK_MSG(cached_[static_cast<size_t>(id)] != 0, "block on the LRU list not held by the cache");
    PARLEY_CHECK_MSG(lru_prev_[static_cast<size_t>(id)] == prev, "LRU list links broken");
    prev = id;
    PARLEY_CHECK_MSG(++n_lru <= shape_.n_blocks, "LRU list has a cycle");
  }
  PARLEY_CHECK_MSG(prev == lru_tail_ && n_lru == n_lru_, "LRU list tail or count wrong");
  int32_t used = 0;
  for (size_t i = 0; i < refs_.size(); i++) {
    PARLEY_CHECK(refs_[i] >= 0);
    if (refs_[i] > 0) used++;
    // An unreferenced block is either free or cached: nothing leaks.
    if (refs_[i] == 0) PARLEY_CHECK_MSG(seen[i] != 0, "unreferenced block neither free nor cached (leak)");
  }
  PARLEY_CHECK_MSG(used + n_free() + n_cached() == shape_.n_blocks, "free + cached + used != total");
}

BlockTable::BlockTable(BlockTable&& other) noexcept
    : pool_(other.pool_), blocks_(std::move(other.blocks_)), n_cached_blocks_(other.n_cached_blocks_) {
  other.blocks_.clear();
  other.n_cached_blocks_ = 0;
}

BlockTable& BlockTable::operator=(BlockTable&& other) noexcept {
  if (this != &other) {
    clear();
    pool_ = other.pool_;
    blocks_ = std::move(other.blocks_);
    n_cached_blocks_ = other.n_cached_blocks_;
    other.blocks_.clear();
    other.n_cached_blocks_ = 0;
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
  if (need > pool_->n_available()) return false;
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

void BlockTable::replace(size_t i, BlockId id) {
  PARLEY_CHECK(i < blocks_.size());
  pool_->retain(id);
  pool_->release(blocks_[i]);
  blocks_[i] = id;
}

void BlockTable::truncate(int32_t n_positions) {
  int32_t bs = pool_->block_size();
  size_t keep = static_cast<size_t>((n_positions + bs - 1) / bs);
  // A cached block is shared and full: keeping part of it would make it writable.
  PARLEY_CHECK_MSG(n_positions % bs == 0 || static_cast<int32_t>(keep) > n_cached_blocks_,
                   "truncating inside a block the prefix cache holds");
  n_cached_blocks_ = std::min(n_cached_blocks_, static_cast<int32_t>(keep));
  while (blocks_.size() > keep) {
    pool_->release(blocks_.back());
    blocks_.pop_back();
  }
}

}  // namespace parley::kv
