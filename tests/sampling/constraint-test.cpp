#include "sampling/constraint.h"

#include <gtest/gtest.h>

#include <cmath>

#include "sampling/sampler.h"

namespace parley::sampling {
namespace {

std::vector<std::unique_ptr<TokenConstraint>> chain_of(
    std::initializer_list<std::shared_ptr<const ConstraintFactory>> factories) {
  std::vector<std::unique_ptr<TokenConstraint>> chain;
  for (const auto& f : factories) chain.push_back(f->make());
  return chain;
}

TEST(Constraint, BannedTokensAreNeverSampled) {
  auto ban = ban_tokens({1, 3});
  auto chain = chain_of({ban});
  Sampler s(4);
  Rng rng(7);
  for (int i = 0; i < 200; i++) {
    std::vector<float> l{0.0f, 5.0f, 0.0f, 5.0f};
    apply_all(chain, l.data(), 4);
    int32_t t = s.sample(l.data(), Params{1.0f}, rng);
    EXPECT_TRUE(t == 0 || t == 2) << t;
  }
}

TEST(Constraint, ForceAfterForcesTheSequenceOnceTheBudgetIsSpent) {
  auto force = force_after(3, {7, 8});
  auto chain = chain_of({force});
  Sampler s(10);
  Rng rng(1);
  std::vector<int32_t> out;
  for (int i = 0; i < 8; i++) {
    std::vector<float> l(10, 0.0f);
    l[2] = 10.0f;  // the model's favourite, never 7 or 8
    apply_all(chain, l.data(), 10);
    int32_t t = s.sample(l.data(), Params{0.0f}, rng);
    accept_all(chain, t);
    out.push_back(t);
  }
  EXPECT_EQ(out, (std::vector<int32_t>{2, 2, 2, 7, 8, 2, 2, 2}));
}

TEST(Constraint, ForceAfterDoesNothingWhenTheSequenceCameEarly) {
  auto chain = chain_of({force_after(3, {7, 8})});
  Sampler s(10);
  Rng rng(1);
  std::vector<int32_t> wanted{7, 8, 2, 2, 2, 2};
  for (int32_t w : wanted) {
    std::vector<float> l(10, 0.0f);
    l[static_cast<size_t>(w)] = 10.0f;
    apply_all(chain, l.data(), 10);
    int32_t t = s.sample(l.data(), Params{0.0f}, rng);
    EXPECT_EQ(t, w);
    accept_all(chain, t);
  }
}

TEST(Constraint, ForceAfterCompletesAPartlyGeneratedSequence) {
  auto chain = chain_of({force_after(2, {7, 8})});
  Sampler s(10);
  Rng rng(1);
  std::vector<int32_t> favourite{2, 7, 2, 2};  // budget spent right after the 7
  std::vector<int32_t> out;
  for (int32_t w : favourite) {
    std::vector<float> l(10, 0.0f);
    l[static_cast<size_t>(w)] = 10.0f;
    apply_all(chain, l.data(), 10);
    int32_t t = s.sample(l.data(), Params{0.0f}, rng);
    accept_all(chain, t);
    out.push_back(t);
  }
  EXPECT_EQ(out, (std::vector<int32_t>{2, 7, 8, 2}));
}

TEST(Sampler, EveryTokenMaskedGivesMinusOne) {
  Sampler s(3);
  Rng rng(1);
  std::vector<float> l(3, -INFINITY);
  EXPECT_EQ(s.sample(l.data(), Params{0.0f}, rng), -1);
  EXPECT_EQ(s.sample(l.data(), Params{0.8f, 0, 0.9f}, rng), -1);
}

}  // namespace
}  // namespace parley::sampling
