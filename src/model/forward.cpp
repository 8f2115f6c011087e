#include "model/forward.h"

#include "base/check.h"
#include "model/arch.h"
#include "model/ops.h"

namespace parley::model {

Forward::Forward(const Model& model, const ForwardOptions& options, ThreadPool& pool)
    : model_(&model), options_(options), pool_(&pool), n_vocab_(model.config().n_vocab) {
  const Config& c = model.config();
  PARLEY_CHECK(options.max_tokens > 0 && options.max_logits > 0 && options.n_ctx > 0);
  const ScratchShape shape = c.arch->scratch(c);
  auto T = static_cast<size_t>(options.max_tokens);
  s_.x.resize(T * static_cast<size_t>(c.n_embd));
  s_.h.resize(T * static_cast<size_t>(c.n_embd));
  s_.q.resize(T * static_cast<size_t>(shape.q));
  s_.k.resize(T * static_cast<size_t>(shape.kv));
  s_.v.resize(T * static_cast<size_t>(shape.kv));
  s_.att.resize(T * static_cast<size_t>(shape.q));
  s_.gate.resize(T * static_cast<size_t>(shape.ff));
  s_.up.resize(T * static_cast<size_t>(shape.ff));
  s_.out_x.resize(static_cast<size_t>(options.max_logits) * static_cast<size_t>(c.n_embd));
  s_.scores.resize(static_cast<size_t>(pool.size()) *
                   ops::attention_scratch_floats(c.n_head / c.n_head_kv, c.head_dim, options.n_ctx));
  s_.rope_cs.resize(T * static_cast<size_t>(c.n_rot));
  s_.inv_freq.resize(static_cast<size_t>(c.n_rot / 2));
  if (shape.n_expert > 0) {
    const size_t routes = T * static_cast<size_t>(shape.n_expert_used);
    s_.router.resize(T * static_cast<size_t>(shape.n_expert));
    s_.route_expert.resize(routes);
    s_.route_weight.resize(routes);
    s_.expert_begin.resize(static_cast<size_t>(shape.n_expert) + 1);
    s_.expert_routes.resize(routes);
    s_.moe_in.resize(T * static_cast<size_t>(c.n_embd));
    s_.moe_out.resize(T * static_cast<size_t>(c.n_embd));
  }
  ops::rope_inv_freq(c, rope_factors(model, options.n_ctx), s_.inv_freq.data());
  if (c.n_swa > 0) {
    s_.rope_cs_swa.resize(T * static_cast<size_t>(c.n_rot));
    s_.inv_freq_swa.resize(static_cast<size_t>(c.n_rot / 2));
    ops::rope_inv_freq_swa(c, s_.inv_freq_swa.data());
  }
  s_.mm.reserve(options.max_tokens, shape.matmul_cols, pool.size());
  logits_.resize(static_cast<size_t>(options.max_logits) * static_cast<size_t>(n_vocab_));
}

void Forward::run(const Batch& batch, const KvView& kv, std::span<const SeqKv> seqs) {
  const Config& c = model_->config();
  const int32_t n = batch.size();
  PARLEY_CHECK(n > 0 && n <= options_.max_tokens);
  PARLEY_CHECK(batch.positions.size() == batch.tokens.size() && batch.seqs.size() == batch.tokens.size() &&
               batch.want_logits.size() == batch.tokens.size());
  PARLEY_CHECK(static_cast<int32_t>(kv.k.size()) == c.n_layer && static_cast<int32_t>(kv.v.size()) == c.n_layer);
  int32_t n_out = 0;
  for (int32_t i = 0; i < n; i++) {
    PARLEY_CHECK(batch.tokens[i] >= 0 && batch.tokens[i] < c.n_vocab);
    PARLEY_CHECK(batch.positions[i] >= 0 && batch.positions[i] < options_.n_ctx);
    PARLEY_CHECK(batch.seqs[i] >= 0 && static_cast<size_t>(batch.seqs[i]) < seqs.size());
    n_out += batch.want_logits[i] ? 1 : 0;
  }
  PARLEY_CHECK_MSG(n_out <= options_.max_logits, "more logit rows than ForwardOptions::max_logits");
  ForwardArgs args{*model_, s_, batch, kv, seqs, *pool_, logits_.data(), options_.n_ctx};
  c.arch->forward(args);
  n_logits_ = n_out;
}

uint64_t Forward::scratch_bytes() const {
  size_t floats = logits_.size() + s_.route_expert.size() + s_.expert_begin.size() + s_.expert_routes.size();
  for (const std::vector<float>* b : {&s_.x, &s_.h, &s_.q, &s_.k, &s_.v, &s_.att, &s_.gate, &s_.up, &s_.out_x, &s_.scores,
                                      &s_.rope_cs, &s_.inv_freq, &s_.rope_cs_swa, &s_.inv_freq_swa, &s_.router, &s_.route_weight, &s_.moe_in, &s_.moe_out}) {
    floats += b->size();
  }
  return 4 * static_cast<uint64_t>(floats) + s_.mm.capacity_bytes();
}

}  // namespace parley::model
