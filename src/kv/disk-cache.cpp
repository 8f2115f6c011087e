#include "kv/disk-cache.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "base/check.h"
#include "base/log.h"
#include "base/strings.h"

namespace parley::kv {
namespace fs = std::filesystem;

namespace {

std::string mib(uint64_t bytes) {
  return str_printf("%.1f MiB", static_cast<double>(bytes) / (1 << 20));
}

// A writer's temporary file ".NAME.pkv.tmp-PID" whose process is gone (it crashed mid-write).
bool stale_temp(const std::string& name) {
  if (name.empty() || name[0] != '.') return false;
  size_t at = name.rfind(".tmp-");
  if (at == std::string::npos) return false;
  char* end = nullptr;
  long pid = std::strtol(name.c_str() + at + 5, &end, 10);
  if (end == nullptr || *end != '\0' || pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace

DiskCache::DiskCache(const DiskCacheOptions& options, const KvIdentity& id, RadixCache& cache)
    : options_(options), id_(id), cache_(&cache), pool_(&cache.pool()) {}

Result<std::unique_ptr<DiskCache>> DiskCache::open(const DiskCacheOptions& options, const Sha256Digest& model,
                                                   RadixCache& cache) {
  if (options.dir.empty()) return Error{"the cache directory is empty"};
  if (options.min_tokens < 1) return Error{"the shortest prefix written must be at least one token"};
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec)
    return Error::fmt("cannot create the cache directory %s: %s", options.dir.c_str(), ec.message().c_str());
  if (!fs::is_directory(options.dir, ec)) return Error::fmt("%s is not a directory", options.dir.c_str());
  if (::access(options.dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    return Error::fmt("cache directory %s is not writable: %s", options.dir.c_str(), std::strerror(errno));
  }
  std::unique_ptr<DiskCache> d(new DiskCache(options, KvIdentity::of(model, cache.pool()), cache));
  d->index_directory();
  d->bound_size();
  d->writer_ = std::thread([raw = d.get()] { raw->writer_loop(); });
  return d;
}

DiskCache::~DiskCache() {
  if (in_flight_) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return written_.load(); });
  }
  poll();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

std::string DiskCache::path_of(uint64_t key) const {
  return options_.dir + "/" + prefix_file_name(key);
}

int32_t DiskCache::ns_index(std::string_view ns, bool add) {
  for (size_t i = 0; i < namespaces_.size(); i++) {
    if (namespaces_[i] == ns) return static_cast<int32_t>(i);
  }
  if (!add) return -1;
  namespaces_.emplace_back(ns);
  return static_cast<int32_t>(namespaces_.size() - 1);
}

int32_t DiskCache::n_files() const {
  return static_cast<int32_t>(
      std::count_if(entries_.begin(), entries_.end(), [](const Entry& e) { return e.live && !e.pending; }));
}

void DiskCache::index_directory() {
  struct Found {
    PrefixMeta meta;
    std::string path;
    int64_t mtime_ns = 0;
  };
  std::vector<Found> found;
  std::error_code ec;
  for (const fs::directory_entry& de : fs::directory_iterator(options_.dir, ec)) {
    const std::string name = de.path().filename().string();
    const std::string path = de.path().string();
    if (stale_temp(name)) {
      ::unlink(path.c_str());
      continue;
    }
    if (name.size() < 5 || name.compare(name.size() - 4, 4, ".pkv") != 0 || !de.is_regular_file(ec)) continue;
    Result<PrefixMeta> m = read_prefix_meta(path);
    if (!m) {
      log_warn("disk cache: skipping %s: %s", path.c_str(), m.error().message.c_str());
      stats_.n_corrupt++;
      continue;
    }
    if (m->id != id_) {
      // Another model's files may share the directory: only a different layout of this model is news.
      if (m->id.model == id_.model) {
        log_warn("disk cache: skipping %s: written for %s, this server has %s", path.c_str(),
                 m->id.describe().c_str(), id_.describe().c_str());
      } else {
        log_debug("disk cache: skipping %s: another model (%s)", path.c_str(), m->id.describe().c_str());
      }
      stats_.n_foreign++;
      continue;
    }
    if (name != prefix_file_name(m->key)) {
      log_warn("disk cache: skipping %s: its key says it is %s", path.c_str(),
               prefix_file_name(m->key).c_str());
      stats_.n_corrupt++;
      continue;
    }
    struct stat st {};
    int64_t mtime = 0;
    if (::stat(path.c_str(), &st) == 0) mtime = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
    found.push_back(Found{std::move(*m), path, mtime});
  }
  if (ec) log_warn("disk cache: listing %s: %s", options_.dir.c_str(), ec.message().c_str());
  // Parents start at smaller blocks than their children: indexing by first block sees each
  // parent before its children.
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    return a.meta.first_block != b.meta.first_block ? a.meta.first_block < b.meta.first_block
                                                    : a.path < b.path;
  });
  for (Found& f : found) {
    int32_t parent = -1;
    if (f.meta.first_block > 0) {
      auto it = by_key_.find(f.meta.parent_key);
      const Entry* p = it == by_key_.end() ? nullptr : &entries_[static_cast<size_t>(it->second)];
      if (p == nullptr || !p->live || namespaces_[static_cast<size_t>(p->ns)] != f.meta.ns ||
          p->first_block >= f.meta.first_block || f.meta.first_block > p->n_blocks ||
          !prefix_matches(it->second, f.meta.tokens, f.meta.first_block)) {
        // Its first blocks' K/V were in the parent: it can never be loaded.
        log_warn(
            "disk cache: removing %s: the file holding its first %d blocks (%s) is missing or does not match",
            f.path.c_str(), f.meta.first_block, prefix_file_name(f.meta.parent_key).c_str());
        ::unlink(f.path.c_str());
        stats_.n_orphans++;
        continue;
      }
      parent = it->second;
    }
    const int32_t e = add_entry(f.meta, parent, false);
    entries_[static_cast<size_t>(e)].last_use = static_cast<uint64_t>(std::max<int64_t>(f.mtime_ns, 0));
    tick_ = std::max(tick_, entries_[static_cast<size_t>(e)].last_use);
    stats_.n_indexed++;
    stats_.n_tokens_indexed += int64_t{f.meta.n_held()} * id_.block_size;
    stats_.bytes_indexed += f.meta.file_bytes();
  }
  const int32_t n_skipped = stats_.n_corrupt + stats_.n_foreign + stats_.n_orphans;
  log_info(
      "disk cache %s: indexed %d prefix files (%lld tokens, %s)%s", options_.dir.c_str(), stats_.n_indexed,
      static_cast<long long>(stats_.n_tokens_indexed), mib(stats_.bytes_indexed).c_str(),
      n_skipped == 0 ? ""
                     : str_printf("; skipped %d: %d corrupt, %d for another model or KV layout, %d orphaned",
                                  n_skipped, stats_.n_corrupt, stats_.n_foreign, stats_.n_orphans)
                           .c_str());
}

