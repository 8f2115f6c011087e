#include "kv/radix-cache.h"

#include <algorithm>
#include <cstring>

#include "base/check.h"

namespace parley::kv {

RadixCache::RadixCache(BlockPool& pool) : pool_(&pool), block_size_(pool.block_size()) {
  size_t n = static_cast<size_t>(pool.n_blocks());
  ns_.assign(n, -1);
  parent_.assign(n, -1);
  first_child_.assign(n, -1);
  next_sibling_.assign(n, -1);
  prev_sibling_.assign(n, -1);
  hash_.assign(n, 0);
  tokens_.assign(n * static_cast<size_t>(block_size_), 0);
  persisted_.assign(n, 0);
  namespaces_.reserve(8);
  pool.attach_cache(this);
}

RadixCache::~RadixCache() {
  for (BlockId id = 0; id < pool_->n_blocks(); id++) {
    if (ns_[static_cast<size_t>(id)] >= 0) pool_->set_cached(id, false);
  }
  pool_->attach_cache(nullptr);
}

int32_t RadixCache::n_namespaces() const {
  return static_cast<int32_t>(
      std::count_if(namespaces_.begin(), namespaces_.end(), [](const Namespace& n) { return n.used; }));
}

int32_t RadixCache::find_namespace(std::string_view ns) const {
  for (size_t i = 0; i < namespaces_.size(); i++) {
    if (namespaces_[i].used && namespaces_[i].name == ns) return static_cast<int32_t>(i);
  }
  return -1;
}

int32_t RadixCache::add_namespace(std::string_view ns) {
  int32_t found = find_namespace(ns);
  if (found >= 0) return found;
  // Reuse the slot of a namespace whose tree emptied.
  for (size_t i = 0; i < namespaces_.size(); i++) {
    if (!namespaces_[i].used) {
      namespaces_[i] = Namespace{std::string(ns), -1, 0, true};
      return static_cast<int32_t>(i);
    }
  }
  namespaces_.push_back(Namespace{std::string(ns), -1, 0, true});
  return static_cast<int32_t>(namespaces_.size() - 1);
}

uint64_t RadixCache::hash_block(std::span<const int32_t> block) const {
  // FNV-1a over the token bytes: only a filter before the exact comparison.
  uint64_t h = 1469598103934665603ull;
  for (int32_t t : block) {
    uint32_t u = static_cast<uint32_t>(t);
    for (int b = 0; b < 4; b++) {
      h ^= (u >> (8 * b)) & 0xffu;
      h *= 1099511628211ull;
    }
  }
  return h;
}

BlockId RadixCache::first_child(int32_t ns, BlockId parent) const {
  return parent < 0 ? namespaces_[static_cast<size_t>(ns)].first_child
                    : first_child_[static_cast<size_t>(parent)];
}

bool RadixCache::same_tokens(BlockId id, std::span<const int32_t> block) const {
  const int32_t* t = tokens_.data() + static_cast<size_t>(id) * static_cast<size_t>(block_size_);
  return std::memcmp(t, block.data(), static_cast<size_t>(block_size_) * sizeof(int32_t)) == 0;
}

BlockId RadixCache::find_child(int32_t ns, BlockId parent, std::span<const int32_t> block,
                               uint64_t hash) const {
  for (BlockId c = first_child(ns, parent); c >= 0; c = next_sibling_[static_cast<size_t>(c)]) {
    if (hash_[static_cast<size_t>(c)] == hash && same_tokens(c, block)) return c;
  }
  return -1;
}

void RadixCache::link(BlockId id, int32_t ns, BlockId parent, std::span<const int32_t> block, uint64_t hash) {
  size_t i = static_cast<size_t>(id);
  PARLEY_CHECK(ns_[i] < 0);
  ns_[i] = ns;
  parent_[i] = parent;
  first_child_[i] = -1;
  persisted_[i] = 0;
  hash_[i] = hash;
  std::copy(block.begin(), block.end(),
            tokens_.begin() + static_cast<std::ptrdiff_t>(i * static_cast<size_t>(block_size_)));
  BlockId& head = parent < 0 ? namespaces_[static_cast<size_t>(ns)].first_child
                             : first_child_[static_cast<size_t>(parent)];
  prev_sibling_[i] = -1;
  next_sibling_[i] = head;
  if (head >= 0) prev_sibling_[static_cast<size_t>(head)] = id;
  head = id;
  namespaces_[static_cast<size_t>(ns)].n_nodes++;
  n_nodes_++;
}

void RadixCache::unlink(BlockId id) {
  size_t i = static_cast<size_t>(id);
  int32_t ns = ns_[i];
  PARLEY_CHECK(ns >= 0);
  PARLEY_CHECK_MSG(first_child_[i] < 0, "evicting a node that has children");
  BlockId parent = parent_[i];
  BlockId prev = prev_sibling_[i], next = next_sibling_[i];
  if (prev >= 0) {
    next_sibling_[static_cast<size_t>(prev)] = next;
  } else {
    BlockId& head = parent < 0 ? namespaces_[static_cast<size_t>(ns)].first_child
                               : first_child_[static_cast<size_t>(parent)];
    PARLEY_CHECK(head == id);
    head = next;
  }
  if (next >= 0) prev_sibling_[static_cast<size_t>(next)] = prev;
  ns_[i] = -1;
  persisted_[i] = 0;
  parent_[i] = prev_sibling_[i] = next_sibling_[i] = -1;
  Namespace& n = namespaces_[static_cast<size_t>(ns)];
  n_nodes_--;
  if (--n.n_nodes == 0) n = Namespace{};
}

int32_t RadixCache::walk(std::string_view ns, std::span<const int32_t> tokens, int32_t n_max,
                         const std::function<void(BlockId)>& on_block) const {
  int32_t nsi = find_namespace(ns);
  if (nsi < 0) return 0;
  n_max = std::min<int32_t>(n_max, static_cast<int32_t>(tokens.size()));
  BlockId parent = -1;
  int32_t n = 0;
  while ((n + 1) * block_size_ <= n_max) {
    auto block = tokens.subspan(static_cast<size_t>(n) * static_cast<size_t>(block_size_),
                                static_cast<size_t>(block_size_));
    BlockId child = find_child(nsi, parent, block, hash_block(block));
    if (child < 0) break;
    if (on_block) on_block(child);
    parent = child;
    n++;
  }
  return n;
}

int32_t RadixCache::peek(std::string_view ns, std::span<const int32_t> tokens, int32_t n_max) const {
  return walk(ns, tokens, n_max, nullptr) * block_size_;
}

int32_t RadixCache::match(std::string_view ns, std::span<const int32_t> tokens, int32_t n_max,
                          BlockTable& table) {
  PARLEY_CHECK_MSG(table.blocks().empty(), "match into a table that holds blocks");
  PARLEY_CHECK(&table.pool() == pool_);
  // A prefix hit: each matched block leaves the LRU list.
  const int32_t n = walk(ns, tokens, n_max, [&](BlockId child) { table.append_shared(child); });
  table.set_n_cached_blocks(n);
  return n * block_size_;
}

int32_t RadixCache::insert(std::string_view ns, std::span<const int32_t> tokens, int32_t n_computed,
                           BlockTable& table) {
  PARLEY_CHECK(&table.pool() == pool_);
  n_computed = std::min<int32_t>(n_computed, static_cast<int32_t>(tokens.size()));
  int32_t full = std::min(n_computed / block_size_, static_cast<int32_t>(table.blocks().size()));
  int32_t k = table.n_cached_blocks();
  if (k >= full) return 0;
  int32_t nsi = add_namespace(ns);
  BlockId parent = k > 0 ? table.blocks()[static_cast<size_t>(k - 1)] : -1;
  PARLEY_CHECK_MSG(parent < 0 || ns_[static_cast<size_t>(parent)] == nsi,
                   "table inserted under another namespace");
  int32_t added = 0;
  for (int32_t b = k; b < full; b++) {
    auto block = tokens.subspan(static_cast<size_t>(b) * static_cast<size_t>(block_size_),
                                static_cast<size_t>(block_size_));
    uint64_t h = hash_block(block);
    BlockId own = table.blocks()[static_cast<size_t>(b)];
    PARLEY_CHECK_MSG(!pool_->is_cached(own) && pool_->ref_count(own) == 1,
                     "inserting a block the table does not own alone");
    BlockId existing = find_child(nsi, parent, block, h);
    if (existing >= 0) {
      table.replace(static_cast<size_t>(b), existing);  // the duplicate goes back to the free list
    } else {
      link(own, nsi, parent, block, h);
      pool_->set_cached(own, true);
      added++;
    }
    parent = table.blocks()[static_cast<size_t>(b)];
  }
  table.set_n_cached_blocks(full);
  return added;
}

int32_t RadixCache::evict(int32_t n) {
  int32_t done = 0;
  while (done < n) {
    BlockId id = pool_->lru_first();
    if (id < 0) break;
    unlink(id);
    pool_->set_cached(id, false);  // unreferenced: to the free list
    done++;
    n_evicted_++;
  }
  return done;
}

void RadixCache::on_evict(BlockId id) {
  unlink(id);
  n_evicted_++;
}

void RadixCache::set_persisted_path(BlockId id) {
  for (BlockId b = id; b >= 0 && persisted_[static_cast<size_t>(b)] == 0;
       b = parent_[static_cast<size_t>(b)]) {
    PARLEY_CHECK_MSG(ns_[static_cast<size_t>(b)] >= 0, "persisting a block that is not in the tree");
    persisted_[static_cast<size_t>(b)] = 1;
  }
}

void RadixCache::clear_persisted() {
  std::fill(persisted_.begin(), persisted_.end(), 0);
}

void RadixCache::unpersisted_leaves(std::vector<BlockId>& out) const {
  for (size_t i = 0; i < ns_.size(); i++) {
    if (ns_[i] >= 0 && first_child_[i] < 0 && persisted_[i] == 0) out.push_back(static_cast<BlockId>(i));
  }
}

std::string_view RadixCache::path_of(BlockId id, std::vector<int32_t>& tokens) const {
  PARLEY_CHECK(ns_[static_cast<size_t>(id)] >= 0);
  int32_t depth = 0;
  for (BlockId b = id; b >= 0; b = parent_[static_cast<size_t>(b)]) depth++;
  const size_t bs = static_cast<size_t>(block_size_);
  tokens.resize(static_cast<size_t>(depth) * bs);
  int32_t d = depth;
  for (BlockId b = id; b >= 0; b = parent_[static_cast<size_t>(b)]) {
    d--;
    std::copy_n(tokens_.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(b) * bs), bs,
                tokens.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(d) * bs));
  }
  return namespaces_[static_cast<size_t>(ns_[static_cast<size_t>(id)])].name;
}

