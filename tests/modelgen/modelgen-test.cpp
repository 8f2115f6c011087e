#include "modelgen/modelgen.h"

#include <gtest/gtest.h>

#include <cmath>

#include "gguf/gguf.h"
#include "support/test-support.h"
#include "tensor/quant.h"

namespace parley::modelgen {
namespace {

tokenizer::VocabSpec small_vocab() {
  tokenizer::VocabSpec v;
  v.model = "gpt2";
  v.pre = "gpt-2";
  for (int i = 0; i < 96; i++) v.tokens.push_back("t" + std::to_string(i));
  v.token_types.assign(96, 1);
  v.merges = {"t 1", "t 2"};
  v.bos_id = 1;
  v.eos_id = 2;
  v.add_bos = true;
  return v;
}

Options options(const std::string& arch, DType type) {
  Options o;
  o.shape.arch = arch;
  o.shape.n_layer = 2;
  o.shape.n_embd = 64;
  o.shape.n_head = 4;
  o.shape.n_head_kv = 2;
  o.shape.n_ff = 96;
  o.shape.tied_output = arch != "llama";
  o.types.matrices = o.types.embedding = o.types.output = type;
  o.vocab = small_vocab();
  o.chat_template = "{{ messages }}";
  return o;
}

struct Case {
  const char* arch;
  DType type;
};

class ModelGen : public ::testing::TestWithParam<Case> {};

TEST_P(ModelGen, WritesTheStandardTensorsAndKeys) {
  auto [arch, type] = GetParam();
  test::TempDir dir;
  std::string path = (dir / "m.gguf").string();
  Options o = options(arch, type);
  ASSERT_TRUE(write_model(o, path).ok());
  auto f = gguf::File::open(path);
  ASSERT_TRUE(f.ok()) << f.error().message;
  std::string a = arch;
  EXPECT_EQ(*f->get_string("general.architecture"), a);
  EXPECT_EQ(*f->get_uint(a + ".block_count"), 2u);
  EXPECT_EQ(*f->get_uint(a + ".embedding_length"), 64u);
  EXPECT_EQ(*f->get_uint(a + ".attention.head_count_kv"), 2u);
  EXPECT_EQ(*f->get_uint(a + ".feed_forward_length"), 96u);
  EXPECT_EQ(*f->get_string("tokenizer.chat_template"), "{{ messages }}");

  // Layer 0 tensors and their shapes (ggml order).
  auto shape = [&](const std::string& name) {
    const gguf::TensorInfo* t = f->find_tensor(name);
    return t ? t->shape : std::vector<uint64_t>{};
  };
  EXPECT_EQ(shape("token_embd.weight"), (std::vector<uint64_t>{64, 96}));
  EXPECT_EQ(shape("blk.0.attn_q.weight"), (std::vector<uint64_t>{64, 64}));
  EXPECT_EQ(shape("blk.0.attn_k.weight"), (std::vector<uint64_t>{64, 32}));
  EXPECT_EQ(shape("blk.1.ffn_down.weight"), (std::vector<uint64_t>{96, 64}));
  EXPECT_EQ(f->find_tensor("output.weight") != nullptr, a == "llama");
  EXPECT_EQ(f->find_tensor("blk.0.attn_q.bias") != nullptr, a == "qwen2");
  EXPECT_EQ(f->find_tensor("blk.1.attn_k_norm.weight") != nullptr, a == "qwen3");
  EXPECT_EQ(f->find_tensor("blk.0.attn_q.weight")->type, type);
  EXPECT_EQ(f->find_tensor("blk.0.attn_norm.weight")->type, DType::f32);

  // Weights look like a scaled init: mean ~0, std ~1/sqrt(row length).
  const gguf::TensorInfo* q = f->find_tensor("blk.0.ffn_gate.weight");
  std::vector<float> w(q->n_elements);
  for (uint64_t r = 0; r < q->shape[1]; r++) {
    dequantize_row(type, q->data + r * dtype_row_bytes(type, q->shape[0]), w.data() + r * q->shape[0],
                   static_cast<int64_t>(q->shape[0]));
  }
  double sum = 0, sq = 0;
  for (float x : w) {
    sum += x;
    sq += static_cast<double>(x) * x;
  }
  double mean = sum / static_cast<double>(w.size());
  double sd = std::sqrt(sq / static_cast<double>(w.size()) - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(sd, 1.0 / 8.0, 0.02);

  // The tokenizer survives the trip.
  auto vocab = tokenizer::vocab_from_gguf(*f);
  ASSERT_TRUE(vocab.ok()) << vocab.error().message;
  EXPECT_EQ(vocab->tokens, o.vocab.tokens);
  EXPECT_EQ(vocab->merges, o.vocab.merges);
  EXPECT_EQ(vocab->bos_id, 1);
  EXPECT_EQ(vocab->add_bos, true);
}

INSTANTIATE_TEST_SUITE_P(
    ArchTimesType, ModelGen,
    ::testing::Values(Case{"llama", DType::f32}, Case{"llama", DType::f16}, Case{"llama", DType::bf16},
                      Case{"llama", DType::q8_0}, Case{"llama", DType::q4_0}, Case{"qwen2", DType::f32},
                      Case{"qwen2", DType::q8_0}, Case{"qwen3", DType::f16}, Case{"qwen3", DType::q4_0}),
    [](const auto& param_info) {
      return std::string(param_info.param.arch) + "_" + std::string(dtype_name(param_info.param.type));
    });

TEST(ModelGen, SameSeedSameBytesOtherSeedOtherBytes) {
  test::TempDir dir;
  Options o = options("qwen3", DType::q8_0);
  ASSERT_TRUE(write_model(o, (dir / "a.gguf").string()).ok());
  ASSERT_TRUE(write_model(o, (dir / "b.gguf").string()).ok());
  o.seed = 2;
  ASSERT_TRUE(write_model(o, (dir / "c.gguf").string()).ok());
  EXPECT_EQ(test::read_file(dir / "a.gguf"), test::read_file(dir / "b.gguf"));
  EXPECT_NE(test::read_file(dir / "a.gguf"), test::read_file(dir / "c.gguf"));
}

TEST(ModelGen, Qwen3MoeWritesTheRouterAndOneMatrixPerExpert) {
  test::TempDir dir;
  Options o = options("qwen3moe", DType::q8_0);
  o.shape.n_expert = 4;
  o.shape.n_expert_used = 2;
  o.shape.n_ff_exp = 32;
  ASSERT_TRUE(write_model(o, (dir / "m.gguf").string()).ok());
  auto f = gguf::File::open((dir / "m.gguf").string());
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f->get_uint("qwen3moe.expert_count"), 4u);
  EXPECT_EQ(*f->get_uint("qwen3moe.expert_used_count"), 2u);
  EXPECT_EQ(*f->get_uint("qwen3moe.expert_feed_forward_length"), 32u);
  const gguf::TensorInfo* router = f->find_tensor("blk.1.ffn_gate_inp.weight");
  ASSERT_NE(router, nullptr);
  EXPECT_EQ(router->shape, (std::vector<uint64_t>{64, 4}));
  EXPECT_EQ(router->type, DType::f32);  // as llama.cpp's quantizer leaves it
  EXPECT_EQ(f->find_tensor("blk.1.ffn_gate_exps.weight")->shape, (std::vector<uint64_t>{64, 32, 4}));
  EXPECT_EQ(f->find_tensor("blk.1.ffn_up_exps.weight")->type, DType::q8_0);
  EXPECT_EQ(f->find_tensor("blk.1.ffn_down_exps.weight")->shape, (std::vector<uint64_t>{32, 64, 4}));
  EXPECT_NE(f->find_tensor("blk.1.attn_k_norm.weight"), nullptr);
  EXPECT_EQ(f->find_tensor("blk.1.ffn_gate.weight"), nullptr);

  o.shape.n_expert_used = 5;
  EXPECT_NE(validate(o).error().message.find("--experts-used K (0 < K <= N)"), std::string::npos) << validate(o).error().message;
  Options dense = options("qwen3", DType::f32);
  dense.shape.n_expert = 4;
  EXPECT_NE(validate(dense).error().message.find("qwen3 has no experts"), std::string::npos);
}

TEST(ModelGen, Gemma3WritesPostNormsAndTheWindow) {
  test::TempDir dir;
  Options o = options("gemma3", DType::q8_0);
  o.shape.head_dim = 32;
  o.shape.n_swa = 8;
  ASSERT_TRUE(write_model(o, (dir / "m.gguf").string()).ok());
  auto f = gguf::File::open((dir / "m.gguf").string());
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f->get_uint("gemma3.attention.sliding_window"), 8u);
  EXPECT_EQ(*f->get_uint("gemma3.attention.key_length"), 32u);
  for (const char* n : {"blk.1.post_attention_norm.weight", "blk.1.post_ffw_norm.weight", "blk.1.attn_q_norm.weight"}) {
    const gguf::TensorInfo* t = f->find_tensor(n);
    ASSERT_NE(t, nullptr) << n;
    EXPECT_EQ(t->type, DType::f32) << n;
  }
  EXPECT_EQ(f->find_tensor("blk.1.post_ffw_norm.weight")->shape, (std::vector<uint64_t>{64}));
  EXPECT_EQ(f->find_tensor("blk.1.ffn_gate.weight")->type, DType::q8_0);
  EXPECT_EQ(f->find_tensor("output.weight"), nullptr);  // tied

