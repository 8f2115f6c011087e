#include "tensor/packed.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string_view>

#include "base/check.h"
#include "base/cpu.h"
#include "tensor/kernels.h"
#include "tensor/quant-blocks.h"

namespace parley {
namespace {

bool on_avx512(MatmulPath path) {
  if (path == MatmulPath::best) return cpu_path() == CpuPath::avx512;
  return path == MatmulPath::avx512 && matmul_path_available(path);
}

// Bytes of quants per block and their offset in a GGUF block.
struct Layout {
  size_t qs_bytes, qs_offset;
  uint32_t flip;  // xor-ed into 4 quant bytes at once (Q8_0: 0x80 each, signed -> unsigned)
};
Layout layout(DType t) {
  if (t == DType::q4_0) return {sizeof(BlockQ4_0::qs), offsetof(BlockQ4_0, qs), 0};
  return {sizeof(BlockQ8_0::qs), offsetof(BlockQ8_0, qs), 0x80808080u};
}

}  // namespace

bool can_pack(DType t, MatmulPath path) {
  if (t != DType::q4_0 && t != DType::q8_0) return false;
  return on_avx512(path) && kernels::avx512_packed_kernel(t) != nullptr;
}

size_t packed_record_bytes(DType t) { return static_cast<size_t>(kPackRows) * dtype_info(t).block_bytes; }

size_t packed_bytes(const WeightView& w) {
  const int64_t groups = (w.n_rows + kPackRows - 1) / kPackRows;
  return static_cast<size_t>(groups) * static_cast<size_t>(w.n_cols / kQK) * packed_record_bytes(w.type);
}

void pack_weights(const WeightView& w, uint8_t* out) {
  PARLEY_CHECK(w.type == DType::q4_0 || w.type == DType::q8_0);
  const Layout L = layout(w.type);
  const size_t block_bytes = dtype_info(w.type).block_bytes;
  const int64_t n_blocks = w.n_cols / kQK;
  const int64_t groups = (w.n_rows + kPackRows - 1) / kPackRows;
  const size_t record = packed_record_bytes(w.type);
  if (w.n_rows % kPackRows != 0) {  // the missing rows of the last group read as zeros
    std::memset(out + static_cast<size_t>((groups - 1) * n_blocks) * record, 0, static_cast<size_t>(n_blocks) * record);
  }
  for (int64_t g = 0; g < groups; g++) {
    for (int64_t b = 0; b < n_blocks; b++) {
      uint8_t* rec = out + static_cast<size_t>(g * n_blocks + b) * record;
      for (int64_t r = 0; r < kPackRows && g * kPackRows + r < w.n_rows; r++) {
        const uint8_t* blk = w.row(g * kPackRows + r) + static_cast<size_t>(b) * block_bytes;
        std::memcpy(rec + 2 * r, blk, 2);  // the fp16 scale (first in both block types)
        for (size_t k = 0; k < L.qs_bytes / 4; k++) {
          uint32_t q;
          std::memcpy(&q, blk + L.qs_offset + 4 * k, 4);
          q ^= L.flip;  // + 128 in each byte, modulo 256
          std::memcpy(rec + 2 * kPackRows + k * 4 * kPackRows + 4 * static_cast<size_t>(r), &q, 4);
        }
      }
    }
  }
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

bool PackedWeights::pack(WeightView& w, MatmulPath path) {
  if (w.packed != nullptr || !can_pack(w.type, path)) return false;
  const size_t n = packed_bytes(w);
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(64, (n + 63) / 64 * 64));
  PARLEY_CHECK_MSG(p != nullptr, "packing weights: out of memory");
  pack_weights(w, p);
  buffers_.emplace_back(p);
  bytes_ += n;
  w.packed = p;
  return true;
}

}  // namespace parley
