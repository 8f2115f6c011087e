#include "kv/prefix-file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>

#include "base/check.h"
#include "base/strings.h"
#include "base/xxh64.h"

namespace parley::kv {
namespace {

static_assert(std::endian::native == std::endian::little, "the prefix file format is little-endian");

constexpr char kMagic[8] = {'P', 'R', 'L', 'Y', 'K', 'V', 'C', '\0'};
constexpr uint64_t kSumOffset = 104;  // the metadata sum inside the header
// Bounds on what a header may claim (far above any real model; they keep every size in 64 bits).
constexpr uint32_t kMaxBlockSize = 4096;
constexpr uint32_t kMaxLayers = 4096;
constexpr uint32_t kMaxHeads = 4096;
constexpr uint32_t kMaxHeadDim = 65536;
constexpr uint32_t kMaxNsBytes = 4096;
constexpr uint64_t kMaxBlockBytes = 1ull << 32;
constexpr uint64_t kMaxTokens = 1ull << 24;

void put32(std::string& out, size_t at, uint32_t v) {
  std::memcpy(&out[at], &v, 4);
}
void put64(std::string& out, size_t at, uint64_t v) {
  std::memcpy(&out[at], &v, 8);
}
uint32_t get32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t get64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

std::string errno_text() {
  return std::strerror(errno);
}

Status write_all(int fd, const void* p, size_t n, const std::string& path) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return Error::fmt("writing %s: %s", path.c_str(), errno_text().c_str());
    c += w;
    n -= static_cast<size_t>(w);
  }
  return {};
}

