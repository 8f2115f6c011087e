// The prefix cache on disk (`parley serve --cache-dir DIR`): cached prefixes outlive a restart,
// so the first turn of an agent session after one prefills only what differs from before.
//
// Files (prefix-file.h). A file is a segment of a root-to-node path of the radix tree: the
// path's tokens and the K/V of its blocks from first_block on, the earlier blocks being in its
// parent file. A snapshot writes, for each tree leaf not on disk yet, only the blocks below the
// longest prefix of its path that the directory already holds, so a session that grows turn by
// turn becomes a chain of files and nothing is written twice. Paths shorter than min_tokens are
// not written (their prefill is cheap).
//
// Index. open() reads the metadata of every *.pkv file (header, tokens, block sums; never the
// K/V), keeps those of this model and KV layout whose parents are there, and skips the rest with
// a warning: corrupt (bad magic/version/size/metadata checksum/key), another model or KV layout,
// orphaned (parent missing). The index is a tree of segments per namespace held in memory (own
// tokens only, so its size is the directory's token count, not the paths'), and a request's
// longest disk prefix is found by walking it like the radix tree.
//
// Loading is lazy, on the engine thread, at admission (extend): when the disk holds more whole
// blocks of a prompt than the radix tree, the missing blocks are read with preadv straight into
// freshly allocated pool blocks, each checked against its XXH64 before it is used, then inserted
// into the tree as if prefilled, so the normal match takes them and usage counts them as cached.
// A block whose sum fails drops that file and its descendants from the index (warning); the blocks
// before it are kept. Cost: the disk (or page cache) read plus XXH64, far below a prefill.
//
// Writing. snapshot() runs on the engine thread between steps (periodically and at shutdown): it
// pins each path to write with a BlockTable (the blocks of a tree path are full and never written
// again; the pins keep them from eviction), and a writer thread writes the files (sums, temporary
// file, fsync, rename, fsync of the directory) straight from the pool; poll() then releases the
// pins and indexes the new files. Only one snapshot is in flight at a time.
//
// Size. The files of this model and layout are kept under max_bytes: after a snapshot (and at
// open) the least recently used leaf files (by write or load, file mtime across restarts) are
// deleted, a parent only after its children.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "base/sha256.h"
#include "kv/block-pool.h"
#include "kv/prefix-file.h"
#include "kv/radix-cache.h"

namespace parley::kv {

struct DiskCacheOptions {
  std::string dir;
  uint64_t max_bytes = 20ull << 30;  // this model's files, all together
  int32_t min_tokens = 256;          // shortest path written
};

struct DiskCacheStats {
  // open()
  int32_t n_indexed = 0;         // files of this model and KV layout
  int64_t n_tokens_indexed = 0;  // their blocks' tokens (each block counted once)
  uint64_t bytes_indexed = 0;
  int32_t n_corrupt = 0;  // unreadable or inconsistent files
  int32_t n_foreign = 0;  // another model or KV layout
  int32_t n_orphans = 0;  // parent file missing (deleted)
  // Since open.
  int64_t n_loads = 0;  // admissions that read blocks from disk
  int64_t n_tokens_loaded = 0;
  uint64_t bytes_loaded = 0;
  double load_seconds = 0;
  int64_t n_files_written = 0;
  uint64_t bytes_written = 0;
  int64_t n_files_deleted = 0;  // for the size bound
  int64_t n_files_dropped = 0;  // found corrupt while loading, or their writes failed
};

class DiskCache {
 public:
  // Creates the directory when missing and indexes it. An error only when the directory cannot
  // be used; bad files are skipped (and counted in stats()).
  static Result<std::unique_ptr<DiskCache>> open(const DiskCacheOptions& options, const Sha256Digest& model,
                                                 RadixCache& cache);
  // Waits for a snapshot in flight and releases its pins (call snapshot(true) first to write).
  ~DiskCache();
  DiskCache(const DiskCache&) = delete;
  DiskCache& operator=(const DiskCache&) = delete;

