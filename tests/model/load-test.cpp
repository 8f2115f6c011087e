// Loading: the typed config of each architecture, and one clear line for every broken or
// unsupported model.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>

#include "gguf/writer.h"
#include "model/harness.h"

namespace parley::model {
namespace {

struct Edit {
  std::function<void(std::string& key, gguf::OwnedValue& v, bool& keep)> kv;
  // Tensor name -> replaced (name, type, shape) or dropped.
  std::function<void(std::string& name, DType& type, std::vector<uint64_t>& shape, bool& keep)> tensor;
  std::vector<std::pair<std::string, gguf::OwnedValue>> add_kv;  // keys added after the file's
};

// Rewrites a GGUF file through the writer with edits, and loads the result.
Result<std::unique_ptr<Model>> load_edited(const std::string& path, const Edit& edit, std::string& bytes) {
  auto f = gguf::File::open(path);
  PARLEY_CHECK(f.ok());
  gguf::Writer w;
  for (const auto& [key, value] : f->metadata()) {
    std::string k = key;
    gguf::OwnedValue v = gguf::OwnedValue::from(value);
    bool keep = true;
    if (edit.kv) edit.kv(k, v, keep);
    if (keep) w.set(k, v);
  }
  for (const auto& [k, v] : edit.add_kv) w.set(k, v);
  for (const gguf::TensorInfo& t : f->tensors()) {
    std::string name = t.name;
    DType type = t.type;
    std::vector<uint64_t> shape = t.shape;
    bool keep = true;
    if (edit.tensor) edit.tensor(name, type, shape, keep);
    if (!keep) continue;
    uint64_t rows = 1;
    for (size_t i = 1; i < shape.size(); i++) rows *= shape[i];
    std::vector<uint8_t> data(dtype_row_bytes(type, shape[0]) * rows, 0);
    std::memcpy(data.data(), t.data, std::min<size_t>(data.size(), t.n_bytes));
    w.add_tensor(name, type, shape, std::move(data));
  }
  auto b = w.to_bytes();
  PARLEY_CHECK(b.ok());
  bytes = std::move(*b);
  PARLEY_TRY(gguf::File parsed, gguf::File::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "edited.gguf"));
  return Model::from_file(std::move(parsed), "edited.gguf");
}

class Load : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (dir_ / "m.gguf").string();
    ASSERT_TRUE(modelgen::write_model(test::tiny_options("llama"), path_).ok());
  }
  std::string error_of(const Edit& e) {
    auto m = load_edited(path_, e, bytes_);
    if (m.ok()) return "(loaded)";
    EXPECT_EQ(m.error().message.find('\n'), std::string::npos) << "one line";
    return m.error().message;
  }
  parley::test::TempDir dir_;
  std::string path_;
  std::string bytes_;
};

TEST(LoadConfig, EachArchitectureGetsItsConfig) {
  parley::test::TempDir dir;
  for (const char* arch : {"llama", "qwen2", "qwen3"}) {
    auto m = test::write_and_load(test::tiny_options(arch), (dir / (std::string(arch) + ".gguf")).string());
    ASSERT_TRUE(m);
    const Config& c = m->config();
    EXPECT_STREQ(arch_name(c.arch), arch);
    EXPECT_EQ(c.n_layer, 2);
    EXPECT_EQ(c.n_embd, 64);
    EXPECT_EQ(c.n_head, 4);
    EXPECT_EQ(c.n_head_kv, 2);
    EXPECT_EQ(c.n_vocab, 128);
    EXPECT_EQ(c.head_dim, std::string(arch) == "qwen3" ? 32 : 16);
    EXPECT_EQ(c.n_rot, c.head_dim);
    EXPECT_EQ(c.rope_style, std::string(arch) == "llama" ? RopeStyle::normal : RopeStyle::neox);
    EXPECT_EQ(c.tied_output, std::string(arch) != "llama");
    EXPECT_EQ(m->weights().layers[1].bq != nullptr, std::string(arch) == "qwen2");
    EXPECT_EQ(m->weights().layers[1].q_norm != nullptr, std::string(arch) == "qwen3");
    EXPECT_EQ(m->weights().rope_freqs, nullptr);
  }
}