void RadixCache::check_node(BlockId id, const std::vector<int32_t>& lru_pos) const {
  size_t i = static_cast<size_t>(id);
  PARLEY_CHECK_MSG(pool_->is_cached(id), "tree node not held as cached by the pool");
  const int32_t* t = tokens_.data() + i * static_cast<size_t>(block_size_);
  PARLEY_CHECK_MSG(hash_[i] == hash_block({t, static_cast<size_t>(block_size_)}),
                   "node hash does not match its tokens");
  BlockId parent = parent_[i];
  if (parent >= 0) {
    PARLEY_CHECK_MSG(ns_[static_cast<size_t>(parent)] == ns_[i], "parent in another namespace");
    // A file on disk holds a whole path from the root.
    if (persisted_[i] != 0)
      PARLEY_CHECK_MSG(persisted_[static_cast<size_t>(parent)] != 0, "persisted node under one that is not");
    // A table holds a whole path from the root, so references go up the tree...
    if (pool_->ref_count(id) > 0)
      PARLEY_CHECK_MSG(pool_->ref_count(parent) > 0, "referenced node under an unreferenced one");
    // ...and a node is released after its descendants: the LRU head is a leaf.
    if (lru_pos[i] >= 0 && lru_pos[static_cast<size_t>(parent)] >= 0) {
      PARLEY_CHECK_MSG(lru_pos[i] < lru_pos[static_cast<size_t>(parent)],
                       "LRU list would evict a parent before its child");
    }
  }
  // Siblings hold different tokens (a match is unique).
  for (BlockId s = next_sibling_[i]; s >= 0; s = next_sibling_[static_cast<size_t>(s)]) {
    PARLEY_CHECK_MSG(
        !(hash_[static_cast<size_t>(s)] == hash_[i] && same_tokens(s, {t, static_cast<size_t>(block_size_)})),
        "two siblings hold the same tokens");
  }
}

