// The grammar as a logits processor (sampling/constraint.h): each sequence gets its own
// GrammarMatcher over the request's shared CompiledGrammar; apply() masks what the grammar
// forbids, accept() advances it by the sampled token.
#pragma once

#include <memory>

#include "sampling/constraint.h"
#include "sampling/grammar-matcher.h"

namespace parley::sampling {

std::shared_ptr<const ConstraintFactory> grammar_constraint(std::shared_ptr<const CompiledGrammar> grammar);

}  // namespace parley::sampling
