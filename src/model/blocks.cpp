#include "model/blocks.h"

#include <algorithm>

#include "model/ops.h"

namespace parley::model::blocks {

Status bind_attention(Binder& b, const std::string& p, const Config& c, LayerWeights& L) {
  const int64_t E = c.n_embd, Q = c.q_dim(), KV = c.kv_dim();
  PARLEY_TRY(L.attn_norm, b.vector(p + "attn_norm.weight", E));
  if (b.has(p + "attn_qkv.weight")) {
    PARLEY_TRY(WeightView qkv, b.matrix(p + "attn_qkv.weight", E, Q + 2 * KV));
    L.wq = row_slice(qkv, 0, Q);
    L.wk = row_slice(qkv, Q, KV);
    L.wv = row_slice(qkv, Q + KV, KV);
  } else {
    PARLEY_TRY(L.wq, b.matrix(p + "attn_q.weight", E, Q));
    PARLEY_TRY(L.wk, b.matrix(p + "attn_k.weight", E, KV));
    PARLEY_TRY(L.wv, b.matrix(p + "attn_v.weight", E, KV));
  }
  PARLEY_TRY(L.wo, b.matrix(p + "attn_output.weight", Q, E));
  return {};
}

Status bind_swiglu_ffn(Binder& b, const std::string& p, const Config& c, LayerWeights& L) {
  const int64_t E = c.n_embd, F = c.n_ff;
  PARLEY_TRY(L.ffn_norm, b.vector(p + "ffn_norm.weight", E));
  PARLEY_TRY(L.w_gate, b.matrix(p + "ffn_gate.weight", E, F));
  PARLEY_TRY(L.w_up, b.matrix(p + "ffn_up.weight", E, F));
  PARLEY_TRY(L.w_down, b.matrix(p + "ffn_down.weight", F, E));
  return {};
}

Status bind_fused_swiglu_ffn(Binder& b, const std::string& p, const Config& c, LayerWeights& L) {
  const int64_t E = c.n_embd, F = c.n_ff;
  PARLEY_TRY(L.ffn_norm, b.vector(p + "ffn_norm.weight", E));
  PARLEY_TRY(WeightView gate_up, b.matrix(p + "ffn_up.weight", E, 2 * F));
  L.w_gate = row_slice(gate_up, 0, F);  // ggml_swiglu: silu(first half) * second half
  L.w_up = row_slice(gate_up, F, F);
  PARLEY_TRY(L.w_down, b.matrix(p + "ffn_down.weight", F, E));
  return {};
}

Status bind_qk_norm(Binder& b, const std::string& p, const Config& c, LayerWeights& L) {
  PARLEY_TRY(L.q_norm, b.vector(p + "attn_q_norm.weight", c.head_dim));
  PARLEY_TRY(L.k_norm, b.vector(p + "attn_k_norm.weight", c.head_dim));
  return {};
}

ScratchShape dense_scratch(const Config& c) {
  return {c.q_dim(), c.kv_dim(), c.n_ff, std::max({c.n_embd, c.q_dim(), c.n_ff})};
}

float* embed(const ForwardArgs& a) {
  const Config& c = a.model.config();
  float* x = a.s.x.data();
  const int64_t T = a.batch.size();
  ops::embed(a.model.weights().token_embd, a.batch.tokens.data(), T, x);  // x [T, E]
  if (c.embd_scale > 0) {
    for (int64_t i = 0; i < T * c.n_embd; i++) x[i] *= c.embd_scale;
  }
  const int32_t* pos = a.batch.positions.data();
  ops::rope_cos_sin(pos, T, a.s.inv_freq.data(), c.n_rot, ops::rope_position_scale(c, false), ops::rope_mscale(c, false),
                    a.s.rope_cs.data());
  if (c.n_swa > 0) {  // the sliding layers' base; gemma3 unscaled (llama.cpp's rope_freq_scale_train_swa = 1)
    ops::rope_cos_sin(pos, T, a.s.inv_freq_swa.data(), c.n_rot, ops::rope_position_scale(c, true), ops::rope_mscale(c, true),
                      a.s.rope_cs_swa.data());
  }
  return x;
}

void attention_qkv(const ForwardArgs& a, const LayerWeights& L, const float* x) {
  const Config& c = a.model.config();
  Forward::Scratch& s = a.s;
  const int64_t T = a.batch.size();
  ops::rmsnorm(x, L.attn_norm, s.h.data(), T, c.n_embd, c.rms_eps, a.pool);          // h [T, E]
  ops::project_qkv(L, s.h.data(), T, s.q.data(), s.k.data(), s.v.data(), a.pool, s.mm);  // q [T, H*D], k v [T, Hkv*D]
}

void qk_norm(const ForwardArgs& a, const LayerWeights& L) {
  const Config& c = a.model.config();
  float *q = a.s.q.data(), *k = a.s.k.data();
  const int64_t T = a.batch.size();
  ops::rmsnorm(q, L.q_norm, q, T * c.n_head, c.head_dim, c.rms_eps, a.pool);  // per head
  ops::rmsnorm(k, L.k_norm, k, T * c.n_head_kv, c.head_dim, c.rms_eps, a.pool);
}

void qkv_bias(const ForwardArgs& a, const LayerWeights& L) {
  const Config& c = a.model.config();
  const int64_t T = a.batch.size();
  ops::add_bias(a.s.q.data(), L.bq, T, c.q_dim());
  ops::add_bias(a.s.k.data(), L.bk, T, c.kv_dim());
  ops::add_bias(a.s.v.data(), L.bv, T, c.kv_dim());
}

float* attend(const ForwardArgs& a, int32_t layer, const LayerWeights& L) {
  const Config& c = a.model.config();
  Forward::Scratch& s = a.s;
  const int64_t T = a.batch.size();
  float *q = s.q.data(), *k = s.k.data(), *h = s.h.data();
  const bool swa = c.is_swa(layer);
  const float* cs = swa ? s.rope_cs_swa.data() : s.rope_cs.data();
  if (c.has_rope(layer)) {
    ops::rope(q, T, c.n_head, c.head_dim, c.n_rot, c.rope_style, cs, a.pool);
    ops::rope(k, T, c.n_head_kv, c.head_dim, c.n_rot, c.rope_style, cs, a.pool);
  }
  ops::kv_store(a.kv, layer, k, s.v.data(), a.batch, a.seqs, c.n_head_kv, c.head_dim);
  const ops::AttentionShape shape{c.n_head, c.n_head_kv, c.head_dim, c.attn_scale, swa ? c.n_swa : 0, L.attn_sinks};
  ops::attention(q, s.att.data(), a.kv, layer, a.batch, a.seqs, shape, s.scores.data(), a.n_ctx, a.pool);  // att [T, H*D]
  matmul(L.wo, s.att.data(), T, h, a.pool, s.mm);                                                       // h [T, E]
  return h;
}

void attention(const ForwardArgs& a, int32_t layer, const LayerWeights& L, float* x) {
  residual_add(a, attend(a, layer, L), x);  // x [T, E] += h
}

void residual_add(const ForwardArgs& a, float* h, float* x) {
  const Config& c = a.model.config();
  const int64_t n = static_cast<int64_t>(a.batch.size()) * c.n_embd;
  if (c.residual_scale != 1.0f) {
    for (int64_t i = 0; i < n; i++) h[i] *= c.residual_scale;
  }
  ops::add(x, h, n);
}

Status bind_post_norms(Binder& b, const std::string& p, const Config& c, LayerWeights& L) {
  PARLEY_TRY(L.attn_post_norm, b.vector(p + "post_attention_norm.weight", c.n_embd));
  PARLEY_TRY(L.ffn_post_norm, b.vector(p + "post_ffw_norm.weight", c.n_embd));
  return {};
}

void post_norm_add(const ForwardArgs& a, const float* w, float* h, float* x) {
  const Config& c = a.model.config();
  const int64_t T = a.batch.size();
  ops::rmsnorm(h, w, h, T, c.n_embd, c.rms_eps, a.pool);  // h [T, E]
  ops::add(x, h, T * c.n_embd);
}

float* geglu_ffn(const ForwardArgs& a, const LayerWeights& L, const float* x) {
  const Config& c = a.model.config();
  Forward::Scratch& s = a.s;
  const int64_t T = a.batch.size();
  float *h = s.h.data(), *gate = s.gate.data();
  ops::rmsnorm(x, L.ffn_norm, h, T, c.n_embd, c.rms_eps, a.pool);  // h [T, E]
  ops::project_gate_up(L, h, T, gate, s.up.data(), a.pool, s.mm);  // gate, up [T, F]
  ops::geglu(gate, s.up.data(), T, c.n_ff, a.pool);                // gate [T, F]
  matmul(L.w_down, gate, T, h, a.pool, s.mm);                      // h [T, E]
  return h;
}

void swiglu_ffn(const ForwardArgs& a, const LayerWeights& L, float* x) {
  const Config& c = a.model.config();
  Forward::Scratch& s = a.s;
  const int64_t T = a.batch.size(), E = c.n_embd;
  float *h = s.h.data(), *gate = s.gate.data();
  ops::rmsnorm(x, L.ffn_norm, h, T, E, c.rms_eps, a.pool);              // h [T, E]
  ops::project_gate_up(L, h, T, gate, s.up.data(), a.pool, s.mm);      // gate, up [T, F]
  ops::swiglu(gate, s.up.data(), T, c.n_ff, a.pool);                   // gate [T, F]
  matmul(L.w_down, gate, T, h, a.pool, s.mm);                          // h [T, E]
  residual_add(a, h, x);
}

}  // namespace parley::model::blocks