  o.shape.n_swa = 0;
  EXPECT_NE(validate(o).error().message.find("gemma3 needs --sliding-window N"), std::string::npos);
  Options llama = options("llama", DType::f32);
  llama.shape.n_swa = 8;
  EXPECT_NE(validate(llama).error().message.find("llama has no sliding-window layers"), std::string::npos);
}

// phi3: fused attn_qkv and ffn_up (gate and up rows), LongRoPE's factors and keys as the converter
// writes them, the sliding_window key when given.
TEST(ModelGen, Phi3WritesFusedTensorsAndLongRope) {
  test::TempDir dir;
  Options o = options("phi3", DType::q8_0);
  o.shape.n_rot = 12;
  o.shape.n_ctx = 4096;
  o.shape.longrope_orig_ctx = 64;
  o.shape.n_swa = 8;
  ASSERT_TRUE(write_model(o, (dir / "m.gguf").string()).ok());
  auto f = gguf::File::open((dir / "m.gguf").string());
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->find_tensor("blk.0.attn_qkv.weight")->shape, (std::vector<uint64_t>{64, 64 + 2 * 32}));
  EXPECT_EQ(f->find_tensor("blk.0.ffn_up.weight")->shape, (std::vector<uint64_t>{64, 2 * 96}));
  for (const char* n : {"blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight", "blk.0.ffn_gate.weight"}) {
    EXPECT_EQ(f->find_tensor(n), nullptr) << n;
  }
  EXPECT_EQ(*f->get_uint("phi3.rope.dimension_count"), 12u);
  EXPECT_EQ(*f->get_uint("phi3.rope.scaling.original_context_length"), 64u);
  EXPECT_EQ(*f->get_uint("phi3.attention.sliding_window"), 8u);
  EXPECT_FLOAT_EQ(static_cast<float>(*f->get_float("phi3.rope.scaling.attn_factor")), std::sqrt(1.0f + std::log(64.0f) / std::log(64.0f)));
  const gguf::TensorInfo* lf = f->find_tensor("rope_factors_long.weight");
  const gguf::TensorInfo* sf = f->find_tensor("rope_factors_short.weight");
  ASSERT_NE(lf, nullptr);
  ASSERT_NE(sf, nullptr);
  EXPECT_EQ(lf->shape, (std::vector<uint64_t>{6}));
  const float* l = reinterpret_cast<const float*>(lf->data);
  const float* s = reinterpret_cast<const float*>(sf->data);
  EXPECT_EQ(l[0], 1.0f);
  EXPECT_EQ(l[5], 32.0f);
  EXPECT_EQ(s[5], 2.0f);

