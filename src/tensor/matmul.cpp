#include "tensor/matmul.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "base/check.h"
#include "base/cpu.h"
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
    case DType::mxfp4: case DType::iq4_nl:
      return ActKind::q8_32;
    case DType::q2_k: case DType::q3_k: case DType::q4_k: case DType::q5_k: case DType::q6_k:
    case DType::iq4_xs:  // as llama.cpp (Q8_K activations), the sub-block scales in int32
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

namespace {

CpuPath cpu_path_of(MatmulPath path) {
  switch (path) {
    case MatmulPath::best: return cpu_path();
    case MatmulPath::scalar: return CpuPath::scalar;
    case MatmulPath::avx2: return CpuPath::avx2;
    case MatmulPath::avx512: return CpuPath::avx512;
  }
  return CpuPath::scalar;
}

MatmulPath resolve(MatmulPath path) { return matmul_path_resolved(path); }

kernels::Kernel kernel_for(MatmulPath path, DType t) {
  switch (path) {
    case MatmulPath::avx512: return kernels::avx512_kernel(t);
    case MatmulPath::avx2: return kernels::avx2_kernel(t);
    default: return kernels::scalar_kernel(t);
  }
}

void quantize(MatmulPath path, const kernels::Acts& a, const float* x, int64_t t0, int64_t t1) {
  switch (path) {
    case MatmulPath::avx512: kernels::avx512_quantize_acts(a, x, t0, t1); return;
    case MatmulPath::avx2: kernels::avx2_quantize_acts(a, x, t0, t1); return;
    default: kernels::scalar_quantize_acts(a, x, t0, t1); return;
  }
}

}  // namespace

MatmulPath matmul_path_resolved(MatmulPath path) {
  if (path != MatmulPath::best) return path;
  switch (cpu_path()) {
    case CpuPath::avx512: return MatmulPath::avx512;
    case CpuPath::avx2: return MatmulPath::avx2;
    case CpuPath::scalar: return MatmulPath::scalar;
  }
  return MatmulPath::scalar;
}

bool matmul_path_available(MatmulPath path) {
  if (!cpu_path_supported(cpu_features(), cpu_path_of(path))) return false;
  // A build for another architecture has no x86 kernels at all.
  return resolve(path) == MatmulPath::scalar || kernel_for(resolve(path), DType::q8_0) != nullptr;
}

const char* matmul_path_name(MatmulPath path) {
  switch (resolve(path)) {
    case MatmulPath::scalar: return "scalar";
    case MatmulPath::avx2: return "avx2";
    case MatmulPath::avx512: return "avx512 (avx512vl+vnni)";
    default: return "?";
  }
}

bool can_matmul(DType t) { return can_dequantize(t); }

// ---- matmul -----------------------------------------------------------------------------------

namespace {

void check_weights(const WeightView& w) {
  PARLEY_CHECK_MSG(can_matmul(w.type), "matmul: unsupported weight type");
  PARLEY_CHECK(w.n_cols % static_cast<int64_t>(dtype_info(w.type).block_elems) == 0);
  PARLEY_CHECK(w.row_bytes == dtype_row_bytes(w.type, static_cast<uint64_t>(w.n_cols)));
  PARLEY_CHECK_MSG(reinterpret_cast<uintptr_t>(w.data) % 2 == 0, "matmul: weights must be 2-byte aligned");
}

// The activations of x quantized for `kind` (all tokens), in the scratch.
kernels::Acts prepare_acts(kernels::ActKind kind, const float* x, int64_t n_tokens, int64_t n_cols, MatmulPath path,
                           ThreadPool& pool, MatmulScratch& scratch) {
  const int n_threads = pool.size();
  void* buffer = scratch.acts(kernels::acts_bytes(kind, n_tokens, n_cols));
  kernels::Acts acts = kernels::make_acts(kind, x, n_tokens, n_cols, buffer);
  // Grow every thread's scratch here, before the workers start; inside they only look it up.
  for (int t = 0; t < n_threads; t++) scratch.thread_scratch(t, kernels::kernel_scratch_floats(n_cols), n_threads);
  if (kind != kernels::ActKind::f32) {
    if (n_tokens < 8 || n_threads == 1) {
      quantize(path, acts, x, 0, n_tokens);
    } else {
      pool.parallel_for_chunks(n_tokens, 8, [&](int64_t t0, int64_t t1, int) { quantize(path, acts, x, t0, t1); });
    }
  }
  return acts;
}

// The kernel for w on `path`; a SIMD path without one for the type would fall back to scalar
// (every type has an AVX2 kernel today).
kernels::Kernel pick_kernel(MatmulPath& path, DType t) {
  kernels::Kernel kernel = kernel_for(path, t);
  if (kernel == nullptr) {
    path = MatmulPath::scalar;
    kernel = kernels::scalar_kernel(t);
  }
  return kernel;
}

}  // namespace

