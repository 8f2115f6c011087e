// parley make-model: writes a GGUF with seeded random weights of a real architecture and a real
// tokenizer, so tests and benchmarks need no downloads.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>

#include "app/commands.h"
#include "base/file.h"
#include "base/strings.h"
#include "gguf/gguf.h"
#include "modelgen/modelgen.h"

namespace parley::app {
namespace {

struct MakeModelOptions {
  std::string out;
  std::string preset;
  modelgen::Shape shape;
  std::string type = "F32", embd_type, output_type;
  std::vector<std::string> tensor_types;
  std::vector<std::string> steer;
  std::string vocab_from, tokenizer, template_path, name;
  uint64_t seed = 1;
  bool quiet = false;
  CLI::App* sub = nullptr;
};

struct Preset {
  const char* name;
  const char* description;
  modelgen::Shape shape;
  const char* type;
};

// The benchmark shapes of docs/bench-baseline.md plus small shapes for tests.
const Preset kPresets[] = {
    {"bench-llama-1b-q8_0", "llama, 16 layers, 2048 wide, 32/8 heads, ffn 8192, Q8_0 (~1.17 GB)",
     {"llama", 16, 2048, 32, 8, 64, 8192, 4096, 10000.0f, 1e-5f, false}, "Q8_0"},
    {"bench-qwen3-0.6b-q4_0", "qwen3, 28 layers, 1024 wide, 16/8 heads of 128, ffn 3072, tied, Q4_0 (~267 MB)",
     {"qwen3", 28, 1024, 16, 8, 128, 3072, 4096, 1000000.0f, 1e-6f, true}, "Q4_0"},
    {"tiny-llama", "llama, 2 layers, 64 wide, 4/2 heads, ffn 128",
     {"llama", 2, 64, 4, 2, 0, 128, 2048, 10000.0f, 1e-5f, false}, "F32"},
    {"tiny-qwen2", "qwen2, 2 layers, 64 wide, 4/2 heads, ffn 128, q/k/v biases, tied",
     {"qwen2", 2, 64, 4, 2, 0, 128, 2048, 1000000.0f, 1e-6f, true}, "F32"},
    {"tiny-qwen3", "qwen3, 2 layers, 64 wide, 4/2 heads of 32, ffn 128, q/k norms, tied",
     {"qwen3", 2, 64, 4, 2, 32, 128, 2048, 1000000.0f, 1e-6f, true}, "F32"},
    {"tiny-qwen3moe", "qwen3moe, 2 layers, 64 wide, 4/2 heads of 32, 8 experts of ffn 32, 2 per token",
     {"qwen3moe", 2, 64, 4, 2, 32, 128, 2048, 1000000.0f, 1e-6f, false, 8, 2, 32}, "F32"},
    {"tiny-gemma3", "gemma3, 6 layers (5 sliding-window of 16, 1 global), 256 wide, 4/2 heads of 64, ffn 512, "
     "tied (the reference-logits shape)",
     {"gemma3", 6, 256, 4, 2, 64, 512, 2048, 1000000.0f, 1e-6f, true, 0, 0, 0, 16}, "F32"},
    {"tiny-granite", "granite, 2 layers, 256 wide, 4/2 heads of 64, ffn 512, tied, Granite-3.3-2B's multipliers "
     "(the reference-logits shape)",
     {"granite", 2, 256, 4, 2, 0, 512, 2048, 10000.0f, 1e-5f, true}, "F32"},
    {"tiny-smollm3", "smollm3, 4 layers (layer 3 without rope), 256 wide, 4/2 heads of 64, ffn 512, tied "
     "(the reference-logits shape)",
     {"smollm3", 4, 256, 4, 2, 0, 512, 2048, 5000000.0f, 1e-6f, true}, "F32"},
    {"tiny-phi3", "phi3, 2 layers, 256 wide, 4/2 heads of 64 (48 rotated), ffn 512, fused qkv and gate/up, "
     "LongRoPE from 64 to 2048 positions, sliding_window 16 (ignored) (the reference-logits shape)",
     {.arch = "phi3", .n_layer = 2, .n_embd = 256, .n_head = 4, .n_head_kv = 2, .n_ff = 512, .n_ctx = 2048,
      .n_swa = 16, .n_rot = 48, .longrope_orig_ctx = 64}, "F32"},
    {"tiny-gpt-oss", "gpt-oss, 2 layers (sliding window 16, then full), 256 wide, 8/2 heads of 64 with sinks, "
     "16 experts of ffn 256, 4 per token, biases, YaRN 32 over 512 (the reference-logits shape)",
     {.arch = "gpt-oss", .n_layer = 2, .n_embd = 256, .n_head = 8, .n_head_kv = 2, .head_dim = 64, .n_ff = 256,
      .n_ctx = 16384, .rope_theta = 150000.0f, .rms_eps = 1e-5f, .n_expert = 16, .n_expert_used = 4, .n_ff_exp = 256,
      .n_swa = 16, .rope_yarn_factor = 32.0f, .rope_yarn_orig_ctx = 512},
     "F32"},
    {"bench-qwen3moe-30b-a3b-4l", "Qwen3-30B-A3B's layer with 4 layers: 2048 wide, 32/4 heads of 128, 128 experts "
     "of ffn 768, 8 per token, Q4_K_M (~1.4 GB plus embeddings)",
     {"qwen3moe", 4, 2048, 32, 4, 128, 6144, 4096, 1000000.0f, 1e-6f, false, 128, 8, 768}, "Q4_K_M"},
    {"bench-gpt-oss-20b-4l", "gpt-oss-20b's layer with 4 layers: 2880 wide, 64/8 heads of 64 with sinks, window 128 "
     "on even layers, 32 experts of ffn 2880, 4 per token, YaRN 32 over 4096, MXFP4_MOE (experts MXFP4, the rest "
     "Q8_0; ~1.8 GB plus embeddings)",
     {.arch = "gpt-oss", .n_layer = 4, .n_embd = 2880, .n_head = 64, .n_head_kv = 8, .head_dim = 64, .n_ff = 2880,
      .n_ctx = 131072, .rope_theta = 150000.0f, .rms_eps = 1e-5f, .n_expert = 32, .n_expert_used = 4, .n_ff_exp = 2880,
      .n_swa = 128, .rope_yarn_factor = 32.0f, .rope_yarn_orig_ctx = 4096},
     "MXFP4_MOE"},
};

Result<DType> parse_type(const std::string& s) {
  auto t = dtype_from_name(s);
  if (!t) return Error::fmt("unknown tensor type '%s'", s.c_str());
  return *t;
}

int run_make_model(MakeModelOptions& opt) {
  CLI::App& sub = *opt.sub;
  modelgen::Options mo;
  mo.shape = opt.shape;
  std::string type = opt.type;
  if (!opt.preset.empty()) {
    const Preset* p = nullptr;
    for (const auto& candidate : kPresets) {
      if (opt.preset == candidate.name) p = &candidate;
    }
    if (p == nullptr) {
      std::string names;
      for (const auto& candidate : kPresets) names += std::string(names.empty() ? "" : ", ") + candidate.name;
      return fail("unknown preset '" + opt.preset + "' (presets: " + names + ")");
    }
    // The preset gives defaults; options given on the command line win.
    auto given = [&](const char* name) { return sub.get_option(name)->count() > 0; };
    if (!given("--arch")) mo.shape.arch = p->shape.arch;
    if (!given("--layers")) mo.shape.n_layer = p->shape.n_layer;
    if (!given("--embd")) mo.shape.n_embd = p->shape.n_embd;
    if (!given("--heads")) mo.shape.n_head = p->shape.n_head;
    if (!given("--kv-heads")) mo.shape.n_head_kv = p->shape.n_head_kv;
    if (!given("--head-dim")) mo.shape.head_dim = p->shape.head_dim;
    if (!given("--ffn")) mo.shape.n_ff = p->shape.n_ff;
    if (!given("--ctx")) mo.shape.n_ctx = p->shape.n_ctx;
    if (!given("--rope-theta")) mo.shape.rope_theta = p->shape.rope_theta;
    if (!given("--rms-eps")) mo.shape.rms_eps = p->shape.rms_eps;
    if (!given("--tied")) mo.shape.tied_output = p->shape.tied_output;
    if (!given("--experts")) mo.shape.n_expert = p->shape.n_expert;
    if (!given("--experts-used")) mo.shape.n_expert_used = p->shape.n_expert_used;
    if (!given("--expert-ffn")) mo.shape.n_ff_exp = p->shape.n_ff_exp;
    if (!given("--sliding-window")) mo.shape.n_swa = p->shape.n_swa;
    if (!given("--rope-dim")) mo.shape.n_rot = p->shape.n_rot;
    if (!given("--longrope")) mo.shape.longrope_orig_ctx = p->shape.longrope_orig_ctx;
    if (!given("--rope-yarn")) {
      mo.shape.rope_yarn_factor = p->shape.rope_yarn_factor;
      mo.shape.rope_yarn_orig_ctx = p->shape.rope_yarn_orig_ctx;
    }
    if (!given("--type")) type = p->type;
  }
  if (auto mix = modelgen::mixture_types(type)) {
    mo.types = *mix;
  } else {
    auto matrices = parse_type(type);
    if (!matrices) return fail(matrices.error().message);
    mo.types.matrices = *matrices;
    mo.types.embedding = *matrices;
    mo.types.output = *matrices;
  }
  if (!opt.embd_type.empty()) {
    auto t = parse_type(opt.embd_type);
    if (!t) return fail(t.error().message);
    mo.types.embedding = *t;
  }
  if (!opt.output_type.empty()) {
    auto t = parse_type(opt.output_type);
    if (!t) return fail(t.error().message);
    mo.types.output = *t;
  }
  for (const std::string& tt : opt.tensor_types) {
    size_t eq = tt.find('=');
    if (eq == std::string::npos || eq == 0) return fail("--tensor-type wants NAME=TYPE, got '" + tt + "'");
    auto t = parse_type(tt.substr(eq + 1));
    if (!t) return fail(t.error().message);
    mo.types.overrides.emplace_back(tt.substr(0, eq), *t);
  }
  mo.seed = opt.seed;
  mo.name = opt.name;

  if (!opt.vocab_from.empty() && !opt.tokenizer.empty()) {
    return fail("give either --vocab-from or --tokenizer, not both");
  }
  if (!opt.vocab_from.empty()) {
    auto f = gguf::File::open(opt.vocab_from);
    if (!f) return fail(f.error().message);
    auto v = tokenizer::vocab_from_gguf(*f);
    if (!v) return fail(opt.vocab_from + ": " + v.error().message);
    mo.vocab = std::move(*v);
  } else if (!opt.tokenizer.empty()) {
    auto v = tokenizer::vocab_from_hf(opt.tokenizer);
    if (!v) return fail(v.error().message);
    mo.vocab = std::move(*v);
  } else {
    return fail("a vocabulary is needed: --vocab-from MODEL.gguf or --tokenizer tokenizer.json");
  }
  for (const std::string& st : opt.steer) {
    size_t eq = st.rfind('=');
    float logit = 0;
    char* end = nullptr;
    if (eq != std::string::npos) logit = std::strtof(st.c_str() + eq + 1, &end);
    if (eq == std::string::npos || eq == 0 || end == st.c_str() + eq + 1 || *end != '\0') {
      return fail("--steer wants TOKEN=LOGIT (the token's text as in the vocabulary), got '" + st + "'");
    }
    const std::string text = st.substr(0, eq);
    auto it = std::find(mo.vocab.tokens.begin(), mo.vocab.tokens.end(), text);
    if (it == mo.vocab.tokens.end()) return fail("--steer: no token '" + text + "' in the vocabulary");
    mo.steer.push_back({static_cast<uint32_t>(it - mo.vocab.tokens.begin()), logit});
  }
  if (!opt.template_path.empty()) {
    auto t = read_file(opt.template_path, 16 << 20);
    if (!t) return fail(t.error().message);
    mo.chat_template = *t;
  }

  if (Status st = modelgen::validate(mo); !st.ok()) return fail(st.error().message);
  modelgen::Size size = modelgen::estimate(mo);
  if (!opt.quiet) {
    std::fprintf(stderr, "make-model: %s, %u layers, %u wide, %u/%u heads, ffn %u, vocab %zu, %s -> %s params, %s\n",
                 mo.shape.arch.c_str(), mo.shape.n_layer, mo.shape.n_embd, mo.shape.n_head,
                 mo.shape.n_head_kv, mo.shape.n_ff, mo.vocab.tokens.size(), type.c_str(),
                 human_count(size.n_params).c_str(), human_bytes(size.n_bytes).c_str());
  }
  auto t0 = std::chrono::steady_clock::now();
  int last_pct = -1;
  bool show_progress = !opt.quiet && size.n_bytes > (64ull << 20);
  Status st = modelgen::write_model(mo, opt.out, [&](size_t done, size_t total) {
    int pct = static_cast<int>(100 * done / total);
    if (show_progress && pct / 10 != last_pct / 10) {
      std::fprintf(stderr, "make-model: %3d%% (%zu/%zu tensors)\n", pct, done, total);
      last_pct = pct;
    }
  });
  if (!st.ok()) return fail(st.error().message);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!opt.quiet) std::fprintf(stderr, "make-model: wrote %s in %.1f s\n", opt.out.c_str(), secs);
  return 0;
}

}  // namespace

