// bench-matmul: speed of matmul per weight type at the benchmark models' shapes.
//   decode  (1 token):   GB/s of weight bytes read. The matrices cycle through a pool larger than
//                        the last-level cache, as in a real decode step, so this is DRAM speed.
//   8-tok   (8 tokens):  GFLOP/s of a product with 8 tokens on those cold matrices: a decode
//                        step of 8 sequences (continuous batching), compute- rather than
//                        bandwidth-bound on few cores.
//   prefill (512 tokens): GFLOP/s (2 * rows * cols * tokens per second).
// The same run measures the machine's memory bandwidth (a vectorised read of a 1 GiB array with
// 1 and 2 threads): decode speed is only meaningful as a fraction of it. The last column divides
// the prefill work by the CPU time the process used, which stays meaningful on a busy machine
// where wall-clock rates mostly measure the other processes.
#include <immintrin.h>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/cpu.h"
#include "base/rng.h"
#include "tensor/matmul.h"
#include "tensor/packed.h"
#include "tensor/quant.h"

namespace parley {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU seconds used by the whole process so far (all threads).
double process_cpu_seconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Sum of a byte range with 256-bit loads (the result is returned so the reads are not elided).
// Built for AVX2 whatever the build's flags; main checks the CPU has it.
__attribute__((target("avx2"))) uint64_t read_range(const uint8_t* p, size_t n) {
  __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
  __m256i acc2 = _mm256_setzero_si256(), acc3 = _mm256_setzero_si256();
  for (size_t i = 0; i + 128 <= n; i += 128) {
    acc0 = _mm256_add_epi64(acc0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    acc1 = _mm256_add_epi64(acc1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    acc2 = _mm256_add_epi64(acc2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    acc3 = _mm256_add_epi64(acc3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  __m256i s = _mm256_add_epi64(_mm256_add_epi64(acc0, acc1), _mm256_add_epi64(acc2, acc3));
  uint64_t out[4];
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), s);
  return out[0] + out[1] + out[2] + out[3];
}

// GB/s reading `bytes` with `threads` threads, best of `reps`.
double memory_bandwidth(const uint8_t* data, size_t bytes, int threads, int reps) {
  ThreadPool pool(threads);
  double best = 0;
  std::vector<uint64_t> sink(static_cast<size_t>(threads));
  const int64_t chunks = 1024;
  for (int rep = 0; rep < reps; rep++) {
    auto t0 = Clock::now();
    pool.parallel_for(chunks, [&](int64_t b, int64_t e, int t) {
      size_t per = bytes / chunks;
      sink[static_cast<size_t>(t)] += read_range(data + static_cast<size_t>(b) * per, static_cast<size_t>(e - b) * per);
    });
    best = std::max(best, static_cast<double>(bytes) / seconds_since(t0) / 1e9);
  }
  uint64_t total = 0;
  for (uint64_t s : sink) total += s;
  if (total == 42) std::printf(" ");  // keep the reads
  return best;
}

struct Weights {
  DType type;
  int64_t rows, cols;
  size_t bytes;                   // one matrix
  std::vector<uint8_t> pool;      // copies, to defeat the caches in decode
  int copies;
  std::vector<const uint8_t*> packed;  // each copy's packed layout (tensor/packed.h), when measured
  PackedWeights packs;
  WeightView view(int copy) const {
    WeightView w;
    if (!packed.empty()) w.packed = packed[static_cast<size_t>(copy)];
    w.type = type;
    w.data = pool.data() + static_cast<size_t>(copy) * bytes;
    w.n_rows = rows;
    w.n_cols = cols;
    w.row_bytes = dtype_row_bytes(type, static_cast<uint64_t>(cols));
    return w;
  }
};

Weights make_weights(DType type, int64_t rows, int64_t cols, size_t pool_bytes) {
  Weights w;
  w.type = type;
  w.rows = rows;
  w.cols = cols;
  size_t rb = dtype_row_bytes(type, static_cast<uint64_t>(cols));
  w.bytes = rb * static_cast<size_t>(rows);
  w.copies = static_cast<int>(std::max<size_t>(1, pool_bytes / w.bytes));
  w.pool.resize(w.bytes * static_cast<size_t>(w.copies));
  Rng rng(1);
  // Quantize 64 distinct random rows and repeat them (quantizing big K-quant matrices is slow).
  std::vector<uint8_t> rowbank(rb * 64);
  std::vector<float> row(static_cast<size_t>(cols));
  for (int i = 0; i < 64; i++) {
    for (auto& v : row) v = rng.normal() * 0.02f;
    quantize_row(type, row.data(), rowbank.data() + static_cast<size_t>(i) * rb, cols);
  }
  for (int64_t r = 0; r < rows * w.copies; r++) {
    std::memcpy(w.pool.data() + static_cast<size_t>(r) * rb, rowbank.data() + static_cast<size_t>(r % 61) * rb, rb);
  }
  return w;
}

struct Result {
  double decode_gbs = 0;
  double decode_us = 0;
  double prefill_gflops = 0;
  double prefill_gflops_cpu = 0;  // per CPU-second: the kernel's speed whatever the machine's load
  double batch8_gflops = 0;       // 8 tokens a product on cold weights (a decode step of 8 sequences)
};

Result bench(const Weights& w, MatmulPath path, ThreadPool& pool, MatmulScratch& scratch, bool prefill, double min_secs) {
  Result res;
  std::vector<float> x(static_cast<size_t>(512 * w.cols));
  Rng rng(2);
  for (auto& v : x) v = rng.normal();
  std::vector<float> y(static_cast<size_t>(512 * w.rows));
  // Decode: one token (or a batch of n_tok: a decode step of that many sequences) per product,
  // cycling through the copies so the weights come from memory as in a model's step.
  auto cold_seconds = [&](int64_t n_tok) {
    for (int c = 0; c < w.copies; c++) matmul(w.view(c), x.data(), n_tok, y.data(), pool, scratch, path);  // warm up
    std::vector<double> rates;
    auto start = Clock::now();
    int copy = 0;
    while (seconds_since(start) < min_secs || rates.size() < 5) {
      auto t0 = Clock::now();
      const int n = std::max(1, std::min(w.copies, 32));
      for (int i = 0; i < n; i++) {
        matmul(w.view(copy), x.data(), n_tok, y.data(), pool, scratch, path);
        copy = (copy + 1) % w.copies;
      }
      double s = seconds_since(t0);
      rates.push_back(s / n);
    }
    return median(rates);
  };
  {
    const double per = cold_seconds(1);
    res.decode_us = per * 1e6;
    res.decode_gbs = static_cast<double>(w.bytes) / per / 1e9;
    res.batch8_gflops = 2.0 * static_cast<double>(w.rows * w.cols) * 8 / cold_seconds(8) / 1e9;
  }
  if (prefill) {
    matmul(w.view(0), x.data(), 512, y.data(), pool, scratch, path);
    std::vector<double> times;
    auto start = Clock::now();
    const double cpu0 = process_cpu_seconds();
    while (seconds_since(start) < min_secs || times.size() < 3) {
      auto t0 = Clock::now();
      matmul(w.view(0), x.data(), 512, y.data(), pool, scratch, path);
      times.push_back(seconds_since(t0));
    }
    const double flop = 2.0 * static_cast<double>(w.rows * w.cols) * 512;
    res.prefill_gflops = flop / median(times) / 1e9;
    res.prefill_gflops_cpu = flop * static_cast<double>(times.size()) / (process_cpu_seconds() - cpu0) / 1e9;
  }
  return res;
}

int run(int argc, char** argv) {
  int threads = 2;
  double min_secs = 0.5;
  bool all_types = true;
  std::string only;
  std::vector<MatmulPath> paths;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if ((a == "-t" || a == "--threads") && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (a == "--secs" && i + 1 < argc) {
      min_secs = std::atof(argv[++i]);
    } else if (a == "--bench-shapes") {
      all_types = false;
    } else if (a == "--type" && i + 1 < argc) {
      only = argv[++i];
    } else if (a == "--path" && i + 1 < argc) {
      std::string p = argv[++i];
      const MatmulPath named = p == "scalar" ? MatmulPath::scalar
                               : p == "avx2" ? MatmulPath::avx2
                               : p == "avx512" ? MatmulPath::avx512
                                               : MatmulPath::best;
      if (p != "best" && named == MatmulPath::best) {
        std::fprintf(stderr, "bench-matmul: --path %s: expected scalar, avx2, avx512 or best\n", p.c_str());
        return 2;
      }
      if (!matmul_path_available(named)) {
        std::fprintf(stderr, "bench-matmul: --path %s: this CPU cannot run it (%s)\n", p.c_str(),
                     cpu_flags_string(cpu_features()).c_str());
        return 2;
      }
      paths.push_back(named);
    } else {
      std::fprintf(stderr,
                   "usage: bench-matmul [-t THREADS] [--secs S] [--bench-shapes] [--type T] [--path P]...\n"
                   "  -t N            threads (default 2)\n"
                   "  --secs S        minimum seconds per measurement (default 0.5)\n"
                   "  --bench-shapes  only the benchmark models' shapes (Q8_0 and Q4_0)\n"
                   "  --type T        only this weight type\n"
                   "  --path P        kernel path: scalar, avx2, avx512 or best (the default; PARLEY_CPU\n"
                   "                  sets best); repeat it to measure several side by side\n");
      return 2;
    }
  }
  const size_t kGiB = size_t{1} << 30;
  double load[1] = {0};
  if (getloadavg(load, 1) != 1) load[0] = -1;
  if (paths.empty()) paths.push_back(MatmulPath::best);
  const CpuFeatures& cpu = cpu_features();
  std::printf("bench-matmul: %d threads, load average %.1f\ncpu: %s\nflags: %s\n", threads, load[0],
              cpu.brand.c_str(), cpu_flags_string(cpu).c_str());
  if (!cpu.avx2) {
    std::printf("memory bandwidth: not measured (the read loop needs AVX2)\n");
  } else {
    auto* data = static_cast<uint8_t*>(std::aligned_alloc(64, kGiB));
    std::memset(data, 1, kGiB);
    double bw1 = memory_bandwidth(data, kGiB, 1, 5);
    double bw2 = memory_bandwidth(data, kGiB, 2, 5);
    std::printf("memory bandwidth (1 GiB vectorised read): 1 thread %.1f GB/s, 2 threads %.1f GB/s\n", bw1, bw2);
    std::free(data);
  }

  struct Case {
    DType type;
    int64_t rows, cols;  // rows = outputs, cols = inputs
    const char* note;
  };
  std::vector<Case> cases = {
      {DType::q8_0, 2048, 2048, "llama-1b attn_q/o"}, {DType::q8_0, 8192, 2048, "llama-1b ffn_gate/up"},
      {DType::q8_0, 2048, 8192, "llama-1b ffn_down"}, {DType::q4_0, 2048, 1024, "qwen3-0.6b attn_q"},
      {DType::q4_0, 3072, 1024, "qwen3-0.6b ffn_gate/up"}, {DType::q4_0, 1024, 3072, "qwen3-0.6b ffn_down"},
  };
  if (all_types) {
    for (DType t : {DType::f32, DType::f16, DType::bf16, DType::q4_1, DType::q5_0, DType::q5_1, DType::q2_k,
                    DType::q3_k, DType::q4_k, DType::q5_k, DType::q6_k, DType::iq4_nl, DType::iq4_xs,
                    DType::mxfp4}) {
      cases.push_back({t, 2048, 2048, "2048x2048"});
    }
  }
  ThreadPool pool(threads);
  MatmulScratch scratch;
  std::printf("%-6s %-30s %-10s %8s %10s %12s %11s %13s %15s\n", "type", "shape (out x in)", "path", "MB", "decode us",
              "decode GB/s", "8-tok GF/s", "prefill GF/s", "GF/s per CPU-s");
  for (const Case& c : cases) {
    if (!only.empty() && only != dtype_name(c.type)) continue;
    Weights w = make_weights(c.type, c.rows, c.cols, size_t{256} << 20);
    // Each path with the GGUF layout, then (where it has a packed kernel for the type) packed.
    std::vector<std::pair<MatmulPath, bool>> runs;
    for (MatmulPath path : paths) {
      runs.push_back({path, false});
      if (can_pack(c.type, path)) runs.push_back({path, true});
    }
    for (auto [path, packed] : runs) {
      w.packed.clear();
      if (packed) {
        std::vector<const uint8_t*> copies;
        for (int k = 0; k < w.copies; k++) {
          WeightView v = w.view(k);
          w.packs.pack(v, path);
          copies.push_back(v.packed);
        }
        w.packed = std::move(copies);
      }
      Result r = bench(w, path, pool, scratch, true, min_secs);
      char shape[64];
      std::snprintf(shape, sizeof shape, "%lldx%lld %s", static_cast<long long>(c.rows),
                    static_cast<long long>(c.cols), c.note);
      std::string name = matmul_path_name(path);
      name = name.substr(0, name.find(' '));
      if (packed) name += "+pk";
      std::printf("%-6s %-30s %-10s %8.1f %10.1f %12.1f %11.1f %13.1f %15.1f\n", std::string(dtype_name(c.type)).c_str(),
                  shape, name.c_str(), static_cast<double>(w.bytes) / 1e6, r.decode_us, r.decode_gbs,
                  r.batch8_gflops, r.prefill_gflops, r.prefill_gflops_cpu);
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace
}  // namespace parley

int main(int argc, char** argv) { return parley::run(argc, argv); }
