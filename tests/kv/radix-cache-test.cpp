#include "kv/radix-cache.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace parley::kv {
namespace {

std::unique_ptr<BlockPool> make_pool(int32_t n_blocks, int32_t block_size = 4) {
  auto p = BlockPool::create(PoolShape{1, 1, 4, block_size, n_blocks, DType::f32});
  EXPECT_TRUE(p.ok());
  return std::move(p).value();
}

std::vector<int32_t> iota(int32_t first, int32_t n) {
  std::vector<int32_t> t;
  for (int32_t i = 0; i < n; i++) t.push_back(first + i);
  return t;
}

// A sequence that computed `tokens` (all of them) and offered its blocks to the cache.
void compute(RadixCache& cache, std::string_view ns, const std::vector<int32_t>& tokens, BlockTable& table) {
  ASSERT_TRUE(table.reserve(static_cast<int32_t>(tokens.size())));
  cache.insert(ns, tokens, static_cast<int32_t>(tokens.size()), table);
  cache.check_invariants();
  cache.check_table(ns, table);
}

TEST(RadixCache, MatchesTheLongestPrefixInWholeBlocks) {
  auto pool = make_pool(16);
  RadixCache cache(*pool);
  auto tokens = iota(0, 10);
  BlockTable a(*pool);
  compute(cache, "", tokens, a);
  // 10 tokens: 2 full blocks in the tree; the partial third is a's own.
  EXPECT_EQ(cache.n_nodes(), 2);
  EXPECT_EQ(a.n_cached_blocks(), 2);
  EXPECT_EQ(cache.peek("", tokens, 10), 8);
  EXPECT_EQ(cache.peek("", tokens, 7), 4);  // n_max cuts inside the second block
  EXPECT_EQ(cache.peek("", tokens, 3), 0);
  auto other = tokens;
  other[5] = 99;
  EXPECT_EQ(cache.peek("", other, 10), 4);
  other[0] = 99;
  EXPECT_EQ(cache.peek("", other, 10), 0);
  BlockTable b(*pool);
  EXPECT_EQ(cache.match("", tokens, 9, b), 8);
  EXPECT_EQ(b.blocks(), (std::vector<BlockId>{a.blocks()[0], a.blocks()[1]}));
  EXPECT_EQ(pool->ref_count(a.blocks()[0]), 2);
  EXPECT_EQ(pool->ref_count(a.blocks()[2]), 1);
  cache.check_table("", b);
  cache.check_invariants();
}

TEST(RadixCache, DivergingPrefixesBranchAtABlockBoundary) {
  auto pool = make_pool(16);
  RadixCache cache(*pool);
  auto x = iota(0, 12);
  auto y = x;
  y[6] = 50;  // same first block, different second and third
  BlockTable a(*pool), b(*pool);
  compute(cache, "", x, a);
  EXPECT_EQ(cache.match("", y, 11, b), 4);
  compute(cache, "", y, b);
  // root -> block 0 -> {x's 1 -> x's 2, y's 1 -> y's 2}: 5 nodes, block 0 shared.
  EXPECT_EQ(cache.n_nodes(), 5);
  EXPECT_EQ(b.blocks()[0], a.blocks()[0]);
  EXPECT_NE(b.blocks()[1], a.blocks()[1]);
  EXPECT_EQ(cache.peek("", x, 12), 12);
  EXPECT_EQ(cache.peek("", y, 12), 12);
  EXPECT_EQ(pool->n_used(), 5);
  a.clear();
  b.clear();
  cache.check_invariants();
  EXPECT_EQ(pool->n_used(), 0);
  EXPECT_EQ(pool->n_cached(), 5);  // cached, not freed
  EXPECT_EQ(pool->n_free(), 11);
}

TEST(RadixCache, EvictsLeastRecentlyUsedLeavesOnlyAndNeverReferencedBlocks) {
  auto pool = make_pool(16);
  RadixCache cache(*pool);
  auto x = iota(0, 12), y = iota(0, 12);
  y[4] = 77;  // shares x's first block
  {
    BlockTable a(*pool);
    compute(cache, "", x, a);
  }
  {
    BlockTable b(*pool);
    EXPECT_EQ(cache.match("", y, 11, b), 4);
    compute(cache, "", y, b);
  }  // y released last: x's branch is older
  // Evicting one block takes x's deepest block (the LRU leaf), never the shared root block.
  EXPECT_EQ(cache.evict(1), 1);
  cache.check_invariants();
  EXPECT_EQ(cache.peek("", x, 12), 8);
  EXPECT_EQ(cache.peek("", y, 12), 12);
  EXPECT_EQ(cache.evict(1), 1);
  EXPECT_EQ(cache.peek("", x, 12), 4);
  EXPECT_EQ(cache.peek("", y, 12), 12);
  // Hold y's path: nothing of it can go, whatever is asked.
  BlockTable hold(*pool);
  EXPECT_EQ(cache.match("", y, 12, hold), 12);
  EXPECT_EQ(cache.evict(100), 0);
  cache.check_invariants();
  EXPECT_EQ(cache.peek("", y, 12), 12);
  hold.clear();
  EXPECT_EQ(cache.evict(100), 3);
  EXPECT_EQ(cache.n_nodes(), 0);
  EXPECT_EQ(pool->n_free(), 16);
  cache.check_invariants();
}

TEST(RadixCache, AllocationFallsBackToEvictingLeastRecentlyReleased) {
  auto pool = make_pool(4);
  RadixCache cache(*pool);
  {
    BlockTable a(*pool), b(*pool);
    compute(cache, "", iota(0, 8), a);
    compute(cache, "", iota(100, 8), b);
    a.clear();  // a first: a's blocks are the least recent
  }
  EXPECT_EQ(pool->n_free(), 0);
  EXPECT_EQ(pool->n_cached(), 4);
  EXPECT_EQ(pool->n_available(), 4);
  BlockTable c(*pool);
  EXPECT_EQ(c.blocks_needed(8), 2);
  ASSERT_TRUE(c.reserve(8));  // evicts a's two blocks (deepest first)
  cache.check_invariants();
  EXPECT_EQ(cache.peek("", iota(0, 8), 8), 0);
  EXPECT_EQ(cache.peek("", iota(100, 8), 8), 8);
  EXPECT_FALSE(c.reserve(20));  // 5 blocks: more than the pool; nothing changes
  EXPECT_EQ(cache.n_nodes(), 2);
  ASSERT_TRUE(c.reserve(16));
  EXPECT_EQ(cache.n_nodes(), 0);
  EXPECT_EQ(pool->allocate(), -1);
  cache.check_invariants();
}

TEST(RadixCache, NamespacesNeverShareBlocks) {
  auto pool = make_pool(16);
  RadixCache cache(*pool);
  auto t = iota(0, 8);
  BlockTable a(*pool), b(*pool), c(*pool);
  compute(cache, "llama|f16", t, a);
  EXPECT_EQ(cache.peek("qwen|f16", t, 8), 0);
  EXPECT_EQ(cache.match("qwen|f16", t, 7, b), 0);
  compute(cache, "qwen|f16", t, b);
  EXPECT_EQ(cache.n_nodes(), 4);
  EXPECT_EQ(cache.n_namespaces(), 2);
  EXPECT_NE(a.blocks()[0], b.blocks()[0]);
  EXPECT_EQ(cache.match("llama|f16", t, 7, c), 4);
  EXPECT_EQ(c.blocks()[0], a.blocks()[0]);
  c.clear();
  a.clear();
  EXPECT_EQ(cache.evict(2), 2);  // llama's tree empties: its namespace goes
  EXPECT_EQ(cache.n_namespaces(), 1);
  cache.check_invariants();
}

TEST(RadixCache, TheSamePrefixComputedTwiceKeepsOneCopy) {
  auto pool = make_pool(16);
  RadixCache cache(*pool);
  auto t = iota(0, 10);
  BlockTable a(*pool), b(*pool);
  // Both admitted before either was cached: each computes its own copy.
  ASSERT_TRUE(a.reserve(10));
  ASSERT_TRUE(b.reserve(10));
  EXPECT_EQ(pool->n_free(), 10);
  EXPECT_EQ(cache.insert("", t, 10, a), 2);
  EXPECT_EQ(cache.insert("", t, 10, b), 0);  // b takes the tree's blocks, its copies go free
  EXPECT_EQ(b.blocks()[0], a.blocks()[0]);
  EXPECT_EQ(b.blocks()[1], a.blocks()[1]);
  EXPECT_NE(b.blocks()[2], a.blocks()[2]);  // partial blocks stay private
  EXPECT_EQ(pool->n_free(), 12);
  cache.check_table("", a);
  cache.check_table("", b);
  cache.check_invariants();
}

TEST(RadixCache, InsertsIncrementallyAsBlocksFill) {
  auto pool = make_pool(16);
  RadixCache cache(*pool);
  auto t = iota(0, 13);
  BlockTable a(*pool);
  ASSERT_TRUE(a.reserve(5));
  EXPECT_EQ(cache.insert("", t, 3, a), 0);  // no full block yet
  EXPECT_EQ(cache.insert("", t, 5, a), 1);
  EXPECT_EQ(cache.insert("", t, 5, a), 0);
  ASSERT_TRUE(a.reserve(13));
  EXPECT_EQ(cache.insert("", t, 12, a), 2);
  EXPECT_EQ(a.n_cached_blocks(), 3);
  cache.check_table("", a);
  // Truncating drops the cached count with the blocks; never inside a cached (shared, full)
  // block, which would make it writable.
  EXPECT_DEATH(a.truncate(6), "inside a block the prefix cache holds");
  a.truncate(8);
  EXPECT_EQ(a.n_cached_blocks(), 2);
  cache.check_table("", a);
  cache.check_invariants();
}

TEST(RadixCache, DestructionGivesCachedBlocksBack) {
  auto pool = make_pool(8);
  BlockTable held(*pool);
  {
    RadixCache cache(*pool);
    BlockTable a(*pool);
    compute(cache, "", iota(0, 8), a);
    compute(cache, "", iota(0, 8), held);  // a duplicate: held ends up with a's blocks
    a.clear();
  }
  pool->check_invariants();
  EXPECT_EQ(pool->n_cached(), 0);
  EXPECT_EQ(pool->n_used(), 2);
  held.clear();
  EXPECT_EQ(pool->n_free(), 8);
  // A new cache can attach now.
  RadixCache again(*pool);
  again.check_invariants();
}

// ------------------------------------------------------------------------------------------------
// Property test: seeded random admit (match + reserve + compute + insert) / release / evict /
// peek, checked after every operation against a reference model that knows only what should be
// cached: the set of whole-block prefixes per namespace, how many live tables hold each, and when
// each was last released.

struct Reference {
  struct Entry {
    int32_t refs = 0;
    uint64_t released = 0;
  };
  using Key = std::pair<std::string, std::vector<int32_t>>;
  std::map<Key, Entry> cached;
  uint64_t clock = 0;
  int32_t n_private = 0;  // blocks tables own alone

