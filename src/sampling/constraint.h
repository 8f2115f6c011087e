// Logits processors that restrict which token may come next: the grammar mask of constrained
// decoding, banned tokens (tool_choice none, a stray thinking opener), a forced end of thinking
// when the budget is spent. They run before the sampler's filters (temperature, top-k/p, min-p),
// in chain order. A request carries factories; the engine makes one state per sequence, which
// lives as long as the sequence (preemption keeps it: generated tokens are never re-accepted).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace parley::sampling {

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Sets the logits of the tokens that may not come next to -infinity.
  virtual void apply(float* logits, int32_t n_vocab) = 0;
  // The token that was sampled (one that apply() left).
  virtual void accept(int32_t token) = 0;
};

class ConstraintFactory {
 public:
  virtual ~ConstraintFactory() = default;
  virtual std::unique_ptr<TokenConstraint> make() const = 0;
};

// Tokens that never come next.
std::shared_ptr<const ConstraintFactory> ban_tokens(std::vector<int32_t> tokens);

// After `budget` sampled tokens, forces `sequence` token by token unless it has already been
// generated (a thinking budget: the family's end-of-thinking tokens). Once the sequence is out,
// nothing is constrained any more.
std::shared_ptr<const ConstraintFactory> force_after(int32_t budget, std::vector<int32_t> sequence);

// Applies every constraint of a sequence, in order.
void apply_all(const std::vector<std::unique_ptr<TokenConstraint>>& chain, float* logits, int32_t n_vocab);
void accept_all(const std::vector<std::unique_ptr<TokenConstraint>>& chain, int32_t token);

}  // namespace parley::sampling