TEST(LoadConfig, Qwen3MoeGetsItsExperts) {
  parley::test::TempDir dir;
  auto m = test::write_and_load(test::tiny_options("qwen3moe"), (dir / "m.gguf").string());
  ASSERT_TRUE(m);
  const Config& c = m->config();
  EXPECT_STREQ(arch_name(c.arch), "qwen3moe");
  EXPECT_EQ(c.rope_style, RopeStyle::neox);
  EXPECT_EQ(c.n_expert, 8);
  EXPECT_EQ(c.n_expert_used, 2);
  EXPECT_EQ(c.n_ff_exp, 32);
  const LayerWeights& L = m->weights().layers[1];
  EXPECT_NE(L.q_norm, nullptr);
  EXPECT_EQ(L.router.type, DType::f32);
  EXPECT_EQ(L.router.n_rows, 8);
  EXPECT_EQ(L.gate_exps.n, 8);
  EXPECT_EQ(L.down_exps.first.n_rows, 64);
  EXPECT_EQ(L.down_exps.first.n_cols, 32);
  // Expert e's matrix follows expert e-1's.
  EXPECT_EQ(static_cast<const uint8_t*>(L.up_exps.at(3).data) - static_cast<const uint8_t*>(L.up_exps.at(2).data),
            static_cast<ptrdiff_t>(32 * 64 * 4));
  EXPECT_EQ(L.w_gate.data, nullptr);
}

TEST(LoadConfig, Qwen3MoeProblemsAreOneLine) {
  parley::test::TempDir dir;
  std::string path = (dir / "m.gguf").string();
  ASSERT_TRUE(modelgen::write_model(test::tiny_options("qwen3moe"), path).ok());
  std::string bytes;
  Edit no_used;
  no_used.kv = [](std::string& k, gguf::OwnedValue&, bool& keep) { keep = k != "qwen3moe.expert_used_count"; };
  auto m = load_edited(path, no_used, bytes);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("qwen3moe.expert_used_count"), std::string::npos) << m.error().message;
  Edit too_many;
  too_many.kv = [](std::string& k, gguf::OwnedValue& v, bool&) {
    if (k == "qwen3moe.expert_used_count") v = gguf::OwnedValue::u32(9);
  };
  m = load_edited(path, too_many, bytes);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().message, "edited.gguf: key 'qwen3moe.expert_used_count': 9 is more than expert_count 8");
  Edit flat;
  flat.tensor = [](std::string& n, DType&, std::vector<uint64_t>& shape, bool&) {
    if (n == "blk.0.ffn_up_exps.weight") shape = {64, 256};
  };
  m = load_edited(path, flat, bytes);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().message, "edited.gguf: tensor 'blk.0.ffn_up_exps.weight': expected shape [64, 32, 8], got [64, 256]");
}

TEST(LoadConfig, Gemma3GetsItsWindowAndPostNorms) {
  parley::test::TempDir dir;
  auto m = test::write_and_load(test::tiny_options("gemma3"), (dir / "m.gguf").string());
  ASSERT_TRUE(m);
  const Config& c = m->config();
  EXPECT_STREQ(arch_name(c.arch), "gemma3");
  EXPECT_EQ(c.rope_style, RopeStyle::neox);
  EXPECT_EQ(c.n_swa, 8);
  EXPECT_EQ(c.swa_pattern, 6);
  EXPECT_EQ(c.rope_theta_swa, 10000.0f);
  EXPECT_FLOAT_EQ(c.attn_scale, 1.0f / std::sqrt(32.0f));
  EXPECT_EQ(c.final_logit_softcap, 0.0f);
  for (int32_t l = 0; l < 6; l++) EXPECT_EQ(c.is_swa(l), l != 5) << "layer " << l;
  EXPECT_TRUE(c.tied_output);
  const LayerWeights& L = m->weights().layers[5];
  EXPECT_NE(L.attn_post_norm, nullptr);
  EXPECT_NE(L.ffn_post_norm, nullptr);
  EXPECT_NE(L.q_norm, nullptr);
}