void RadixCache::check_invariants() const {
  pool_->check_invariants();
  std::vector<int32_t> lru_pos(static_cast<size_t>(pool_->n_blocks()), -1);
  int32_t pos = 0;
  for (BlockId id = pool_->lru_first(); id >= 0; id = pool_->lru_next(id))
    lru_pos[static_cast<size_t>(id)] = pos++;
  // Walk every namespace's tree: each node reached once, from its parent's child list.
  std::vector<uint8_t> reached(static_cast<size_t>(pool_->n_blocks()), 0);
  std::vector<BlockId> stack;
  int32_t n_reached = 0;
  for (size_t ns = 0; ns < namespaces_.size(); ns++) {
    const Namespace& n = namespaces_[ns];
    if (!n.used) continue;
    PARLEY_CHECK_MSG(n.first_child >= 0 && n.n_nodes > 0, "a namespace with an empty tree");
    int32_t in_ns = 0;
    stack.assign(1, -1);
    while (!stack.empty()) {
      BlockId parent = stack.back();
      stack.pop_back();
      BlockId prev = -1;
      for (BlockId c = first_child(static_cast<int32_t>(ns), parent); c >= 0;
           c = next_sibling_[static_cast<size_t>(c)]) {
        size_t ci = static_cast<size_t>(c);
        PARLEY_CHECK_MSG(reached[ci] == 0, "tree node reached twice (a cycle or a shared child)");
        reached[ci] = 1;
        PARLEY_CHECK_MSG(
            ns_[ci] == static_cast<int32_t>(ns) && parent_[ci] == parent && prev_sibling_[ci] == prev,
            "tree links disagree");
        check_node(c, lru_pos);
        prev = c;
        in_ns++;
        stack.push_back(c);
      }
    }
    PARLEY_CHECK_MSG(in_ns == n.n_nodes, "namespace node count wrong");
    n_reached += in_ns;
  }
  PARLEY_CHECK_MSG(n_reached == n_nodes_, "tree node count wrong");
  for (size_t i = 0; i < ns_.size(); i++) {
    bool in_tree = ns_[i] >= 0;
    PARLEY_CHECK_MSG(in_tree == (reached[i] != 0), "node marked in the tree but not reachable");
    PARLEY_CHECK_MSG(in_tree == pool_->is_cached(static_cast<BlockId>(i)),
                     "pool's cached blocks are not the tree's nodes");
  }
}

void RadixCache::check_table(std::string_view ns, const BlockTable& table) const {
  const auto& blocks = table.blocks();
  int32_t k = table.n_cached_blocks();
  PARLEY_CHECK(k >= 0 && k <= static_cast<int32_t>(blocks.size()));
  int32_t nsi = k > 0 ? find_namespace(ns) : -1;
  for (int32_t b = 0; b < static_cast<int32_t>(blocks.size()); b++) {
    BlockId id = blocks[static_cast<size_t>(b)];
    PARLEY_CHECK(pool_->ref_count(id) > 0);
    if (b < k) {
      PARLEY_CHECK_MSG(ns_[static_cast<size_t>(id)] == nsi && nsi >= 0,
                       "table's cached block not in its namespace's tree");
      BlockId want_parent = b > 0 ? blocks[static_cast<size_t>(b - 1)] : -1;
      PARLEY_CHECK_MSG(parent_[static_cast<size_t>(id)] == want_parent,
                       "table's cached blocks are not a path from the root");
    } else {
      PARLEY_CHECK_MSG(!pool_->is_cached(id) && pool_->ref_count(id) == 1,
                       "table's writable block is shared or cached");
    }
  }
}

}  // namespace parley::kv
