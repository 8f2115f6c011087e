// The blocks the architectures' forward passes are composed of, each with the loader of its
// weights: pre-norm attention (split where architectures differ: between the q/k/v projection
// and rope, e.g. qwen3's per-head q/k norm), the SwiGLU feed-forward and the mixture of SwiGLU
// experts. They work on the forward's scratch (ForwardArgs::s) for the batch's T rows; the
// residual stream x is [T, n_embd]. Gemma-style blocks norm their outputs too (attend,
// geglu_ffn, post_norm_add).
#pragma once

#include <string>

#include "model/arch.h"

namespace parley::model::blocks {

// attn_norm, attn_q/k/v (or one attn_qkv whose rows are q's, k's, then v's, as llama.cpp's
// create_tensor_qkv accepts for the llama-like architectures), attn_output.
Status bind_attention(Binder& b, const std::string& prefix, const Config& c, LayerWeights& L);
// ffn_norm, ffn_gate, ffn_up, ffn_down.
Status bind_swiglu_ffn(Binder& b, const std::string& prefix, const Config& c, LayerWeights& L);
// ffn_norm, ffn_up holding the gate's rows then up's (phi3; no ffn_gate), ffn_down; the same
// SwiGLU as bind_swiglu_ffn's tensors.
Status bind_fused_swiglu_ffn(Binder& b, const std::string& prefix, const Config& c, LayerWeights& L);
// attn_q_norm, attn_k_norm: an RMSNorm over each q and k head (qwen3).
Status bind_qk_norm(Binder& b, const std::string& prefix, const Config& c, LayerWeights& L);
// <arch>.expert_count and expert_used_count (checked: used <= count), then
// expert_feed_forward_length; unless required, files without it (early conversions) take
// llama.cpp's default n_ff / expert_used_count.
Status read_moe_config(ConfigReader& r, Config& c, bool ff_required);
// ffn_norm, the router ffn_gate_inp, the experts ffn_{gate,up,down}_exps (in blocks-moe.cpp).
Status bind_moe_ffn(Binder& b, const std::string& prefix, const Config& c, LayerWeights& L);
// The same without ffn_norm (an entry that norms the FFN input with another tensor binds it).
Status bind_moe_experts(Binder& b, const std::string& prefix, const Config& c, LayerWeights& L);
// The router's and the experts' biases: ffn_gate_inp.bias, ffn_{gate,up,down}_exps.bias (gpt-oss).
Status bind_moe_biases(Binder& b, const std::string& prefix, const Config& c, LayerWeights& L);
// Scratch of a model made of attention and the SwiGLU FFN, or the MoE FFN.
ScratchShape dense_scratch(const Config& c);
ScratchShape moe_scratch(const Config& c);

// x = the batch's token embeddings [T, E] (returned: s.x; times Config::embd_scale when set),
// and the rope cos/sin of its positions.
float* embed(const ForwardArgs& a);
// s.h = rmsnorm(x); s.q [T, H*D], s.k and s.v [T, Hkv*D] = its projections.
void attention_qkv(const ForwardArgs& a, const LayerWeights& L, const float* x);
// s.q, s.k = rmsnorm of each head (between attention_qkv and attention).
void qk_norm(const ForwardArgs& a, const LayerWeights& L);
// s.q, s.k, s.v += L.bq, L.bk, L.bv (qwen2, gpt-oss; after attention_qkv).
void qkv_bias(const ForwardArgs& a, const LayerWeights& L);
// Rope on s.q and s.k, K/V into the cache of this layer, causal attention, x += wo . att
// (times Config::residual_scale, as every residual add below). A sliding-window layer
// (Config::is_swa) ropes with its own base and sees its window only; a layer without rope
// (Config::has_rope) attends to the unrotated q and k.
void attention(const ForwardArgs& a, int32_t layer, const LayerWeights& L, float* x);
// The same without the residual add: returns s.h = wo . att [T, E].
float* attend(const ForwardArgs& a, int32_t layer, const LayerWeights& L);
// post_attention_norm, post_ffw_norm: RMSNorms on the attention and FFN outputs (gemma3).
Status bind_post_norms(Binder& b, const std::string& prefix, const Config& c, LayerWeights& L);
// x += rmsnorm(h) with weight w (h [T, E] is normed in place).
void post_norm_add(const ForwardArgs& a, const float* w, float* h, float* x);
// Returns s.h = down(gelu(gate . n) * (up . n)), n = rmsnorm(x) (GeGLU, the tanh GELU; the
// tensors of bind_swiglu_ffn); the caller adds it.
float* geglu_ffn(const ForwardArgs& a, const LayerWeights& L, const float* x);
// x += h * Config::residual_scale (h [T, E] is scaled in place).
void residual_add(const ForwardArgs& a, float* h, float* x);
// x += down(silu(gate . h) * (up . h)), h = rmsnorm(x).
void swiglu_ffn(const ForwardArgs& a, const LayerWeights& L, float* x);
// Mixture of SwiGLU experts: h = rmsnorm(x); each row goes to the K experts with the largest
// router logits, weighted by their softmax renormalised over the K (Qwen3-MoE's
// norm_topk_prob; the same as gpt-oss's softmax over the top K logits); x += sum_k w_k
// down_k(silu(gate_k . h) * (up_k . h)). The step's rows are grouped by expert, so each
// expert's weights are read once per step. The biases of bind_moe_biases are added where L
// has them (router logits, gate, up, down), and the activation is the plain SwiGLU or
// gpt-oss's clamped one (ops::swiglu_oai).
struct MoeOptions {
  bool swiglu_oai = false;
  float alpha = 1.702f, limit = 7.0f;  // swiglu_oai's (llama.cpp: constants of LLM_FFN_SWIGLU_OAI_MOE)
};
void moe_ffn(const ForwardArgs& a, const LayerWeights& L, float* x, const MoeOptions& options = {});

}  // namespace parley::model::blocks
