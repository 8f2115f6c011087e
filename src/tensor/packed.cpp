#include "tensor/packed.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <string_view>
#include <type_traits>

#include "base/check.h"
#include "base/memory.h"
#include "tensor/kernels.h"
#include "tensor/quant-blocks.h"

namespace parley {
namespace {

// Bytes of quants per block and their offset in a GGUF block.
struct Layout {
  size_t scale_bytes;  // the block's scale, first in the block (fp16, or MXFP4's E8M0 byte)
  size_t qs_bytes, qs_offset;
  uint32_t flip;  // xor-ed into 4 quant bytes at once (Q8_0: 0x80 each, signed -> unsigned)
};
Layout layout(DType t) {
  switch (t) {
    case DType::q4_0: return {2, sizeof(BlockQ4_0::qs), offsetof(BlockQ4_0, qs), 0};
    case DType::iq4_nl: return {2, sizeof(BlockIQ4_NL::qs), offsetof(BlockIQ4_NL, qs), 0};
    case DType::mxfp4: return {1, sizeof(BlockMXFP4::qs), offsetof(BlockMXFP4, qs), 0};
    default: return {2, sizeof(BlockQ8_0::qs), offsetof(BlockQ8_0, qs), 0x80808080u};
  }
}

// Calls fn(record, r, block) for row r (< 16, rows past the matrix skipped) of every 16-row
// group and each of its blocks: `block` is that row's GGUF block, `record` the group record
// it is packed into.
template <class Fn>
void for_each_record_row(const WeightView& w, uint8_t* out, Fn fn) {
  const DTypeInfo& info = dtype_info(w.type);
  const int64_t n_blocks = w.n_cols / info.block_elems;
  const int64_t groups = (w.n_rows + kPackRows - 1) / kPackRows;
  const size_t record = packed_record_bytes(w.type);
  for (int64_t g = 0; g < groups; g++) {
    for (int64_t b = 0; b < n_blocks; b++) {
      uint8_t* rec = out + static_cast<size_t>(g * n_blocks + b) * record;
      for (int64_t r = 0; r < kPackRows && g * kPackRows + r < w.n_rows; r++) {
        fn(rec, static_cast<size_t>(r), w.row(g * kPackRows + r) + static_cast<size_t>(b) * info.block_bytes);
      }
    }
  }
}

// Q4_K and Q5_K: see packed.h. The 6-bit scales and mins come out of their 12 packed bytes
// here, once; Q5_K's fifth bits follow the quants.
template <class Block>
void pack_q45_k(const WeightView& w, uint8_t* out) {
  constexpr bool kFifth = std::is_same_v<Block, BlockQ5_K>;
  for_each_record_row(w, out, [](uint8_t* rec, size_t r, const uint8_t* bytes) {
    const auto* blk = reinterpret_cast<const Block*>(bytes);
    std::memcpy(rec + 2 * r, &blk->d, 2);
    std::memcpy(rec + 32 + 2 * r, &blk->dmin, 2);
    for (int s = 0; s < 8; s++) {
      uint8_t sc, m;
      k_scale_min(s, blk->scales, &sc, &m);
      rec[64 + 16 * s + r] = sc;
      rec[192 + 32 * (s / 2) + 2 * r + s % 2] = m;
    }
    for (size_t v = 0; v < sizeof(blk->qs) / 4; v++) std::memcpy(rec + 320 + 64 * v + 4 * r, blk->qs + 4 * v, 4);
    if constexpr (kFifth) {
      for (size_t v = 0; v < sizeof(blk->qh) / 4; v++) std::memcpy(rec + 2368 + 64 * v + 4 * r, blk->qh + 4 * v, 4);
    }
  });
}

// Q6_K: see packed.h. q(e) is element e's 6-bit quant in GGUF order (BlockQ6_K).
void pack_q6_k(const WeightView& w, uint8_t* out) {
  for_each_record_row(w, out, [](uint8_t* rec, size_t r, const uint8_t* bytes) {
    const auto* blk = reinterpret_cast<const BlockQ6_K*>(bytes);
    uint8_t q[kQK_K];
    for (int e = 0; e < kQK_K; e++) {
      const int h = e / 128, k = (e % 128) / 32, l = e % 32;
      const int low = (blk->ql[64 * h + l + 32 * (k & 1)] >> (k >= 2 ? 4 : 0)) & 15;
      const int high = (blk->qh[32 * h + l] >> (2 * k)) & 3;
      q[e] = static_cast<uint8_t>(low | (high << 4));
    }
    std::memcpy(rec + 2 * r, &blk->d, 2);
    for (int s = 0; s < 16; s++) rec[32 + 32 * (s / 2) + 2 * r + s % 2] = static_cast<uint8_t>(blk->scales[s]);
    // Per quad u: nibble vectors u and 16 + u, then top-bit vector u (the kernel's read order).
    auto nibbles = [&](int e) { return static_cast<uint8_t>((q[e] & 15) | ((q[e + 128] & 15) << 4)); };
    for (int u = 0; u < 16; u++) {
      uint8_t* at = rec + 288 + 192 * u + 4 * r;
      for (int j = 0; j < 4; j++) {
        const int e = 4 * u + j;
        at[j] = nibbles(e);
        at[64 + j] = nibbles(e + 64);
        at[128 + j] = static_cast<uint8_t>((q[e] >> 4) | ((q[e + 64] >> 4) << 2) | ((q[e + 128] >> 4) << 4) |
                                           ((q[e + 192] >> 4) << 6));
      }
    }
  });
}

// IQ4_XS: see packed.h. The signed 6-bit sub-block scales come out of scales_l / scales_h here.
void pack_iq4_xs(const WeightView& w, uint8_t* out) {
  for_each_record_row(w, out, [](uint8_t* rec, size_t r, const uint8_t* bytes) {
    const auto* blk = reinterpret_cast<const BlockIQ4_XS*>(bytes);
    std::memcpy(rec + 2 * r, &blk->d, 2);
    for (int s = 0; s < 8; s++) rec[32 + 16 * s + r] = static_cast<uint8_t>(iq4xs_scale(s, blk->scales_h, blk->scales_l));
    for (size_t v = 0; v < sizeof(blk->qs) / 4; v++) std::memcpy(rec + 160 + 64 * v + 4 * r, blk->qs + 4 * v, 4);
  });
}

}  // namespace

namespace kernels {
Kernel packed_kernel(MatmulPath path, DType t) {
  switch (path) {
    case MatmulPath::avx512: return avx512_packed_kernel(t);
    case MatmulPath::avx2: return avx2_packed_kernel(t);
    default: return nullptr;
  }
}
}  // namespace kernels

bool can_pack(DType t, MatmulPath path) {
  // Only for a path this CPU runs: the copy is read on it.
  return matmul_path_available(path) && kernels::packed_kernel(matmul_path_resolved(path), t) != nullptr;
}

size_t packed_record_bytes(DType t) {
  // Q4_K and Q5_K add 4 bytes a row: their scales and mins unpacked to a byte each (12 -> 16);
  // IQ4_XS 2 (its 8 scales from 6 bytes to 8).
  const size_t row = dtype_info(t).block_bytes + (t == DType::q4_k || t == DType::q5_k ? 4 : t == DType::iq4_xs ? 2 : 0);
  return static_cast<size_t>(kPackRows) * row;
}

size_t packed_bytes(const WeightView& w) {
  const int64_t groups = (w.n_rows + kPackRows - 1) / kPackRows;
  const int64_t block = dtype_info(w.type).block_elems;
  return static_cast<size_t>(groups) * static_cast<size_t>(w.n_cols / block) * packed_record_bytes(w.type);
}

void pack_weights(const WeightView& w, uint8_t* out) {
  PARLEY_CHECK(w.type == DType::q4_0 || w.type == DType::q8_0 || w.type == DType::q4_k || w.type == DType::q5_k ||
               w.type == DType::q6_k || w.type == DType::iq4_nl || w.type == DType::mxfp4 || w.type == DType::iq4_xs);
  if (w.n_rows % kPackRows != 0) std::memset(out, 0, packed_bytes(w));  // missing rows read as zeros
  if (w.type == DType::q4_k) {
    pack_q45_k<BlockQ4_K>(w, out);
    return;
  }
  if (w.type == DType::q5_k) {
    pack_q45_k<BlockQ5_K>(w, out);
    return;
  }
  if (w.type == DType::q6_k) {
    pack_q6_k(w, out);
    return;
  }
  if (w.type == DType::iq4_xs) {
    pack_iq4_xs(w, out);
    return;
  }
  const Layout L = layout(w.type);
  for_each_record_row(w, out, [&](uint8_t* rec, size_t r, const uint8_t* blk) {
    std::memcpy(rec + L.scale_bytes * r, blk, L.scale_bytes);  // the scale (first in every block type)
    for (size_t k = 0; k < L.qs_bytes / 4; k++) {
      uint32_t q;
      std::memcpy(&q, blk + L.qs_offset + 4 * k, 4);
      q ^= L.flip;  // + 128 in each byte, modulo 256
      std::memcpy(rec + L.scale_bytes * kPackRows + k * 4 * kPackRows + 4 * r, &q, 4);
    }
  });
}

bool repack_enabled() {
  const char* v = std::getenv("PARLEY_REPACK");
  return v == nullptr || std::string_view(v) != "0";
}

void release_mapped_pages(const void* p, size_t n) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t b = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  const uintptr_t e = (reinterpret_cast<uintptr_t>(p) + n) / page * page;
  if (e > b) (void)madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
}

