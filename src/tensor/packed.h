// Weights re-laid out once at load for a kernel that reads them faster than the GGUF layout.
//
// Today: Q4_0, Q8_0, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS and MXFP4 for the avx512 path (Q4_0 and Q8_0 for avx2 too), "16 rows interleaved". For each group of 16 rows
// and each 32-element block b, one record of 16 x the block's bytes holds
//   - the 16 rows' fp16 scales (32 bytes; MXFP4: the 16 E8M0 bytes), then
//   - the quants, 4 bytes of each row after another: bytes 4k..4k+3 of rows 0..15 form the
//     k-th 64-byte vector. Q4_0, IQ4_NL and MXFP4 keep their nibbles as stored (4 vectors);
//     Q8_0 stores q + 128 (unsigned, 8 vectors), so all run as unsigned x signed dot products
//     with an offset (IQ4_NL and MXFP4 look their nibbles up as levels plus a bias).
// Q4_K (256-element super-blocks) has records of 16 x 148 bytes: the 16 d (fp16, 32 bytes), the
// 16 dmin (32), the 8 sub-block scales unpacked to bytes (scale s of row r at 16 s + r, 128
// bytes), the 8 mins as byte pairs (mins 2i and 2i + 1 of row r at 32 i + 2 r, 128 bytes: one
// int16 pair a 32-bit lane once widened), then the 128 quant bytes as 32 vectors of 4 bytes x 16
// rows, in the GGUF order. Q5_K (16 x 180 bytes) is that plus, after the quants, its 32 qh
// bytes as 8 vectors of 4 bytes x 16 rows (512 bytes).
// IQ4_XS (16 x 138 bytes): the 16 d (32 bytes), the 8 sub-block scales as int8 (ls - 32; scale s
// of row r at 32 + 16 s + r, 128 bytes), then the 128 quant bytes as 32 vectors of 4 bytes x 16
// rows, in the GGUF order.
// Q6_K keeps its 16 x 210 bytes in its own element order: the 16 d (32 bytes), the 16 scales as
// int8 pairs (scales 2i and 2i + 1 of row r at 32 + 32 i + 2 r, 256 bytes), then for each quad
// u < 16 three vectors (row r at 4 r, byte j): the nibbles of elements 4u + j (low) and
// 128 + 4u + j (high), the nibbles of 64 + 4u + j and 192 + 4u + j, and the top 2 bits of
// elements 4u + j, 64 + 4u + j, 128 + 4u + j and 192 + 4u + j from bit 0 up — in the order the
// kernel reads them.
// One 512-bit load then holds the same 4 quants of 16 rows, 32-bit lane r = row r: the kernel
// (packed-avx512.cpp) needs no transposes and applies each block's scale to 16 rows at once.
// Rows past the matrix's last (a partial last group) are zero. Records of group g are
// consecutive: block b of group g is at (g * n_blocks + b) * packed_record_bytes(type).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "tensor/matmul.h"

namespace parley {

constexpr int64_t kPackRows = 16;

// True when `path` (resolved: best = the process's path) has a packed kernel for the type.
bool can_pack(DType t, MatmulPath path = MatmulPath::best);
// Bytes of one group record (16 rows x one block or super-block).
size_t packed_record_bytes(DType t);
// Bytes of the packed copy of a matrix.
size_t packed_bytes(const WeightView& w);
// Writes w's packed copy to out (packed_bytes(w) bytes). w's type must be packable.
void pack_weights(const WeightView& w, uint8_t* out);

// Whether models pack their weights at load (PARLEY_REPACK=0 says no; default yes).
bool repack_enabled();
// Drops the whole pages of [p, p + n) from this process's resident memory (MADV_DONTNEED; the
// page cache keeps them): for an original whose packed copy is used instead. Only for a
// read-only private file mapping, where a later read brings the same bytes back (on anonymous
// memory it would zero them).
void release_mapped_pages(const void* p, size_t n);

// Owns packed copies of a model's matrices.
class PackedWeights {
 public:
  // Packs w when its type has a packed kernel on `path` and sets w.packed; returns whether it
  // did. The original data stays where it was (row lookups and the other paths read it).
  bool pack(WeightView& w, MatmulPath path = MatmulPath::best);
  // pack() for many views, the copies written on up to n_threads threads (a model's load);
  // done(w) is called for each packed view once its copy is complete, on those threads.
  // Returns how many were packed.
  size_t pack_all(std::span<WeightView* const> ws, int n_threads, const std::function<void(const WeightView&)>& done,
                  MatmulPath path = MatmulPath::best);
  size_t bytes() const { return bytes_; }
  size_t count() const { return buffers_.size(); }

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  uint8_t* allocate(size_t n);
  std::vector<std::unique_ptr<uint8_t, Free>> buffers_;
  size_t bytes_ = 0;
};

}  // namespace parley
