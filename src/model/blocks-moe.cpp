// The mixture-of-experts feed-forward block (blocks.h): routing, grouping of the step's rows by
// expert, and the experts' SwiGLU over each group.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/blocks.h"
#include "model/ops.h"

namespace parley::model::blocks {
namespace {

// Per row of router logits [n_rows, n_expert]: the k experts with the largest logits, largest
// first (ties: the lower id), and their weights exp(l_j - l_max) / sum over the k, which is the
// softmax over all experts renormalised over the k chosen (the full denominator cancels).
void route(const float* logits, int64_t n_rows, int32_t n_expert, int32_t k, int32_t* experts, float* weights) {
  for (int64_t r = 0; r < n_rows; r++) {
    const float* l = logits + r * n_expert;
    int32_t* ex = experts + r * k;
    int32_t n = 0;
    for (int32_t e = 0; e < n_expert; e++) {
      if (n == k && !(l[e] > l[ex[k - 1]])) continue;
      int32_t i = n < k ? n++ : k - 1;  // insertion into the sorted top-k
      while (i > 0 && l[e] > l[ex[i - 1]]) {
        ex[i] = ex[i - 1];
        i--;
      }
      ex[i] = e;
    }
    float* w = weights + r * k;
    float sum = 0;
    for (int32_t j = 0; j < k; j++) {
      w[j] = std::exp(l[ex[j]] - l[ex[0]]);
      sum += w[j];
    }
    for (int32_t j = 0; j < k; j++) w[j] /= sum;
  }
}

// Counting sort of the routes (row * k + j) by expert: expert e's routes are
// routes[begin[e] .. begin[e + 1]), rows ascending.
void group_by_expert(const int32_t* experts, int64_t n_routes, int32_t n_expert, int32_t* begin, int32_t* routes) {
  std::fill(begin, begin + n_expert + 1, 0);
  for (int64_t r = 0; r < n_routes; r++) begin[experts[r] + 1]++;
  for (int32_t e = 0; e < n_expert; e++) begin[e + 1] += begin[e];
  for (int64_t r = 0; r < n_routes; r++) routes[begin[experts[r]]++] = static_cast<int32_t>(r);
  // Each begin[e] now holds the end of expert e: shift back by one.
  for (int32_t e = n_expert; e > 0; e--) begin[e] = begin[e - 1];
  begin[0] = 0;
}

}  // namespace

Status read_moe_config(ConfigReader& r, Config& c, bool ff_required) {
  PARLEY_TRY(c.n_expert, r.count("expert_count"));
  PARLEY_TRY(c.n_expert_used, r.count("expert_used_count"));
  if (c.n_expert_used > c.n_expert) {
    return Error::fmt("key '%sexpert_used_count': %d is more than expert_count %d", r.prefix().c_str(), c.n_expert_used,
                      c.n_expert);
  }
  if (ff_required) {
    PARLEY_TRY(c.n_ff_exp, r.count("expert_feed_forward_length"));
  } else {
    PARLEY_TRY(c.n_ff_exp, r.count_or("expert_feed_forward_length", std::max(1, c.n_ff / c.n_expert_used)));
  }
  return {};
}

Status bind_moe_ffn(Binder& b, const std::string& p, const Config& c, LayerWeights& L) {
  PARLEY_TRY(L.ffn_norm, b.vector(p + "ffn_norm.weight", c.n_embd));
  return bind_moe_experts(b, p, c, L);
}

Status bind_moe_biases(Binder& b, const std::string& p, const Config& c, LayerWeights& L) {
  PARLEY_TRY(L.router_b, b.vector(p + "ffn_gate_inp.bias", c.n_expert));
  PARLEY_TRY(L.gate_exps_b, b.vectors(p + "ffn_gate_exps.bias", c.n_ff_exp, c.n_expert));
  PARLEY_TRY(L.up_exps_b, b.vectors(p + "ffn_up_exps.bias", c.n_ff_exp, c.n_expert));
  PARLEY_TRY(L.down_exps_b, b.vectors(p + "ffn_down_exps.bias", c.n_embd, c.n_expert));
  return {};
}

Status bind_moe_experts(Binder& b, const std::string& p, const Config& c, LayerWeights& L) {
  const int64_t E = c.n_embd, F = c.n_ff_exp;
  PARLEY_TRY(L.router, b.matrix(p + "ffn_gate_inp.weight", E, c.n_expert));
  PARLEY_TRY(L.gate_exps, b.experts(p + "ffn_gate_exps.weight", E, F, c.n_expert));
  PARLEY_TRY(L.up_exps, b.experts(p + "ffn_up_exps.weight", E, F, c.n_expert));
  PARLEY_TRY(L.down_exps, b.experts(p + "ffn_down_exps.weight", F, E, c.n_expert));
  return {};
}

ScratchShape moe_scratch(const Config& c) {
  return {c.q_dim(), c.kv_dim(), c.n_ff_exp, std::max({c.n_embd, c.q_dim(), c.n_ff_exp}), c.n_expert, c.n_expert_used};
}

void moe_ffn(const ForwardArgs& a, const LayerWeights& L, float* x, const MoeOptions& options) {
  const Config& c = a.model.config();
  Forward::Scratch& s = a.s;
  const int64_t T = a.batch.size(), E = c.n_embd, F = c.n_ff_exp;
  const int32_t N = c.n_expert, K = c.n_expert_used;
  float *h = s.h.data(), *in = s.moe_in.data(), *out = s.moe_out.data(), *gate = s.gate.data(), *up = s.up.data();
  ops::rmsnorm(x, L.ffn_norm, h, T, E, c.rms_eps, a.pool);                                    // h [T, E]
  matmul(L.router, h, T, s.router.data(), a.pool, s.mm);                                      // router [T, N]
  if (L.router_b != nullptr) ops::add_bias(s.router.data(), L.router_b, T, N);
  route(s.router.data(), T, N, K, s.route_expert.data(), s.route_weight.data());              // [T, K]
  group_by_expert(s.route_expert.data(), T * K, N, s.expert_begin.data(), s.expert_routes.data());
  for (int32_t e = 0; e < N; e++) {
    const int32_t* routes = s.expert_routes.data() + s.expert_begin[static_cast<size_t>(e)];
    const int64_t n = s.expert_begin[static_cast<size_t>(e) + 1] - s.expert_begin[static_cast<size_t>(e)];
    if (n == 0) continue;
    for (int64_t i = 0; i < n; i++) std::memcpy(in + i * E, h + (routes[i] / K) * E, static_cast<size_t>(E) * 4);  // in [n, E]
    const WeightView w_gate = L.gate_exps.at(e), w_up = L.up_exps.at(e), w_down = L.down_exps.at(e);
    const WeightView* w[2] = {&w_gate, &w_up};
    float* y[2] = {gate, up};
    matmul_multi(w, y, 2, in, n, a.pool, s.mm);                                               // gate, up [n, F]
    if (L.gate_exps_b != nullptr) {
      ops::add_bias(gate, L.gate_exps_b + static_cast<ptrdiff_t>(e) * F, n, F);
      ops::add_bias(up, L.up_exps_b + static_cast<ptrdiff_t>(e) * F, n, F);
    }
    if (options.swiglu_oai) {
      ops::swiglu_oai(gate, up, n, F, options.alpha, options.limit, a.pool);                  // gate [n, F]
    } else {
      ops::swiglu(gate, up, n, F, a.pool);                                                    // gate [n, F]
    }
    matmul(w_down, gate, n, out, a.pool, s.mm);                                               // out [n, E]
    if (L.down_exps_b != nullptr) ops::add_bias(out, L.down_exps_b + static_cast<ptrdiff_t>(e) * E, n, E);
    for (int64_t i = 0; i < n; i++) {
      // The residual sum takes each row's experts in id order, whatever else is in the batch.
      float* xr = x + (routes[i] / K) * E;
      const float* o = out + i * E;
      const float wt = s.route_weight[static_cast<size_t>(routes[i])];
      for (int64_t j = 0; j < E; j++) xr[j] += wt * o[j];
    }
  }
}

}  // namespace parley::model::blocks