void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            MatmulScratch& scratch, MatmulPath path) {
  const WeightView* ws[1] = {&w};
  float* ys[1] = {y};
  matmul_multi(ws, ys, 1, x, n_tokens, pool, scratch, path);
}

void matmul_multi(const WeightView* const* w, float* const* y, int n, const float* x, int64_t n_tokens,
                  ThreadPool& pool, MatmulScratch& scratch, MatmulPath path) {
  constexpr int kMax = 8;
  PARLEY_CHECK(n >= 1 && n <= kMax);
  PARLEY_CHECK_MSG(matmul_path_available(path), "matmul: path not available on this CPU/build");
  for (int i = 0; i < n; i++) {
    check_weights(*w[i]);
    PARLEY_CHECK_MSG(w[i]->n_cols == w[0]->n_cols, "matmul_multi: matrices must share the input width");
  }
  if (n_tokens <= 0) return;
  path = resolve(path);
  const kernels::ActKind kind = kernels::act_kind(w[0]->type);
  kernels::Kernel kernel[kMax];
  MatmulPath kernel_path = path;
  for (int i = 0; i < n; i++) {
    MatmulPath p = path;
    // The same layout on both SIMD paths; a path may lack the type's packed kernel.
    kernel[i] = w[i]->packed != nullptr ? kernels::packed_kernel(path, w[i]->type) : nullptr;
    if (kernel[i] == nullptr) kernel[i] = pick_kernel(p, w[i]->type);
    if (p != path) kernel_path = p;
    if (kernels::act_kind(w[i]->type) != kind) {
      // Different activation formats: one product at a time.
      for (int k = 0; k < n; k++) matmul(*w[k], x, n_tokens, y[k], pool, scratch, path);
      return;
    }
  }
  // Quantize with the path of the kernels that read the activations (the layouts agree; the
  // quantizers give identical bytes).
  const kernels::Acts acts = prepare_acts(kind, x, n_tokens, w[0]->n_cols, kernel_path, pool, scratch);

  // Row tiles of all matrices in chunks of `grain` tiles (about 4 chunks per thread; threads that
  // finish early, or were preempted, even out); a chunk never spans two matrices.
  const int n_threads = pool.size();
  int64_t tiles[kMax], first_chunk[kMax + 1], total_tiles = 0;
  for (int i = 0; i < n; i++) {
    tiles[i] = (w[i]->n_rows + kernels::kRowTile - 1) / kernels::kRowTile;
    total_tiles += tiles[i];
  }
  const int64_t grain = std::max<int64_t>(1, total_tiles / (4 * n_threads));
  first_chunk[0] = 0;
  for (int i = 0; i < n; i++) first_chunk[i + 1] = first_chunk[i] + (tiles[i] + grain - 1) / grain;
  const int64_t scratch_floats = kernels::kernel_scratch_floats(w[0]->n_cols);
  pool.parallel_for_chunks(first_chunk[n], 1, [&](int64_t c0, int64_t c1, int thread) {
    float* ts = scratch.thread_scratch(thread, scratch_floats, n_threads);
    for (int64_t c = c0; c < c1; c++) {
      int i = 0;
      while (c >= first_chunk[i + 1]) i++;
      const int64_t t0 = (c - first_chunk[i]) * grain, t1 = std::min(tiles[i], t0 + grain);
      const int64_t r0 = t0 * kernels::kRowTile, r1 = std::min(t1 * kernels::kRowTile, w[i]->n_rows);
      kernel[i](*w[i], r0, r1, acts, y[i], w[i]->n_rows, ts);
    }
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
