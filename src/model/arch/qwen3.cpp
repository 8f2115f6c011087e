// qwen3: Qwen3 (dense). The llama block with an RMSNorm over each q and k head (before rope),
// rope on split halves (neox), head dim independent of the width (q proj 1024 -> 2048 for
// 0.6B). Pre-norm blocks as llama.
#include "model/forward.h"
#include "model/ops.h"

namespace parley::model {

void forward_qwen3(const ForwardArgs& a) {
  const Config& c = a.model.config();
  const Weights& w = a.model.weights();
  Forward::Scratch& s = a.s;
  const int64_t T = a.batch.size(), E = c.n_embd, F = c.n_ff;
  float *x = s.x.data(), *h = s.h.data(), *q = s.q.data(), *k = s.k.data(), *v = s.v.data();
  float *att = s.att.data(), *gate = s.gate.data(), *up = s.up.data();

  ops::embed(w.token_embd, a.batch.tokens.data(), T, x);                                    // x [T, E]
  ops::rope_cos_sin(a.batch.positions.data(), T, s.inv_freq.data(), c.n_rot, c.rope_freq_scale, s.rope_cs.data());
  for (int32_t l = 0; l < c.n_layer; l++) {
    const LayerWeights& L = w.layers[static_cast<size_t>(l)];
    // Attention.
    ops::rmsnorm(x, L.attn_norm, h, T, E, c.rms_eps, a.pool);                               // h [T, E]
    ops::project_qkv(L, h, T, q, k, v, a.pool, s.mm);                                       // q [T, H*D], k v [T, Hkv*D]
    ops::rmsnorm(q, L.q_norm, q, T * c.n_head, c.head_dim, c.rms_eps, a.pool);         // per head
    ops::rmsnorm(k, L.k_norm, k, T * c.n_head_kv, c.head_dim, c.rms_eps, a.pool);
    ops::rope(q, T, c.n_head, c.head_dim, c.n_rot, c.rope_style, s.rope_cs.data(), a.pool);
    ops::rope(k, T, c.n_head_kv, c.head_dim, c.n_rot, c.rope_style, s.rope_cs.data(), a.pool);
    ops::kv_store(a.kv, l, k, v, a.batch, a.seqs, c.n_head_kv, c.head_dim);
    ops::attention(q, att, a.kv, l, a.batch, a.seqs, c.n_head, c.n_head_kv, c.head_dim,     // att [T, H*D]
                   s.scores.data(), a.n_ctx, a.pool);
    matmul(L.wo, att, T, h, a.pool, s.mm);                                                  // h [T, E]
    ops::add(x, h, T * E);
    // Gated feed-forward.
    ops::rmsnorm(x, L.ffn_norm, h, T, E, c.rms_eps, a.pool);                                // h [T, E]
    ops::project_gate_up(L, h, T, gate, up, a.pool, s.mm);                                  // gate, up [T, F]
    ops::swiglu(gate, up, T, F, a.pool);                                                    // gate [T, F]
    matmul(L.w_down, gate, T, h, a.pool, s.mm);                                             // h [T, E]
    ops::add(x, h, T * E);
  }
  ops::logits_head(a, x);                                                                   // [n_out, n_vocab]
}

}  // namespace parley::model
