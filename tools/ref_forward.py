#!/usr/bin/python3
"""Reference forward pass in numpy (float64) for llama / qwen2 / qwen3 / qwen3moe / gemma3 / gpt-oss / granite / smollm3 / phi3 GGUF models: the
logits at every position of a token list, computed the plain textbook way (whole causal attention matrix,
no cache, no batching), to check the engine against.

usage: /usr/bin/python3 tools/ref_forward.py MODEL.gguf 1,2,3 OUT.npy
OUT.npy: float32 [n_tokens, n_vocab]
"""
import sys

import numpy as np

from gguf_numpy import dequantize, read_gguf


def rmsnorm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def yarn_inv_freq(n_rot, theta, factor, orig_ctx, beta_fast, beta_slow):
    """YaRN (Peng et al. 2023, as Hugging Face's _compute_yarn_parameters with truncation, and
    llama.cpp's ggml rope_yarn): each frequency blends its extrapolated (original) and
    interpolated (/ factor) value by a linear ramp between the correction dims of beta_fast and
    beta_slow; the attention factor 0.1 ln(factor) + 1 scales cos and sin."""
    half = n_rot // 2
    base = theta ** (-2.0 * np.arange(half) / n_rot)

    def corr_dim(n_rotations):
        return n_rot * np.log(orig_ctx / (n_rotations * 2 * np.pi)) / (2 * np.log(theta))

    low = max(np.floor(corr_dim(beta_fast)), 0)
    high = min(np.ceil(corr_dim(beta_slow)), n_rot - 1)
    ramp = np.clip((np.arange(half) - low) / max(high - low, 0.001), 0, 1)
    extrapolation = 1 - ramp  # 1: keep the original frequency
    inv_freq = base / factor * (1 - extrapolation) + base * extrapolation
    return inv_freq, 0.1 * np.log(factor) + 1.0


def rope(x, pos, n_rot, theta, neox, factors, freq_scale, mscale=1.0, yarn=None):
    """x: [T, heads, D]; rotates the first n_rot dims of each head, scaled by mscale (LongRoPE's
    attention factor, as Hugging Face applies it to cos and sin). yarn: (factor, orig_ctx,
    beta_fast, beta_slow) or None."""
    half = n_rot // 2
    inv_freq = theta ** (-2.0 * np.arange(half) / n_rot)
    if yarn is not None:
        inv_freq, yarn_mscale = yarn_inv_freq(n_rot, theta, *yarn)
        mscale = mscale * yarn_mscale
        freq_scale = 1.0
    if factors is not None:
        inv_freq = inv_freq / factors
    ang = (pos[:, None] * freq_scale) * inv_freq[None, :]  # [T, half]
    c, s = mscale * np.cos(ang)[:, None, :], mscale * np.sin(ang)[:, None, :]
    x = x.copy()
    i0 = np.arange(half) if neox else 2 * np.arange(half)
    i1 = i0 + half if neox else i0 + 1
    x0, x1 = x[:, :, i0].copy(), x[:, :, i1].copy()
    x[:, :, i0] = x0 * c - x1 * s
    x[:, :, i1] = x0 * s + x1 * c
    return x


def moe(h, W, p, k, margins):
    """Qwen3-MoE feed-forward, token by token: softmax over the router's logits, the top k
    experts, their probabilities renormalised to sum 1, each expert a SwiGLU."""
    router = h @ W(p + "ffn_gate_inp.weight").T  # [T, n_expert]
    gate_w, up_w, down_w = W(p + "ffn_gate_exps.weight"), W(p + "ffn_up_exps.weight"), W(p + "ffn_down_exps.weight")
    out = np.zeros_like(h)
    for t in range(h.shape[0]):
        prob = np.exp(router[t] - router[t].max())
        prob /= prob.sum()
        order = np.argsort(-router[t], kind="stable")
        top = order[:k]
        # How close the choice was: the gap between the k-th and the next router logit.
        margins.append(router[t, order[k - 1]] - router[t, order[k]] if k < len(order) else np.inf)
        w = prob[top] / prob[top].sum()
        for e, we in zip(top, w):
            gate, up = gate_w[e] @ h[t], up_w[e] @ h[t]
            out[t] += we * (down_w[e] @ (gate / (1 + np.exp(-gate)) * up))
    return out