  o.shape.longrope_orig_ctx = 4096;
  EXPECT_NE(validate(o).error().message.find("--longrope 4096: the original context must be in 2..--ctx 4096"), std::string::npos);
  o.shape.longrope_orig_ctx = 0;
  o.shape.n_rot = 18;
  EXPECT_NE(validate(o).error().message.find("--rope-dim 18: expected an even number <= the head dim 16"), std::string::npos);
  Options llama = options("llama", DType::f32);
  llama.shape.longrope_orig_ctx = 64;
  EXPECT_NE(validate(llama).error().message.find("--rope-dim and --longrope are for phi3, not llama"), std::string::npos);
}

TEST(ModelGen, GptOssWritesSinksBiasesTheWindowAndYarn) {
  test::TempDir dir;
  Options o = options("gpt-oss", DType::q8_0);
  o.shape.tied_output = false;
  o.shape.head_dim = 32;
  o.shape.n_expert = 4;
  o.shape.n_expert_used = 2;
  o.shape.n_ff_exp = 32;
  o.shape.n_swa = 8;
  o.shape.rope_yarn_factor = 32;
  o.shape.rope_yarn_orig_ctx = 4096;
  ASSERT_TRUE(write_model(o, (dir / "m.gguf").string()).ok());
  auto f = gguf::File::open((dir / "m.gguf").string());
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f->get_uint("gpt-oss.attention.sliding_window"), 8u);
  EXPECT_EQ(*f->get_string("gpt-oss.rope.scaling.type"), "yarn");
  EXPECT_EQ(*f->get_float("gpt-oss.rope.scaling.factor"), 32.0);
  EXPECT_EQ(*f->get_uint("gpt-oss.rope.scaling.original_context_length"), 4096u);
  EXPECT_EQ(*f->get_uint("gpt-oss.expert_feed_forward_length"), 32u);
  const std::pair<const char*, std::vector<uint64_t>> f32[] = {
      {"blk.1.attn_sinks.weight", {4}},       {"blk.1.attn_q.bias", {128}},          {"blk.1.attn_output.bias", {64}},
      {"blk.1.post_attention_norm.weight", {64}}, {"blk.1.ffn_gate_inp.bias", {4}},   {"blk.1.ffn_gate_exps.bias", {32, 4}},
      {"blk.1.ffn_up_exps.bias", {32, 4}},    {"blk.1.ffn_down_exps.bias", {64, 4}}, {"blk.1.ffn_gate_inp.weight", {64, 4}}};
  for (const auto& [n, shape] : f32) {
    const gguf::TensorInfo* t = f->find_tensor(n);
    ASSERT_NE(t, nullptr) << n;
    EXPECT_EQ(t->type, DType::f32) << n;
    EXPECT_EQ(t->shape, shape) << n;
  }
  EXPECT_EQ(f->find_tensor("blk.1.ffn_norm.weight"), nullptr);  // post_attention_norm norms the FFN input
  EXPECT_EQ(f->find_tensor("blk.1.ffn_down_exps.weight")->type, DType::q8_0);
  o.shape.n_swa = 0;
  EXPECT_NE(validate(o).error().message.find("gpt-oss needs --sliding-window N"), std::string::npos);
}