TEST(LoadConfig, GptOssGetsSinksWindowYarnAndBiases) {
  parley::test::TempDir dir;
  std::string path = (dir / "m.gguf").string();
  auto m = test::write_and_load(test::tiny_options("gpt-oss"), path);
  ASSERT_TRUE(m);
  const Config& c = m->config();
  EXPECT_STREQ(arch_name(c.arch), "gpt-oss");
  EXPECT_EQ(c.rope_style, RopeStyle::neox);
  EXPECT_EQ(c.n_swa, 8);
  EXPECT_EQ(c.swa_pattern, 2);
  for (int32_t l = 0; l < 2; l++) EXPECT_EQ(c.is_swa(l), l == 0) << "layer " << l;  // even layers slide
  EXPECT_TRUE(c.rope_yarn);
  EXPECT_TRUE(c.rope_scaled_swa);
  EXPECT_EQ(c.rope_theta_swa, c.rope_theta);
  EXPECT_FLOAT_EQ(c.rope_freq_scale, 1.0f / 32);
  EXPECT_EQ(c.yarn_orig_ctx, 256);
  EXPECT_FLOAT_EQ(c.yarn_mscale, 1.0f + 0.1f * std::log(32.0f));
  EXPECT_FALSE(c.tied_output);
  const LayerWeights& L = m->weights().layers[1];
  for (const float* p : {L.bq, L.bk, L.bv, L.bo, L.attn_sinks, L.ffn_norm, L.router_b, L.gate_exps_b, L.up_exps_b, L.down_exps_b}) {
    EXPECT_NE(p, nullptr);
  }
  std::string bytes;
  Edit no_sinks;
  no_sinks.tensor = [](std::string& n, DType&, std::vector<uint64_t>&, bool& keep) { keep = n != "blk.1.attn_sinks.weight"; };
  auto e = load_edited(path, no_sinks, bytes);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message, "edited.gguf: missing tensor 'blk.1.attn_sinks.weight'");
  Edit pattern;
  pattern.add_kv = {{"gpt-oss.attention.sliding_window_pattern", gguf::OwnedValue::u32(3)}};
  e = load_edited(path, pattern, bytes);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message,
            "edited.gguf: key 'gpt-oss.attention.sliding_window_pattern' (3): only 2 (alternating layers) is supported");
  Edit log_mul;
  log_mul.add_kv = {{"gpt-oss.rope.scaling.yarn_log_multiplier", gguf::OwnedValue::f32(0.1f)}};
  e = load_edited(path, log_mul, bytes);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("YaRN with a log multiplier is not supported"), std::string::npos) << e.error().message;
}

// Gemma 3 files carry no final_logit_softcapping (Gemma 2 did); one that does gets it applied
// (Hugging Face's Gemma3 does; llama.cpp's gemma3 graph ignores it), and attention soft-capping
// is refused.
TEST(LoadConfig, Gemma3SoftCapping) {
  parley::test::TempDir dir;
  std::string path = (dir / "m.gguf").string();
  ASSERT_TRUE(modelgen::write_model(test::tiny_options("gemma3"), path).ok());
  std::string plain_bytes, capped_bytes;
  auto plain = load_edited(path, Edit{}, plain_bytes);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  Edit cap;
  cap.add_kv = {{"gemma3.final_logit_softcapping", gguf::OwnedValue::f32(0.5f)}};
  auto capped = load_edited(path, cap, capped_bytes);
  ASSERT_TRUE(capped.ok()) << capped.error().message;
  EXPECT_EQ((*capped)->config().final_logit_softcap, 0.5f);
  const std::vector<int32_t> tokens{1, 5, 9, 14, 3, 7, 11, 20, 2, 8, 30, 4};
  test::Harness hp(**plain, DType::f32, 1, 16, 16), hc(**capped, DType::f32, 1, 16, 16);
  auto a = hp.all_positions(tokens, 0, 16), b = hc.all_positions(tokens, 0, 16);
  for (size_t p = 0; p < a.size(); p++) {
    for (size_t i = 0; i < a[p].size(); i++) EXPECT_NEAR(b[p][i], 0.5f * std::tanh(a[p][i] / 0.5f), 1e-6f);
  }
  Edit attn_cap;
  attn_cap.add_kv = {{"gemma3.attn_logit_softcapping", gguf::OwnedValue::f32(50.0f)}};
  auto refused = load_edited(path, attn_cap, capped_bytes);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message,
            "edited.gguf: key 'gemma3.attn_logit_softcapping' (50): attention logit soft-capping is not supported");
}