def gpt_oss_moe(h, W, p, k, margins):
    """gpt-oss feed-forward, token by token: router logits plus bias, the top k, a softmax over
    those k; each expert's gate and up (plus biases) through the clamped SwiGLU of the
    reference implementation (gate clamped above at 7, up to [-7, 7], glu = gate *
    sigmoid(1.702 gate), out = glu * (up + 1)), then down plus its bias."""
    alpha, limit = 1.702, 7.0
    router = h @ W(p + "ffn_gate_inp.weight").T + W(p + "ffn_gate_inp.bias")  # [T, n_expert]
    gate_w, up_w, down_w = W(p + "ffn_gate_exps.weight"), W(p + "ffn_up_exps.weight"), W(p + "ffn_down_exps.weight")
    gate_b, up_b, down_b = W(p + "ffn_gate_exps.bias"), W(p + "ffn_up_exps.bias"), W(p + "ffn_down_exps.bias")
    out = np.zeros_like(h)
    for t in range(h.shape[0]):
        order = np.argsort(-router[t], kind="stable")
        top = order[:k]
        margins.append(router[t, order[k - 1]] - router[t, order[k]] if k < len(order) else np.inf)
        w = np.exp(router[t, top] - router[t, top].max())
        w /= w.sum()
        for e, we in zip(top, w):
            gate = np.minimum(gate_w[e] @ h[t] + gate_b[e], limit)
            up = np.clip(up_w[e] @ h[t] + up_b[e], -limit, limit)
            glu = gate / (1 + np.exp(-alpha * gate))
            out[t] += we * (down_w[e] @ (glu * (up + 1)) + down_b[e])
    return out


