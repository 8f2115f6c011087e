#include "model/model.h"

#include <chrono>
#include <cmath>
#include <filesystem>

#include "base/strings.h"
#include "tensor/quant.h"

namespace parley::model {
namespace {

std::string shape_str(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); i++) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Reads <arch>.* hyper-parameters into Config.
class ConfigReader {
 public:
  ConfigReader(const gguf::File& f, std::string arch) : f_(f), prefix_(std::move(arch) + ".") {}

  Result<int32_t> count(const std::string& key) {
    PARLEY_TRY(uint64_t v, f_.get_uint(prefix_ + key));
    if (v == 0 || v > (1u << 30)) return Error::fmt("key '%s%s': %llu is out of range", prefix_.c_str(), key.c_str(), static_cast<unsigned long long>(v));
    return static_cast<int32_t>(v);
  }
  Result<int32_t> count_or(const std::string& key, int32_t fallback) {
    PARLEY_TRY(auto v, f_.get_uint_opt(prefix_ + key));
    if (!v) return fallback;
    return count(key);
  }
  Result<float> real_or(const std::string& key, float fallback) {
    PARLEY_TRY(auto v, f_.get_float_opt(prefix_ + key));
    if (!v) return fallback;
    if (!std::isfinite(*v) || *v <= 0) return Error::fmt("key '%s%s': %g is not a positive number", prefix_.c_str(), key.c_str(), *v);
    return static_cast<float>(*v);
  }

 private:
  const gguf::File& f_;
  std::string prefix_;
};

Result<Config> read_config(const gguf::File& f) {
  Config c;
  PARLEY_TRY(std::string_view arch, f.get_string("general.architecture"));
  if (arch == "llama") {
    c.arch = Arch::llama;
    c.rope_style = RopeStyle::normal;
  } else if (arch == "qwen2") {
    c.arch = Arch::qwen2;
    c.rope_style = RopeStyle::neox;
  } else if (arch == "qwen3") {
    c.arch = Arch::qwen3;
    c.rope_style = RopeStyle::neox;
  } else {
    return Error::fmt("unsupported architecture %s (supported: llama, qwen2, qwen3)", quote_for_message(arch).c_str());
  }
  std::string a(arch);
  PARLEY_TRY(auto experts, f.get_uint_opt(a + ".expert_count"));
  if (experts && *experts > 0) {
    return Error::fmt("%s with %llu experts (mixture of experts) is not supported", a.c_str(), static_cast<unsigned long long>(*experts));
  }
  PARLEY_TRY(auto window, f.get_uint_opt(a + ".attention.sliding_window"));
  if (window && *window > 0) {
    return Error::fmt("sliding-window attention (%s.attention.sliding_window = %llu) is not supported", a.c_str(),
                      static_cast<unsigned long long>(*window));
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
    if (*scaling != "linear") {
      return Error::fmt("rope scaling %s is not supported (none, linear, or Llama-3 rope_freqs)", quote_for_message(*scaling).c_str());
    }
    PARLEY_TRY(float factor, r.real_or("rope.scaling.factor", 1.0f));
    c.rope_freq_scale = 1.0f / factor;
  }
  if (auto name = f.get_string_opt("general.name"); name.ok() && name->has_value()) c.name = std::string(**name);
  return c;
}

// Binds tensors by name, checking shape and type once.
class Binder {
 public:
  explicit Binder(const gguf::File& f) : f_(f) {}
  uint64_t bytes = 0;

  // A matrix of n_rows rows of n_cols elements (GGUF shape [n_cols, n_rows]).
  Result<WeightView> matrix(const std::string& name, int64_t n_cols, int64_t n_rows) {
    PARLEY_TRY(const gguf::TensorInfo* t, find(name));
    PARLEY_CHECK_OK(expect_shape(*t, {static_cast<uint64_t>(n_cols), static_cast<uint64_t>(n_rows)}));
    if (!can_dequantize(t->type)) {
      return Error::fmt("tensor '%s' has type %s, which is not supported", name.c_str(), std::string(dtype_name(t->type)).c_str());
    }
    WeightView w;
    w.type = t->type;
    w.data = t->data;
    w.n_rows = n_rows;
    w.n_cols = n_cols;
    w.row_bytes = dtype_row_bytes(t->type, static_cast<uint64_t>(n_cols));
    bytes += t->n_bytes;
    return w;
  }