TEST(ModelGen, QwenHeadDimMayDifferFromWidth) {
  test::TempDir dir;
  Options o = options("qwen3", DType::f32);
  o.shape.head_dim = 32;  // q projection 64 -> 128
  ASSERT_TRUE(write_model(o, (dir / "m.gguf").string()).ok());
  auto f = gguf::File::open((dir / "m.gguf").string());
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->find_tensor("blk.0.attn_q.weight")->shape, (std::vector<uint64_t>{64, 128}));
  EXPECT_EQ(f->find_tensor("blk.0.attn_output.weight")->shape, (std::vector<uint64_t>{128, 64}));
  EXPECT_EQ(f->find_tensor("blk.0.attn_q_norm.weight")->shape, (std::vector<uint64_t>{32}));
  EXPECT_EQ(*f->get_uint("qwen3.attention.key_length"), 32u);
}

TEST(ModelGen, ValidationNamesTheProblem) {
  Options o = options("llama", DType::f32);
  o.shape.arch = "gpt-j";
  EXPECT_NE(validate(o).error().message.find("unknown architecture 'gpt-j'"), std::string::npos);
  o = options("llama", DType::f32);
  o.shape.n_head_kv = 3;
  EXPECT_NE(validate(o).error().message.find("must be a multiple of --kv-heads 3"), std::string::npos);
  o = options("llama", DType::q8_0);
  o.shape.n_ff = 80;  // ffn_down rows of 80 are not a multiple of 32
  EXPECT_NE(validate(o).error().message.find("blk.0.ffn_down.weight: row length 80 is not a multiple of the Q8_0 block size 32"),
            std::string::npos)
      << validate(o).error().message;
  o = options("llama", DType::f32);
  o.vocab.tokens.clear();
  EXPECT_FALSE(validate(o).ok());
}