int32_t DiskCache::add_entry(const PrefixMeta& meta, int32_t parent, bool pending) {
  const size_t bs = static_cast<size_t>(id_.block_size);
  Entry e;
  e.key = meta.key;
  e.ns = ns_index(meta.ns, true);
  e.parent = parent;
  e.first_block = meta.first_block;
  e.n_blocks = meta.n_blocks;
  e.tokens.assign(
      meta.tokens.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(meta.first_block) * bs),
      meta.tokens.end());
  e.block_sums = meta.block_sums;
  e.meta_bytes = meta.meta_bytes();
  e.file_bytes = meta.file_bytes();
  e.last_use = ++tick_;
  e.pending = pending;
  const int32_t idx = static_cast<int32_t>(entries_.size());
  entries_.push_back(std::move(e));
  by_key_[meta.key] = idx;
  if (parent >= 0) {
    entries_[static_cast<size_t>(parent)].children.push_back(idx);
  } else {
    roots_.push_back(idx);
  }
  if (!pending) bytes_live_ += meta.file_bytes();
  return idx;
}

bool DiskCache::prefix_matches(int32_t e, std::span<const int32_t> tokens, int32_t n_blocks) const {
  const size_t bs = static_cast<size_t>(id_.block_size);
  int32_t upto = n_blocks;
  while (upto > 0) {
    if (e < 0) return false;
    const Entry& E = entries_[static_cast<size_t>(e)];
    if (E.n_blocks < upto || E.first_block >= upto) return false;
    const size_t lo = static_cast<size_t>(E.first_block) * bs, hi = static_cast<size_t>(upto) * bs;
    if (!std::equal(tokens.begin() + static_cast<std::ptrdiff_t>(lo),
                    tokens.begin() + static_cast<std::ptrdiff_t>(hi), E.tokens.begin())) {
      return false;
    }
    upto = E.first_block;
    e = E.parent;
  }
  return true;
}