TEST(LoadConfig, SlidingWindowIsOnlyForArchitecturesThatRunIt) {
  parley::test::TempDir dir;
  std::string path = (dir / "m.gguf").string();
  ASSERT_TRUE(modelgen::write_model(test::tiny_options("llama"), path).ok());
  std::string bytes;
  Edit window;
  window.add_kv = {{"llama.attention.sliding_window", gguf::OwnedValue::u32(4096)}};
  auto m = load_edited(path, window, bytes);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().message,
            "edited.gguf: sliding-window attention (llama.attention.sliding_window = 4096) is not supported for llama");
}

// Granite's four multipliers: logit_scale is required (as in llama.cpp), the others optional; a
// file without rope (rope.scaling.finetuned = false) is refused in one line.
TEST(LoadConfig, GraniteGetsItsMultipliers) {
  parley::test::TempDir dir;
  std::string path = (dir / "m.gguf").string();
  ASSERT_TRUE(modelgen::write_model(test::tiny_options("granite"), path).ok());
  std::string bytes;
  auto m = load_edited(path, Edit{}, bytes);
  ASSERT_TRUE(m.ok()) << m.error().message;
  const Config& c = (*m)->config();
  EXPECT_STREQ(arch_name(c.arch), "granite");
  EXPECT_EQ(c.rope_style, RopeStyle::normal);
  EXPECT_EQ(c.embd_scale, 12.0f);
  EXPECT_EQ(c.residual_scale, 0.22f);
  EXPECT_EQ(c.attn_scale, 0.015625f);
  EXPECT_EQ(c.logit_scale, 8.0f);
  Edit plain;
  plain.kv = [](std::string& k, gguf::OwnedValue&, bool& keep) {
    keep = k != "granite.embedding_scale" && k != "granite.residual_scale" && k != "granite.attention.scale";
  };
  auto p = load_edited(path, plain, bytes);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ((*p)->config().embd_scale, 0.0f);
  EXPECT_EQ((*p)->config().residual_scale, 1.0f);
  EXPECT_FLOAT_EQ((*p)->config().attn_scale, 0.25f);
  Edit no_logit;
  no_logit.kv = [](std::string& k, gguf::OwnedValue&, bool& keep) { keep = k != "granite.logit_scale"; };
  auto e = load_edited(path, no_logit, bytes);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message, "edited.gguf: key 'granite.logit_scale' is missing");
  Edit no_rope;
  no_rope.add_kv = {{"granite.rope.scaling.finetuned", gguf::OwnedValue::boolean(false)}};
  e = load_edited(path, no_rope, bytes);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message,
            "edited.gguf: key 'granite.rope.scaling.finetuned' is false: granite without rope is not supported");
}

// SmolLM3: no GGUF key; every fourth layer (3, 7, ...) has no rope, as llama.cpp fixes it.
TEST(LoadConfig, SmolLM3LayersWithoutRope) {
  parley::test::TempDir dir;
  auto m = test::write_and_load(test::tiny_options("smollm3"), (dir / "m.gguf").string());
  ASSERT_TRUE(m);
  const Config& c = m->config();
  EXPECT_STREQ(arch_name(c.arch), "smollm3");
  EXPECT_EQ(c.rope_style, RopeStyle::normal);
  for (int32_t l = 0; l < 12; l++) EXPECT_EQ(c.has_rope(l), l % 4 != 3) << "layer " << l;
  Config plain;
  EXPECT_TRUE(plain.has_rope(3));
}

