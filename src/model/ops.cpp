#include "model/ops.h"
#include "model/kv-rows.h"
#include "model/parallel.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/check.h"
#include "base/cpu.h"
#include "model/kernels-x86.h"
#include "tensor/quant.h"

namespace parley::model::ops {

float dot(const float* a, const float* b, int64_t n) {
  if (cpu_path_at_least(CpuPath::avx2)) return avx2_dot(a, b, n);
  float s = 0;
  for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

void exp_inplace(float* x, int64_t n) {
  if (cpu_path_at_least(CpuPath::avx2)) return avx2_exp_inplace(x, n);
  for (int64_t i = 0; i < n; i++) x[i] = std::exp(x[i]);
}

void rmsnorm(const float* x, const float* w, float* out, int64_t n_rows, int64_t n, float eps, ThreadPool& pool) {
  for_rows(pool, n_rows, [&](int64_t r) {
    const float* xr = x + r * n;
    float* o = out + r * n;
    float scale = 1.0f / std::sqrt(dot(xr, xr, n) / static_cast<float>(n) + eps);
    for (int64_t i = 0; i < n; i++) o[i] = xr[i] * scale * w[i];
  });
}

void embed(const WeightView& table, const int32_t* tokens, int64_t n_tokens, float* out) {
  for (int64_t t = 0; t < n_tokens; t++) {
    PARLEY_CHECK(tokens[t] >= 0 && tokens[t] < table.n_rows);
    dequantize_row(table.type, table.row(tokens[t]), out + t * table.n_cols, table.n_cols);
  }
}

void add_bias(float* x, const float* b, int64_t n_rows, int64_t n) {
  for (int64_t r = 0; r < n_rows; r++) add(x + r * n, b, n);
}

void project_qkv(const LayerWeights& L, const float* h, int64_t n_rows, float* q, float* k, float* v,
                 ThreadPool& pool, MatmulScratch& mm) {
  const WeightView* w[3] = {&L.wq, &L.wk, &L.wv};
  float* y[3] = {q, k, v};
  matmul_multi(w, y, 3, h, n_rows, pool, mm);
}

void project_gate_up(const LayerWeights& L, const float* h, int64_t n_rows, float* gate, float* up,
                     ThreadPool& pool, MatmulScratch& mm) {
  const WeightView* w[2] = {&L.w_gate, &L.w_up};
  float* y[2] = {gate, up};
  matmul_multi(w, y, 2, h, n_rows, pool, mm);
}

void add(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] += y[i];
}

namespace {
void inv_freq_for(float theta, int32_t n_rot, const float* freq_factors, float* inv_freq) {
  for (int32_t i = 0; i < n_rot / 2; i++) {
    double f = std::pow(static_cast<double>(theta), -2.0 * i / n_rot);
    if (freq_factors != nullptr) f /= freq_factors[i];
    inv_freq[i] = static_cast<float>(f);
  }
}

// YaRN (Config::rope_yarn): each frequency mixes its interpolated (times freq_scale) and its
// original value by the ramp; the correction dims as ggml_rope_yarn_corr_dims computes them
// (in float, so the floor and ceil land where llama.cpp's do).
void yarn_mix(const Config& c, float theta, float* inv_freq) {
  const int32_t n = c.n_rot;
  auto corr_dim = [&](float beta) {
    return static_cast<float>(n) * std::log(static_cast<float>(c.yarn_orig_ctx) / (beta * 2.0f * static_cast<float>(M_PI))) /
           (2.0f * std::log(theta));
  };
  const float lo = std::max(0.0f, std::floor(corr_dim(c.yarn_beta_fast)));
  const float hi = std::min(static_cast<float>(n - 1), std::ceil(corr_dim(c.yarn_beta_slow)));
  const float s = c.rope_freq_scale;
  for (int32_t i = 0; i < n / 2; i++) {
    const float y = (static_cast<float>(i) - lo) / std::max(0.001f, hi - lo);
    const float ramp = 1.0f - std::min(1.0f, std::max(0.0f, y));
    inv_freq[i] *= s * (1.0f - ramp) + ramp;
  }
}
}  // namespace

void rope_inv_freq(const Config& c, const float* freq_factors, float* inv_freq) {
  inv_freq_for(c.rope_theta, c.n_rot, freq_factors, inv_freq);
  if (c.rope_yarn) yarn_mix(c, c.rope_theta, inv_freq);
}

void rope_inv_freq_swa(const Config& c, float* inv_freq) {
  inv_freq_for(c.rope_theta_swa, c.n_rot, nullptr, inv_freq);
  if (c.rope_yarn && c.rope_scaled_swa) yarn_mix(c, c.rope_theta_swa, inv_freq);
}

float rope_position_scale(const Config& c, bool swa) {
  if (swa && !c.rope_scaled_swa) return 1.0f;
  return c.rope_yarn ? 1.0f : c.rope_freq_scale;  // YaRN's scale is in its frequencies
}

float rope_mscale(const Config& c, bool swa) {
  if (!c.rope_yarn) return c.rope_attn_factor;  // LongRoPE's (phi3); 1 elsewhere
  return swa && !c.rope_scaled_swa ? 1.0f : c.yarn_mscale;
}

void rope_cos_sin(const int32_t* positions, int64_t n_rows, const float* inv_freq, int32_t n_rot, float freq_scale,
                  float mscale, float* cos_sin) {
  for (int64_t r = 0; r < n_rows; r++) {
    double p = static_cast<double>(positions[r]) * freq_scale;
    float* cs = cos_sin + r * n_rot;
    for (int32_t i = 0; i < n_rot / 2; i++) {
      double theta = p * inv_freq[i];
      cs[2 * i] = static_cast<float>(std::cos(theta)) * mscale;
      cs[2 * i + 1] = static_cast<float>(std::sin(theta)) * mscale;
    }
  }
}

void rope(float* x, int64_t n_rows, int32_t n_heads, int32_t head_dim, int32_t n_rot, RopeStyle style,
          const float* cos_sin, ThreadPool& pool) {
  const int32_t half = n_rot / 2;
  for_rows(pool, n_rows, [&](int64_t r) {
    const float* cs = cos_sin + r * n_rot;
    for (int32_t h = 0; h < n_heads; h++) {
      float* xh = x + (r * n_heads + h) * head_dim;
      for (int32_t i = 0; i < half; i++) {
        // normal: adjacent pairs (2i, 2i+1); neox: split halves (i, i + n_rot/2).
        int32_t i0 = style == RopeStyle::normal ? 2 * i : i;
        int32_t i1 = style == RopeStyle::normal ? 2 * i + 1 : i + half;
        float c = cs[2 * i], s = cs[2 * i + 1];
        float x0 = xh[i0], x1 = xh[i1];
        xh[i0] = x0 * c - x1 * s;
        xh[i1] = x0 * s + x1 * c;
      }
    }
  });
}

void kv_store(const KvView& kv, int32_t layer, const float* k, const float* v, const Batch& batch,
              std::span<const SeqKv> seqs, int32_t n_head_kv, int32_t head_dim) {
  const int32_t bs = kv.block_size;
  const size_t row_bytes = kv_row_bytes(kv.type, head_dim);
  const int64_t kv_dim = static_cast<int64_t>(n_head_kv) * head_dim;
  for (int32_t t = 0; t < batch.size(); t++) {
    const SeqKv& seq = seqs[static_cast<size_t>(batch.seqs[t])];
    int32_t pos = batch.positions[t];
    PARLEY_CHECK_MSG(pos / bs < seq.n_blocks, "position beyond the sequence's KV blocks");
    int64_t block = seq.blocks[pos / bs];
    for (int32_t g = 0; g < n_head_kv; g++) {
      // Rows are quantized on store (kv-rows.h): Q8_0 blocks never span two rows.
      size_t off = static_cast<size_t>((block * n_head_kv + g) * bs + pos % bs) * row_bytes;
      kv_row_store(kv.type, k + t * kv_dim + g * head_dim, kv.k[layer] + off, head_dim);
      kv_row_store(kv.type, v + t * kv_dim + g * head_dim, kv.v[layer] + off, head_dim);
    }
  }
}

void swiglu(float* gate, const float* up, int64_t n_rows, int64_t n, ThreadPool& pool) {
  const bool simd = cpu_path_at_least(CpuPath::avx2);
  for_rows(pool, n_rows, [&](int64_t r) {
    float* g = gate + r * n;
    const float* u = up + r * n;
    if (simd) return avx2_swiglu_row(g, u, n);
    for (int64_t i = 0; i < n; i++) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  });
}

void swiglu_oai(float* gate, const float* up, int64_t n_rows, int64_t n, float alpha, float limit, ThreadPool& pool) {
  const bool simd = cpu_path_at_least(CpuPath::avx2);
  for_rows(pool, n_rows, [&](int64_t r) {
    float* g = gate + r * n;
    const float* u = up + r * n;
    if (simd) return avx2_swiglu_oai_row(g, u, n, alpha, limit);
    for (int64_t i = 0; i < n; i++) {
      const float x = std::min(g[i], limit), y = std::clamp(u[i], -limit, limit);
      g[i] = x / (1.0f + std::exp(-alpha * x)) * (y + 1.0f);
    }
  });
}

void geglu(float* gate, const float* up, int64_t n_rows, int64_t n, ThreadPool& pool) {
  const float k = 0.7978845608028654f;  // sqrt(2 / pi)
  const bool simd = cpu_path_at_least(CpuPath::avx2);
  for_rows(pool, n_rows, [&](int64_t r) {
    float* g = gate + r * n;
    const float* u = up + r * n;
    if (simd) return avx2_geglu_row(g, u, n);
    for (int64_t i = 0; i < n; i++) {
      const float x = g[i];
      g[i] = 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x))) * u[i];
    }
  });
}

void softcap(float* x, int64_t n, float cap) {
  for (int64_t i = 0; i < n; i++) x[i] = cap * std::tanh(x[i] / cap);
}

void logits_head(const ForwardArgs& a, const float* x) {
  const Config& c = a.model.config();
  const int64_t E = c.n_embd;
  float* xo = a.s.out_x.data();
  int64_t n_out = 0;
  for (int32_t t = 0; t < a.batch.size(); t++) {
    if (a.batch.want_logits[t]) std::memcpy(xo + (n_out++) * E, x + t * E, static_cast<size_t>(E) * 4);
  }
  if (n_out == 0) return;
  rmsnorm(xo, a.model.weights().output_norm, xo, n_out, E, c.rms_eps, a.pool);  // xo [n_out, E]
  matmul(a.model.weights().output, xo, n_out, a.logits, a.pool, a.s.mm);      // [n_out, n_vocab]
  if (c.logit_scale != 1.0f) {
    const float inv = 1.0f / c.logit_scale;  // as llama.cpp: times the reciprocal
    for (int64_t i = 0; i < n_out * c.n_vocab; i++) a.logits[i] *= inv;
  }
}

}  // namespace parley::model::ops