DiskCache::Match DiskCache::find(int32_t ns, std::span<const int32_t> tokens, int32_t n_blocks,
                                 bool with_pending) const {
  const size_t bs = static_cast<size_t>(id_.block_size);
  Match best;
  std::vector<int32_t> stack;
  for (int32_t r : roots_) {
    if (entries_[static_cast<size_t>(r)].ns == ns) stack.push_back(r);
  }
  while (!stack.empty()) {
    const Entry& E = entries_[static_cast<size_t>(stack.back())];
    const int32_t e = stack.back();
    stack.pop_back();
    if (!E.live || (E.pending && !with_pending)) continue;
    // Blocks before E.first_block match already (through its ancestors).
    int32_t m = E.first_block;
    const int32_t lim = std::min(E.n_blocks, n_blocks);
    while (m < lim && std::memcmp(E.tokens.data() + static_cast<size_t>(m - E.first_block) * bs,
                                  tokens.data() + static_cast<size_t>(m) * bs, bs * sizeof(int32_t)) == 0) {
      m++;
    }
    if (m > E.first_block && m > best.n_blocks) best = Match{e, m};
    for (int32_t c : E.children) {
      if (entries_[static_cast<size_t>(c)].first_block <= m) stack.push_back(c);
    }
  }
  return best;
}

int32_t DiskCache::holder(int32_t e, int32_t b) const {
  while (entries_[static_cast<size_t>(e)].first_block > b) {
    e = entries_[static_cast<size_t>(e)].parent;
    PARLEY_CHECK(e >= 0);
  }
  return e;
}

void DiskCache::drop(int32_t root, bool count_as_dropped) {
  std::vector<int32_t> stack{root};
  while (!stack.empty()) {
    const int32_t e = stack.back();
    stack.pop_back();
    Entry& E = entries_[static_cast<size_t>(e)];
    if (!E.live) continue;
    E.live = false;
    ::unlink(path_of(E.key).c_str());
    if (!E.pending) bytes_live_ -= E.file_bytes;
    by_key_.erase(E.key);
    if (count_as_dropped) stats_.n_files_dropped++;
    for (int32_t c : E.children) stack.push_back(c);
  }
  Entry& R = entries_[static_cast<size_t>(root)];
  std::vector<int32_t>& siblings = R.parent >= 0 ? entries_[static_cast<size_t>(R.parent)].children : roots_;
  std::erase(siblings, root);
}

void DiskCache::bound_size() {
  while (bytes_live_ > options_.max_bytes) {
    // The least recently used file that no other file continues.
    int32_t victim = -1;
    for (size_t i = 0; i < entries_.size(); i++) {
      const Entry& E = entries_[i];
      if (!E.live || E.pending) continue;
      bool leaf = std::none_of(E.children.begin(), E.children.end(),
                               [&](int32_t c) { return entries_[static_cast<size_t>(c)].live; });
      if (leaf && (victim < 0 || E.last_use < entries_[static_cast<size_t>(victim)].last_use)) {
        victim = static_cast<int32_t>(i);
      }
    }
    if (victim < 0) break;
    log_debug("disk cache: deleting %s (over the %s bound)",
              path_of(entries_[static_cast<size_t>(victim)].key).c_str(), mib(options_.max_bytes).c_str());
    drop(victim, false);
    stats_.n_files_deleted++;
  }
}

