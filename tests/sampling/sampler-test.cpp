#include "sampling/sampler.h"

#include "base/cpu.h"
#include "sampling/sampler-kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace parley::sampling {
namespace {

std::vector<float> logits_of(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

// Frequencies of each token over n draws.
std::map<int32_t, int> draw(Sampler& s, const std::vector<float>& logits, const Params& p, int n, uint64_t seed = 1) {
  Rng rng(seed);
  std::map<int32_t, int> counts;
  for (int i = 0; i < n; i++) counts[s.sample(logits.data(), p, rng)]++;
  return counts;
}

TEST(Sampler, GreedyTakesTheLargestAndTheLowestIdOnTies) {
  Sampler s(5);
  Rng rng(1);
  std::vector<float> l{0.5f, 2.0f, -1.0f, 2.0f, 1.0f};
  EXPECT_EQ(s.sample(l.data(), Params{0.0f}, rng), 1);
  EXPECT_EQ(s.sample(l.data(), Params{1.0f, 1}, rng), 1);  // top_k 1 is greedy too
  EXPECT_EQ(argmax(l.data(), 5), 1);
}

TEST(Sampler, TemperatureOneFollowsTheDistribution) {
  Sampler s(4);
  auto counts = draw(s, logits_of({0.1, 0.2, 0.3, 0.4}), Params{1.0f}, 20000);
  EXPECT_NEAR(counts[0] / 20000.0, 0.1, 0.015);
  EXPECT_NEAR(counts[3] / 20000.0, 0.4, 0.015);
}

TEST(Sampler, LowTemperatureSharpensHighFlattens) {
  Sampler s(2);
  auto l = logits_of({0.25, 0.75});
  // T = 0.5 squares the odds: 1:9; T = 2 takes their square root: 1:sqrt(3).
  auto sharp = draw(s, l, Params{0.5f}, 20000);
  EXPECT_NEAR(sharp[0] / 20000.0, 0.1, 0.015);
  auto flat = draw(s, l, Params{2.0f}, 20000);
  EXPECT_NEAR(flat[0] / 20000.0, 1 / (1 + std::sqrt(3.0)), 0.015);
}

TEST(Sampler, TopKKeepsTheKLargest) {
  Sampler s(5);
  auto counts = draw(s, logits_of({0.3, 0.05, 0.25, 0.2, 0.2}), Params{1.0f, 2}, 5000);
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_GT(counts[0], 0);
  EXPECT_GT(counts[2], 0);
  EXPECT_NEAR(counts[0] / 5000.0, 0.3 / 0.55, 0.03);
}

TEST(Sampler, TopPKeepsTheSmallestPrefixReachingP) {
  Sampler s(4);
  // Sorted: 0.4 (id 3), 0.3 (id 2), 0.2 (id 1), 0.1 (id 0). top_p 0.65 keeps ids 3 and 2.
  auto counts = draw(s, logits_of({0.1, 0.2, 0.3, 0.4}), Params{1.0f, 0, 0.65f}, 5000);
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_NEAR(counts[3] / 5000.0, 0.4 / 0.7, 0.03);
  // A tiny top_p still keeps one token.
  auto one = draw(s, logits_of({0.1, 0.2, 0.3, 0.4}), Params{1.0f, 0, 0.01f}, 100);
  EXPECT_EQ(one.size(), 1u);
  EXPECT_EQ(one.begin()->first, 3);
}

TEST(Sampler, MinPDropsTokensBelowAFractionOfTheBest) {
  Sampler s(4);
  // min_p 0.6 of p_max 0.4 = 0.24: keeps 0.4 and 0.3.
  auto counts = draw(s, logits_of({0.1, 0.2, 0.3, 0.4}), Params{1.0f, 0, 1.0f, 0.6f}, 5000);
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts.count(0), 0u);
  EXPECT_EQ(counts.count(1), 0u);
  const auto& cand = s.last_candidates();
  ASSERT_EQ(cand.size(), 2u);
  EXPECT_NEAR(cand[0].first + cand[1].first, 1.0f, 1e-6);
}

TEST(Sampler, SameSeedSameTokensDifferentSeedDifferent) {
  Sampler s(64);
  std::vector<float> l(64);
  for (int i = 0; i < 64; i++) l[static_cast<size_t>(i)] = std::sin(static_cast<float>(i));
  auto run = [&](uint64_t seed) {
    Rng rng(seed);
    std::vector<int32_t> out;
    for (int i = 0; i < 50; i++) out.push_back(s.sample(l.data(), Params{0.9f, 40, 0.95f, 0.05f}, rng));
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(Sampler, TopKOnALargeVocabularyKeepsTheKLargestAndTheLowestIdsOnTies) {
  const int32_t n = 3000;
  Sampler s(n);
  std::vector<float> l(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; i++) l[static_cast<size_t>(i)] = std::sin(0.71f * static_cast<float>(i));
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; i++) ids[static_cast<size_t>(i)] = i;
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return l[static_cast<size_t>(a)] > l[static_cast<size_t>(b)]; });
  auto counts = draw(s, l, Params{5.0f, 10}, 3000);
  EXPECT_EQ(counts.size(), 10u);
  for (int32_t i = 0; i < 10; i++) EXPECT_GT(counts.count(ids[static_cast<size_t>(i)]), 0u) << i;
  ASSERT_EQ(s.last_candidates().size(), 10u);
  std::vector<float> flat(static_cast<size_t>(n), 0.5f);
  auto ties = draw(s, flat, Params{1.0f, 3}, 300);
  EXPECT_EQ(ties.size(), 3u);
  EXPECT_EQ(ties.rbegin()->first, 2);
}

