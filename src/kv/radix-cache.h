// The global prefix cache: a radix tree over the paged KV blocks, keyed by (namespace, token
// ids) at block granularity. Agents resend their whole history every turn; a request whose
// prompt starts with blocks another request already computed takes references on those blocks
// instead of recomputing them.
//
// Shape. A tree node is one pool block holding block_size tokens, so the node id is the block
// id and every array is sized once, at construction (nothing allocates in the step loop). An
// edge of a compressed radix tree is a chain of such nodes; two prompts that diverge inside a
// chain just give its node a second child (the "split" of a compressed tree costs nothing).
// Each namespace has its own root, so different namespaces never share a block.
//
// Ownership. The pool's reference counts are the lock counts: a block a table holds is never
// evicted. When the last reference to a cached block goes, the pool puts it on its LRU list
// instead of the free list; allocation evicts from the head of that list. Tables take tree
// blocks only as whole prefixes from the root (match) and insert their own blocks only under
// blocks they hold, so a referenced node has referenced ancestors, an unreferenced node has
// only unreferenced descendants, and a node is released after all its descendants: the LRU
// head is always an unreferenced leaf. check_invariants() verifies all of this.
//
// Writes. Only blocks a sequence owns alone are ever written: a match covers whole blocks and
// leaves at least one token to compute, and a block enters the tree only when full. There is no
// copy-on-write.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kv/block-pool.h"

namespace parley::kv {

class RadixCache final : public Evictor {
 public:
  explicit RadixCache(BlockPool& pool);
  // Gives every unreferenced cached block back to the free list and detaches from the pool.
  ~RadixCache();
  RadixCache(const RadixCache&) = delete;
  RadixCache& operator=(const RadixCache&) = delete;

  // Longest cached prefix of tokens[0, n_max) in namespace `ns`, in whole blocks: appends those
  // blocks to `table` (which must be empty), taking a reference on each, and returns the number
  // of tokens matched (a multiple of block_size, at most n_max). Callers pass n_max < the
  // number of tokens to compute so at least one is left.
  int32_t match(std::string_view ns, std::span<const int32_t> tokens, int32_t n_max, BlockTable& table);
  // The same length, without taking references or touching the LRU order.
  int32_t peek(std::string_view ns, std::span<const int32_t> tokens, int32_t n_max) const;
  // Offers the full blocks of `table` that hold tokens[0, n_computed) (their K/V are written)
  // to the tree; blocks already there are skipped. When the tree already has a block with the
  // same contents at that place (two requests computed the same prefix at once), the table's
  // block is replaced by the tree's and goes back to the free list. Returns the blocks added.
  int32_t insert(std::string_view ns, std::span<const int32_t> tokens, int32_t n_computed, BlockTable& table);
  // Evicts up to n unreferenced leaves, least recently used first. Returns how many went.
  int32_t evict(int32_t n);

  // Blocks in the tree, referenced or not.
  int32_t n_nodes() const { return n_nodes_; }
  // Blocks in the tree that no table references (reusable).
  int32_t n_evictable() const { return pool_->n_cached(); }
  int32_t n_namespaces() const;
  // Blocks evicted so far (by evict() or by the pool reusing one), for /metrics.
  int64_t n_evicted() const { return n_evicted_; }
  BlockPool& pool() const { return *pool_; }

  // The pool's invariants plus the tree's: every tree node is a cached pool block and back,
  // links and hashes agree, siblings differ, references go up the tree, the LRU list releases
  // leaves first. Aborts on a broken one.
  void check_invariants() const;
  // A table's shape: its first n_cached_blocks() blocks are a path from a root in namespace
  // `ns`, the rest are blocks it owns alone (so it may write them). Aborts otherwise.
  void check_table(std::string_view ns, const BlockTable& table) const;

  // Evictor: the pool reuses an unreferenced cached block (it is a leaf).
  void on_evict(BlockId id) override;

  // Persistence (disk-cache.h). A node is marked persisted when a file on disk holds its whole
  // path from the root, so a snapshot skips it; the mark is a hint (the disk index is the
  // truth) and goes with the node. A persisted node's parent is persisted.
  bool is_persisted(BlockId id) const { return persisted_[static_cast<size_t>(id)] != 0; }
  // Marks `id` and all its ancestors.
  void set_persisted_path(BlockId id);
  void clear_persisted();
  // Appends the tree's leaves that are not persisted.
  void unpersisted_leaves(std::vector<BlockId>& out) const;
  // The path from the root to tree node `id`: fills `tokens` (depth * block_size, root first)
  // and returns its namespace.
  std::string_view path_of(BlockId id, std::vector<int32_t>& tokens) const;

 private:
  struct Namespace {
    std::string name;
    BlockId first_child = -1;
    int32_t n_nodes = 0;
    bool used = false;
  };

  int32_t find_namespace(std::string_view ns) const;
  int32_t add_namespace(std::string_view ns);
  uint64_t hash_block(std::span<const int32_t> block) const;
  BlockId first_child(int32_t ns, BlockId parent) const;
  BlockId find_child(int32_t ns, BlockId parent, std::span<const int32_t> block, uint64_t hash) const;
  // Follows the cached whole blocks of tokens[0, n_max), calling on_block (may be null) for each;
  // returns how many.
  int32_t walk(std::string_view ns, std::span<const int32_t> tokens, int32_t n_max,
               const std::function<void(BlockId)>& on_block) const;
  bool same_tokens(BlockId id, std::span<const int32_t> block) const;
  void link(BlockId id, int32_t ns, BlockId parent, std::span<const int32_t> block, uint64_t hash);
  void unlink(BlockId id);
  void check_node(BlockId id, const std::vector<int32_t>& lru_pos) const;

  BlockPool* pool_;
  int32_t block_size_;
  int32_t n_nodes_ = 0;
  int64_t n_evicted_ = 0;
  std::vector<Namespace> namespaces_;
  // Per block id (node = block): namespace (-1: not in the tree), parent (-1: the namespace's
  // root), children as a doubly linked sibling list, a hash of its tokens, its tokens.
  std::vector<int32_t> ns_;
  std::vector<BlockId> parent_, first_child_, next_sibling_, prev_sibling_;
  std::vector<uint64_t> hash_;
  std::vector<int32_t> tokens_;  // block_size per block
  std::vector<uint8_t> persisted_;
};

}  // namespace parley::kv