// phi3: attn_qkv and ffn_up split into row views (q, k, v; gate, up), LongRoPE's factor sets
// picked by the context as llama.cpp does, its attention factor, the window key ignored.
TEST(LoadConfig, Phi3FusedTensorsAndLongRope) {
  parley::test::TempDir dir;
  modelgen::Options o = test::tiny_options("phi3");
  o.shape.n_rot = 12;
  o.shape.longrope_orig_ctx = 64;
  o.shape.n_swa = 8;
  std::string path = (dir / "m.gguf").string();
  ASSERT_TRUE(modelgen::write_model(o, path).ok());
  std::string bytes;
  auto m = load_edited(path, Edit{}, bytes);
  ASSERT_TRUE(m.ok()) << m.error().message;
  const Config& c = (*m)->config();
  const Weights& w = (*m)->weights();
  EXPECT_STREQ(arch_name(c.arch), "phi3");
  EXPECT_EQ(c.rope_style, RopeStyle::neox);
  EXPECT_EQ(c.n_rot, 12);
  EXPECT_EQ(c.n_swa, 0);  // attention.sliding_window = 8 is read and not applied
  EXPECT_EQ(c.n_ctx_orig, 64);
  EXPECT_FLOAT_EQ(c.rope_attn_factor, std::sqrt(1.0f + std::log(2048.0f / 64.0f) / std::log(64.0f)));
  const LayerWeights& L = w.layers[1];
  EXPECT_EQ(L.wq.n_rows, 64);
  EXPECT_EQ(L.wk.n_rows, 32);
  EXPECT_EQ(L.wv.n_rows, 32);
  EXPECT_EQ(L.wk.data, L.wq.row(64));
  EXPECT_EQ(L.wv.data, L.wk.row(32));
  EXPECT_EQ(L.w_gate.n_rows, 96);
  EXPECT_EQ(L.w_up.data, L.w_gate.row(96));
  ASSERT_NE(w.rope_long, nullptr);
  ASSERT_NE(w.rope_short, nullptr);
  EXPECT_EQ(rope_factors(**m, 65), w.rope_long);
  EXPECT_EQ(rope_factors(**m, 64), w.rope_short);
  // One factor set alone is refused in one line; other architectures' windows still are.
  Edit one;
  one.tensor = [](std::string& n, DType&, std::vector<uint64_t>&, bool& keep) { keep = n != "rope_factors_short.weight"; };
  auto e = load_edited(path, one, bytes);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message, "edited.gguf: missing tensor 'rope_factors_short.weight' (LongRoPE needs both factor sets)");
}

// The forward picks its factor set by its context: a forward of 64 positions (the original
// context) runs phi3 with the short factors, one of 65 and more with the long ones.
TEST(LoadConfig, Phi3ForwardTakesTheFactorsOfItsContext) {
  parley::test::TempDir dir;
  modelgen::Options o = test::tiny_options("phi3");
  o.shape.longrope_orig_ctx = 64;
  auto m = test::write_and_load(o, (dir / "m.gguf").string());
  ASSERT_TRUE(m);
  const std::vector<int32_t> tokens{1, 5, 9, 14, 3, 7, 11, 20, 2, 8, 30, 4};
  test::Harness at64(*m, DType::f32, 1, 16, 16, 64), at80(*m, DType::f32, 1, 16, 16, 80), at256(*m, DType::f32, 1, 16, 16, 256);
  auto a = at64.all_positions(tokens, 0, 16), b = at80.all_positions(tokens, 0, 16), d = at256.all_positions(tokens, 0, 16);
  EXPECT_EQ(b, d);
  double diff = 0;
  for (size_t p = 0; p < a.size(); p++) {
    for (size_t i = 0; i < a[p].size(); i++) diff = std::max(diff, static_cast<double>(std::fabs(a[p][i] - b[p][i])));
  }
  EXPECT_GT(diff, 1e-3);
}