void add_make_model_command(CLI::App& app, Runner& run) {
  auto opt = std::make_shared<MakeModelOptions>();
  std::string presets = "Start from a preset shape:";
  for (const auto& p : kPresets) presets += std::string("\n  ") + p.name + ": " + p.description;
  CLI::App* sub = app.add_subcommand(
      "make-model", "Write a GGUF model with seeded random weights (llama, qwen2, qwen3, qwen3moe, gemma3, gpt-oss, granite, smollm3, phi3) and a real tokenizer");
  opt->sub = sub;
  auto& s = opt->shape;
  sub->add_option("-o,--output", opt->out, "Output GGUF file")->required();
  sub->add_option("--preset", opt->preset, presets);
  sub->add_option("--arch", s.arch, "Architecture: llama, qwen2 (q/k/v biases), qwen3 (q/k RMSNorm), qwen3moe (qwen3 with experts), gemma3 "
                  "(sliding-window and global layers, pre and post norms, GeGLU), gpt-oss (alternating sliding-window "
                  "and full layers, attention sinks, biases, experts with a clamped SwiGLU), granite (llama with "
                  "multipliers), smollm3 (every 4th layer without rope), phi3 (fused qkv and gate/up)")
      ->capture_default_str();
  sub->add_option("--layers", s.n_layer, "Transformer blocks")->capture_default_str();
  sub->add_option("--embd", s.n_embd, "Model width (embedding length)")->capture_default_str();
  sub->add_option("--heads", s.n_head, "Attention (query) heads")->capture_default_str();
  sub->add_option("--kv-heads", s.n_head_kv, "Key/value heads (grouped-query attention)")->capture_default_str();
  sub->add_option("--head-dim", s.head_dim, "Head dimension (0: embd / heads)")->capture_default_str();
  sub->add_option("--ffn", s.n_ff, "Feed-forward width")->capture_default_str();
  sub->add_option("--ctx", s.n_ctx, "Context length")->capture_default_str();
  sub->add_option("--rope-theta", s.rope_theta, "RoPE base frequency")->capture_default_str();
  sub->add_option("--rms-eps", s.rms_eps, "RMSNorm epsilon")->capture_default_str();
  sub->add_flag("--tied", s.tied_output, "Tie the output projection to the token embeddings");
  sub->add_option("--experts", s.n_expert, "qwen3moe, gpt-oss: experts per layer")->capture_default_str();
  sub->add_option("--experts-used", s.n_expert_used, "qwen3moe, gpt-oss: experts each token is routed to")->capture_default_str();
  sub->add_option("--expert-ffn", s.n_ff_exp, "qwen3moe, gpt-oss: one expert's feed-forward width")->capture_default_str();
  sub->add_option("--sliding-window", s.n_swa, "gemma3, gpt-oss: the local layers' attention window (attention.sliding_window); "
                  "phi3: written as its conversions carry it (loaders ignore it)")
      ->capture_default_str();
  sub->add_option_function<std::vector<float>>(
         "--rope-yarn",
         [opt](const std::vector<float>& v) {
           opt->shape.rope_yarn_factor = v[0];
           opt->shape.rope_yarn_orig_ctx = static_cast<uint32_t>(v[1]);
         },
         "YaRN rope scaling FACTOR,ORIG_CTX (gpt-oss: 32,4096), written as rope.scaling.* with beta_fast 32, "
         "beta_slow 1")
      ->delimiter(',')
      ->expected(2);
  sub->add_option_function<std::vector<float>>(
         "--rope-llama3",
         [opt](const std::vector<float>& v) {
           opt->shape.rope_llama3_factor = v[0];
           opt->shape.rope_llama3_low_freq = v[1];
           opt->shape.rope_llama3_high_freq = v[2];
           opt->shape.rope_llama3_orig_ctx = static_cast<uint32_t>(v[3]);
         },
         "Llama-3 rope frequency scaling FACTOR,LOW,HIGH,ORIG_CTX (Llama 3.1: 8,1,4,8192), written as "
         "rope_freqs.weight")
      ->delimiter(',')
      ->expected(4);
  sub->add_option("--rope-dim", s.n_rot, "phi3: rotated dims per head (0: the head dim)")->capture_default_str();
  sub->add_option("--longrope", s.longrope_orig_ctx, "phi3: LongRoPE factors for a model trained at this context and "
                  "extended to --ctx (0: none)")->capture_default_str();
  sub->add_option_function<std::vector<float>>(
         "--granite-scales",
         [opt](const std::vector<float>& v) {
           opt->shape.embedding_scale = v[0];
           opt->shape.residual_scale = v[1];
           opt->shape.attention_scale = v[2];
           opt->shape.logit_scale = v[3];
         },
         "granite: EMBEDDING,RESIDUAL,ATTENTION,LOGIT multipliers (default Granite-3.3-2B's 12,0.22,0.015625,8)")
      ->delimiter(',')
      ->expected(4);
  sub->add_option("--type", opt->type, "Type of the weight matrices: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, "
                                      "Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, MXFP4; or a llama.cpp mix: Q3_K_S, Q3_K_M, "
                                      "Q4_K_S, Q4_K_M (attn_v, ffn_down, output Q6_K), Q5_K_S, Q5_K_M, "
                                      "MXFP4_MOE (experts MXFP4, the rest Q8_0)")
      ->capture_default_str();
  sub->add_option("--embd-type", opt->embd_type, "Type of token_embd.weight (default: --type)");
  sub->add_option("--output-type", opt->output_type, "Type of output.weight (default: --type)");
  sub->add_option("--tensor-type", opt->tensor_types, "Per-tensor type, NAME=TYPE; NAME is a substring "
                                                      "of tensor names (repeatable), e.g. attn_v=Q6_K");
  sub->add_option("--vocab-from", opt->vocab_from, "Copy the tokenizer (and chat template) from this GGUF");
  sub->add_option("--tokenizer", opt->tokenizer, "Hugging Face tokenizer.json, or a folder with "
                                                 "tokenizer.json / vocab.json + merges.txt");
  sub->add_option("--template", opt->template_path, "Chat template (.jinja) to embed");
  sub->add_option("--steer", opt->steer,
                  "Test fixtures: raise a token's logit by about LOGIT at every position, "
                  "TOKEN=LOGIT with the token's text as in the vocabulary (repeatable; needs an "
                  "untied output). The rest of the model stays random");
  sub->add_option("--seed", opt->seed, "Random seed (same seed, same weights)")->capture_default_str();
  sub->add_option("--name", opt->name, "general.name (default: <arch>-random)");
  sub->add_flag("-q,--quiet", opt->quiet, "No progress output");
  sub->callback([opt, &run] { run = [opt] { return run_make_model(*opt); }; });
}

}  // namespace parley::app