TEST(ModelGen, OverridesPickPerTensorTypes) {
  test::TempDir dir;
  Options o = options("llama", DType::q4_0);
  o.types.overrides = {{"attn_v", DType::q8_0}, {"blk.1.ffn_down", DType::f16}};
  o.types.embedding = DType::f16;
  ASSERT_TRUE(write_model(o, (dir / "m.gguf").string()).ok());
  auto f = gguf::File::open((dir / "m.gguf").string());
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->find_tensor("blk.0.attn_v.weight")->type, DType::q8_0);
  EXPECT_EQ(f->find_tensor("blk.0.ffn_down.weight")->type, DType::q4_0);
  EXPECT_EQ(f->find_tensor("blk.1.ffn_down.weight")->type, DType::f16);
  EXPECT_EQ(f->find_tensor("token_embd.weight")->type, DType::f16);
}

// Every weight type the engine reads can be written; K-quants need rows that are multiples of
// 256, so this uses a 256-wide model with a 512-wide feed-forward.
TEST(ModelGen, WritesEveryWeightType) {
  for (DType type : {DType::f32, DType::f16, DType::bf16, DType::q8_0, DType::q4_0, DType::q4_1, DType::q5_0,
                     DType::q5_1, DType::q2_k, DType::q3_k, DType::q4_k, DType::q5_k, DType::q6_k, DType::mxfp4,
                     DType::iq4_nl, DType::iq4_xs}) {
    SCOPED_TRACE(std::string(dtype_name(type)));
    test::TempDir dir;
    Options o = options("llama", type);
    o.shape.n_layer = 1;
    o.shape.n_embd = 256;
    o.shape.n_ff = 512;
    ASSERT_TRUE(validate(o).ok()) << validate(o).error().message;
    ASSERT_TRUE(write_model(o, (dir / "m.gguf").string()).ok());
    auto f = gguf::File::open((dir / "m.gguf").string());
    ASSERT_TRUE(f.ok()) << f.error().message;
    for (const char* name : {"token_embd.weight", "blk.0.attn_q.weight", "blk.0.ffn_down.weight", "output.weight"}) {
      EXPECT_EQ(f->find_tensor(name)->type, type) << name;
    }
    // The values survive quantization: a scaled init with std 1/sqrt(row length).
    const gguf::TensorInfo* q = f->find_tensor("blk.0.ffn_down.weight");
    const uint64_t cols = q->shape[0], rows = q->shape[1];
    EXPECT_EQ(q->n_bytes, dtype_row_bytes(type, cols) * rows);
    std::vector<float> w(cols * rows);
    for (uint64_t r = 0; r < rows; r++) {
      dequantize_row(type, q->data + r * dtype_row_bytes(type, cols), w.data() + r * cols, static_cast<int64_t>(cols));
    }
    double sum = 0, sq = 0;
    for (float x : w) {
      sum += x;
      sq += static_cast<double>(x) * x;
    }
    double mean = sum / static_cast<double>(w.size());
    double sd = std::sqrt(sq / static_cast<double>(w.size()) - mean * mean);
    EXPECT_NEAR(mean, 0.0, 0.005);
    // Coarse types shrink or widen the spread a little (Q2_K has four levels per sub-block).
    EXPECT_NEAR(sd, 1.0 / std::sqrt(512.0), type == DType::q2_k ? 0.01 : 0.004);
    // llama_ftype: ALL_F32 0, MOSTLY_F16 1, Q4_0 2, Q4_1 3, Q8_0 7, Q5_0 8, Q5_1 9, Q2_K 10,
    // Q3_K_S 11, Q4_K_S 14, Q5_K_S 16, Q6_K 18, IQ4_NL 25, IQ4_XS 30, BF16 32, MXFP4_MOE 38.
    const std::pair<DType, uint64_t> kFtypes[] = {
        {DType::f32, 0},   {DType::f16, 1},   {DType::q4_0, 2},  {DType::q4_1, 3},  {DType::q8_0, 7},
        {DType::q5_0, 8},  {DType::q5_1, 9},  {DType::q2_k, 10}, {DType::q3_k, 11}, {DType::q4_k, 14},
        {DType::q5_k, 16}, {DType::q6_k, 18}, {DType::bf16, 32}, {DType::mxfp4, 38},
        {DType::iq4_nl, 25}, {DType::iq4_xs, 30}};
    for (const auto& [t, id] : kFtypes) {
      if (t == type) {
        EXPECT_EQ(*f->get_uint("general.file_type"), id);
      }
    }
  }
}