  // Admission (engine thread): `table` holds the radix match of tokens (whole blocks, its
  // n_cached_blocks). When the disk has more whole blocks of tokens[0, n_max), loads them as far
  // as the pool has room (leaving one block), inserts them into the tree and appends them to
  // table. Returns the number of tokens table now covers.
  int32_t extend(std::string_view ns, std::span<const int32_t> tokens, int32_t n_max, BlockTable& table);

  // Writes the tree's paths that are not on disk yet (engine thread). wait: block until written
  // and applied (shutdown); otherwise the writer thread works and poll() applies the result. A
  // snapshot already in flight makes a non-waiting call a no-op.
  void snapshot(bool wait);
  // Applies a finished snapshot: releases its pins, indexes its files, bounds the directory.
  // Cheap when there is nothing to apply.
  void poll();
  // The writer finished a snapshot that poll() has not applied yet.
  bool written() const { return written_.load(std::memory_order_acquire); }
  // Called on the writer thread after it finished a snapshot (the engine wakes its loop).
  void set_on_written(std::function<void()> fn) { on_written_ = std::move(fn); }

  const DiskCacheStats& stats() const { return stats_; }
  const DiskCacheOptions& options() const { return options_; }
  // Live (written, not dropped) files in the index.
  int32_t n_files() const;
  // The index's own consistency (tests): parents before children, children branch inside their
  // parent, byte total. Aborts on a broken one.
  void check_invariants() const;

 private:
  struct Entry {
    uint64_t key = 0;
    int32_t ns = -1;
    int32_t parent = -1;
    std::vector<int32_t> children;
    int32_t first_block = 0;
    int32_t n_blocks = 0;
    std::vector<int32_t> tokens;       // own blocks [first_block, n_blocks)
    std::vector<uint64_t> block_sums;  // the same blocks
    uint64_t meta_bytes = 0;
    uint64_t file_bytes = 0;
    uint64_t last_use = 0;  // a tick: larger is more recent
    bool live = true;
    bool pending = false;  // being written: found by snapshots, not loaded
  };
  struct Job {
    int32_t entry = -1;
    PrefixMeta meta;
    std::vector<BlockId> blocks;  // pool blocks of the held blocks
    BlockTable pin;               // the whole path, pinned while the writer reads it
    Status status;
  };
  struct Match {
    int32_t entry = -1;
    int32_t n_blocks = 0;
  };

  DiskCache(const DiskCacheOptions& options, const KvIdentity& id, RadixCache& cache);
  void index_directory();
  int32_t ns_index(std::string_view ns, bool add);
  int32_t add_entry(const PrefixMeta& meta, int32_t parent, bool pending);
  bool prefix_matches(int32_t parent, std::span<const int32_t> tokens, int32_t n_blocks) const;
  Match find(int32_t ns, std::span<const int32_t> tokens, int32_t n_blocks, bool with_pending) const;
  // The entry of e's chain that holds block b.
  int32_t holder(int32_t e, int32_t b) const;
  // Drops e and its descendants from the index, deleting their files.
  void drop(int32_t e, bool count_as_dropped);
  void bound_size();
  std::string path_of(uint64_t key) const;
  void writer_loop();

  DiskCacheOptions options_;
  KvIdentity id_;
  RadixCache* cache_;
  BlockPool* pool_;
  std::vector<std::string> namespaces_;
  std::vector<Entry> entries_;  // dead entries stay (indices are stable)
  std::vector<int32_t> roots_;  // entries with first_block == 0
  std::unordered_map<uint64_t, int32_t> by_key_;
  uint64_t bytes_live_ = 0;  // written live entries
  uint64_t tick_ = 0;
  DiskCacheStats stats_;
  // Reused buffers (engine thread).
  std::vector<BlockId> leaves_;
  std::vector<int32_t> path_tokens_;

  // The snapshot in flight: jobs_ belongs to the writer from hand-off until written_.
  std::vector<std::unique_ptr<Job>> jobs_;
  bool in_flight_ = false;
  std::atomic<bool> written_{false};
  std::function<void()> on_written_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool work_ = false;  // guarded by mutex_
  bool stop_ = false;  // guarded by mutex_
  std::thread writer_;
};

}  // namespace parley::kv
