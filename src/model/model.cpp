#include "model/model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>
#include <filesystem>

#include "base/strings.h"
#include "model/arch.h"
#include "tensor/quant.h"

namespace parley::model {
namespace {

// The keys every architecture shares, then the entry's own (model/arch.h).
Result<Config> read_config(const gguf::File& f) {
  Config c;
  PARLEY_TRY(std::string_view arch, f.get_string("general.architecture"));
  c.arch = find_arch(arch);
  if (c.arch == nullptr) {
    std::string names;
    for (const Arch* known : all_archs()) names += std::string(names.empty() ? "" : ", ") + known->name;
    return Error::fmt("unsupported architecture %s (supported: %s)", quote_for_message(arch).c_str(), names.c_str());
  }
  c.rope_style = c.arch->rope_style;
  std::string a(arch);
  PARLEY_TRY(auto experts, f.get_uint_opt(a + ".expert_count"));
  if (experts && *experts > 0 && !c.arch->experts) {
    return Error::fmt("%s with %llu experts (mixture of experts) is not supported", a.c_str(), static_cast<unsigned long long>(*experts));
  }
  ConfigReader r(f, a);
  PARLEY_TRY(c.n_ctx_train, r.count("context_length"));
  PARLEY_TRY(c.n_embd, r.count("embedding_length"));
  PARLEY_TRY(c.n_layer, r.count("block_count"));
  PARLEY_TRY(c.n_ff, r.count("feed_forward_length"));
  PARLEY_TRY(c.n_head, r.count("attention.head_count"));
  PARLEY_TRY(c.n_head_kv, r.count_or("attention.head_count_kv", c.n_head));
  if (c.n_head % c.n_head_kv != 0) {
    return Error::fmt("attention.head_count %d is not a multiple of head_count_kv %d", c.n_head, c.n_head_kv);
  }
  PARLEY_TRY(c.head_dim, r.count_or("attention.key_length", c.n_embd / c.n_head));
  PARLEY_TRY(int32_t value_dim, r.count_or("attention.value_length", c.head_dim));
  if (value_dim != c.head_dim) {
    return Error::fmt("attention.value_length %d differs from key_length %d (not supported)", value_dim, c.head_dim);
  }
  PARLEY_TRY(c.n_rot, r.count_or("rope.dimension_count", c.head_dim));
  if (c.n_rot > c.head_dim || c.n_rot % 2 != 0) {
    return Error::fmt("rope.dimension_count %d: expected an even number <= head dim %d", c.n_rot, c.head_dim);
  }
  PARLEY_TRY(auto eps, f.get_float(a + ".attention.layer_norm_rms_epsilon"));
  if (!(eps > 0 && eps < 1)) return Error::fmt("key '%s.attention.layer_norm_rms_epsilon': %g is out of range", a.c_str(), eps);
  c.rms_eps = static_cast<float>(eps);
  PARLEY_TRY(c.rope_theta, r.real_or("rope.freq_base", 10000.0f));
  PARLEY_TRY(auto scaling, f.get_string_opt(a + ".rope.scaling.type"));
  if (scaling && *scaling != "none") {
    if (*scaling != "linear" && *scaling != "yarn") {
      return Error::fmt("rope scaling %s is not supported (none, linear, yarn, or Llama-3 rope_freqs)",
                        quote_for_message(*scaling).c_str());
    }
    PARLEY_TRY(float factor, r.real_or("rope.scaling.factor", 1.0f));
    c.rope_freq_scale = 1.0f / factor;
    if (*scaling == "yarn") {
      // As llama.cpp: ext_factor 1; its attention factor (llama-context.cpp) cancels ggml's own
      // 1 + 0.1 ln(factor) unless rope.scaling.yarn_log_multiplier is set (DeepSeek-style
      // mscale, not supported), leaving rope.scaling.attn_factor times that.
      PARLEY_TRY(auto log_mul, f.get_float_opt(a + ".rope.scaling.yarn_log_multiplier"));
      if (log_mul && *log_mul != 0) {
        return Error::fmt("key '%s.rope.scaling.yarn_log_multiplier' (%g): YaRN with a log multiplier is not supported",
                          a.c_str(), *log_mul);
      }
      c.rope_yarn = true;
      PARLEY_TRY(c.yarn_orig_ctx, r.count_or("rope.scaling.original_context_length", c.n_ctx_train));
      PARLEY_TRY(c.yarn_beta_fast, r.real_or("rope.scaling.yarn_beta_fast", 32.0f));
      PARLEY_TRY(c.yarn_beta_slow, r.real_or("rope.scaling.yarn_beta_slow", 1.0f));
      PARLEY_TRY(float attn_factor, r.real_or("rope.scaling.attn_factor", 1.0f));
      c.yarn_mscale = factor > 1.0f ? attn_factor * (1.0f + 0.1f * std::log(factor)) : attn_factor;
    }
  }
  PARLEY_TRY(c.rope_attn_factor, r.real_or("rope.scaling.attn_factor", 1.0f));
  // Absent or 0: the trained context (llama.cpp's n_ctx_orig_yarn fallback).
  PARLEY_TRY(auto orig, f.get_uint_opt(a + ".rope.scaling.original_context_length"));
  c.n_ctx_orig = orig && *orig > 0 && *orig < (1u << 30) ? static_cast<int32_t>(*orig) : c.n_ctx_train;
  c.attn_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  if (c.arch->read_config != nullptr) PARLEY_CHECK_OK(c.arch->read_config(r, c));
  // Only entries that read the window (setting n_swa) run it.
  PARLEY_TRY(auto window, f.get_uint_opt(a + ".attention.sliding_window"));
  if (window && *window > 0 && c.n_swa == 0 && !c.ignores_sliding_window) {
    return Error::fmt("sliding-window attention (%s.attention.sliding_window = %llu) is not supported for %s", a.c_str(),
                      static_cast<unsigned long long>(*window), a.c_str());
  }
  if (auto name = f.get_string_opt("general.name"); name.ok() && name->has_value()) c.name = std::string(**name);
  return c;
}

// The embedding, output head and rope factors; each layer's tensors through the entry.
Result<Weights> bind_weights(const gguf::File& f, Config& c, uint64_t& bytes) {
  Binder b(f);
  Weights w;
  const gguf::TensorInfo* embd = f.find_tensor("token_embd.weight");
  if (embd == nullptr) return Error{"missing tensor 'token_embd.weight'"};
  if (embd->shape.size() != 2 || embd->shape[0] != static_cast<uint64_t>(c.n_embd) || embd->shape[1] == 0 ||
      embd->shape[1] > (1u << 24)) {
    return Error::fmt("tensor 'token_embd.weight': expected shape [%d, n_vocab], got %s", c.n_embd, shape_str(embd->shape).c_str());
  }
  c.n_vocab = static_cast<int32_t>(embd->shape[1]);
  PARLEY_TRY(w.token_embd, b.matrix("token_embd.weight", c.n_embd, c.n_vocab));
  const int64_t E = c.n_embd;
  for (int32_t l = 0; l < c.n_layer; l++) {
    LayerWeights L;
    PARLEY_CHECK_OK(c.arch->bind_layer(b, "blk." + std::to_string(l) + ".", c, L));
    w.layers.push_back(L);
  }
  PARLEY_TRY(w.output_norm, b.vector("output_norm.weight", E));
  if (f.find_tensor("output.weight") != nullptr) {
    PARLEY_TRY(w.output, b.matrix("output.weight", E, c.n_vocab));
  } else {
    c.tied_output = true;
    w.output = w.token_embd;
  }
  PARLEY_TRY(w.rope_freqs, b.vector("rope_freqs.weight", c.n_rot / 2, /*optional=*/true));
  PARLEY_TRY(w.rope_long, b.vector("rope_factors_long.weight", c.n_rot / 2, /*optional=*/true));
  PARLEY_TRY(w.rope_short, b.vector("rope_factors_short.weight", c.n_rot / 2, /*optional=*/true));
  if ((w.rope_long == nullptr) != (w.rope_short == nullptr)) {
    return Error::fmt("missing tensor '%s' (LongRoPE needs both factor sets)",
                      w.rope_long == nullptr ? "rope_factors_long.weight" : "rope_factors_short.weight");
  }
  bytes = b.bytes;
  return w;
}

}  // namespace

const char* arch_name(const Arch* a) { return a != nullptr ? a->name : "?"; }

Result<std::unique_ptr<Model>> Model::from_file(gguf::File file, const std::string& display_name) {
  auto fail = [&](const Error& e) { return e.wrap(display_name); };
  std::unique_ptr<Model> m(new Model());
  m->file_ = std::move(file);
  auto config = read_config(m->file_);
  if (!config) return fail(config.error());
  m->config_ = std::move(*config);
  if (m->config_.name.empty()) m->config_.name = std::filesystem::path(display_name).stem().string();
  auto weights = bind_weights(m->file_, m->config_, m->weight_bytes_);
  if (!weights) return fail(weights.error());
  m->weights_ = std::move(*weights);
  if (repack_enabled()) m->pack_weights();
  return m;
}

void Model::pack_weights() {
  const auto t0 = std::chrono::steady_clock::now();
  // Every matrix only matmul reads: the layers' (and their experts'), and the output. Once
  // packed, the file's pages of each can go — except a tied output's: the embedding lookup
  // reads those rows.
  std::vector<WeightView*> ws;
  std::vector<std::vector<WeightView>> experts;  // one view per expert, for pack_all
  std::vector<ExpertWeights*> expert_owners;
  for (LayerWeights& L : weights_.layers) {
    for (WeightView* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) ws.push_back(w);
    for (ExpertWeights* x : {&L.gate_exps, &L.up_exps, &L.down_exps}) {
      if (x->n == 0 || !can_pack(x->first.type)) continue;
      std::vector<WeightView> views;
      for (int32_t e = 0; e < x->n; e++) views.push_back(x->at(e));
      experts.push_back(std::move(views));
      expert_owners.push_back(x);
    }
  }
  for (auto& views : experts) {
    for (WeightView& w : views) ws.push_back(&w);
  }
  WeightView* out = &weights_.output;
  ws.push_back(out);
  const bool mapped = file_.mapped();
  const int threads = std::max(1u, std::thread::hardware_concurrency());
  packed_.pack_all(ws, threads, [&](const WeightView& w) {
    if (mapped && !(&w == out && config_.tied_output)) release_mapped_pages(w.data, w.row_bytes * static_cast<size_t>(w.n_rows));
  });
  for (size_t i = 0; i < experts.size(); i++) {
    for (const WeightView& w : experts[i]) expert_owners[i]->packed.push_back(w.packed);
  }
  pack_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Result<std::unique_ptr<Model>> Model::load(const std::string& path) {
  PARLEY_TRY(gguf::File f, gguf::File::open(path));
  return from_file(std::move(f), path);
}

const float* rope_factors(const Model& m, int32_t n_ctx) {
  const Weights& w = m.weights();
  if (w.rope_freqs != nullptr) return w.rope_freqs;
  return n_ctx > m.config().n_ctx_orig ? w.rope_long : w.rope_short;
}

uint64_t kv_bytes_per_position(const Config& c, DType kv_type) {
  // One K and one V row per kv head and layer; Q8_0 rows are 34 bytes per 32 values.
  uint64_t row = dtype_row_bytes(kv_type, static_cast<uint64_t>(c.head_dim));
  return 2 * row * static_cast<uint64_t>(c.n_layer) * static_cast<uint64_t>(c.n_head_kv);
}

}  // namespace parley::model
