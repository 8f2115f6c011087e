#include "tensor/matmul.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "base/check.h"
#include "tensor/kernels.h"
#include "tensor/quant-blocks.h"
#include "tensor/quant.h"

namespace parley {
namespace kernels {
namespace {

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

}  // namespace

ActKind act_kind(DType t) {
  switch (t) {
    case DType::q4_0: case DType::q4_1: case DType::q5_0: case DType::q5_1: case DType::q8_0:
      return ActKind::q8_32;
    case DType::q2_k: case DType::q3_k: case DType::q4_k: case DType::q5_k: case DType::q6_k:
      return ActKind::q8_256;
    default:
      return ActKind::f32;
  }
}

namespace {

// Sizes of the quantized activation arrays; tokens are padded to whole groups.
struct ActSizes {
  size_t qs, d, s, bsums;
};
ActSizes act_sizes(ActKind kind, int64_t n_tokens, int64_t n_cols) {
  const int64_t group = std::min<int64_t>(4, std::max<int64_t>(n_tokens, 1));
  const size_t n = static_cast<size_t>((n_tokens + group - 1) / group * group);
  const size_t c = static_cast<size_t>(n_cols);
  const size_t nb = c / (kind == ActKind::q8_32 ? kQK : kQK_K);
  ActSizes z{};
  z.qs = round_up(n * c, 64);
  z.d = round_up(n * nb * sizeof(float), 64);
  if (kind == ActKind::q8_32) z.s = round_up(n * nb * sizeof(float), 64);
  if (kind == ActKind::q8_256) z.bsums = round_up(n * (c / 16) * sizeof(int16_t), 64);
  return z;
}

}  // namespace

size_t acts_bytes(ActKind kind, int64_t n_tokens, int64_t n_cols) {
  if (kind == ActKind::f32) return 0;
  ActSizes z = act_sizes(kind, n_tokens, n_cols);
  return z.qs + z.d + z.s + z.bsums;
}

Acts make_acts(ActKind kind, const float* x, int64_t n_tokens, int64_t n_cols, void* buffer) {
  Acts a;
  a.kind = kind;
  a.n_tokens = n_tokens;
  a.n_cols = n_cols;
  a.x = x;
  if (kind == ActKind::f32) return a;
  a.block_elems = kind == ActKind::q8_32 ? kQK : kQK_K;
  a.n_blocks = n_cols / a.block_elems;
  a.group = std::min<int64_t>(4, std::max<int64_t>(n_tokens, 1));
  ActSizes z = act_sizes(kind, n_tokens, n_cols);
  uint8_t* p = static_cast<uint8_t*>(buffer);
  a.qs = reinterpret_cast<int8_t*>(p);
  a.d = reinterpret_cast<float*>(p + z.qs);
  if (kind == ActKind::q8_32) {
    a.s = reinterpret_cast<float*>(p + z.qs + z.d);
  } else {
    a.bsums = reinterpret_cast<int16_t*>(p + z.qs + z.d);
  }
  return a;
}

int64_t kernel_scratch_floats(int64_t n_cols) {
  // The scalar float kernel widens one row; the SIMD kernels keep per-block scales of a row tile.
  return n_cols + 2 * kRowTile * (n_cols / kQK + 1) + 64;
}

}  // namespace kernels

// ---- scratch ----------------------------------------------------------------------------------

namespace {

// A 64-byte aligned growable buffer (contents are not kept when it grows).
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  ~AlignedBuffer() { std::free(data_); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& o) noexcept : data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  void* get(size_t bytes) {
    if (bytes > size_) {
      std::free(data_);
      size_ = (std::max(bytes, size_ + size_ / 2) + 63) / 64 * 64;
      data_ = std::aligned_alloc(64, size_);
      PARLEY_CHECK_MSG(data_ != nullptr, "matmul scratch: out of memory");
    }
    return data_;
  }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace

struct MatmulScratch::Buffers {
  AlignedBuffer acts;
  std::vector<AlignedBuffer> threads;
};

MatmulScratch::MatmulScratch() : buffers_(std::make_unique<Buffers>()) {}
MatmulScratch::~MatmulScratch() = default;

void* MatmulScratch::acts(size_t bytes) { return buffers_->acts.get(std::max<size_t>(bytes, 64)); }

float* MatmulScratch::thread_scratch(int thread, int64_t n_floats, int n_threads) {
  PARLEY_CHECK(thread >= 0 && thread < n_threads);
  // Sized by the caller before the threads start, so workers never resize the vector.
  if (static_cast<int>(buffers_->threads.size()) < n_threads) buffers_->threads.resize(static_cast<size_t>(n_threads));
  return static_cast<float*>(buffers_->threads[static_cast<size_t>(thread)].get(static_cast<size_t>(n_floats) * sizeof(float)));
}

void MatmulScratch::reserve(int64_t n_tokens, int64_t n_cols, int n_threads) {
  acts(kernels::acts_bytes(kernels::ActKind::q8_32, n_tokens, n_cols));
  acts(kernels::acts_bytes(kernels::ActKind::q8_256, n_tokens, n_cols));
  for (int t = 0; t < n_threads; t++) thread_scratch(t, kernels::kernel_scratch_floats(n_cols), n_threads);
}

size_t MatmulScratch::capacity_bytes() const {
  size_t n = buffers_->acts.size();
  for (const auto& b : buffers_->threads) n += b.size();
  return n;
}

// ---- paths ------------------------------------------------------------------------------------

bool matmul_path_available(MatmulPath path) {
  switch (path) {
    case MatmulPath::best: case MatmulPath::scalar: return true;
    case MatmulPath::avx2:
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
      return true;
#else
      return false;
#endif
  }
  return false;
}

namespace {

MatmulPath resolve(MatmulPath path) {
  if (path != MatmulPath::best) return path;
  return matmul_path_available(MatmulPath::avx2) ? MatmulPath::avx2 : MatmulPath::scalar;
}

kernels::Kernel kernel_for(MatmulPath path, DType t) {
  switch (path) {
    case MatmulPath::avx2: return kernels::avx2_kernel(t);
    default: return kernels::scalar_kernel(t);
  }
}

void quantize(MatmulPath path, const kernels::Acts& a, const float* x, int64_t t0, int64_t t1) {
  if (path == MatmulPath::avx2) {
    kernels::avx2_quantize_acts(a, x, t0, t1);
  } else {
    kernels::scalar_quantize_acts(a, x, t0, t1);
  }
}

}  // namespace

const char* matmul_path_name(MatmulPath path) {
  switch (resolve(path)) {
    case MatmulPath::scalar: return "scalar";
#if (defined(__AVX512VNNI__) && defined(__AVX512VL__)) || defined(__AVXVNNI__)
    case MatmulPath::avx2: return "avx2+vnni";
#else
    case MatmulPath::avx2: return "avx2";
#endif
    default: return "?";
  }
}

bool can_matmul(DType t) { return can_dequantize(t); }

// ---- matmul -----------------------------------------------------------------------------------

void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            MatmulScratch& scratch, MatmulPath path) {
  PARLEY_CHECK_MSG(can_matmul(w.type), "matmul: unsupported weight type");
  PARLEY_CHECK(w.n_cols % static_cast<int64_t>(dtype_info(w.type).block_elems) == 0);
  PARLEY_CHECK(w.row_bytes == dtype_row_bytes(w.type, static_cast<uint64_t>(w.n_cols)));
  PARLEY_CHECK_MSG(reinterpret_cast<uintptr_t>(w.data) % 2 == 0, "matmul: weights must be 2-byte aligned");
  PARLEY_CHECK_MSG(matmul_path_available(path), "matmul: path not available on this CPU/build");
  if (n_tokens <= 0 || w.n_rows <= 0) return;
  path = resolve(path);
  kernels::Kernel kernel = kernel_for(path, w.type);
  if (kernel == nullptr) {  // a SIMD path without a kernel for this type falls back to scalar
    path = MatmulPath::scalar;
    kernel = kernels::scalar_kernel(w.type);
  }

  const int n_threads = pool.size();
  kernels::ActKind kind = kernels::act_kind(w.type);
  void* buffer = scratch.acts(kernels::acts_bytes(kind, n_tokens, w.n_cols));
  kernels::Acts acts = kernels::make_acts(kind, x, n_tokens, w.n_cols, buffer);
  // Grow every thread's scratch here, before the workers start; inside they only look it up.
  const int64_t scratch_floats = kernels::kernel_scratch_floats(w.n_cols);
  for (int t = 0; t < n_threads; t++) scratch.thread_scratch(t, scratch_floats, n_threads);

  if (kind != kernels::ActKind::f32) {
    if (n_tokens < 8 || n_threads == 1) {
      quantize(path, acts, x, 0, n_tokens);
    } else {
      pool.parallel_for_chunks(n_tokens, 8, [&](int64_t t0, int64_t t1, int) { quantize(path, acts, x, t0, t1); });
    }
  }
  // About 4 chunks per thread: threads that finish early (or were preempted) even out.
  const int64_t n_tiles = (w.n_rows + kernels::kRowTile - 1) / kernels::kRowTile;
  const int64_t grain = std::max<int64_t>(1, n_tiles / (4 * n_threads));
  pool.parallel_for_chunks(n_tiles, grain, [&](int64_t b, int64_t e, int thread) {
    int64_t r0 = b * kernels::kRowTile, r1 = std::min(e * kernels::kRowTile, w.n_rows);
    kernel(w, r0, r1, acts, y, w.n_rows, scratch.thread_scratch(thread, scratch_floats, n_threads));
  });
}

void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
  matmul(w, x, n_tokens, y, pool, pool.matmul_scratch());
}

void matmul_reference(const WeightView& w, const float* x, int64_t n_tokens, float* y) {
  std::vector<float> row(static_cast<size_t>(w.n_cols));
  for (int64_t r = 0; r < w.n_rows; r++) {
    dequantize_row(w.type, w.row(r), row.data(), w.n_cols);
    for (int64_t t = 0; t < n_tokens; t++) {
      const float* xt = x + t * w.n_cols;
      double sum = 0;
      for (int64_t c = 0; c < w.n_cols; c++) sum += static_cast<double>(row[static_cast<size_t>(c)]) * xt[c];
      y[t * w.n_rows + r] = static_cast<float>(sum);
    }
  }
}

}  // namespace parley