// A vocabulary of several draw chunks (1024 tokens each) where only a few tokens, in different
// chunks, can be drawn: the unfiltered draw must find the right chunk and the right token.
TEST(Sampler, UnfilteredDrawAcrossChunksFollowsTheDistribution) {
  const int32_t n = 5000;
  Sampler s(n);
  std::vector<float> l(static_cast<size_t>(n), -INFINITY);
  l[5] = std::log(0.2f);
  l[1500] = std::log(0.3f);
  l[4999] = std::log(0.5f);
  auto counts = draw(s, l, Params{1.0f}, 20000);
  EXPECT_EQ(counts.size(), 3u);
  EXPECT_NEAR(counts[5] / 20000.0, 0.2, 0.015);
  EXPECT_NEAR(counts[1500] / 20000.0, 0.3, 0.015);
  EXPECT_NEAR(counts[4999] / 20000.0, 0.5, 0.015);
  EXPECT_TRUE(s.last_candidates().empty());
}

// A flat-ish large vocabulary (like a random model's logits): the frequency of each group of
// tokens matches its softmax mass at the request's temperature.
TEST(Sampler, UnfilteredDrawOnALargeVocabularyMatchesTheSoftmax) {
  const int32_t n = 151936;
  Sampler s(n);
  std::vector<float> l(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; i++) l[static_cast<size_t>(i)] = 3.0f * std::sin(0.37f * static_cast<float>(i));
  for (float t : {0.7f, 1.0f, 1.5f}) {
    // Exact mass of the tokens whose logit is above 2 (about a quarter of them).
    double top = 0, all = 0;
    for (float x : l) {
      double w = std::exp(static_cast<double>(x - 3.0f) / t);
      all += w;
      if (x > 2.0f) top += w;
    }
    Rng rng(7);
    int hits = 0;
    const int draws = 4000;
    for (int d = 0; d < draws; d++) hits += l[static_cast<size_t>(s.sample(l.data(), Params{t}, rng))] > 2.0f;
    EXPECT_NEAR(hits / static_cast<double>(draws), top / all, 0.03) << "temperature " << t;
  }
}

// The SIMD loops against the portable ones on the same data (skipped where the CPU lacks AVX2).
TEST(Sampler, Avx2LoopsMatchThePortableOnes) {
  if (!cpu_path_at_least(CpuPath::avx2)) GTEST_SKIP() << "the kernel path is " << cpu_path_name(cpu_path()) << " (CPU flags: " << cpu_flags_string(cpu_features()) << "): no AVX2 loops to compare";
  for (int32_t n : {1, 7, 16, 31, 33, 1000, 1024}) {
    std::vector<float> l(static_cast<size_t>(n));
    for (int32_t i = 0; i < n; i++) l[static_cast<size_t>(i)] = 5.0f * std::cos(1.3f * static_cast<float>(i));
    if (n > 3) l[2] = -INFINITY;
    EXPECT_EQ(detail::avx2_max(l.data(), n), detail::max_scalar(l.data(), n)) << n;
    const float m = detail::max_scalar(l.data(), n);
    std::vector<float> wa(static_cast<size_t>(n)), ws(static_cast<size_t>(n));
    float sa = detail::avx2_exp_weights(l.data(), n, m, 1.0f / 0.8f, wa.data());
    float ss = detail::exp_weights_scalar(l.data(), n, m, 1.0f / 0.8f, ws.data());
    EXPECT_NEAR(sa, ss, 1e-5 * ss) << n;
    for (int32_t i = 0; i < n; i++) {
      EXPECT_NEAR(wa[static_cast<size_t>(i)], ws[static_cast<size_t>(i)], 1e-6f * ws[static_cast<size_t>(i)] + 1e-30f) << n << " " << i;
    }
    for (float t : {-10.0f, 0.0f, 4.9f, 6.0f}) {
      EXPECT_EQ(detail::avx2_first_above(l.data(), n, t), detail::first_above_scalar(l.data(), n, t)) << n << " " << t;
    }
    if (n > 3) {
      EXPECT_EQ(wa[2], 0.0f);  // a masked token has no weight at all
    }
  }
  std::vector<float> nan_first{NAN, 1.0f, 3.0f, 2.0f};
  EXPECT_EQ(detail::avx2_max(nan_first.data(), 4), 3.0f);
  EXPECT_EQ(detail::max_scalar(nan_first.data(), 4), 3.0f);
}

}  // namespace
}  // namespace parley::sampling