  // An F32 vector of n elements; nullptr when optional and absent.
  Result<const float*> vector(const std::string& name, int64_t n, bool optional = false) {
    if (optional && f_.find_tensor(name) == nullptr) return static_cast<const float*>(nullptr);
    PARLEY_TRY(const gguf::TensorInfo* t, find(name));
    PARLEY_CHECK_OK(expect_shape(*t, {static_cast<uint64_t>(n)}));
    if (t->type != DType::f32) {
      return Error::fmt("tensor '%s': expected type F32, got %s", name.c_str(), std::string(dtype_name(t->type)).c_str());
    }
    if (reinterpret_cast<uintptr_t>(t->data) % alignof(float) != 0) {
      return Error::fmt("tensor '%s': data is not 4-byte aligned", name.c_str());
    }
    bytes += t->n_bytes;
    return reinterpret_cast<const float*>(t->data);
  }

 private:
  Result<const gguf::TensorInfo*> find(const std::string& name) {
    const gguf::TensorInfo* t = f_.find_tensor(name);
    if (t == nullptr) return Error::fmt("missing tensor '%s'", name.c_str());
    return t;
  }
  Status expect_shape(const gguf::TensorInfo& t, const std::vector<uint64_t>& want) {
    if (t.shape != want) {
      return Error::fmt("tensor '%s': expected shape %s, got %s", t.name.c_str(), shape_str(want).c_str(), shape_str(t.shape).c_str());
    }
    return {};
  }
  const gguf::File& f_;
};

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
  const int64_t E = c.n_embd, Q = c.q_dim(), KV = c.kv_dim(), F = c.n_ff, D = c.head_dim;
  for (int32_t l = 0; l < c.n_layer; l++) {
    std::string p = "blk." + std::to_string(l) + ".";
    LayerWeights L;
    PARLEY_TRY(L.attn_norm, b.vector(p + "attn_norm.weight", E));
    PARLEY_TRY(L.wq, b.matrix(p + "attn_q.weight", E, Q));
    PARLEY_TRY(L.wk, b.matrix(p + "attn_k.weight", E, KV));
    PARLEY_TRY(L.wv, b.matrix(p + "attn_v.weight", E, KV));
    PARLEY_TRY(L.wo, b.matrix(p + "attn_output.weight", Q, E));
    if (c.arch == Arch::qwen2) {
      PARLEY_TRY(L.bq, b.vector(p + "attn_q.bias", Q));
      PARLEY_TRY(L.bk, b.vector(p + "attn_k.bias", KV));
      PARLEY_TRY(L.bv, b.vector(p + "attn_v.bias", KV));
    }
    if (c.arch == Arch::qwen3) {
      PARLEY_TRY(L.q_norm, b.vector(p + "attn_q_norm.weight", D));
      PARLEY_TRY(L.k_norm, b.vector(p + "attn_k_norm.weight", D));
    }
    PARLEY_TRY(L.ffn_norm, b.vector(p + "ffn_norm.weight", E));
    PARLEY_TRY(L.w_gate, b.matrix(p + "ffn_gate.weight", E, F));
    PARLEY_TRY(L.w_up, b.matrix(p + "ffn_up.weight", E, F));
    PARLEY_TRY(L.w_down, b.matrix(p + "ffn_down.weight", F, E));
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
  bytes = b.bytes;
  return w;
}

}  // namespace

const char* arch_name(Arch a) {
  switch (a) {
    case Arch::llama: return "llama";
    case Arch::qwen2: return "qwen2";
    case Arch::qwen3: return "qwen3";
  }
  return "?";
}

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
  auto release = [&](const WeightView& w) {
    if (file_.mapped()) release_mapped_pages(w.data, w.row_bytes * static_cast<size_t>(w.n_rows));
  };
  for (LayerWeights& L : weights_.layers) {
    for (WeightView* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) {
      // Only matmul reads a layer matrix: once packed, its original pages can go.
      if (packed_.pack(*w)) release(*w);
    }
  }
  // A tied output keeps token_embd's pages: the embedding lookup reads those rows.
  WeightView& out = weights_.output;
  if (packed_.pack(out) && !config_.tied_output) release(out);
  pack_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Result<std::unique_ptr<Model>> Model::load(const std::string& path) {
  PARLEY_TRY(gguf::File f, gguf::File::open(path));
  return from_file(std::move(f), path);
}

uint64_t kv_bytes_per_position(const Config& c, DType kv_type) {
  // One K and one V row per kv head and layer; Q8_0 rows are 34 bytes per 32 values.
  uint64_t row = dtype_row_bytes(kv_type, static_cast<uint64_t>(c.head_dim));
  return 2 * row * static_cast<uint64_t>(c.n_layer) * static_cast<uint64_t>(c.n_head_kv);
}

}  // namespace parley::model
