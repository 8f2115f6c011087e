// Paged attention against the textbook formula in double, for head sizes that take each kernel
// path (AVX2 with 32-dim or 8-dim value chunks, scalar when the head is not a multiple of 8, and
// the scalar kernel forced for every shape), group sizes with and without a leftover head,
// every KV cache type (F32, F16, BF16, Q8_0), scattered blocks, a sliding window (rows
// whose window starts past position 0 among rows that see every key) and attention sinks (a
// logit per head in the softmax's denominator, gpt-oss), alone and with a window. Two references: the formula
// over the values as stored (dequantized: checks the kernel itself, 2e-5), and the formula over
// the unrounded F32 values (what the cache type costs: a tolerance per type).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "base/rng.h"
#include "kv/block-pool.h"
#include "model/kv-rows.h"
#include "model/ops.h"

namespace parley::model {
namespace {

struct Case {
  int32_t head_dim;
  int32_t n_head;
  int32_t n_head_kv;
  DType kv_type;
  ops::AttentionKernel kernel = ops::AttentionKernel::best;
  // Rows as a prefill gives them: runs of consecutive positions of one sequence (the tile
  // kernel), longer than one tile of tokens and of keys; otherwise scattered single rows.
  bool prefill = false;
  // Sliding window (0: none) and a scale other than 1 / sqrt(head_dim) when set (gemma3).
  int32_t window = 0;
  float scale = 0;
  bool sinks = false;  // a random attention sink per query head
};

// Largest |out - formula over unrounded F32 K/V| allowed per cache type, for N(0, 1) q, k, v
// (about twice the worst cases measured over these shapes: F16 9.4e-4, BF16 8.7e-3, Q8_0 2.0e-2;
// position 0 alone shows the raw rounding of one V row, up to half a Q8_0 step, amax / 254).
double tolerance_vs_f32(DType t) {
  switch (t) {
    case DType::f32: return 2e-5;
    case DType::f16: return 2e-3;
    case DType::bf16: return 1.5e-2;
    case DType::q8_0: return 4e-2;
    default: return 0;
  }
}

class Attention : public ::testing::TestWithParam<Case> {};

TEST_P(Attention, MatchesTheFormula) {
  const Case param = GetParam();
  if (param.kernel != ops::AttentionKernel::scalar && !ops::attention_has_avx2()) {
    GTEST_SKIP() << "this CPU runs no AVX2 attention kernel (or PARLEY_CPU=scalar): the scalar cases cover it";
  }
  const int32_t D = param.head_dim, H = param.n_head, Hkv = param.n_head_kv;
  const DType type = param.kv_type;
  const int32_t G = H / Hkv, bs = 4, n_ctx = param.prefill ? 150 : 40, n_blocks = n_ctx / bs + 1;
  auto pool = std::move(kv::BlockPool::create(kv::PoolShape{1, Hkv, D, bs, 2 * n_blocks, type})).value();
  // Two sequences with interleaved (non-contiguous) blocks.
  kv::BlockTable a(*pool), b(*pool);
  for (int i = 0; i < n_blocks; i++) {
    ASSERT_TRUE(a.reserve((i + 1) * bs));
    ASSERT_TRUE(b.reserve((i + 1) * bs));
  }
  std::vector<SeqKv> seqs{{a.blocks().data(), n_blocks}, {b.blocks().data(), n_blocks}};
  KvView view{type, bs, {pool->k_layer(0)}, {pool->v_layer(0)}};
  Rng rng(5);
  // Reference K/V values: as stored (each head's row through the type's round trip), and exact.
  auto stored = [&](std::vector<float> row) {
    std::vector<uint8_t> bytes(kv_row_bytes(type, D));
    kv_row_store(type, row.data(), bytes.data(), D, KvRowPath::scalar);
    kv_row_load(type, bytes.data(), row.data(), D);
    return row;
  };
  std::vector<std::vector<float>> kref(2), vref(2), kexact(2), vexact(2);  // [seq][pos * Hkv * D]
  Batch fill;
  std::vector<float> k, v;
  for (int32_t s = 0; s < 2; s++) {
    for (int32_t p = 0; p < n_ctx; p++) {
      fill.add(0, p, s, false);
      for (int32_t g = 0; g < Hkv; g++) {
        std::vector<float> kh, vh;
        for (int32_t i = 0; i < D; i++) {
          kh.push_back(rng.normal());
          vh.push_back(rng.normal());
        }
        k.insert(k.end(), kh.begin(), kh.end());
        v.insert(v.end(), vh.begin(), vh.end());
        kexact[static_cast<size_t>(s)].insert(kexact[static_cast<size_t>(s)].end(), kh.begin(), kh.end());
        vexact[static_cast<size_t>(s)].insert(vexact[static_cast<size_t>(s)].end(), vh.begin(), vh.end());
        std::vector<float> ks = stored(kh), vs = stored(vh);
        kref[static_cast<size_t>(s)].insert(kref[static_cast<size_t>(s)].end(), ks.begin(), ks.end());
        vref[static_cast<size_t>(s)].insert(vref[static_cast<size_t>(s)].end(), vs.begin(), vs.end());
      }
    }
  }
  ops::kv_store(view, 0, k.data(), v.data(), fill, seqs, Hkv, D);

  // Queries: rows of both sequences at various positions.
  Batch batch;
  if (param.prefill) {
    // A chunk late in sequence 0 (crossing key tiles of 64 and token windows), sequence 1's
    // start, a decode row of sequence 0, a run of two.
    for (int32_t p = 90; p < 150; p++) batch.add(0, p, 0, false);
    for (int32_t p = 0; p < 10; p++) batch.add(0, p, 1, false);
    batch.add(0, 70, 0, false);
    batch.add(0, 40, 1, false);
    batch.add(0, 41, 1, false);
  } else {
    const int32_t rows[][2] = {{0, 0}, {1, 3}, {0, 17}, {1, 39}, {0, 39}, {1, 4}};
    for (const auto& r : rows) batch.add(0, r[1], r[0], false);
  }
  std::vector<float> q(static_cast<size_t>(batch.size() * H * D));
  for (float& x : q) x = rng.normal();
  // Sinks around the scores' own size (some above every score of a row, some below).
  std::vector<float> sinks(static_cast<size_t>(H));
  for (float& x : sinks) x = 1.5f * rng.normal() + 1.0f;
  std::vector<float> out(q.size()), scores(2 * ops::attention_scratch_floats(G, D, n_ctx));
  ThreadPool threads(2);
  const double scale = param.scale > 0 ? param.scale : 1.0 / std::sqrt(static_cast<double>(D));
  const ops::AttentionShape shape{H, Hkv, D, param.scale > 0 ? param.scale : 1.0f / std::sqrt(static_cast<float>(D)),
                                  param.window, param.sinks ? sinks.data() : nullptr};
  ops::attention(q.data(), out.data(), view, 0, batch, seqs, shape, scores.data(), n_ctx, threads, param.kernel);

  // The formula in double for row t, head h, over K/V values kx/vx ([seq][pos * Hkv * D]).
  auto formula = [&](const std::vector<std::vector<float>>& kx, const std::vector<std::vector<float>>& vx, int32_t t,
                     int32_t h) {
    const auto& kr = kx[static_cast<size_t>(batch.seqs[t])];
    const auto& vr = vx[static_cast<size_t>(batch.seqs[t])];
    const int32_t n = batch.positions[t] + 1, g = h / G;
    const int32_t lo = param.window > 0 ? std::max(0, n - param.window) : 0;  // the first key seen
    std::vector<double> w(static_cast<size_t>(n), -1e300), o(static_cast<size_t>(D), 0.0);
    double mx = -1e300, sum = 0;
    for (int32_t j = lo; j < n; j++) {
      double dot = 0;
      for (int32_t d = 0; d < D; d++) {
        dot += static_cast<double>(q[static_cast<size_t>((t * H + h) * D + d)]) * kr[static_cast<size_t>((j * Hkv + g) * D + d)];
      }
      w[static_cast<size_t>(j)] = dot * scale;
      mx = std::max(mx, w[static_cast<size_t>(j)]);
    }
    const double sink = param.sinks ? sinks[static_cast<size_t>(h)] : -1e300;
    mx = std::max(mx, sink);
    sum = std::exp(sink - mx);  // the sink: in the denominator, no value
    for (double& x : w) sum += (x = std::exp(x - mx));  // exp(-huge) = 0 outside the window
    for (int32_t d = 0; d < D; d++) {
      for (int32_t j = 0; j < n; j++) o[static_cast<size_t>(d)] += w[static_cast<size_t>(j)] / sum * vr[static_cast<size_t>((j * Hkv + g) * D + d)];
    }
    return o;
  };
  double worst_vs_f32 = 0;
  for (int32_t t = 0; t < batch.size(); t++) {
    for (int32_t h = 0; h < H; h++) {
      const std::vector<double> as_stored = formula(kref, vref, t, h), exact = formula(kexact, vexact, t, h);
      for (int32_t d = 0; d < D; d++) {
        const float got = out[static_cast<size_t>((t * H + h) * D + d)];
        EXPECT_NEAR(got, as_stored[static_cast<size_t>(d)], 2e-5) << "row " << t << " head " << h << " dim " << d;
        worst_vs_f32 = std::max(worst_vs_f32, std::fabs(got - exact[static_cast<size_t>(d)]));
      }
    }
  }
  EXPECT_LE(worst_vs_f32, tolerance_vs_f32(type)) << dtype_name(type) << " vs F32";
  RecordProperty("max_abs_diff_vs_f32", std::to_string(worst_vs_f32));
}

// Every shape with every cache type it can hold (Q8_0: heads of whole 32-value blocks), with
// the best kernel and with the scalar one.
std::vector<Case> all_cases() {
  const Case shapes[] = {{64, 8, 2, DType::f32}, {128, 4, 2, DType::f32}, {8, 8, 4, DType::f32}, {16, 6, 2, DType::f32},
                         {12, 4, 4, DType::f32}, {40, 3, 1, DType::f32}, {64, 5, 5, DType::f32}, {32, 3, 1, DType::f32}};
  std::vector<Case> out;
  for (Case c : shapes) {
    for (DType t : {DType::f32, DType::f16, DType::bf16, DType::q8_0}) {
      if (t == DType::q8_0 && c.head_dim % 32 != 0) continue;
      for (auto k : {ops::AttentionKernel::best, ops::AttentionKernel::rows, ops::AttentionKernel::scalar}) {
        c.kv_type = t;
        c.kernel = k;
        c.prefill = false;
        out.push_back(c);
        c.prefill = true;
        out.push_back(c);
      }
    }
  }
  // Sliding windows shorter than the positions queried (16 and 23 < 40), with another scale.
  for (DType t : {DType::f32, DType::f16, DType::q8_0}) {
    for (auto k : {ops::AttentionKernel::best, ops::AttentionKernel::scalar}) {
      for (bool prefill : {false, true}) {
        out.push_back(Case{64, 8, 2, t, k, prefill, 16, 0.0625f});
        out.push_back(Case{32, 3, 1, t, k, prefill, 23, 0});
      }
    }
  }
  // Attention sinks (gpt-oss: 8 query heads per kv head of 64), alone and with a window, every
  // kernel.
  for (DType t : {DType::f32, DType::f16, DType::q8_0}) {
    for (auto k : {ops::AttentionKernel::best, ops::AttentionKernel::rows, ops::AttentionKernel::scalar}) {
      for (bool prefill : {false, true}) {
        out.push_back(Case{64, 16, 2, t, k, prefill, 0, 0, true});
        out.push_back(Case{64, 16, 2, t, k, prefill, 16, 0, true});
        out.push_back(Case{32, 3, 1, t, k, prefill, 23, 0, true});
      }
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Shapes, Attention, ::testing::ValuesIn(all_cases()), [](const auto& param_info) {
  const Case& c = param_info.param;
  return "d" + std::to_string(c.head_dim) + "_h" + std::to_string(c.n_head) + "_kv" + std::to_string(c.n_head_kv) + "_" +
         std::string(dtype_name(c.kv_type)) + (c.kernel == ops::AttentionKernel::scalar ? "_scalar" : c.kernel == ops::AttentionKernel::rows ? "_rows" : "_best") + (c.prefill ? "_prefill" : "") +
         (c.window > 0 ? "_window" + std::to_string(c.window) : "") + (c.sinks ? "_sinks" : "");
});

}  // namespace
}  // namespace parley::model
