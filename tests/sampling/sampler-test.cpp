#include "sampling/sampler.h"

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

}  // namespace
}  // namespace parley::sampling
