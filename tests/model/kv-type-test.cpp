// Whole-model effect of the KV cache type: a tiny random model of each architecture (heads of 32
// so that Q8_0 applies) runs one prompt, in uneven prefill chunks, with an F32 cache and with each
// other type; logits at every position stay within a tolerance per type of the F32 ones, and
// greedy decoding picks the same tokens.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "model/harness.h"
#include "model/kv-rows.h"
#include "sampling/sampler.h"

namespace parley::model {
namespace {

modelgen::Options options_for(const std::string& arch) {
  modelgen::Options o = test::tiny_options(arch);
  o.shape.n_embd = 128;  // 4 heads of 32
  o.shape.head_dim = 32;
  return o;
}

std::vector<int32_t> prompt_tokens(int n, int n_vocab) {
  std::vector<int32_t> t{1};
  uint32_t s = 4242u;
  while (static_cast<int>(t.size()) < n) {
    s = s * 1103515245u + 12345u;
    t.push_back(3 + static_cast<int32_t>((s >> 8) % static_cast<uint32_t>(n_vocab - 3)));
  }
  return t;
}

struct Decoded {
  std::vector<std::vector<float>> logits;  // every prompt position, then each decoded step
  std::vector<int32_t> greedy;
};

Decoded run_with(const Model& model, DType kv_type, const std::vector<int32_t>& prompt, int n_steps) {
  test::Harness h(model, kv_type, 2, 64, 64);
  Decoded r;
  r.logits = h.all_positions(prompt, 0, 7);
  int32_t token = sampling::argmax(r.logits.back().data(), model.config().n_vocab);
  for (int i = 0; i < n_steps; i++) {
    r.greedy.push_back(token);
    Batch b;
    b.add(token, static_cast<int32_t>(prompt.size()) + i, 0, true);
    auto out = h.run(b);
    r.logits.push_back(out[0]);
    token = sampling::argmax(out[0].data(), model.config().n_vocab);
  }
  return r;
}

// Largest |logit - F32 cache's logit| allowed over the 45 prompt positions and 8 decoded ones
// (the logits of these models spread over about +-4). About twice the worst measured over the
// three architectures: F16 2.6e-3, BF16 2.0e-2, Q8_0 8.3e-2 (Q8_0 rounds each value to within
// amax / 254 of its block of 32, some 4x BF16's relative error on normal-like values).
double tolerance(DType t) {
  switch (t) {
    case DType::f16: return 5e-3;
    case DType::bf16: return 4e-2;
    case DType::q8_0: return 0.15;
    default: return 0;
  }
}

class KvType : public ::testing::TestWithParam<const char*> {};

TEST_P(KvType, LogitsAndGreedyTokensFollowTheF32Cache) {
  parley::test::TempDir dir;
  auto model = test::write_and_load(options_for(GetParam()), (dir / "m.gguf").string());
  ASSERT_TRUE(model);
  ASSERT_EQ(model->config().head_dim, 32);
  const std::vector<int32_t> prompt = prompt_tokens(45, model->config().n_vocab);
  const int n_steps = 8;
  const Decoded ref = run_with(*model, DType::f32, prompt, n_steps);
  // Greedy tokens can only differ where F32's top two logits are closer than 2 * the diff.
  double gap = 1e9;
  for (size_t i = prompt.size() - 1; i + 1 < ref.logits.size(); i++) {
    std::vector<float> l = ref.logits[i];
    std::partial_sort(l.begin(), l.begin() + 2, l.end(), std::greater<float>());
    gap = std::min(gap, static_cast<double>(l[0] - l[1]));
  }
  RecordProperty("greedy_top2_gap", std::to_string(gap));
  for (DType t : {DType::f16, DType::bf16, DType::q8_0}) {
    const Decoded got = run_with(*model, t, prompt, n_steps);
    ASSERT_EQ(got.logits.size(), ref.logits.size());
    double worst = 0, spread = 0;
    for (size_t i = 0; i < ref.logits.size(); i++) {
      for (size_t j = 0; j < ref.logits[i].size(); j++) {
        worst = std::max(worst, static_cast<double>(std::fabs(got.logits[i][j] - ref.logits[i][j])));
        spread = std::max(spread, static_cast<double>(std::fabs(ref.logits[i][j])));
      }
    }
    EXPECT_LE(worst, tolerance(t)) << dtype_name(t) << " (largest |logit| " << spread << ")";
    // Deterministic (fixed seeds), though not by a wide margin: F32's smallest top-2 gap over
    // these steps is 0.016 (qwen2) to 0.071 (llama), and no type moved the argmax.
    EXPECT_EQ(got.greedy, ref.greedy) << dtype_name(t);
    RecordProperty(std::string("max_abs_logit_diff_") + std::string(dtype_name(t)), std::to_string(worst));
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, KvType, ::testing::Values("llama", "qwen2", "qwen3"),
                         [](const auto& param_info) { return std::string(param_info.param); });

TEST(KvType, PoolSizeIsWhatKvBytesPerPositionSays) {
  parley::test::TempDir dir;
  auto model = test::write_and_load(options_for("llama"), (dir / "m.gguf").string());
  ASSERT_TRUE(model);
  const Config& c = model->config();
  for (DType t : {DType::f32, DType::f16, DType::bf16, DType::q8_0}) {
    auto pool = kv::BlockPool::create(kv::PoolShape{c.n_layer, c.n_head_kv, c.head_dim, 16, 4, t});
    ASSERT_TRUE(pool.ok()) << pool.error().message;
    EXPECT_EQ((*pool)->total_bytes(), kv_bytes_per_position(c, t) * 64) << dtype_name(t);
    EXPECT_EQ((*pool)->row_bytes(), kv_row_bytes(t, c.head_dim)) << dtype_name(t);
  }
  // 2 layers x 2 kv heads x K and V: Q8_0 is 34 bytes per 32 values, F16 and BF16 2 per value.
  EXPECT_EQ(kv_bytes_per_position(c, DType::q8_0), 2u * 2 * 2 * 34);
  EXPECT_EQ(kv_bytes_per_position(c, DType::bf16), 2u * 2 * 2 * 64);
  EXPECT_EQ(kv_bytes_per_position(c, DType::f32), 2u * 2 * 2 * 128);
}

TEST(KvType, Q8_0NeedsHeadsOfWhole32Blocks) {
  auto pool = kv::BlockPool::create(kv::PoolShape{1, 2, 48, 16, 4, DType::q8_0});
  ASSERT_FALSE(pool.ok());
  EXPECT_NE(pool.error().message.find("multiple of 32"), std::string::npos) << pool.error().message;
  EXPECT_TRUE(kv::check_kv_type(DType::bf16, 48).ok());
  auto q4 = kv::BlockPool::create(kv::PoolShape{1, 2, 64, 16, 4, DType::q4_0});
  ASSERT_FALSE(q4.ok());
  EXPECT_NE(q4.error().message.find("not supported"), std::string::npos) << q4.error().message;
}

}  // namespace
}  // namespace parley::model
