// Internal interface between matmul's driver (matmul.cpp: activation quantization, threading,
// scratch) and the per-ISA kernels (kernels-scalar.cpp, kernels-avx2*.cpp). Not for use outside
// src/tensor/ and its tests.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/dtype.h"
#include "tensor/matmul.h"

namespace parley::kernels {

// How a weight type wants its activations: raw f32 (F32/F16/BF16), Q8 in 32-element blocks
// (Q4_0..Q8_0) or Q8 in 256-element super-blocks with sums of 16 (K-quants).
enum class ActKind { f32, q8_32, q8_256 };
ActKind act_kind(DType t);

// Activations of n_tokens rows, ready for one weight family.
//   x: the f32 rows (n_tokens x n_cols), used directly by F32/F16/BF16.
//   Quantized kinds interleave tokens in groups of `group` (min(4, n_tokens)) so a kernel tile
//   of up to 4 tokens reads one stream: block b of token t is at qs_at(t, b), its scale at
//   d_at(t, b), (q8_32) d * the sum of its quants at s_at(t, b) (for weight types with an
//   offset) and (q8_256) its 16 sums of 16 quants at bsums_at(t, b).
// (The accessors are always inlined: the per-instruction-set kernel files must not emit shared
// out-of-line copies, even in unoptimized or sanitizer builds; see tests/support/isa-symbols.sh.)
struct Acts {
  ActKind kind = ActKind::f32;
  int64_t n_tokens = 0;
  int64_t n_cols = 0;
  int64_t n_blocks = 0;
  int64_t block_elems = 0;  // 32 or 256
  int64_t group = 1;
  const float* x = nullptr;
  int8_t* qs = nullptr;
  float* d = nullptr;
  float* s = nullptr;
  int16_t* bsums = nullptr;

  [[gnu::always_inline]] int64_t slot(int64_t t, int64_t b) const { return (t / group * n_blocks + b) * group + t % group; }
  [[gnu::always_inline]] int8_t* qs_at(int64_t t, int64_t b) const { return qs + slot(t, b) * block_elems; }
  [[gnu::always_inline]] float* d_at(int64_t t, int64_t b) const { return d + slot(t, b); }
  [[gnu::always_inline]] int16_t* bsums_at(int64_t t, int64_t b) const { return bsums + slot(t, b) * 16; }
  [[gnu::always_inline]] float* s_at(int64_t t, int64_t b) const { return s + slot(t, b); }
};

// Bytes of quantized activations (qs, d, s, bsums with their padding) for n_tokens x n_cols.
size_t acts_bytes(ActKind kind, int64_t n_tokens, int64_t n_cols);
// Lays out the activations of x in buffer (acts_bytes large); nothing is quantized yet.
Acts make_acts(ActKind kind, const float* x, int64_t n_tokens, int64_t n_cols, void* buffer);

// Floats of per-thread scratch a kernel may use for a row of n_cols.
int64_t kernel_scratch_floats(int64_t n_cols);

// Rows are processed in tiles of this many; thread ranges start at multiples of it.
constexpr int64_t kRowTile = 16;  // the packed kernels' 16-row groups (2 of the 8-row tiles)

// y[t * ldy + r] = row r of w . token t of a, for r in [r0, r1) and every token.
using Kernel = void (*)(const WeightView& w, int64_t r0, int64_t r1, const Acts& a, float* y,
                        int64_t ldy, float* scratch);

// nullptr when the path has no kernel for the type (or, for a SIMD path, when the build is not
// for x86). Call a SIMD path's functions only when the CPU runs it (base/cpu.h).
Kernel scalar_kernel(DType t);
Kernel avx2_kernel(DType t);    // kernels-avx2.cpp
Kernel avx512_kernel(DType t);  // kernels-avx512.cpp
// Kernels reading WeightView::packed (tensor/packed.h): Q4_0, Q8_0, Q4_K, Q5_K, Q6_K, IQ4_NL,
// IQ4_XS, MXFP4 (packed-avx512.cpp); Q4_0 and Q8_0 on the avx2 path (kernels-x86.inc).
Kernel avx512_packed_kernel(DType t);
Kernel avx2_packed_kernel(DType t);
// The packed kernel of a resolved path (avx512 or avx2) for the type, or nullptr (packed.cpp).
Kernel packed_kernel(MatmulPath path, DType t);
// Quantized activations for tokens [t0, t1); every path writes the same bytes.
void scalar_quantize_acts(const Acts& a, const float* x, int64_t t0, int64_t t1);
void avx2_quantize_acts(const Acts& a, const float* x, int64_t t0, int64_t t1);
void avx512_quantize_acts(const Acts& a, const float* x, int64_t t0, int64_t t1);

}  // namespace parley::kernels
