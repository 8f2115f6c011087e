#include "modelgen/modelgen.h"

#include <cctype>
#include <cmath>
#include <cstring>

#include "base/check.h"
#include "base/rng.h"
#include "base/strings.h"
#include "gguf/writer.h"
#include "tensor/quant.h"

namespace parley::modelgen {
namespace {

enum class Init { matrix, norm, bias, sink, values };

struct TensorPlan {
  std::string name;
  std::vector<uint64_t> shape;  // ggml order: shape[0] = row length
  DType type;
  Init init;
  std::vector<float> values;    // Init::values: the exact contents
  float gain = 1.0f;            // Init::matrix: times the usual scale
};

bool is_quantized(DType t) { return dtype_info(t).block_elems > 1; }

// What make-model writes for each architecture beyond the llama block (the loader's side is
// model/arch/<name>.cpp).
struct ArchPlan {
  std::string_view name;
  bool qkv_bias;       // attn_{q,k,v}.bias
  bool qk_norm;        // attn_{q,k}_norm.weight (an RMSNorm per head)
  bool rope_dim_key;   // writes rope.dimension_count
  bool head_dim_keys;  // writes attention.key_length / value_length even when head dim = n_embd / n_head
  bool llama3_rope;    // may carry Llama-3 rope_freqs.weight
  bool experts;        // a router and 3-D expert tensors in place of ffn_gate/up/down
  bool post_norms;     // post_attention_norm / post_ffw_norm (gemma3)
  bool swa;            // attention.sliding_window (required)
  // gpt-oss: attn_output.bias, attn_sinks, post_attention_norm as the FFN's only norm, biases on
  // the router and the experts.
  bool gpt_oss;
  bool granite_scales = false;  // embedding_scale, residual_scale, attention.scale, logit_scale
  // phi3: attn_qkv for attn_q/k/v, ffn_up holding gate then up (no ffn_gate), may carry LongRoPE
  // and rope.dimension_count < head dim; attention.sliding_window optional.
  bool phi3 = false;
};

constexpr ArchPlan kArchPlans[] = {
    {"llama", false, false, true, false, true, false, false, false, false},
    {"qwen2", true, false, false, false, false, false, false, false, false},
    {"qwen3", false, true, false, true, false, false, false, false, false},
    {"qwen3moe", false, true, false, true, false, true, false, false, false},
    {"gemma3", false, true, false, true, false, false, true, true, false},
    {"gpt-oss", true, false, false, true, false, true, false, true, true},
    {"granite", false, false, true, false, false, false, false, false, false, true},
    {"smollm3", false, false, true, false, false, false, false, false, false},
    {"phi3", false, false, true, false, false, false, false, false, false, false, true},
};

const ArchPlan* find_arch_plan(std::string_view name) {
  for (const ArchPlan& a : kArchPlans) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

DType pick_type(const Types& types, const std::string& name, DType fallback) {
  for (const auto& [key, type] : types.overrides) {
    if (name.find(key) != std::string::npos) return type;
  }
  return fallback;
}

uint32_t head_dim_of(const Shape& s) { return s.head_dim != 0 ? s.head_dim : s.n_embd / s.n_head; }
uint32_t n_rot_of(const Shape& s) { return s.n_rot != 0 ? s.n_rot : head_dim_of(s); }

// LongRoPE divisors for make-model's phi3 files: 1 for the highest frequency, rising with the
// square of the pair index to `top` for the lowest (the shape of Phi-3.5's factor lists).
std::vector<float> longrope_factors(uint32_t n_rot, float top) {
  std::vector<float> f;
  const uint32_t half = n_rot / 2;
  for (uint32_t i = 0; i < half; i++) {
    const double t = half > 1 ? static_cast<double>(i) / (half - 1) : 0.0;
    f.push_back(static_cast<float>(1.0 + (top - 1.0) * t * t));
  }
  return f;
}

// Llama-3 rope scaling as the Hugging Face converter bakes it into rope_freqs.weight: pairs
// whose wavelength is short keep their frequency, long ones are divided by `factor`, and the
// band between is interpolated.
std::vector<float> llama3_rope_factors(const Shape& s, uint32_t hd) {
  std::vector<float> f;
  double low_wavelen = s.rope_llama3_orig_ctx / s.rope_llama3_low_freq;
  double high_wavelen = s.rope_llama3_orig_ctx / s.rope_llama3_high_freq;
  for (uint32_t i = 0; i < hd; i += 2) {
    double freq = 1.0 / std::pow(static_cast<double>(s.rope_theta), static_cast<double>(i) / hd);
    double wavelen = 2 * M_PI / freq;
    if (wavelen < high_wavelen) {
      f.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      f.push_back(s.rope_llama3_factor);
    } else {
      double smooth = (s.rope_llama3_orig_ctx / wavelen - s.rope_llama3_low_freq) /
                      (s.rope_llama3_high_freq - s.rope_llama3_low_freq);
      f.push_back(static_cast<float>(1.0 / ((1 - smooth) / s.rope_llama3_factor + smooth)));
    }
  }
  return f;
}

std::vector<TensorPlan> plan(const Options& o) {
  const Shape& s = o.shape;
  const ArchPlan* found = find_arch_plan(s.arch);
  PARLEY_CHECK_MSG(found != nullptr, "modelgen: an unknown architecture (validate() the options first)");
  const ArchPlan& arch = *found;
  uint64_t n_vocab = o.vocab.tokens.size();
  uint64_t hd = head_dim_of(s);
  uint64_t q_dim = hd * s.n_head;
  uint64_t kv_dim = hd * s.n_head_kv;
  std::vector<TensorPlan> out;
  auto add = [&](const std::string& name, std::vector<uint64_t> shape, DType fallback, Init init) {
    DType t = init == Init::matrix ? pick_type(o.types, name, fallback) : DType::f32;
    out.push_back({name, std::move(shape), t, init});
  };
  add("token_embd.weight", {s.n_embd, n_vocab}, o.types.embedding, Init::matrix);
  for (uint32_t l = 0; l < s.n_layer; l++) {
    std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", {s.n_embd}, DType::f32, Init::norm);
    if (arch.phi3) {
      add(p + "attn_qkv.weight", {s.n_embd, q_dim + 2 * kv_dim}, o.types.matrices, Init::matrix);
    } else {
      add(p + "attn_q.weight", {s.n_embd, q_dim}, o.types.matrices, Init::matrix);
      add(p + "attn_k.weight", {s.n_embd, kv_dim}, o.types.matrices, Init::matrix);
      add(p + "attn_v.weight", {s.n_embd, kv_dim}, o.types.matrices, Init::matrix);
    }
    if (arch.qkv_bias) {
      add(p + "attn_q.bias", {q_dim}, DType::f32, Init::bias);
      add(p + "attn_k.bias", {kv_dim}, DType::f32, Init::bias);
      add(p + "attn_v.bias", {kv_dim}, DType::f32, Init::bias);
    }
    if (arch.qk_norm) {
      add(p + "attn_q_norm.weight", {hd}, DType::f32, Init::norm);
      add(p + "attn_k_norm.weight", {hd}, DType::f32, Init::norm);
    }
    add(p + "attn_output.weight", {q_dim, s.n_embd}, o.types.matrices, Init::matrix);
    if (arch.gpt_oss) {
      add(p + "attn_output.bias", {s.n_embd}, DType::f32, Init::bias);
      add(p + "attn_sinks.weight", {s.n_head}, DType::f32, Init::sink);
    }
    if (arch.post_norms || arch.gpt_oss) add(p + "post_attention_norm.weight", {s.n_embd}, DType::f32, Init::norm);
    if (!arch.gpt_oss) add(p + "ffn_norm.weight", {s.n_embd}, DType::f32, Init::norm);
    if (arch.experts) {
      // The router stays F32, as llama.cpp's quantizer leaves it; one matrix per expert.
      add(p + "ffn_gate_inp.weight", {s.n_embd, s.n_expert}, DType::f32, Init::matrix);
      add(p + "ffn_gate_exps.weight", {s.n_embd, s.n_ff_exp, s.n_expert}, o.types.matrices, Init::matrix);
      add(p + "ffn_up_exps.weight", {s.n_embd, s.n_ff_exp, s.n_expert}, o.types.matrices, Init::matrix);
      add(p + "ffn_down_exps.weight", {s.n_ff_exp, s.n_embd, s.n_expert}, o.types.matrices, Init::matrix);
      if (arch.gpt_oss) {
        // Gate and up 3x wider than unit variance, so that a few percent of their values pass
        // the clamped SwiGLU's limit of 7 (as in the real model) and the clamp is exercised.
        for (size_t i = out.size() - 3; i < out.size() - 1; i++) out[i].gain = 3.0f;
        add(p + "ffn_gate_inp.bias", {s.n_expert}, DType::f32, Init::bias);
        add(p + "ffn_gate_exps.bias", {s.n_ff_exp, s.n_expert}, DType::f32, Init::bias);
        add(p + "ffn_up_exps.bias", {s.n_ff_exp, s.n_expert}, DType::f32, Init::bias);
        add(p + "ffn_down_exps.bias", {s.n_embd, s.n_expert}, DType::f32, Init::bias);
      }
    } else if (arch.phi3) {
      add(p + "ffn_up.weight", {s.n_embd, 2 * s.n_ff}, o.types.matrices, Init::matrix);  // gate's rows, then up's
      add(p + "ffn_down.weight", {s.n_ff, s.n_embd}, o.types.matrices, Init::matrix);
    } else {
      add(p + "ffn_gate.weight", {s.n_embd, s.n_ff}, o.types.matrices, Init::matrix);
      add(p + "ffn_up.weight", {s.n_embd, s.n_ff}, o.types.matrices, Init::matrix);
      add(p + "ffn_down.weight", {s.n_ff, s.n_embd}, o.types.matrices, Init::matrix);
    }
    if (arch.post_norms) add(p + "post_ffw_norm.weight", {s.n_embd}, DType::f32, Init::norm);
  }
  add("output_norm.weight", {s.n_embd}, DType::f32, Init::norm);
  if (s.rope_llama3_factor > 0) {
    add("rope_freqs.weight", {hd / 2}, DType::f32, Init::values);
    out.back().values = llama3_rope_factors(s, static_cast<uint32_t>(hd));
  }
  if (s.longrope_orig_ctx > 0) {
    add("rope_factors_long.weight", {n_rot_of(s) / 2}, DType::f32, Init::values);
    out.back().values = longrope_factors(n_rot_of(s), 32.0f);
    add("rope_factors_short.weight", {n_rot_of(s) / 2}, DType::f32, Init::values);
    out.back().values = longrope_factors(n_rot_of(s), 2.0f);
  }
  if (!s.tied_output) add("output.weight", {s.n_embd, n_vocab}, o.types.output, Init::matrix);
  return out;
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// llama_ftype of the file: named after the matrix type (the K-quants as their _S variants,
// which use that type for every matrix but the output).
uint32_t file_type_of(DType t) {
  switch (t) {
    case DType::f32: return 0;
    case DType::f16: return 1;
    case DType::q4_0: return 2;
    case DType::q4_1: return 3;
    case DType::q8_0: return 7;
    case DType::q5_0: return 8;
    case DType::q5_1: return 9;
    case DType::q2_k: return 10;
    case DType::q3_k: return 11;
    case DType::q4_k: return 14;
    case DType::q5_k: return 16;
    case DType::q6_k: return 18;
    case DType::bf16: return 32;
    case DType::iq4_nl: return 25;
    case DType::iq4_xs: return 30;
    case DType::mxfp4: return 38;  // LLAMA_FTYPE_MOSTLY_MXFP4_MOE, the only ftype llama.cpp has for it
    default: return 0;
  }
}

// Embedding dimension 0 for every token under Options::steer, and the output weight of that
// dimension per logit unit: the final norm leaves dimension 0 at about kSteerNormed (the
// attention and feed-forward outputs add about unit variance to the other dimensions).
constexpr float kSteerEmbedding = 10.0f;
constexpr float kSteerNormed = 6.0f;

void fill_tensor(const TensorPlan& t, uint64_t seed, const std::vector<Steer>& steer, std::vector<uint8_t>& out) {
  Rng rng(seed ^ fnv1a(t.name));
  uint64_t row_len = t.shape[0];
  uint64_t n_rows = 1;
  for (size_t i = 1; i < t.shape.size(); i++) n_rows *= t.shape[i];
  uint64_t row_bytes = dtype_row_bytes(t.type, row_len);
  out.resize(row_bytes * n_rows);
  std::vector<float> row(row_len);
  // Uniform with the standard deviation of a scaled init: matrices 1/sqrt(row length) (each
  // output unit-variance for unit-variance input), norms 1 +- 0.2, biases +-0.35, attention
  // sinks 0..4.
  float scale = 0, offset = 0;
  switch (t.init) {
    case Init::matrix: scale = t.gain * std::sqrt(3.0f / static_cast<float>(row_len)); break;
    case Init::norm: scale = 0.2f; offset = 1.0f; break;
    case Init::bias: scale = 0.35f; break;
    case Init::sink: scale = 2.0f; offset = 2.0f; break;  // 0..4: about the scores' own size
    case Init::values:
      std::memcpy(out.data(), t.values.data(), t.values.size() * 4);
      return;
  }
  const bool steer_embd = !steer.empty() && t.name == "token_embd.weight";
  const bool steer_out = !steer.empty() && t.name == "output.weight";
  for (uint64_t r = 0; r < n_rows; r++) {
    for (uint64_t i = 0; i < row_len; i++) row[i] = offset + scale * (2.0f * rng.uniform() - 1.0f);
    if (steer_embd) row[0] = kSteerEmbedding;
    if (steer_out) {
      row[0] = 0;
      for (const Steer& st : steer) {
        if (st.token == r) row[0] = st.logit / kSteerNormed;
      }
    }
    quantize_row(t.type, row.data(), out.data() + r * row_bytes, static_cast<int64_t>(row_len));
  }
}

}  // namespace

std::optional<Types> mixture_types(std::string_view name) {
  struct Mix {
    std::string_view name;
    DType base, v_down;  // v_down: attn_v and ffn_down (none when equal to base)
    uint32_t file_type;
  };
  static constexpr Mix kMixes[] = {
      {"Q3_K_S", DType::q3_k, DType::q3_k, 11}, {"Q3_K_M", DType::q3_k, DType::q5_k, 12},
      {"Q4_K_S", DType::q4_k, DType::q4_k, 14},
      {"Q4_K_M", DType::q4_k, DType::q6_k, 15}, {"Q5_K_S", DType::q5_k, DType::q5_k, 16},
      {"Q5_K_M", DType::q5_k, DType::q6_k, 17},
  };
  auto same = [&](std::string_view mix) {
    bool eq = mix.size() == name.size();
    for (size_t i = 0; eq && i < name.size(); i++) eq = std::toupper(static_cast<unsigned char>(name[i])) == mix[i];
    return eq;
  };
  if (same("MXFP4_MOE")) {
    // llama.cpp's MXFP4_MOE (gpt-oss downloads): the 3-D expert tensors MXFP4, every other
    // matrix, the embedding and the output Q8_0.
    Types t;
    t.matrices = t.embedding = t.output = DType::q8_0;
    t.overrides = {{"_exps.weight", DType::mxfp4}};
    t.file_type = 38;
    return t;
  }
  for (const Mix& m : kMixes) {
    if (!same(m.name)) continue;
    Types t;
    t.matrices = t.embedding = m.base;
    t.output = DType::q6_k;
    if (m.v_down != m.base) {
      t.overrides = {{"attn_v.weight", m.v_down}, {"ffn_down.weight", m.v_down}};
    }
    t.file_type = m.file_type;
    return t;
  }
  return std::nullopt;
}

Status validate(const Options& o) {
  const Shape& s = o.shape;
  const ArchPlan* arch = find_arch_plan(s.arch);
  if (arch == nullptr) {
    std::string names;
    for (const ArchPlan& a : kArchPlans) names += std::string(names.empty() ? "" : ", ") + std::string(a.name);
    return Error::fmt("unknown architecture '%s' (supported: %s)", s.arch.c_str(), names.c_str());
  }
  if (s.n_layer == 0 || s.n_embd == 0 || s.n_head == 0 || s.n_head_kv == 0 || s.n_ff == 0 || s.n_ctx == 0) {
    return Error{"layers, width, heads, kv-heads, ffn and context must all be positive"};
  }
  if (s.n_head % s.n_head_kv != 0) {
    return Error::fmt("--heads %u must be a multiple of --kv-heads %u", s.n_head, s.n_head_kv);
  }
  if (s.head_dim == 0 && s.n_embd % s.n_head != 0) {
    return Error::fmt("--embd %u is not a multiple of --heads %u (set --head-dim)", s.n_embd, s.n_head);
  }
  if (s.rope_llama3_factor > 0 && (!arch->llama3_rope || s.rope_llama3_high_freq <= s.rope_llama3_low_freq ||
                                   s.rope_llama3_low_freq <= 0 || s.rope_llama3_orig_ctx == 0)) {
    return Error{"Llama-3 rope scaling needs --arch llama and 0 < low_freq_factor < high_freq_factor"};
  }
  if (arch->experts && (s.n_expert == 0 || s.n_expert_used == 0 || s.n_expert_used > s.n_expert || s.n_ff_exp == 0)) {
    return Error::fmt("%s needs --experts N, --experts-used K (0 < K <= N) and --expert-ffn", s.arch.c_str());
  }
  if (!arch->experts && s.n_expert != 0) return Error::fmt("--experts: %s has no experts", s.arch.c_str());
  if (arch->swa && s.n_swa == 0) return Error::fmt("%s needs --sliding-window N (its local layers' window)", s.arch.c_str());
  if (!arch->swa && !arch->phi3 && s.n_swa != 0) return Error::fmt("--sliding-window: %s has no sliding-window layers", s.arch.c_str());
  if (s.rope_yarn_factor != 0 && (s.rope_yarn_factor < 1 || s.rope_yarn_orig_ctx == 0)) {
    return Error{"--rope-yarn wants FACTOR >= 1 and an original context > 0"};
  }
  if (s.rope_yarn_factor != 0 && s.longrope_orig_ctx != 0) return Error{"--rope-yarn and --longrope exclude each other"};
  if ((s.n_rot != 0 || s.longrope_orig_ctx != 0) && !arch->phi3) {
    return Error::fmt("--rope-dim and --longrope are for phi3, not %s", s.arch.c_str());
  }
  if (s.n_rot > head_dim_of(s) || s.n_rot % 2 != 0) {
    return Error::fmt("--rope-dim %u: expected an even number <= the head dim %u", s.n_rot, head_dim_of(s));
  }
  if (s.longrope_orig_ctx != 0 && !(s.longrope_orig_ctx > 1 && s.longrope_orig_ctx < s.n_ctx)) {
    return Error::fmt("--longrope %u: the original context must be in 2..--ctx %u (exclusive)", s.longrope_orig_ctx, s.n_ctx);
  }
  if (arch->granite_scales && !(s.embedding_scale > 0 && s.residual_scale > 0 && s.attention_scale > 0 && s.logit_scale > 0)) {
    return Error{"--granite-scales: the four multipliers must be positive"};
  }
  if (head_dim_of(s) % 2 != 0) return Error::fmt("head dim %u must be even (rotary pairs)", head_dim_of(s));
  if (o.vocab.tokens.empty()) return Error{"the model needs a vocabulary (--vocab-from or --tokenizer)"};
  if (!o.steer.empty() && s.tied_output) return Error{"--steer needs an untied output (drop --tied)"};
  for (const Steer& st : o.steer) {
    if (st.token >= o.vocab.tokens.size()) return Error::fmt("--steer: token id %u is outside the vocabulary", st.token);
  }
  for (const TensorPlan& t : plan(o)) {
    if (!can_quantize(t.type)) {
      return Error::fmt("tensor type %s cannot be written yet", std::string(dtype_name(t.type)).c_str());
    }
    uint32_t block = dtype_info(t.type).block_elems;
    if (t.shape[0] % block != 0) {
      return Error::fmt("%s: row length %llu is not a multiple of the %s block size %u; choose "
                        "dimensions that are, or another type for it",
                        t.name.c_str(), static_cast<unsigned long long>(t.shape[0]),
                        std::string(dtype_name(t.type)).c_str(), block);
    }
  }
  return {};
}

Size estimate(const Options& o) {
  Size size;
  for (const TensorPlan& t : plan(o)) {
    uint64_t n = 1;
    for (uint64_t d : t.shape) n *= d;
    size.n_params += n;
    size.n_bytes += dtype_row_bytes(t.type, t.shape[0]) * (n / t.shape[0]);
  }
  return size;
}

Status write_model(const Options& o, const std::string& path,
                   const std::function<void(size_t, size_t)>& progress) {
  PARLEY_CHECK_OK(validate(o));
  const Shape& s = o.shape;
  using gguf::OwnedValue;
  gguf::Writer w;
  const std::string& a = s.arch;
  const ArchPlan& arch = *find_arch_plan(a);
  w.set("general.architecture", OwnedValue::string(a));
  w.set("general.name", OwnedValue::string(o.name.empty() ? a + "-random" : o.name));
  w.set("general.file_type", OwnedValue::u32(o.types.file_type.value_or(file_type_of(o.types.matrices))));
  std::vector<TensorPlan> tensors = plan(o);
  bool any_quantized = false;
  for (const auto& t : tensors) any_quantized = any_quantized || is_quantized(t.type);
  if (any_quantized) w.set("general.quantization_version", OwnedValue::u32(2));
  uint32_t hd = head_dim_of(s);
  w.set(a + ".vocab_size", OwnedValue::u32(static_cast<uint32_t>(o.vocab.tokens.size())));
  w.set(a + ".context_length", OwnedValue::u32(s.n_ctx));
  w.set(a + ".embedding_length", OwnedValue::u32(s.n_embd));
  w.set(a + ".block_count", OwnedValue::u32(s.n_layer));
  w.set(a + ".feed_forward_length", OwnedValue::u32(s.n_ff));
  w.set(a + ".attention.head_count", OwnedValue::u32(s.n_head));
  w.set(a + ".attention.head_count_kv", OwnedValue::u32(s.n_head_kv));
  w.set(a + ".attention.layer_norm_rms_epsilon", OwnedValue::f32(s.rms_eps));
  w.set(a + ".rope.freq_base", OwnedValue::f32(s.rope_theta));
  if (arch.rope_dim_key) w.set(a + ".rope.dimension_count", OwnedValue::u32(n_rot_of(s)));
  if (hd * s.n_head != s.n_embd || arch.head_dim_keys) {
    w.set(a + ".attention.key_length", OwnedValue::u32(hd));
    w.set(a + ".attention.value_length", OwnedValue::u32(hd));
  }
  if (arch.swa || (arch.phi3 && s.n_swa != 0)) w.set(a + ".attention.sliding_window", OwnedValue::u32(s.n_swa));
  if (s.rope_yarn_factor > 0) {
    w.set(a + ".rope.scaling.type", OwnedValue::string("yarn"));
    w.set(a + ".rope.scaling.factor", OwnedValue::f32(s.rope_yarn_factor));
    w.set(a + ".rope.scaling.original_context_length", OwnedValue::u32(s.rope_yarn_orig_ctx));
    w.set(a + ".rope.scaling.yarn_beta_fast", OwnedValue::f32(32.0f));
    w.set(a + ".rope.scaling.yarn_beta_slow", OwnedValue::f32(1.0f));
  }
  if (s.longrope_orig_ctx != 0) {
    const double scale = static_cast<double>(s.n_ctx) / s.longrope_orig_ctx;
    w.set(a + ".rope.scaling.original_context_length", OwnedValue::u32(s.longrope_orig_ctx));
    w.set(a + ".rope.scaling.attn_factor",
          OwnedValue::f32(static_cast<float>(std::sqrt(1.0 + std::log(scale) / std::log(static_cast<double>(s.longrope_orig_ctx))))));
  }
  if (arch.granite_scales) {
    w.set(a + ".embedding_scale", OwnedValue::f32(s.embedding_scale));
    w.set(a + ".residual_scale", OwnedValue::f32(s.residual_scale));
    w.set(a + ".attention.scale", OwnedValue::f32(s.attention_scale));
    w.set(a + ".logit_scale", OwnedValue::f32(s.logit_scale));
  }
  if (arch.experts) {
    w.set(a + ".expert_count", OwnedValue::u32(s.n_expert));
    w.set(a + ".expert_used_count", OwnedValue::u32(s.n_expert_used));
    w.set(a + ".expert_feed_forward_length", OwnedValue::u32(s.n_ff_exp));
  }
  tokenizer::VocabSpec vocab = o.vocab;
  if (!o.chat_template.empty()) vocab.chat_template = o.chat_template;
  tokenizer::write_vocab(w, vocab);

  for (const TensorPlan& t : tensors) {
    uint64_t seed = o.seed;
    w.add_tensor(t.name, t.type, t.shape,
                 [t, seed, steer = o.steer](std::vector<uint8_t>& out) { fill_tensor(t, seed, steer, out); });
  }
  if (progress) w.on_tensor_written = progress;
  return w.write(path);
}

}  // namespace parley::modelgen
