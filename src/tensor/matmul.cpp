#include "tensor/matmul.h"

#include <vector>

#include "tensor/quant.h"

namespace parley {

void matmul_reference(const WeightView& w, const float* x, int64_t n_tokens, float* y) {
  std::vector<float> row(static_cast<size_t>(w.n_cols));
  for (int64_t r = 0; r < w.n_rows; r++) {
    dequantize_row(w.type, w.row(r), row.data(), w.n_cols);
    for (int64_t t = 0; t < n_tokens; t++) {
      const float* xt = x + t * w.n_cols;
      double sum = 0;
      for (int64_t c = 0; c < w.n_cols; c++) sum += static_cast<double>(row[c]) * xt[c];
      y[t * w.n_rows + r] = static_cast<float>(sum);
    }
  }
}

// First version: rows split across threads, each row dequantized once and dotted with every
// token. The kernel work replaces this with quantized dot products.
void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
  pool.parallel_for(w.n_rows, [&](int64_t begin, int64_t end, int) {
    std::vector<float> row(static_cast<size_t>(w.n_cols));
    for (int64_t r = begin; r < end; r++) {
      dequantize_row(w.type, w.row(r), row.data(), w.n_cols);
      for (int64_t t = 0; t < n_tokens; t++) {
        const float* xt = x + t * w.n_cols;
        float sum = 0;
        for (int64_t c = 0; c < w.n_cols; c++) sum += row[c] * xt[c];
        y[t * w.n_rows + r] = sum;
      }
    }
  });
}

}  // namespace parley
