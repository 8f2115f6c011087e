// The prefix cache on disk without a model: pools whose blocks hold a known byte pattern, a radix
// cache over them, snapshots into a temp directory and loads into fresh pools (a restart).
#include "kv/disk-cache.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "support/test-support.h"

namespace parley::kv {
namespace {

constexpr int32_t kBs = 4;

std::unique_ptr<BlockPool> make_pool(DType type = DType::f32, int32_t n_blocks = 64) {
  auto p = BlockPool::create(PoolShape{2, 2, 4, kBs, n_blocks, type});
  EXPECT_TRUE(p.ok()) << p.error().message;
  return std::move(p).value();
}

Sha256Digest model_a() {
  return sha256("model a");
}

std::vector<int32_t> path(int32_t first, int32_t n_blocks) {
  std::vector<int32_t> t;
  for (int32_t i = 0; i < n_blocks * kBs; i++) t.push_back(first + i);
  return t;
}

// The bytes a block at path position b holding `tokens` gets, per layer and K/V.
uint8_t pattern(const std::vector<int32_t>& tokens, int32_t b, int32_t layer, int kv, size_t i) {
  return static_cast<uint8_t>(tokens[static_cast<size_t>(b * kBs)] * 31 + b * 7 + layer * 3 + kv * 5 +
                              static_cast<int>(i));
}

void fill(BlockPool& pool, BlockId id, const std::vector<int32_t>& tokens, int32_t b) {
  for (int32_t l = 0; l < pool.shape().n_layer; l++) {
    for (size_t i = 0; i < pool.block_bytes(); i++) {
      pool.k_layer(l)[static_cast<size_t>(id) * pool.block_bytes() + i] = pattern(tokens, b, l, 0, i);
      pool.v_layer(l)[static_cast<size_t>(id) * pool.block_bytes() + i] = pattern(tokens, b, l, 1, i);
    }
  }
}

bool holds(BlockPool& pool, BlockId id, const std::vector<int32_t>& tokens, int32_t b) {
  for (int32_t l = 0; l < pool.shape().n_layer; l++) {
    for (size_t i = 0; i < pool.block_bytes(); i++) {
      if (pool.k_layer(l)[static_cast<size_t>(id) * pool.block_bytes() + i] != pattern(tokens, b, l, 0, i))
        return false;
      if (pool.v_layer(l)[static_cast<size_t>(id) * pool.block_bytes() + i] != pattern(tokens, b, l, 1, i))
        return false;
    }
  }
  return true;
}

// A sequence that computed all of `tokens` (whole blocks): matches what the tree has, "computes"
// the rest (writes the pattern) and offers it to the tree; the table is released at the end.
void compute(RadixCache& cache, std::string_view ns, const std::vector<int32_t>& tokens) {
  BlockPool& pool = cache.pool();
  BlockTable t(pool);
  const int32_t n = static_cast<int32_t>(tokens.size());
  const int32_t have = cache.match(ns, tokens, n, t);
  ASSERT_TRUE(t.reserve(n));
  for (int32_t b = have / kBs; b < n / kBs; b++) fill(pool, t.blocks()[static_cast<size_t>(b)], tokens, b);
  cache.insert(ns, tokens, n, t);
  cache.check_invariants();
}

// One server lifetime: a pool, its radix cache and the disk cache on `dir`.
struct Server {
  explicit Server(const std::string& dir, DType type = DType::f32, Sha256Digest model = model_a(),
                  DiskCacheOptions o = {})
      : pool(make_pool(type)), cache(*pool) {
    o.dir = dir;
    if (o.min_tokens == DiskCacheOptions{}.min_tokens) o.min_tokens = 4 * kBs;
    auto d = DiskCache::open(o, model, cache);
    EXPECT_TRUE(d.ok()) << d.error().message;
    disk = std::move(d).value();
  }
  // Admission of a prompt: radix match, then disk; returns the tokens covered and checks them.
  int32_t admit(std::string_view ns, const std::vector<int32_t>& prompt) {
    BlockTable t(*pool);
    const int32_t n_max = static_cast<int32_t>(prompt.size()) - 1;
    cache.match(ns, prompt, n_max, t);
    const int32_t n = disk->extend(ns, prompt, n_max, t);
    EXPECT_EQ(n, static_cast<int32_t>(t.blocks().size()) * kBs);
    for (int32_t b = 0; b < n / kBs; b++)
      EXPECT_TRUE(holds(*pool, t.blocks()[static_cast<size_t>(b)], prompt, b)) << b;
    cache.check_table(ns, t);
    cache.check_invariants();
    disk->check_invariants();
    return n;
  }
  std::unique_ptr<BlockPool> pool;
  RadixCache cache;
  std::unique_ptr<DiskCache> disk;  // last: destroyed first
};

std::vector<std::filesystem::path> files(const test::TempDir& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void flip_byte(const std::filesystem::path& p, uint64_t offset) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x40);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

std::vector<int32_t> with_suffix(std::vector<int32_t> t, int32_t n) {
  for (int32_t i = 0; i < n; i++) t.push_back(1000 + i);
  return t;
}

TEST(DiskCache, APrefixSurvivesARestart) {
  test::TempDir dir;
  const auto p = path(10, 6);
  {
    Server s(dir.path().string());
    compute(s.cache, "m", p);
    s.disk->snapshot(true);
    EXPECT_EQ(s.disk->stats().n_files_written, 1);
    s.disk->snapshot(true);  // nothing new: nothing rewritten
    EXPECT_EQ(s.disk->stats().n_files_written, 1);
    s.cache.check_invariants();
  }
  ASSERT_EQ(files(dir).size(), 1u);
  Server s(dir.path().string());
  EXPECT_EQ(s.disk->stats().n_indexed, 1);
  EXPECT_EQ(s.disk->stats().n_tokens_indexed, 24);
  EXPECT_EQ(s.admit("other namespace", with_suffix(p, 3)), 0);
  EXPECT_EQ(s.admit("m", with_suffix(p, 3)), 24);  // all 6 blocks from disk
  EXPECT_EQ(s.disk->stats().n_tokens_loaded, 24);
  EXPECT_EQ(s.admit("m", with_suffix(p, 3)), 24);  // now from the tree
  EXPECT_EQ(s.disk->stats().n_tokens_loaded, 24);
  EXPECT_EQ(s.admit("m", p), 20);  // the last token is left to compute
  auto diverging = p;
  diverging[13] = 999;  // inside block 3
  EXPECT_EQ(s.admit("m", diverging), 12);
  // Loaded blocks are marked as on disk: a snapshot writes nothing.
  s.disk->snapshot(true);
  EXPECT_EQ(s.disk->stats().n_files_written, 0);
}

TEST(DiskCache, AGrowingSessionIsAChainOfFilesWrittenOnce) {
  test::TempDir dir;
  const auto turn1 = path(10, 5);
  auto turn2 = turn1;
  for (int32_t i = 0; i < 3 * kBs; i++) turn2.push_back(500 + i);
  auto side = turn1;  // a branch off block 3
  side.resize(3 * kBs);
  for (int32_t i = 0; i < 2 * kBs; i++) side.push_back(700 + i);
  {
    Server s(dir.path().string());
    compute(s.cache, "m", turn1);
    s.disk->snapshot(true);
    compute(s.cache, "m", turn2);
    compute(s.cache, "m", side);
    s.disk->snapshot(true);
    EXPECT_EQ(s.disk->stats().n_files_written, 3);
  }
  ASSERT_EQ(files(dir).size(), 3u);
  uint64_t total = 0;
  for (const auto& f : files(dir)) total += std::filesystem::file_size(f);
  // Every block once: 5 + 3 + 2 blocks of 2 layers x K/V x 128 bytes, plus metadata.
  EXPECT_LT(total, 10u * 512 + 3 * 1024);
  Server s(dir.path().string());
  EXPECT_EQ(s.disk->stats().n_indexed, 3);
  EXPECT_EQ(s.admit("m", with_suffix(turn2, 1)), 32);  // 8 blocks from two files
  EXPECT_EQ(s.admit("m", with_suffix(side, 1)), 20);   // 3 from the tree, 2 from the side file
  EXPECT_EQ(s.disk->stats().n_tokens_loaded, 40);
}

TEST(DiskCache, ShortPathsAreNotWritten) {
  test::TempDir dir;
  Server s(dir.path().string());
  compute(s.cache, "m", path(10, 3));  // 12 tokens < min_tokens 16
  s.disk->snapshot(true);
  EXPECT_EQ(s.disk->stats().n_files_written, 0);
  EXPECT_TRUE(files(dir).empty());
}

TEST(DiskCache, ACorruptBlockIsNeverLoaded) {
  test::TempDir dir;
  const auto p = path(10, 6);
  {
    Server s(dir.path().string());
    compute(s.cache, "m", p);
    s.disk->snapshot(true);
  }
  const auto f = files(dir).at(0);
  const uint64_t size = std::filesystem::file_size(f);
  flip_byte(f, size - 512 - 17);  // inside block 4 of 6 (512 bytes a block, 5 is last)
  Server s(dir.path().string());
  EXPECT_EQ(s.disk->stats().n_indexed, 1);         // the metadata is fine
  EXPECT_EQ(s.admit("m", with_suffix(p, 1)), 16);  // blocks 0-3 check out; 4 does not
  EXPECT_EQ(s.disk->stats().n_files_dropped, 1);
  EXPECT_TRUE(files(dir).empty());                 // dropped from the index and the directory
  EXPECT_EQ(s.admit("m", with_suffix(p, 1)), 16);  // what was good stays in the tree
}

TEST(DiskCache, CorruptTruncatedAndForeignFilesAreSkippedAtStart) {
  test::TempDir dir;
  const auto p = path(10, 6);
  {
    Server s(dir.path().string());
    compute(s.cache, "m", p);
    compute(s.cache, "m", path(300, 5));
    compute(s.cache, "m", path(600, 5));
    s.disk->snapshot(true);
    EXPECT_EQ(s.disk->stats().n_files_written, 3);
  }
  auto fs = files(dir);
  ASSERT_EQ(fs.size(), 3u);
  flip_byte(fs[0], 20);  // the model digest in the header
  std::filesystem::resize_file(fs[1], std::filesystem::file_size(fs[1]) - 1);
  {
    std::ofstream junk(dir / "0123456789abcdef.pkv", std::ios::binary);
    junk << "not a cache file";
  }
  Server s(dir.path().string());
  EXPECT_EQ(s.disk->stats().n_indexed, 1);
  EXPECT_EQ(s.disk->stats().n_corrupt, 3);
  // Another model, or another KV type of the same model: the files are someone else's.
  {
    std::filesystem::remove(fs[0]);
    std::filesystem::remove(fs[1]);
    std::filesystem::remove(dir / "0123456789abcdef.pkv");
    Server other(dir.path().string(), DType::f32, sha256("model b"));
    EXPECT_EQ(other.disk->stats().n_indexed, 0);
    EXPECT_EQ(other.disk->stats().n_foreign, 1);
    EXPECT_EQ(other.admit("m", with_suffix(p, 1)), 0);
    Server f16(dir.path().string(), DType::f16);
    EXPECT_EQ(f16.disk->stats().n_foreign, 1);
  }
  EXPECT_EQ(files(dir).size(), 1u);  // skipped files of other identities are left alone
}

TEST(DiskCache, AFileWhoseParentIsGoneIsRemoved) {
  test::TempDir dir;
  const auto turn1 = path(10, 5);
  auto turn2 = with_suffix(turn1, 2 * kBs);
  std::filesystem::path first;
  {
    Server s(dir.path().string());
    compute(s.cache, "m", turn1);
    s.disk->snapshot(true);
    first = files(dir).at(0);
    compute(s.cache, "m", turn2);
    s.disk->snapshot(true);
  }
  ASSERT_EQ(files(dir).size(), 2u);
  std::filesystem::remove(first);
  Server s(dir.path().string());
  EXPECT_EQ(s.disk->stats().n_orphans, 1);
  EXPECT_EQ(s.disk->stats().n_indexed, 0);
  EXPECT_TRUE(files(dir).empty());
}

TEST(DiskCache, TheDirectoryStaysUnderItsBoundOldestLeafFirst) {
  test::TempDir dir;
  // One 6-block file is 6 * 512 bytes of K/V plus ~300 of metadata: room for two.
  DiskCacheOptions o;
  o.max_bytes = 7500;
  Server s(dir.path().string(), DType::f32, model_a(), o);
  for (int32_t k = 0; k < 4; k++) {
    compute(s.cache, "m", path(100 * (k + 1), 6));
    s.disk->snapshot(true);
  }
  EXPECT_EQ(s.disk->stats().n_files_written, 4);
  EXPECT_EQ(s.disk->stats().n_files_deleted, 2);
  EXPECT_EQ(s.disk->n_files(), 2);
  EXPECT_EQ(files(dir).size(), 2u);
  s.disk->check_invariants();
  Server again(dir.path().string(), DType::f32, model_a(), o);
  EXPECT_EQ(again.admit("m", with_suffix(path(400, 6), 1)), 24);  // the newest are kept
  EXPECT_EQ(again.admit("m", with_suffix(path(100, 6), 1)), 0);
}

TEST(DiskCache, MetadataParserNeverTrustsABadFile) {
  test::TempDir dir;
  {
    Server s(dir.path().string());
    compute(s.cache, "m", path(10, 5));
    s.disk->snapshot(true);
  }
  const std::string bytes = test::read_file(files(dir).at(0));
  auto meta = read_prefix_meta(files(dir).at(0).string());
  ASSERT_TRUE(meta.ok()) << meta.error().message;
  EXPECT_EQ(meta->ns, "m");
  EXPECT_EQ(meta->n_blocks, 5);
  EXPECT_EQ(meta->tokens, path(10, 5));
  EXPECT_EQ(meta->file_bytes(), bytes.size());
  const std::string enc = encode_prefix_meta(*meta);
  EXPECT_EQ(enc, bytes.substr(0, enc.size()));
  auto parse = [&](const std::string& b, uint64_t size) {
    return parse_prefix_meta({reinterpret_cast<const uint8_t*>(b.data()), b.size()}, size);
  };
  EXPECT_TRUE(parse(enc, bytes.size()).ok());
  EXPECT_NE(parse(enc, bytes.size() + 1).error().message.find("appended"), std::string::npos);
  EXPECT_NE(parse(enc.substr(0, 100), bytes.size()).error().message.find("shorter than the 128-byte header"),
            std::string::npos);
  // Every single-byte change of the metadata is refused (a checksum, a bound, or the key).
  for (size_t i = 0; i < enc.size(); i++) {
    std::string bad = enc;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    EXPECT_FALSE(parse(bad, bytes.size()).ok()) << "byte " << i;
  }
  // Random garbage never crashes and is never accepted.
  std::mt19937 rng(7);
  for (int k = 0; k < 2000; k++) {
    std::string bad = enc;
    for (int j = 0; j < 1 + k % 8; j++) bad[rng() % bad.size()] = static_cast<char>(rng());
    bad.resize(rng() % (bad.size() + 1));
    auto r = parse(bad, rng() % 2 ? bytes.size() : rng());
    if (r.ok()) {
      EXPECT_EQ(bad.substr(0, enc.size()), enc);
    }
  }
}

}  // namespace
}  // namespace parley::kv