TEST(LoadConfig, Llama3RopeFactorsAreBound) {
  parley::test::TempDir dir;
  modelgen::Options o = test::tiny_options("llama");
  o.shape.rope_llama3_factor = 8;
  o.shape.rope_llama3_orig_ctx = 64;
  auto m = test::write_and_load(o, (dir / "m.gguf").string());
  ASSERT_TRUE(m);
  ASSERT_NE(m->weights().rope_freqs, nullptr);
  EXPECT_EQ(m->weights().rope_freqs[0], 1.0f);  // highest frequency: unscaled
  EXPECT_EQ(m->weights().rope_freqs[7], 8.0f);  // lowest: divided by the factor
}

TEST_F(Load, UnknownArchitecture) {
  Edit e;
  e.kv = [](std::string& k, gguf::OwnedValue& v, bool&) {
    if (k == "general.architecture") v = gguf::OwnedValue::string("mamba");
  };
  EXPECT_EQ(error_of(e), "edited.gguf: unsupported architecture 'mamba' (supported: llama, qwen2, qwen3, qwen3moe, gemma3, gpt-oss, granite, smollm3, phi3)");
}

TEST_F(Load, MissingTensor) {
  Edit e;
  e.tensor = [](std::string& n, DType&, std::vector<uint64_t>&, bool& keep) { keep = n != "blk.1.ffn_up.weight"; };
  EXPECT_EQ(error_of(e), "edited.gguf: missing tensor 'blk.1.ffn_up.weight'");
}

TEST_F(Load, WrongShape) {
  Edit e;
  e.tensor = [](std::string& n, DType&, std::vector<uint64_t>& shape, bool&) {
    if (n == "blk.0.attn_k.weight") shape = {64, 64};
  };
  EXPECT_EQ(error_of(e), "edited.gguf: tensor 'blk.0.attn_k.weight': expected shape [64, 32], got [64, 64]");
}

TEST_F(Load, UnsupportedWeightType) {
  Edit e;
  e.tensor = [](std::string& n, DType& type, std::vector<uint64_t>&, bool&) {
    if (n == "blk.0.attn_q.weight") type = DType::i32;
  };
  EXPECT_EQ(error_of(e), "edited.gguf: tensor 'blk.0.attn_q.weight' has type I32, which is not supported");
}

TEST_F(Load, NormMustBeF32) {
  Edit e;
  e.tensor = [](std::string& n, DType& type, std::vector<uint64_t>&, bool&) {
    if (n == "output_norm.weight") type = DType::f16;
  };
  EXPECT_EQ(error_of(e), "edited.gguf: tensor 'output_norm.weight': expected type F32, got F16");
}

TEST_F(Load, MissingHyperParameter) {
  Edit e;
  e.kv = [](std::string& k, gguf::OwnedValue&, bool& keep) { keep = k != "llama.block_count"; };
  std::string err = error_of(e);
  EXPECT_NE(err.find("llama.block_count"), std::string::npos) << err;
}

TEST_F(Load, MixtureOfExpertsIsRefused) {
  Edit e;
  e.kv = [](std::string& k, gguf::OwnedValue& v, bool&) {
    if (k == "llama.block_count") {
      k = "llama.expert_count";
      v = gguf::OwnedValue::u32(8);
    }
  };
  std::string err = error_of(e);
  EXPECT_NE(err.find("experts"), std::string::npos) << err;
}

TEST_F(Load, VocabularyTooSmallForTheHeadIsAShapeError) {
  Edit e;
  e.tensor = [](std::string& n, DType&, std::vector<uint64_t>& shape, bool&) {
    if (n == "output.weight") shape = {64, 100};
  };
  EXPECT_EQ(error_of(e), "edited.gguf: tensor 'output.weight': expected shape [64, 128], got [64, 100]");
}

TEST(LoadFile, NotAGgufFileIsOneLine) {
  parley::test::TempDir dir;
  parley::test::write_file(dir / "x.gguf", "not a model at all, just text");
  auto m = Model::load((dir / "x.gguf").string());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().message.find('\n'), std::string::npos);
  EXPECT_NE(m.error().message.find("x.gguf"), std::string::npos) << m.error().message;
}

}  // namespace
}  // namespace parley::model
