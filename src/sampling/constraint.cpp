#include "sampling/constraint.h"

#include <algorithm>
#include <cmath>

#include "base/check.h"

namespace parley::sampling {
namespace {

class BanTokens final : public TokenConstraint {
 public:
  explicit BanTokens(std::shared_ptr<const std::vector<int32_t>> tokens) : tokens_(std::move(tokens)) {}
  void apply(float* logits, int32_t n_vocab) override {
    for (int32_t t : *tokens_) {
      if (t >= 0 && t < n_vocab) logits[t] = -INFINITY;
    }
  }
  void accept(int32_t) override {}

 private:
  std::shared_ptr<const std::vector<int32_t>> tokens_;  // shared with the factory
};

class BanFactory final : public ConstraintFactory {
 public:
  explicit BanFactory(std::vector<int32_t> tokens)
      : tokens_(std::make_shared<const std::vector<int32_t>>(std::move(tokens))) {}
  std::unique_ptr<TokenConstraint> make() const override { return std::make_unique<BanTokens>(tokens_); }

 private:
  std::shared_ptr<const std::vector<int32_t>> tokens_;
};

class ForceAfter final : public TokenConstraint {
 public:
  ForceAfter(int32_t budget, std::shared_ptr<const std::vector<int32_t>> sequence)
      : budget_(budget), seq_(std::move(sequence)) {}

  void apply(float* logits, int32_t n_vocab) override {
    if (done_ || n_seen_ < budget_) return;
    // Forcing: continue the part of the sequence already matched.
    const int32_t next = (*seq_)[static_cast<size_t>(n_matched_)];
    PARLEY_CHECK(next >= 0 && next < n_vocab);
    for (int32_t t = 0; t < n_vocab; t++) {
      if (t != next) logits[t] = -INFINITY;
    }
  }

  void accept(int32_t token) override {
    if (done_) return;
    n_seen_++;
    const std::vector<int32_t>& seq = *seq_;
    if (token == seq[static_cast<size_t>(n_matched_)]) {
      n_matched_++;
    } else {
      n_matched_ = token == seq[0] ? 1 : 0;
    }
    if (n_matched_ == static_cast<int32_t>(seq.size())) done_ = true;
  }

 private:
  int32_t budget_;
  std::shared_ptr<const std::vector<int32_t>> seq_;
  int32_t n_seen_ = 0;
  int32_t n_matched_ = 0;  // length of the sequence's prefix that ends the output so far
  bool done_ = false;
};

class ForceFactory final : public ConstraintFactory {
 public:
  ForceFactory(int32_t budget, std::vector<int32_t> sequence)
      : budget_(budget), seq_(std::make_shared<const std::vector<int32_t>>(std::move(sequence))) {}
  std::unique_ptr<TokenConstraint> make() const override { return std::make_unique<ForceAfter>(budget_, seq_); }

 private:
  int32_t budget_;
  std::shared_ptr<const std::vector<int32_t>> seq_;
};

}  // namespace

std::shared_ptr<const ConstraintFactory> ban_tokens(std::vector<int32_t> tokens) {
  return std::make_shared<BanFactory>(std::move(tokens));
}

std::shared_ptr<const ConstraintFactory> force_after(int32_t budget, std::vector<int32_t> sequence) {
  PARLEY_CHECK(!sequence.empty() && budget >= 0);
  return std::make_shared<ForceFactory>(budget, std::move(sequence));
}

void apply_all(const std::vector<std::unique_ptr<TokenConstraint>>& chain, float* logits, int32_t n_vocab) {
  for (const auto& c : chain) c->apply(logits, n_vocab);
}

void accept_all(const std::vector<std::unique_ptr<TokenConstraint>>& chain, int32_t token) {
  for (const auto& c : chain) c->accept(token);
}

}  // namespace parley::sampling
