// Matrix multiplication of stored weights with f32 activations — the operation that dominates
// inference time. Every weight type the engine reads goes through here.
//
// How it computes (the same way llama.cpp does, so logits agree to its tolerance): for quantized
// weights the activation rows are first rounded to 8-bit blocks — Q8 blocks of 32 with an f32
// scale for Q4_0/Q4_1/Q5_0/Q5_1/Q8_0, 256-element blocks with sums of 16 for the K-quants — and
// the products are integer dot products per block, scaled in f32. F32/F16/BF16 weights are
// multiplied with the f32 activations directly. Each output depends only on its own weight row
// and token row, never on the other tokens in the batch (up to float summation order).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/dtype.h"
#include "tensor/thread-pool.h"

namespace parley {

// A weight matrix as stored in GGUF: n_rows rows of n_cols elements (n_cols = ggml ne0, the
// contiguous dimension), each row dtype_row_bytes(type, n_cols) bytes. data must be 2-byte
// aligned (block scales are read as uint16_t); GGUF tensor data always is when the file's
// alignment is >= 2.
struct WeightView {
  DType type = DType::f32;
  const void* data = nullptr;
  int64_t n_rows = 0;
  int64_t n_cols = 0;
  size_t row_bytes = 0;
  // The same matrix re-laid out for the avx512 path's packed kernel (tensor/packed.h), or null.
  // matmul reads it on that path only; every other reader uses data.
  const uint8_t* packed = nullptr;
  const uint8_t* row(int64_t r) const { return static_cast<const uint8_t*>(data) + static_cast<size_t>(r) * row_bytes; }
};

// True when matmul supports the type (every type can_dequantize supports).
bool can_matmul(DType t);

// Reusable memory for matmul: the quantized activation rows and per-thread kernel scratch. It
// grows to the largest product seen and is then reused, so a warm engine step allocates
// nothing. Keep one per thread that calls matmul (it is not shared between concurrent calls).
class MatmulScratch {
 public:
  MatmulScratch();
  ~MatmulScratch();
  MatmulScratch(const MatmulScratch&) = delete;
  MatmulScratch& operator=(const MatmulScratch&) = delete;

  // Grows now for products of up to n_tokens x n_cols with n_threads (optional).
  void reserve(int64_t n_tokens, int64_t n_cols, int n_threads);
  // Aligned bytes for `bytes` (may reallocate; invalidates earlier pointers).
  void* acts(size_t bytes);
  float* thread_scratch(int thread, int64_t n_floats, int n_threads);
  size_t capacity_bytes() const;

 private:
  struct Buffers;
  std::unique_ptr<Buffers> buffers_;
};

// Kernel family: best = the process's path (base/cpu.h: the fastest the CPU runs, or the one
// PARLEY_CPU forces). The others exist so tests and benchmarks can compare each SIMD path with
// the scalar one on the same inputs; a path is available when the CPU runs it.
enum class MatmulPath { best, scalar, avx2, avx512 };
bool matmul_path_available(MatmulPath path);
const char* matmul_path_name(MatmulPath path);  // best resolves to the path it picks
MatmulPath matmul_path_resolved(MatmulPath path);  // best -> the process's path; others as given

// y[t][r] = sum_c w[r][c] * x[t][c] for t < n_tokens, r < n_rows.
// x is n_tokens x n_cols (row-major, stride n_cols), y is n_tokens x n_rows (stride n_rows).
void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            MatmulScratch& scratch, MatmulPath path = MatmulPath::best);
// Products of up to 8 weight matrices with the same activations (q, k and v; gate and up):
// x is quantized once and all their rows run as one parallel job (fewer wake-ups in decode).
// y[i] is n_tokens x w[i]->n_rows; the results are the same as separate matmul calls. All
// matrices must have the same n_cols; types whose activation formats differ (F16 next to
// Q8_0) are simply multiplied one after the other.
void matmul_multi(const WeightView* const* w, float* const* y, int n, const float* x, int64_t n_tokens,
                  ThreadPool& pool, MatmulScratch& scratch, MatmulPath path = MatmulPath::best);
// Same as matmul with the pool's own scratch (ThreadPool::matmul_scratch): allocation-free once
// warm.
void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool);

// Scalar reference: dequantize each row to f32 and dot with the f32 activations in double (no
// activation rounding). Tests compare matmul to it.
void matmul_reference(const WeightView& w, const float* x, int64_t n_tokens, float* y);

}  // namespace parley