TEST(ModelGen, MixturesLikeRealDownloads) {
  EXPECT_FALSE(mixture_types("Q4_K").has_value());  // a plain type, not a mix
  EXPECT_FALSE(mixture_types("Q9_K_M").has_value());
  auto mix = mixture_types("q4_k_m");
  ASSERT_TRUE(mix.has_value());
  test::TempDir dir;
  Options o = options("llama", DType::f32);
  o.shape.n_embd = 256;
  o.shape.n_ff = 512;
  o.types = *mix;
  ASSERT_TRUE(write_model(o, (dir / "m.gguf").string()).ok());
  auto f = gguf::File::open((dir / "m.gguf").string());
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->find_tensor("token_embd.weight")->type, DType::q4_k);
  EXPECT_EQ(f->find_tensor("blk.0.attn_q.weight")->type, DType::q4_k);
  EXPECT_EQ(f->find_tensor("blk.1.ffn_gate.weight")->type, DType::q4_k);
  EXPECT_EQ(f->find_tensor("blk.0.attn_v.weight")->type, DType::q6_k);
  EXPECT_EQ(f->find_tensor("blk.1.ffn_down.weight")->type, DType::q6_k);
  EXPECT_EQ(f->find_tensor("output.weight")->type, DType::q6_k);
  EXPECT_EQ(*f->get_uint("general.file_type"), 15u);  // LLAMA_FTYPE_MOSTLY_Q4_K_M
  // llama.cpp's MXFP4_MOE: experts MXFP4, the rest (router aside, F32) Q8_0.
  auto moe = mixture_types("mxfp4_moe");
  ASSERT_TRUE(moe.has_value());
  Options om = options("qwen3moe", DType::f32);
  om.shape.n_embd = 256;
  om.shape.head_dim = 64;
  om.shape.n_ff = 512;
  om.shape.n_expert = 4;
  om.shape.n_expert_used = 2;
  om.shape.n_ff_exp = 64;
  om.shape.tied_output = false;
  om.types = *moe;
  ASSERT_TRUE(write_model(om, (dir / "moe.gguf").string()).ok());
  auto fm = gguf::File::open((dir / "moe.gguf").string());
  ASSERT_TRUE(fm.ok());
  EXPECT_EQ(fm->find_tensor("token_embd.weight")->type, DType::q8_0);
  EXPECT_EQ(fm->find_tensor("blk.0.attn_q.weight")->type, DType::q8_0);
  EXPECT_EQ(fm->find_tensor("blk.0.ffn_gate_inp.weight")->type, DType::f32);
  EXPECT_EQ(fm->find_tensor("blk.0.ffn_gate_exps.weight")->type, DType::mxfp4);
  EXPECT_EQ(fm->find_tensor("blk.1.ffn_down_exps.weight")->type, DType::mxfp4);
  EXPECT_EQ(fm->find_tensor("output.weight")->type, DType::q8_0);
  EXPECT_EQ(*fm->get_uint("general.file_type"), 38u);
  auto m5 = mixture_types("Q5_K_S");
  ASSERT_TRUE(m5.has_value());
  EXPECT_EQ(m5->matrices, DType::q5_k);
  EXPECT_TRUE(m5->overrides.empty());
  EXPECT_EQ(m5->output, DType::q6_k);
}

}  // namespace
}  // namespace parley::modelgen