void PackedWeights::Free::operator()(uint8_t* p) const { std::free(p); }

uint8_t* PackedWeights::allocate(size_t n) {
  auto* p = static_cast<uint8_t*>(allocate_large(n));
  PARLEY_CHECK_MSG(p != nullptr, "packing weights: out of memory");
  buffers_.emplace_back(p);
  bytes_ += n;
  return p;
}

bool PackedWeights::pack(WeightView& w, MatmulPath path) {
  if (w.packed != nullptr || !can_pack(w.type, path)) return false;
  uint8_t* p = allocate(packed_bytes(w));
  pack_weights(w, p);
  w.packed = p;
  return true;
}

size_t PackedWeights::pack_all(std::span<WeightView* const> ws, int n_threads,
                               const std::function<void(const WeightView&)>& done, MatmulPath path) {
  // Buffers first (this object is not shared between threads), then the copies in parallel.
  std::vector<std::pair<WeightView*, uint8_t*>> jobs;
  for (WeightView* w : ws) {
    if (w->packed == nullptr && can_pack(w->type, path)) jobs.emplace_back(w, allocate(packed_bytes(*w)));
  }
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < jobs.size();) {
      auto [w, p] = jobs[i];
      pack_weights(*w, p);
      w->packed = p;
      if (done) done(*w);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < std::min<int>(n_threads, static_cast<int>(jobs.size())); t++) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  return jobs.size();
}

}  // namespace parley
