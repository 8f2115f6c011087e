// bench-attention: one decode row's paged attention per KV cache type and kernel, at several
// context depths: what decode at long context pays per layer for reading the whole KV cache.
// With --prefill N: a chunk of N consecutive query rows ending at each depth (what a long
// prompt's prefill pays per layer), in GFLOP/s (4 * heads * head_dim per visible key).
// Shape of the 0.6B-class benchmark models: 16 query heads over 8 kv heads of 128, one layer,
// blocks of 16 positions, one thread. Prints milliseconds per call (median of 5 timings) and the
// GB/s of KV bytes that makes: at small depths the cache sits in L2/L3 and the kernels' arithmetic
// decides; at large ones the bytes per value (F32 4, F16/BF16 2, Q8_0 1.0625) do.
//   bench-attention [--depths 1024,4096,16384] [--scalar] [--prefill N] [-t THREADS]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/cpu.h"
#include "base/rng.h"
#include "base/strings.h"
#include "kv/block-pool.h"
#include "model/ops.h"

namespace parley {
namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Timing {
  double ms;
  double gb_per_s;  // KV bytes read (decode) or GFLOP/s (prefill)
};

// n positions in the cache; the timed batch is the last `chunk` of them (1 = a decode row).
Timing time_attention(DType type, int32_t n, int32_t chunk, int n_threads, model::ops::AttentionKernel kernel) {
  const int32_t D = 128, Hkv = 8, H = 16, bs = 16;
  auto pool = std::move(kv::BlockPool::create(kv::PoolShape{1, Hkv, D, bs, (n + bs - 1) / bs, type})).value();
  kv::BlockTable table(*pool);
  table.reserve(n);
  std::vector<model::SeqKv> seqs{{table.blocks().data(), static_cast<int32_t>(table.blocks().size())}};
  model::KvView view{type, bs, {pool->k_layer(0)}, {pool->v_layer(0)}};
  Rng rng(1);
  // Fill the cache in chunks of rows (kv_store takes a batch).
  std::vector<float> k, v;
  for (int32_t p0 = 0; p0 < n; p0 += 256) {
    model::Batch fill;
    k.clear();
    v.clear();
    for (int32_t p = p0; p < std::min(n, p0 + 256); p++) {
      fill.add(0, p, 0, false);
      for (int32_t i = 0; i < Hkv * D; i++) {
        k.push_back(rng.normal());
        v.push_back(rng.normal());
      }
    }
    model::ops::kv_store(view, 0, k.data(), v.data(), fill, seqs, Hkv, D);
  }
  model::Batch row;
  for (int32_t p = n - chunk; p < n; p++) row.add(0, p, 0, false);
  std::vector<float> q(static_cast<size_t>(H * D) * static_cast<size_t>(chunk)), out(q.size());
  std::vector<float> scores(static_cast<size_t>(n_threads) * model::ops::attention_scratch_floats(H / Hkv, D, n));
  for (float& x : q) x = rng.normal() * 0.1f;
  ThreadPool threads(n_threads);
  auto call = [&] {
    const model::ops::AttentionShape shape{H, Hkv, D, 1.0f / std::sqrt(static_cast<float>(D)), 0};
    model::ops::attention(q.data(), out.data(), view, 0, row, seqs, shape, scores.data(), n, threads, kernel);
  };
  call();  // warm-up (touches the pages)
  // Enough calls per timing for ~50 ms.
  auto t0 = Clock::now();
  call();
  double one = std::chrono::duration<double>(Clock::now() - t0).count();
  int iters = std::max(1, static_cast<int>(0.05 / std::max(one, 1e-6)));
  std::vector<double> per_call;
  for (int rep = 0; rep < 5; rep++) {
    t0 = Clock::now();
    for (int i = 0; i < iters; i++) call();
    per_call.push_back(std::chrono::duration<double>(Clock::now() - t0).count() / iters);
  }
  double s = median(per_call);
  if (chunk > 1) {
    double keys = 0;  // visible keys summed over the chunk's rows
    for (int32_t p = n - chunk; p < n; p++) keys += p + 1;
    return {s * 1e3, 4.0 * H * D * keys / s / 1e9};
  }
  double bytes = 2.0 * static_cast<double>(pool->row_bytes()) * Hkv * n;  // K and V rows read
  return {s * 1e3, bytes / s / 1e9};
}

int run(int argc, char** argv) {
  std::vector<int32_t> depths{1024, 4096, 16384};
  bool scalar = false;
  int32_t chunk = 1;
  int n_threads = 1;
  for (int i = 1; i < argc; i++) {
    if (std::strcmp(argv[i], "--depths") == 0 && i + 1 < argc) {
      depths.clear();
      for (std::string_view d : split(argv[++i], ',')) depths.push_back(std::atoi(std::string(d).c_str()));
    } else if (std::strcmp(argv[i], "--scalar") == 0) {
      scalar = true;
    } else if (std::strcmp(argv[i], "--prefill") == 0 && i + 1 < argc) {
      chunk = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
      n_threads = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: bench-attention [--depths N,N,...] [--scalar] [--prefill N] [-t THREADS]\n");
      return 2;
    }
  }
  for (int32_t& n : depths) n = std::max(n, chunk);
  std::printf("cpu %s (%s), kernel path %s\n", cpu_features().brand.c_str(), cpu_flags_string(cpu_features()).c_str(),
              cpu_path_name(cpu_path()));
  if (chunk > 1) {
    std::printf("a prefill chunk of %d rows ending at each depth, 16 heads / 8 kv heads of 128, %d thread(s); "
                "ms per call (GFLOP/s)\n", chunk, n_threads);
  } else {
    std::printf("one decode row, 16 heads / 8 kv heads of 128, %d thread(s); ms per call (KV GB/s)\n", n_threads);
  }
  std::printf("| kernel | depth |");
  const DType types[] = {DType::f32, DType::f16, DType::bf16, DType::q8_0};
  for (DType t : types) std::printf(" %s |", std::string(dtype_name(t)).c_str());
  std::printf("\n|---|---|---|---|---|---|\n");
  using model::ops::AttentionKernel;
  std::vector<AttentionKernel> kernels{AttentionKernel::best, AttentionKernel::rows};
  if (scalar) kernels.push_back(AttentionKernel::scalar);
  for (auto kernel : kernels) {
    const char* name = kernel == AttentionKernel::scalar || !model::ops::attention_has_avx2() ? "scalar"
                       : kernel == AttentionKernel::rows                                     ? "simd rows"
                                                                                             : "best (tiles)";
    for (int32_t n : depths) {
      std::printf("| %s | %d |", name, n);
      for (DType t : types) {
        Timing tm = time_attention(t, n, chunk, n_threads, kernel);
        std::printf(" %.3f (%.1f) |", tm.ms, tm.gb_per_s);
        std::fflush(stdout);
      }
      std::printf("\n");
    }
  }
  return 0;
}

}  // namespace
}  // namespace parley

int main(int argc, char** argv) { return parley::run(argc, argv); }