int32_t DiskCache::extend(std::string_view ns, std::span<const int32_t> tokens, int32_t n_max,
                          BlockTable& table) {
  const int32_t bs = id_.block_size;
  const int32_t k = static_cast<int32_t>(table.blocks().size());
  PARLEY_CHECK(k == table.n_cached_blocks() && &table.pool() == pool_);
  const int32_t n_blk = std::min<int32_t>(n_max, static_cast<int32_t>(tokens.size())) / bs;
  if (k >= n_blk || roots_.empty()) return k * bs;
  const int32_t nsi = ns_index(ns, false);
  if (nsi < 0) return k * bs;
  const Match best = find(nsi, tokens, n_blk, false);
  // Leave a block for the rest of the prompt; what does not fit stays on disk.
  const int32_t m = std::min(best.n_blocks, k + std::max(0, pool_->n_available() - 1));
  if (m <= k) return k * bs;
  const auto t0 = std::chrono::steady_clock::now();
  PARLEY_CHECK(table.reserve(m * bs));
  PrefixReader reader;
  int32_t open_entry = -1, n_files = 0, loaded = k;
  for (int32_t b = k; b < m; b++) {
    const int32_t e = holder(best.entry, b);
    Entry& E = entries_[static_cast<size_t>(e)];
    const std::string path = path_of(E.key);
    Status s;
    if (e != open_entry) {
      s = reader.open(path, E.meta_bytes, E.file_bytes);
      if (s.ok()) {
        open_entry = e;
        n_files++;
        E.last_use = ++tick_;
        ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);  // the LRU order survives a restart
      }
    }
    const size_t held = static_cast<size_t>(b - E.first_block);
    if (s.ok())
      s = reader.read_block(static_cast<int32_t>(held), E.block_sums[held], *pool_,
                            table.blocks()[static_cast<size_t>(b)]);
    if (!s.ok()) {
      log_warn("disk cache: dropping %s and the files that continue it: %s", path.c_str(),
               s.error().message.c_str());
      drop(e, true);
      break;
    }
    loaded = b + 1;
  }
  reader.close();
  table.truncate(loaded * bs);
  if (loaded == k) return k * bs;
  cache_->insert(ns, tokens, loaded * bs, table);
  cache_->set_persisted_path(table.blocks()[static_cast<size_t>(loaded - 1)]);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const uint64_t bytes =
      static_cast<uint64_t>(loaded - k) * 2 * static_cast<uint64_t>(id_.n_layer) * id_.block_bytes;
  stats_.n_loads++;
  stats_.n_tokens_loaded += int64_t{loaded - k} * bs;
  stats_.bytes_loaded += bytes;
  stats_.load_seconds += seconds;
  log_info("disk cache: loaded %d tokens (%s) from %d files in %.1f ms", (loaded - k) * bs,
           mib(bytes).c_str(), n_files, seconds * 1000);
  return loaded * bs;
}

void DiskCache::snapshot(bool wait) {
  if (in_flight_) {
    if (!wait) return;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return written_.load(); });
    }
    poll();
  }
  const int32_t bs = id_.block_size;
  leaves_.clear();
  cache_->unpersisted_leaves(leaves_);
  for (BlockId leaf : leaves_) {
    const std::string_view ns = cache_->path_of(leaf, path_tokens_);
    const int32_t depth = static_cast<int32_t>(path_tokens_.size()) / bs;
    if (depth * bs < options_.min_tokens) continue;
    const int32_t nsi = ns_index(ns, true);
    // Earlier jobs of this snapshot count: two leaves that share new blocks write them once.
    const Match at = find(nsi, path_tokens_, depth, true);
    if (at.n_blocks == depth) {
      cache_->set_persisted_path(leaf);
      continue;
    }
    const uint64_t key = prefix_key(id_, ns, path_tokens_);
    if (by_key_.count(key) != 0) continue;  // a 64-bit collision with another path: keep that one
    auto job = std::make_unique<Job>(Job{-1, {}, {}, BlockTable(*pool_), {}});
    PARLEY_CHECK(cache_->match(ns, path_tokens_, depth * bs, job->pin) == depth * bs);
    PrefixMeta& meta = job->meta;
    meta.id = id_;
    meta.ns = std::string(ns);
    meta.key = key;
    meta.first_block = at.n_blocks;
    meta.parent_key = at.n_blocks > 0 ? entries_[static_cast<size_t>(at.entry)].key : 0;
    meta.n_blocks = depth;
    meta.tokens = path_tokens_;
    meta.block_sums.assign(static_cast<size_t>(depth - at.n_blocks), 0);  // the writer fills them
    const auto& pinned = job->pin.blocks();
    job->blocks.assign(pinned.begin() + at.n_blocks, pinned.end());
    job->entry = add_entry(meta, at.n_blocks > 0 ? at.entry : -1, true);
    jobs_.push_back(std::move(job));
  }
  if (jobs_.empty()) return;
  in_flight_ = true;
  written_.store(false);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    work_ = true;
  }
  cv_.notify_all();
  if (wait) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return written_.load(); });
    }
    poll();
  }
}

