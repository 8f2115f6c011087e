// Matrix multiplication of stored weights with f32 activations — the operation that dominates
// inference time. Every weight type the engine reads goes through here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/dtype.h"
#include "tensor/thread-pool.h"

namespace parley {

// A weight matrix as stored in GGUF: n_rows rows of n_cols elements (n_cols = ggml ne0, the
// contiguous dimension), each row dtype_row_bytes(type, n_cols) bytes.
struct WeightView {
  DType type = DType::f32;
  const void* data = nullptr;
  int64_t n_rows = 0;
  int64_t n_cols = 0;
  size_t row_bytes = 0;
  const uint8_t* row(int64_t r) const { return static_cast<const uint8_t*>(data) + static_cast<size_t>(r) * row_bytes; }
};

// y[t][r] = sum_c w[r][c] * x[t][c] for t < n_tokens, r < n_rows.
// x is n_tokens x n_cols (row-major, stride n_cols), y is n_tokens x n_rows (stride n_rows).
void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool);

// Scalar reference: dequantize each row to f32 and dot in double. Tests compare matmul to it.
void matmul_reference(const WeightView& w, const float* x, int64_t n_tokens, float* y);

}  // namespace parley