def forward(path, tokens, margins=None, n_ctx=256):
    """margins (a list, optional) gets the router margin of every token x MoE layer. n_ctx: the
    per-sequence context the model runs with, which picks LongRoPE's factor set (long when it
    exceeds rope.scaling.original_context_length, as llama.cpp; its context of the references,
    72, is padded to 256)."""
    margins = [] if margins is None else margins
    meta, tensors = read_gguf(path)
    arch = meta["general.architecture"]
    assert arch in ("llama", "qwen2", "qwen3", "qwen3moe", "gemma3", "gpt-oss", "granite", "smollm3", "phi3"), arch

    def W(name):
        t, shape, raw = tensors[name]
        return dequantize(t, raw, shape)

    def hp(key, default=None):
        return meta.get(f"{arch}.{key}", default)

    n_embd, n_layer = hp("embedding_length"), hp("block_count")
    n_head = hp("attention.head_count")
    n_head_kv = hp("attention.head_count_kv", n_head)
    head_dim = hp("attention.key_length", n_embd // n_head)
    n_rot = hp("rope.dimension_count", head_dim)
    eps = hp("attention.layer_norm_rms_epsilon")
    theta = hp("rope.freq_base", 10000.0)
    freq_scale = 1.0 / hp("rope.scaling.factor", 1.0) if hp("rope.scaling.type", "none") == "linear" else 1.0
    neox = arch in ("qwen2", "qwen3", "qwen3moe", "gemma3", "phi3", "gpt-oss")
    gemma = arch == "gemma3"
    oss = arch == "gpt-oss"
    yarn = None
    if hp("rope.scaling.type", "none") == "yarn":
        yarn = (hp("rope.scaling.factor"), hp("rope.scaling.original_context_length", hp("context_length")),
                hp("rope.scaling.yarn_beta_fast", 32.0), hp("rope.scaling.yarn_beta_slow", 1.0))
    factors = W("rope_freqs.weight") if "rope_freqs.weight" in tensors else None
    # Phi-3 LongRoPE: one factor set by the context, cos and sin times the attention factor.
    # attention.sliding_window is not applied (llama.cpp turns it off for phi3).
    mscale = hp("rope.scaling.attn_factor", 1.0)
    if factors is None and "rope_factors_long.weight" in tensors:
        long = n_ctx > hp("rope.scaling.original_context_length", hp("context_length"))
        factors = W("rope_factors_long.weight" if long else "rope_factors_short.weight")

    T = len(tokens)
    pos = np.arange(T, dtype=np.float64)
    x = W("token_embd.weight")[tokens]  # [T, E]
    causal = np.triu(np.full((T, T), -np.inf), k=1)
    group = n_head // n_head_kv
    scale = 1.0 / np.sqrt(head_dim)
    # Granite's multipliers (Hugging Face GraniteForCausalLM: embedding_multiplier,
    # residual_multiplier, attention_multiplier as the q.k scale, logits_scaling dividing).
    residual = hp("residual_scale", 1.0) if arch == "granite" else 1.0
    if arch == "granite":
        x = x * hp("embedding_scale", 1.0)
        scale = hp("attention.scale", scale)
    if gemma:
        # Gemma 3 (as llama.cpp and Hugging Face's Gemma3): embeddings times sqrt(n_embd); 5 local
        # layers then 1 global (layer l local when l % 6 < 5), local ones masking keys j with
        # i - j >= sliding_window and roping with base 10000 unscaled; q.k scaled by
        # 1/sqrt(head_dim) (27B, 62 layers: query_pre_attn_scalar = n_embd / n_head). The GGUF's
        # norm weights already hold Gemma's 1 + w.
        x = x * np.sqrt(n_embd)
        window = hp("attention.sliding_window")
        ii, jj = np.arange(T)[:, None], np.arange(T)[None, :]
        local_mask = np.where(ii - jj >= window, -np.inf, 0.0) + causal
        if n_layer == 62:
            scale = 1.0 / np.sqrt(n_embd // n_head)
    if oss:
        # gpt-oss: even layers slide (keys j with i - j >= sliding_window masked), odd ones see
        # everything; every layer ropes alike (YaRN); each head's sink joins its softmax.
        window = hp("attention.sliding_window")
        ii, jj = np.arange(T)[:, None], np.arange(T)[None, :]
        local_mask = np.where(ii - jj >= window, -np.inf, 0.0) + causal
    for l in range(n_layer):
        local = (gemma and l % 6 < 5) or (oss and l % 2 == 0)
        mask = local_mask if local else causal
        l_theta, l_scale = (10000.0, 1.0) if local and gemma else (theta, freq_scale)
        p = f"blk.{l}."
        h = rmsnorm(x, W(p + "attn_norm.weight"), eps)
        if p + "attn_qkv.weight" in tensors:  # phi3: q's rows, then k's, then v's
            qkv = h @ W(p + "attn_qkv.weight").T
            nq, nkv = n_head * head_dim, n_head_kv * head_dim
            q, k, v = qkv[:, :nq], qkv[:, nq:nq + nkv], qkv[:, nq + nkv:]
        else:
            q, k, v = h @ W(p + "attn_q.weight").T, h @ W(p + "attn_k.weight").T, h @ W(p + "attn_v.weight").T
        if arch in ("qwen2", "gpt-oss"):
            q, k, v = q + W(p + "attn_q.bias"), k + W(p + "attn_k.bias"), v + W(p + "attn_v.bias")
        q, k, v = q.reshape(T, n_head, head_dim), k.reshape(T, n_head_kv, head_dim), v.reshape(T, n_head_kv, head_dim)
        if arch in ("qwen3", "qwen3moe", "gemma3"):
            q, k = rmsnorm(q, W(p + "attn_q_norm.weight"), eps), rmsnorm(k, W(p + "attn_k_norm.weight"), eps)
        # SmolLM3: layers 3, 7, 11, ... without rope (Hugging Face's no_rope_layers, interval 4).
        if not (arch == "smollm3" and (l + 1) % 4 == 0):
            q = rope(q, pos, n_rot, l_theta, neox, factors, l_scale, mscale, yarn)
            k = rope(k, pos, n_rot, l_theta, neox, factors, l_scale, mscale, yarn)
        sinks = W(p + "attn_sinks.weight") if oss else None
        out = np.empty((T, n_head, head_dim))
        for hh in range(n_head):
            g = hh // group
            s = q[:, hh, :] @ k[:, g, :].T * scale + mask  # [T, T]
            if sinks is not None:
                # The sink as one more column of the scores, dropped after the softmax.
                s = np.concatenate([s, np.full((T, 1), sinks[hh])], axis=1)
            s = np.exp(s - s.max(axis=1, keepdims=True))
            s = s / s.sum(axis=1, keepdims=True)
            out[:, hh, :] = s[:, :T] @ v[:, g, :]
        attn = out.reshape(T, n_head * head_dim) @ W(p + "attn_output.weight").T
        if oss:
            attn = attn + W(p + "attn_output.bias")
        if gemma:
            attn = rmsnorm(attn, W(p + "post_attention_norm.weight"), eps)
        x = x + residual * attn
        h = rmsnorm(x, W(p + ("post_attention_norm.weight" if oss else "ffn_norm.weight")), eps)
        if oss:
            x = x + residual * gpt_oss_moe(h, W, p, hp("expert_used_count"), margins)
        elif gemma:
            # GeGLU with the tanh GELU (gelu_pytorch_tanh), its output normed too.
            gate, up = h @ W(p + "ffn_gate.weight").T, h @ W(p + "ffn_up.weight").T
            gelu = 0.5 * gate * (1 + np.tanh(np.sqrt(2 / np.pi) * (gate + 0.044715 * gate ** 3)))
            x = x + rmsnorm((gelu * up) @ W(p + "ffn_down.weight").T, W(p + "post_ffw_norm.weight"), eps)
        elif arch == "qwen3moe":
            x = x + moe(h, W, p, hp("expert_used_count"), margins)
        else:
            if arch == "phi3":  # ffn_up holds the gate's rows, then up's
                gate, up = np.split(h @ W(p + "ffn_up.weight").T, 2, axis=1)
            else:
                gate, up = h @ W(p + "ffn_gate.weight").T, h @ W(p + "ffn_up.weight").T
            x = x + residual * ((gate / (1 + np.exp(-gate)) * up) @ W(p + "ffn_down.weight").T)
    x = rmsnorm(x, W("output_norm.weight"), eps)
    out_w = W("output.weight") if "output.weight" in tensors else W("token_embd.weight")
    logits = x @ out_w.T  # [T, n_vocab]
    if arch == "granite":
        logits = logits / hp("logit_scale")
    cap = hp("final_logit_softcapping", 0.0) if gemma else 0.0
    return cap * np.tanh(logits / cap) if cap else logits


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    tokens = [int(t) for t in sys.argv[2].split(",") if t]
    logits = forward(sys.argv[1], tokens)
    np.save(sys.argv[3], logits.astype(np.float32))
    print(f"wrote {sys.argv[3]}: {logits.shape[0]} positions x {logits.shape[1]} logits")


if __name__ == "__main__":
    main()
