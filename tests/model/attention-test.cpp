// Paged attention against the textbook formula in double, for head sizes that take each kernel
// path (AVX2 with 32-dim or 8-dim value chunks, scalar when the head is not a multiple of 8),
// group sizes with and without a leftover head, F32 and F16 caches, scattered blocks.
#include <gtest/gtest.h>

#include <cmath>

#include "base/rng.h"
#include "kv/block-pool.h"
#include "model/ops.h"
#include "tensor/fp16.h"

namespace parley::model {
namespace {

struct Case {
  int32_t head_dim;
  int32_t n_head;
  int32_t n_head_kv;
  DType kv_type;
};

class Attention : public ::testing::TestWithParam<Case> {};

TEST_P(Attention, MatchesTheFormula) {
  const Case param = GetParam();
  const int32_t D = param.head_dim, H = param.n_head, Hkv = param.n_head_kv;
  const DType type = param.kv_type;
  const int32_t G = H / Hkv, bs = 4, n_ctx = 40;
  auto pool = std::move(kv::BlockPool::create(kv::PoolShape{1, Hkv, D, bs, 32, type})).value();
  // Two sequences with interleaved (non-contiguous) blocks.
  kv::BlockTable a(*pool), b(*pool);
  for (int i = 0; i < 10; i++) {
    ASSERT_TRUE(a.reserve((i + 1) * bs));
    ASSERT_TRUE(b.reserve((i + 1) * bs));
  }
  std::vector<SeqKv> seqs{{a.blocks().data(), 10}, {b.blocks().data(), 10}};
  KvView view{type, bs, {pool->k_layer(0)}, {pool->v_layer(0)}};
  Rng rng(5);
  // Reference K/V values as stored (rounded to f16 when the cache is f16).
  auto stored = [&](float x) { return type == DType::f16 ? fp16_to_f32(f32_to_fp16(x)) : x; };
  std::vector<std::vector<float>> kref(2), vref(2);  // [seq][pos * Hkv * D]
  Batch fill;
  std::vector<float> k, v;
  for (int32_t s = 0; s < 2; s++) {
    for (int32_t p = 0; p < n_ctx; p++) {
      fill.add(0, p, s, false);
      for (int32_t i = 0; i < Hkv * D; i++) {
        float kx = rng.normal(), vx = rng.normal();
        k.push_back(kx);
        v.push_back(vx);
        kref[static_cast<size_t>(s)].push_back(stored(kx));
        vref[static_cast<size_t>(s)].push_back(stored(vx));
      }
    }
  }
  ops::kv_store(view, 0, k.data(), v.data(), fill, seqs, Hkv, D);

  // Queries: rows of both sequences at various positions.
  Batch batch;
  const int32_t rows[][2] = {{0, 0}, {1, 3}, {0, 17}, {1, 39}, {0, 39}, {1, 4}};
  for (const auto& r : rows) batch.add(0, r[1], r[0], false);
  std::vector<float> q(static_cast<size_t>(batch.size() * H * D));
  for (float& x : q) x = rng.normal();
  std::vector<float> out(q.size()), scores(static_cast<size_t>(2 * G * n_ctx));
  ThreadPool threads(2);
  ops::attention(q.data(), out.data(), view, 0, batch, seqs, H, Hkv, D, scores.data(), n_ctx, threads);

  for (int32_t t = 0; t < batch.size(); t++) {
    const auto& kr = kref[static_cast<size_t>(batch.seqs[t])];
    const auto& vr = vref[static_cast<size_t>(batch.seqs[t])];
    const int32_t n = batch.positions[t] + 1;
    for (int32_t h = 0; h < H; h++) {
      const int32_t g = h / G;
      std::vector<double> w(static_cast<size_t>(n));
      double mx = -1e300, sum = 0;
      for (int32_t j = 0; j < n; j++) {
        double dot = 0;
        for (int32_t d = 0; d < D; d++) {
          dot += static_cast<double>(q[static_cast<size_t>((t * H + h) * D + d)]) * kr[static_cast<size_t>((j * Hkv + g) * D + d)];
        }
        w[static_cast<size_t>(j)] = dot / std::sqrt(static_cast<double>(D));
        mx = std::max(mx, w[static_cast<size_t>(j)]);
      }
      for (double& x : w) sum += (x = std::exp(x - mx));
      for (int32_t d = 0; d < D; d++) {
        double o = 0;
        for (int32_t j = 0; j < n; j++) o += w[static_cast<size_t>(j)] / sum * vr[static_cast<size_t>((j * Hkv + g) * D + d)];
        EXPECT_NEAR(out[static_cast<size_t>((t * H + h) * D + d)], o, 2e-5) << "row " << t << " head " << h << " dim " << d;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, Attention,
                         ::testing::Values(Case{64, 8, 2, DType::f32}, Case{128, 4, 2, DType::f16}, Case{8, 8, 4, DType::f16},
                                           Case{16, 6, 2, DType::f32}, Case{12, 4, 4, DType::f16}, Case{40, 3, 1, DType::f32},
                                           Case{64, 5, 5, DType::f16}),
                         [](const auto& param_info) {
                           const Case& c = param_info.param;
                           return "d" + std::to_string(c.head_dim) + "_h" + std::to_string(c.n_head) + "_kv" +
                                  std::to_string(c.n_head_kv) + "_" + std::string(dtype_name(c.kv_type));
                         });

}  // namespace
}  // namespace parley::model