void DiskCache::writer_loop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return work_ || stop_; });
      if (!work_) return;
      work_ = false;
    }
    for (auto& job : jobs_) job->status = write_prefix_file(options_.dir, job->meta, *pool_, job->blocks);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      written_.store(true, std::memory_order_release);
    }
    cv_.notify_all();
    if (on_written_) on_written_();
  }
}

void DiskCache::poll() {
  if (!in_flight_ || !written_.load(std::memory_order_acquire)) return;
  bool failed = false;
  const int64_t n_written_before = stats_.n_files_written;
  const uint64_t bytes_before = stats_.bytes_written;
  for (auto& job : jobs_) {
    Entry& E = entries_[static_cast<size_t>(job->entry)];
    // Jobs run in order, so a parent from this snapshot has been applied (or dropped) already.
    const bool parent_ok = E.parent < 0 || entries_[static_cast<size_t>(E.parent)].live;
    if (E.live && parent_ok && job->status.ok()) {
      E.pending = false;
      E.block_sums = job->meta.block_sums;
      E.last_use = ++tick_;
      bytes_live_ += E.file_bytes;
      stats_.n_files_written++;
      stats_.bytes_written += E.file_bytes;
      cache_->set_persisted_path(job->pin.blocks().back());
    } else {
      if (!job->status.ok()) {
        log_warn("disk cache: %s", job->status.error().message.c_str());
        failed = true;
      }
      ::unlink(path_of(job->meta.key).c_str());  // written after its parent was dropped, or half
      if (E.live) drop(job->entry, true);
    }
    job->pin.clear();
  }
  if (stats_.n_files_written > n_written_before) {
    log_info("disk cache: wrote %lld prefix files (%s)",
             static_cast<long long>(stats_.n_files_written - n_written_before),
             mib(stats_.bytes_written - bytes_before).c_str());
  }
  jobs_.clear();
  in_flight_ = false;
  written_.store(false);
  // A failed path may have been marked persisted through a pending parent: recheck every leaf.
  if (failed) cache_->clear_persisted();
  bound_size();
}

void DiskCache::check_invariants() const {
  uint64_t bytes = 0;
  for (size_t i = 0; i < entries_.size(); i++) {
    const Entry& E = entries_[i];
    if (!E.live) continue;
    PARLEY_CHECK_MSG(by_key_.count(E.key) == 1 && by_key_.at(E.key) == static_cast<int32_t>(i),
                     "disk index key map wrong");
    PARLEY_CHECK(E.tokens.size() ==
                 static_cast<size_t>(E.n_blocks - E.first_block) * static_cast<size_t>(id_.block_size));
    PARLEY_CHECK(E.block_sums.size() == static_cast<size_t>(E.n_blocks - E.first_block));
    if (!E.pending) bytes += E.file_bytes;
    if (E.parent < 0) {
      PARLEY_CHECK_MSG(
          E.first_block == 0 && std::count(roots_.begin(), roots_.end(), static_cast<int32_t>(i)) == 1,
          "disk index root wrong");
      continue;
    }
    const Entry& P = entries_[static_cast<size_t>(E.parent)];
    PARLEY_CHECK_MSG(P.live && (E.pending || !P.pending), "disk index entry under a dead or pending parent");
    PARLEY_CHECK_MSG(P.ns == E.ns && P.first_block < E.first_block && E.first_block <= P.n_blocks,
                     "disk index child does not branch inside its parent");
    PARLEY_CHECK_MSG(std::count(P.children.begin(), P.children.end(), static_cast<int32_t>(i)) == 1,
                     "disk index child list wrong");
  }
  PARLEY_CHECK_MSG(bytes == bytes_live_, "disk index byte total wrong");
}

}  // namespace parley::kv
