#include "sampling/grammar-constraint.h"

#include <span>
#include <vector>

#include "base/log.h"

namespace parley::sampling {
namespace {

class GrammarConstraint final : public TokenConstraint {
 public:
  explicit GrammarConstraint(std::shared_ptr<const CompiledGrammar> g)
      : matcher_(g), mask_(g->vocab().n_mask_words()) {}

  void apply(float* logits, int32_t n_vocab) override {
    if (broken_) return;
    // Lazy mode before its trigger constrains nothing: no mask to compute.
    if (!matcher_.engaged()) return;
    matcher_.fill_mask(mask_);
    apply_token_mask(std::span<float>(logits, static_cast<size_t>(n_vocab)), mask_, n_vocab);
  }

  void accept(int32_t token) override {
    if (broken_ || matcher_.accept(token)) return;
    // Only possible in lazy mode, where the token that completed a trigger was not masked and
    // carried text the grammar rejects: constraining further would mask everything.
    log_warn("grammar: token %d does not continue the grammar after its trigger; output no longer constrained",
             token);
    broken_ = true;
  }

 private:
  GrammarMatcher matcher_;
  std::vector<uint32_t> mask_;
  bool broken_ = false;
};

class GrammarFactory final : public ConstraintFactory {
 public:
  explicit GrammarFactory(std::shared_ptr<const CompiledGrammar> g) : grammar_(std::move(g)) {}
  std::unique_ptr<TokenConstraint> make() const override { return std::make_unique<GrammarConstraint>(grammar_); }

 private:
  std::shared_ptr<const CompiledGrammar> grammar_;
};

}  // namespace

std::shared_ptr<const ConstraintFactory> grammar_constraint(std::shared_ptr<const CompiledGrammar> grammar) {
  return std::make_shared<GrammarFactory>(std::move(grammar));
}

}  // namespace parley::sampling