// Writes (or reads, with preadv) all of iov, resuming after partial transfers.
template <class Fn>
bool transfer_all(std::vector<iovec>& iov, Fn&& fn) {
  size_t i = 0;
  while (i < iov.size()) {
    ssize_t n = fn(iov.data() + i, static_cast<int>(std::min<size_t>(iov.size() - i, IOV_MAX)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    size_t left = static_cast<size_t>(n);
    while (i < iov.size() && left >= iov[i].iov_len) {
      left -= iov[i].iov_len;
      i++;
    }
    if (left > 0) {
      iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + left;
      iov[i].iov_len -= left;
    }
  }
  return true;
}

// The K/V bytes of one pool block as (layer 0 K, layer 0 V, layer 1 K, ...).
void block_iov(BlockPool& pool, BlockId id, std::vector<iovec>& iov) {
  const size_t bb = pool.block_bytes();
  iov.clear();
  for (int32_t l = 0; l < pool.shape().n_layer; l++) {
    iov.push_back({pool.k_layer(l) + static_cast<size_t>(id) * bb, bb});
    iov.push_back({pool.v_layer(l) + static_cast<size_t>(id) * bb, bb});
  }
}

uint64_t block_sum(BlockPool& pool, BlockId id) {
  const size_t bb = pool.block_bytes();
  Xxh64 h;
  for (int32_t l = 0; l < pool.shape().n_layer; l++) {
    h.update(pool.k_layer(l) + static_cast<size_t>(id) * bb, bb);
    h.update(pool.v_layer(l) + static_cast<size_t>(id) * bb, bb);
  }
  return h.digest();
}

}  // namespace

KvIdentity KvIdentity::of(const Sha256Digest& model, const BlockPool& pool) {
  const PoolShape& s = pool.shape();
  return KvIdentity{model, s.type, s.block_size, s.n_layer, s.n_head_kv, s.head_dim, pool.block_bytes()};
}

std::string KvIdentity::describe() const {
  return str_printf("model %s, KV type %s, block size %d, %d layers x %d KV heads x %d, %llu bytes a block",
                    to_hex(model).substr(0, 16).c_str(), std::string(dtype_name(type)).c_str(), block_size,
                    n_layer, n_head_kv, head_dim, static_cast<unsigned long long>(block_bytes));
}

uint64_t PrefixMeta::meta_bytes() const {
  return kPrefixHeaderBytes + ns.size() +
         4 * static_cast<uint64_t>(n_blocks) * static_cast<uint64_t>(id.block_size) +
         8 * static_cast<uint64_t>(n_held());
}

uint64_t prefix_key(const KvIdentity& id, std::string_view ns, std::span<const int32_t> tokens) {
  Xxh64 h;
  h.update("parley prefix v1");
  h.update(id.model.data(), id.model.size());
  const uint64_t fields[6] = {static_cast<uint64_t>(id.type),     static_cast<uint64_t>(id.block_size),
                              static_cast<uint64_t>(id.n_layer),  static_cast<uint64_t>(id.n_head_kv),
                              static_cast<uint64_t>(id.head_dim), id.block_bytes};
  h.update(fields, sizeof(fields));
  const uint64_t n_ns = ns.size();
  h.update(&n_ns, 8);
  h.update(ns);
  h.update(tokens.data(), tokens.size() * sizeof(int32_t));
  const uint64_t k = h.digest();
  return k == 0 ? 1 : k;  // 0 means "no parent"
}

std::string prefix_file_name(uint64_t key) {
  return str_printf("%016llx.pkv", static_cast<unsigned long long>(key));
}

std::string encode_prefix_meta(const PrefixMeta& m) {
  PARLEY_CHECK(m.n_blocks > 0 && m.first_block >= 0 && m.first_block < m.n_blocks);
  PARLEY_CHECK(m.tokens.size() == static_cast<size_t>(m.n_blocks) * static_cast<size_t>(m.id.block_size));
  PARLEY_CHECK(m.block_sums.size() == static_cast<size_t>(m.n_held()));
  std::string out(m.meta_bytes(), '\0');
  std::memcpy(&out[0], kMagic, 8);
  put32(out, 8, kPrefixVersion);
  put32(out, 12, static_cast<uint32_t>(kPrefixHeaderBytes));
  std::memcpy(&out[16], m.id.model.data(), 32);
  put32(out, 48, static_cast<uint32_t>(m.id.type));
  put32(out, 52, static_cast<uint32_t>(m.id.block_size));
  put32(out, 56, static_cast<uint32_t>(m.id.n_layer));
  put32(out, 60, static_cast<uint32_t>(m.id.n_head_kv));
  put32(out, 64, static_cast<uint32_t>(m.id.head_dim));
  put32(out, 68, static_cast<uint32_t>(m.ns.size()));
  put64(out, 72, m.id.block_bytes);
  put32(out, 80, static_cast<uint32_t>(m.first_block));
  put32(out, 84, static_cast<uint32_t>(m.n_blocks));
  put64(out, 88, m.key);
  put64(out, 96, m.parent_key);
  size_t at = kPrefixHeaderBytes;
  std::memcpy(&out[at], m.ns.data(), m.ns.size());
  at += m.ns.size();
  std::memcpy(&out[at], m.tokens.data(), m.tokens.size() * 4);
  at += m.tokens.size() * 4;
  std::memcpy(&out[at], m.block_sums.data(), m.block_sums.size() * 8);
  put64(out, kSumOffset, xxh64(out));  // over everything with the sum field still 0
  return out;
}

Result<uint64_t> prefix_meta_bytes(std::span<const uint8_t> h, uint64_t file_size) {
  if (file_size < kPrefixHeaderBytes || h.size() < kPrefixHeaderBytes) {
    return Error::fmt("at byte 0: a file of %llu bytes is shorter than the %llu-byte header",
                      static_cast<unsigned long long>(file_size),
                      static_cast<unsigned long long>(kPrefixHeaderBytes));
  }
  const uint8_t* p = h.data();
  if (std::memcmp(p, kMagic, 8) != 0) return Error{"at byte 0: not a parley prefix-cache file (bad magic)"};
  if (get32(p + 8) != kPrefixVersion) {
    return Error::fmt("at byte 8: version %u, expected %u", get32(p + 8), kPrefixVersion);
  }
  if (get32(p + 12) != kPrefixHeaderBytes)
    return Error::fmt("at byte 12: header size %u, expected 128", get32(p + 12));
  if (!dtype_info(get32(p + 48))) return Error::fmt("at byte 48: unknown KV type id %u", get32(p + 48));
  struct Bound {
    uint64_t offset, lo, hi;
    const char* what;
  };
  const Bound bounds[] = {{52, 1, kMaxBlockSize, "block size"},     {56, 1, kMaxLayers, "layer count"},
                          {60, 1, kMaxHeads, "KV head count"},      {64, 1, kMaxHeadDim, "head size"},
                          {68, 0, kMaxNsBytes, "namespace length"}, {84, 1, kMaxTokens, "block count"}};
  for (const Bound& b : bounds) {
    const uint32_t v = get32(p + b.offset);
    if (v < b.lo || v > b.hi) {
      return Error::fmt("at byte %llu: %s %u is out of range [%llu, %llu]",
                        static_cast<unsigned long long>(b.offset), b.what, v,
                        static_cast<unsigned long long>(b.lo), static_cast<unsigned long long>(b.hi));
    }
  }
  const uint64_t block_bytes = get64(p + 72);
  if (block_bytes < 1 || block_bytes > kMaxBlockBytes) {
    return Error::fmt("at byte 72: block bytes %llu out of range",
                      static_cast<unsigned long long>(block_bytes));
  }
  const uint64_t block_size = get32(p + 52), n_layer = get32(p + 56), ns_bytes = get32(p + 68);
  const uint64_t first = get32(p + 80), n_blocks = get32(p + 84);
  if (n_blocks * block_size > kMaxTokens) {
    return Error::fmt("at byte 84: %llu blocks of %llu tokens is more than %llu tokens",
                      static_cast<unsigned long long>(n_blocks), static_cast<unsigned long long>(block_size),
                      static_cast<unsigned long long>(kMaxTokens));
  }
  if (first >= n_blocks) {
    return Error::fmt("at byte 80: first block %llu is not below the block count %llu",
                      static_cast<unsigned long long>(first), static_cast<unsigned long long>(n_blocks));
  }
  // Every factor is bounded above, so none of these overflows 64 bits.
  const uint64_t meta = kPrefixHeaderBytes + ns_bytes + 4 * n_blocks * block_size + 8 * (n_blocks - first);
  const uint64_t total = meta + (n_blocks - first) * 2 * n_layer * block_bytes;
  if (total != file_size) {
    return Error::fmt(
        "the header describes a file of %llu bytes, the file has %llu (truncated or appended to)",
        static_cast<unsigned long long>(total), static_cast<unsigned long long>(file_size));
  }
  return meta;
}

Result<PrefixMeta> parse_prefix_meta(std::span<const uint8_t> bytes, uint64_t file_size) {
  PARLEY_TRY(const uint64_t meta_bytes, prefix_meta_bytes(bytes, file_size));
  if (bytes.size() < meta_bytes) {
    return Error::fmt("at byte %zu: the metadata needs %llu bytes", bytes.size(),
                      static_cast<unsigned long long>(meta_bytes));
  }
  const uint8_t* p = bytes.data();
  Xxh64 h;
  const uint8_t zero[8] = {};
  h.update(p, kSumOffset);
  h.update(zero, 8);
  h.update(p + kSumOffset + 8, meta_bytes - kSumOffset - 8);
  if (h.digest() != get64(p + kSumOffset)) {
    return Error::fmt(
        "at byte %llu: metadata checksum mismatch (the header, tokens or block sums are corrupt)",
        static_cast<unsigned long long>(kSumOffset));
  }
  PrefixMeta m;
  std::memcpy(m.id.model.data(), p + 16, 32);
  m.id.type = static_cast<DType>(get32(p + 48));
  m.id.block_size = static_cast<int32_t>(get32(p + 52));
  m.id.n_layer = static_cast<int32_t>(get32(p + 56));
  m.id.n_head_kv = static_cast<int32_t>(get32(p + 60));
  m.id.head_dim = static_cast<int32_t>(get32(p + 64));
  m.id.block_bytes = get64(p + 72);
  const uint32_t ns_bytes = get32(p + 68);
  m.first_block = static_cast<int32_t>(get32(p + 80));
  m.n_blocks = static_cast<int32_t>(get32(p + 84));
  m.key = get64(p + 88);
  m.parent_key = get64(p + 96);
  size_t at = kPrefixHeaderBytes;
  m.ns.assign(reinterpret_cast<const char*>(p + at), ns_bytes);
  at += ns_bytes;
  m.tokens.resize(static_cast<size_t>(m.n_blocks) * static_cast<size_t>(m.id.block_size));
  std::memcpy(m.tokens.data(), p + at, m.tokens.size() * 4);
  for (size_t i = 0; i < m.tokens.size(); i++) {
    if (m.tokens[i] < 0) return Error::fmt("at byte %zu: token %d is negative", at + 4 * i, m.tokens[i]);
  }
  at += m.tokens.size() * 4;
  m.block_sums.resize(static_cast<size_t>(m.n_held()));
  std::memcpy(m.block_sums.data(), p + at, m.block_sums.size() * 8);
  if ((m.first_block == 0) != (m.parent_key == 0)) {
    return Error{"at byte 96: a parent file is named exactly when the file does not start at block 0"};
  }
  if (m.key != prefix_key(m.id, m.ns, m.tokens))
    return Error{"at byte 88: the key does not match the tokens"};
  return m;
}

Result<PrefixMeta> read_prefix_meta(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::fmt("cannot open: %s", errno_text().c_str());
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Error::fmt("cannot stat: %s", errno_text().c_str());
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  std::vector<uint8_t> head(kPrefixHeaderBytes);
  ssize_t n = ::pread(fd, head.data(), head.size(), 0);
  if (n < 0) return Error::fmt("cannot read: %s", errno_text().c_str());
  head.resize(static_cast<size_t>(n));
  PARLEY_TRY(const uint64_t meta_bytes, prefix_meta_bytes(head, size));
  std::vector<uint8_t> meta(meta_bytes);
  size_t got = 0;
  while (got < meta.size()) {
    ssize_t r = ::pread(fd, meta.data() + got, meta.size() - got, static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return Error::fmt("at byte %zu: short read", got);
    got += static_cast<size_t>(r);
  }
  return parse_prefix_meta(meta, size);
}

Status write_prefix_file(const std::string& dir, PrefixMeta& meta, BlockPool& pool,
                         std::span<const BlockId> blocks) {
  PARLEY_CHECK(blocks.size() == static_cast<size_t>(meta.n_held()));
  PARLEY_CHECK(meta.id.block_bytes == pool.block_bytes() && meta.id.n_layer == pool.shape().n_layer);
  meta.block_sums.resize(blocks.size());
  for (size_t i = 0; i < blocks.size(); i++) meta.block_sums[i] = block_sum(pool, blocks[i]);
  const std::string bytes = encode_prefix_meta(meta);
  const std::string name = prefix_file_name(meta.key);
  const std::string path = dir + "/" + name;
  // A hidden name the index never reads; the pid keeps two servers on one directory apart.
  const std::string tmp = dir + "/." + name + ".tmp-" + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error::fmt("cannot create %s: %s", tmp.c_str(), errno_text().c_str());
  Status s = write_all(fd, bytes.data(), bytes.size(), tmp);
  std::vector<iovec> iov;
  for (size_t i = 0; s.ok() && i < blocks.size(); i++) {
    block_iov(pool, blocks[i], iov);
    if (!transfer_all(iov, [&](const iovec* v, int n) { return ::writev(fd, v, n); })) {
      s = Error::fmt("writing %s: %s", tmp.c_str(), errno_text().c_str());
    }
  }
  if (s.ok() && ::fsync(fd) != 0) s = Error::fmt("fsync %s: %s", tmp.c_str(), errno_text().c_str());
  if (::close(fd) != 0 && s.ok()) s = Error::fmt("closing %s: %s", tmp.c_str(), errno_text().c_str());
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    s = Error::fmt("renaming %s to %s: %s", tmp.c_str(), path.c_str(), errno_text().c_str());
  }
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  // The rename itself is durable only once the directory is synced.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

PrefixReader::~PrefixReader() {
  close();
}

void PrefixReader::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status PrefixReader::open(const std::string& path, uint64_t meta_bytes, uint64_t file_bytes) {
  close();
  path_ = path;
  meta_bytes_ = meta_bytes;
  file_bytes_ = file_bytes;
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return Error::fmt("cannot open: %s", errno_text().c_str());
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || static_cast<uint64_t>(st.st_size) != file_bytes) {
    close();
    return Error{"the file changed size since it was indexed"};
  }
  return {};
}

Status PrefixReader::read_block(int32_t held_index, uint64_t sum, BlockPool& pool, BlockId dest) {
  PARLEY_CHECK(fd_ >= 0 && held_index >= 0);
  const uint64_t per_block = 2 * static_cast<uint64_t>(pool.shape().n_layer) * pool.block_bytes();
  uint64_t offset = meta_bytes_ + static_cast<uint64_t>(held_index) * per_block;
  PARLEY_CHECK(offset + per_block <= file_bytes_);
  std::vector<iovec> iov;
  block_iov(pool, dest, iov);
  if (!transfer_all(iov, [&](const iovec* v, int n) {
        ssize_t r = ::preadv(fd_, v, n, static_cast<off_t>(offset));
        if (r > 0) offset += static_cast<uint64_t>(r);
        return r;
      })) {
    return Error::fmt("block %d: short read", held_index);
  }
  if (block_sum(pool, dest) != sum)
    return Error::fmt("block %d: checksum mismatch (the K/V bytes are corrupt)", held_index);
  return {};
}

}  // namespace parley::kv