  static Key key(const std::string& ns, const std::vector<int32_t>& t, int32_t n_blocks, int32_t bs) {
    return {ns, std::vector<int32_t>(t.begin(), t.begin() + n_blocks * bs)};
  }
  int32_t longest(const std::string& ns, const std::vector<int32_t>& t, int32_t n_max, int32_t bs) const {
    int32_t k = 0;
    while ((k + 1) * bs <= std::min<int32_t>(n_max, static_cast<int32_t>(t.size())) &&
           cached.count(key(ns, t, k + 1, bs)))
      k++;
    return k;
  }
  int32_t n_unreferenced() const {
    int32_t n = 0;
    for (const auto& [k, e] : cached) n += e.refs == 0;
    return n;
  }
  bool is_leaf(const Key& k, int32_t bs) const {
    for (const auto& [o, e] : cached) {
      if (o.first == k.first && o.second.size() == k.second.size() + static_cast<size_t>(bs) &&
          std::equal(k.second.begin(), k.second.end(), o.second.begin())) {
        return false;
      }
    }
    return true;
  }
  // The least recently released unreferenced leaf goes.
  void evict_one(int32_t bs) {
    auto best = cached.end();
    for (auto it = cached.begin(); it != cached.end(); ++it) {
      if (it->second.refs == 0 && is_leaf(it->first, bs) &&
          (best == cached.end() || it->second.released < best->second.released))
        best = it;
    }
    ASSERT_NE(best, cached.end());
    cached.erase(best);
  }
  // A table holding the first n_blocks cached prefixes of t lets go, deepest first.
  void release(const std::string& ns, const std::vector<int32_t>& t, int32_t n_blocks, int32_t bs) {
    for (int32_t b = n_blocks; b >= 1; b--) {
      Entry& e = cached.at(key(ns, t, b, bs));
      if (--e.refs == 0) e.released = ++clock;
    }
  }
};

struct Live {
  std::string ns;
  std::vector<int32_t> tokens;
  std::unique_ptr<BlockTable> table;
  int32_t n_computed = 0;
};

void check_against(const RadixCache& cache, const Reference& ref, const std::vector<Live>& live, int32_t bs) {
  cache.check_invariants();
  for (const Live& l : live) cache.check_table(l.ns, *l.table);
  const BlockPool& pool = cache.pool();
  ASSERT_EQ(cache.n_nodes(), static_cast<int32_t>(ref.cached.size()));
  ASSERT_EQ(pool.n_cached(), ref.n_unreferenced());
  ASSERT_EQ(pool.n_used(), ref.n_private + static_cast<int32_t>(ref.cached.size()) - ref.n_unreferenced());
  // Same count and every expected prefix present: the same set.
  for (const auto& [k, e] : ref.cached) {
    ASSERT_EQ(cache.peek(k.first, k.second, static_cast<int32_t>(k.second.size())),
              static_cast<int32_t>(k.second.size()));
  }
  (void)bs;
}

void run_property(uint32_t seed, int32_t n_blocks, int32_t bs, int n_ops) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
  auto pool = make_pool(n_blocks, bs);
  RadixCache cache(*pool);
  Reference ref;
  std::vector<Live> live;
  // Prompts grow out of a few stems over a 3-token alphabet: lots of shared prefixes.
  std::vector<std::vector<int32_t>> stems;
  for (int i = 0; i < 4; i++) {
    std::vector<int32_t> s;
    for (int j = 0; j < 3 * bs; j++) s.push_back(pick(3));
    stems.push_back(s);
  }
  auto random_tokens = [&] {
    std::vector<int32_t> t = stems[static_cast<size_t>(pick(4))];
    t.resize(static_cast<size_t>(pick(3 * bs) + 1));
    int extra = pick(3 * bs);
    for (int j = 0; j < extra; j++) t.push_back(pick(3));
    return t;
  };
  for (int op = 0; op < n_ops; op++) {
    int what = pick(10);
    std::string ns = pick(4) == 0 ? "b" : "a";
    if (what == 4 && !live.empty()) {  // a live table computes more and offers its new blocks
      Live& l = live[static_cast<size_t>(pick(static_cast<int>(live.size())))];
      int32_t len = static_cast<int32_t>(l.tokens.size());
      if (l.n_computed == len) continue;
      int32_t n_computed = l.n_computed + pick(len - l.n_computed) + 1;
      int32_t need = l.table->blocks_needed(n_computed);
      if (need > pool->n_available()) {
        ASSERT_FALSE(l.table->reserve(n_computed));
      } else {
        int32_t n_free_ref = n_blocks - ref.n_private - static_cast<int32_t>(ref.cached.size());
        for (int32_t e = 0; e < need - n_free_ref; e++) ref.evict_one(bs);
        ASSERT_TRUE(l.table->reserve(n_computed));
        ref.n_private += need;
        int32_t k = l.table->n_cached_blocks();
        cache.insert(l.ns, l.tokens, n_computed, *l.table);
        int32_t full = n_computed / bs;
        ASSERT_EQ(l.table->n_cached_blocks(), std::max(k, full));
        for (int32_t b = k + 1; b <= full; b++) {
          ref.cached[Reference::key(l.ns, l.tokens, b, bs)].refs++;
          ref.n_private--;  // cached now, or swapped for the tree's copy and freed
        }
        l.n_computed = n_computed;
      }
    } else if (what < 4) {  // admit: match, reserve, compute some or all, insert
      std::vector<int32_t> t = random_tokens();
      int32_t len = static_cast<int32_t>(t.size());
      auto table = std::make_unique<BlockTable>(*pool);
      int32_t want = ref.longest(ns, t, len - 1, bs);
      ASSERT_EQ(cache.match(ns, t, len - 1, *table), want * bs);
      for (int32_t b = 1; b <= want; b++) ref.cached.at(Reference::key(ns, t, b, bs)).refs++;
      int32_t need = table->blocks_needed(len);
      if (need > pool->n_available()) {
        ASSERT_FALSE(table->reserve(len));
        table->clear();
        ref.release(ns, t, want, bs);
      } else {
        int32_t n_free_ref = n_blocks - ref.n_private - static_cast<int32_t>(ref.cached.size());
        for (int32_t e = 0; e < need - n_free_ref; e++) ref.evict_one(bs);
        ASSERT_TRUE(table->reserve(len));
        int32_t n_computed = want * bs + pick(len - want * bs) + 1;
        int32_t full = n_computed / bs;
        cache.insert(ns, t, n_computed, *table);
        for (int32_t b = want + 1; b <= full; b++) ref.cached[Reference::key(ns, t, b, bs)].refs++;
        ASSERT_EQ(table->n_cached_blocks(), full);
        ref.n_private += static_cast<int32_t>(table->blocks().size()) - full;
        live.push_back({ns, t, std::move(table), n_computed});
      }
    } else if (what < 8 && !live.empty()) {  // release a live table
      size_t i = static_cast<size_t>(pick(static_cast<int>(live.size())));
      Live& l = live[i];
      int32_t k = l.table->n_cached_blocks();
      ref.n_private -= static_cast<int32_t>(l.table->blocks().size()) - k;
      l.table->clear();
      ref.release(l.ns, l.tokens, k, bs);
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
    } else if (what == 8) {  // explicit eviction
      int32_t n = pick(4);
      int32_t expect = std::min(n, ref.n_unreferenced());
      ASSERT_EQ(cache.evict(n), expect);
      for (int32_t e = 0; e < expect; e++) ref.evict_one(bs);
    } else if (what == 9 && !live.empty() && pick(2) == 0) {  // a table truncates (its prefix stays)
      Live& l = live[static_cast<size_t>(pick(static_cast<int>(live.size())))];
      int32_t n_positions = pick(static_cast<int>(l.tokens.size()) + 1);
      int32_t k = l.table->n_cached_blocks();
      if (n_positions < k * bs) n_positions -= n_positions % bs;  // never inside a cached block
      l.n_computed = std::min(l.n_computed, n_positions);
      int32_t keep = (n_positions + bs - 1) / bs;
      int32_t before = static_cast<int32_t>(l.table->blocks().size());
      l.table->truncate(n_positions);
      int32_t k_after = std::min(k, keep);
      ASSERT_EQ(l.table->n_cached_blocks(), k_after);
      ref.n_private -= (before - k) - (static_cast<int32_t>(l.table->blocks().size()) - k_after);
      for (int32_t b = k; b > k_after; b--) {
        Reference::Entry& e = ref.cached.at(Reference::key(l.ns, l.tokens, b, bs));
        if (--e.refs == 0) e.released = ++ref.clock;
      }
    } else {  // a lookup that changes nothing
      std::vector<int32_t> t = random_tokens();
      ASSERT_EQ(cache.peek(ns, t, static_cast<int32_t>(t.size())),
                ref.longest(ns, t, static_cast<int32_t>(t.size()), bs) * bs);
    }
    check_against(cache, ref, live, bs);
    if (::testing::Test::HasFatalFailure()) return;
  }
  for (Live& l : live) {
    ref.release(l.ns, l.tokens, l.table->n_cached_blocks(), bs);
    l.table->clear();
  }
  ref.n_private = 0;
  live.clear();
  check_against(cache, ref, live, bs);
  EXPECT_EQ(pool->n_used(), 0);
}

TEST(RadixCache, RandomOperationsMatchTheReferenceModel) {
  for (uint32_t seed = 1; seed <= 40; seed++) {
    run_property(seed, /*n_blocks=*/24, /*block_size=*/2, /*n_ops=*/400);
    if (HasFatalFailure()) return;
  }
  for (uint32_t seed = 100; seed <= 110; seed++) {
    run_property(seed, /*n_blocks=*/12, /*block_size=*/4, /*n_ops=*/400);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace parley::kv
