// Test glue between a model, a paged KV pool and the forward pass (the engine's model runner
// does the same job in production), plus generated test models.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "base/check.h"
#include "gguf/gguf.h"
#include "kv/block-pool.h"
#include "model/forward.h"
#include "model/model.h"
#include "modelgen/modelgen.h"
#include "support/test-support.h"
#include "tokenizer/vocab-spec.h"

namespace parley::model::test {

// The 512-token SentencePiece vocabulary of ../shared/models/stories260K.gguf.
inline tokenizer::VocabSpec stories_vocab() {
  auto f = gguf::File::open((parley::test::shared_dir() / "models" / "stories260K.gguf").string());
  PARLEY_CHECK(f.ok());
  auto v = tokenizer::vocab_from_gguf(*f);
  PARLEY_CHECK(v.ok());
  return *v;
}

// A small synthetic vocabulary for tests that need no ../shared data.
inline tokenizer::VocabSpec synthetic_vocab(int n = 128) {
  tokenizer::VocabSpec v;
  v.model = "llama";
  for (int i = 0; i < n; i++) v.tokens.push_back("t" + std::to_string(i));
  v.scores.assign(static_cast<size_t>(n), 0.0f);
  v.token_types.assign(static_cast<size_t>(n), 1);
  v.bos_id = 1;
  v.eos_id = 2;
  return v;
}

inline modelgen::Options tiny_options(const std::string& arch, DType type = DType::f32) {
  modelgen::Options o;
  o.shape.arch = arch;
  o.shape.n_layer = 2;
  o.shape.n_embd = 64;
  o.shape.n_head = 4;
  o.shape.n_head_kv = 2;
  o.shape.n_ff = 96;
  o.shape.head_dim = arch == "qwen3" || arch == "qwen3moe" || arch == "gemma3" ? 32 : 0;
  o.shape.tied_output = arch != "llama";
  if (arch == "gemma3") {
    o.shape.n_layer = 6;  // 5 sliding-window layers, then a global one
    o.shape.n_swa = 8;    // shorter than the sequences the tests run
  }
  if (arch == "smollm3") o.shape.n_layer = 4;  // layer 3 without rope
  if (arch == "phi3") {
    o.shape.n_rot = 12;              // of 16
    o.shape.longrope_orig_ctx = 16;  // a context of more than 16 takes the long factors
  }
  if (arch == "qwen3moe" || arch == "gpt-oss") {
    o.shape.n_expert = 8;
    o.shape.n_expert_used = 2;
    o.shape.n_ff_exp = 32;
  }
  if (arch == "gpt-oss") {
    o.shape.head_dim = 32;
    o.shape.tied_output = false;
    o.shape.n_swa = 8;  // layer 0 slides, shorter than the sequences the tests run
    o.shape.rope_yarn_factor = 32;
    o.shape.rope_yarn_orig_ctx = 256;
  }
  o.types.matrices = o.types.embedding = o.types.output = type;
  o.vocab = synthetic_vocab();
  o.seed = 3;
  return o;
}

inline std::unique_ptr<Model> write_and_load(const modelgen::Options& o, const std::string& path) {
  Status st = modelgen::write_model(o, path);
  EXPECT_TRUE(st.ok()) << st.error().message;
  auto m = Model::load(path);
  EXPECT_TRUE(m.ok()) << m.error().message;
  return m.ok() ? std::move(*m) : nullptr;
}

// Runs batches for numbered sequences, each with its own block table.
class Harness {
 public:
  Harness(const Model& model, DType kv_type, int n_threads, int32_t max_tokens, int32_t max_logits,
          int32_t n_ctx = 256, int32_t block_size = 16)
      : pool_(n_threads), fwd_(model, ForwardOptions{max_tokens, max_logits, n_ctx}, pool_) {
    const Config& c = model.config();
    kv::PoolShape shape{c.n_layer, c.n_head_kv, c.head_dim, block_size, n_ctx / block_size * 8, kv_type};
    kv_ = std::move(kv::BlockPool::create(shape)).value();
    view_.type = kv_type;
    view_.block_size = block_size;
    for (int32_t l = 0; l < c.n_layer; l++) {
      view_.k.push_back(kv_->k_layer(l));
      view_.v.push_back(kv_->v_layer(l));
    }
  }

  // Reserves blocks for every row, runs the batch and returns the logits rows.
  std::vector<std::vector<float>> run(const Batch& b) {
    for (int32_t i = 0; i < b.size(); i++) {
      while (static_cast<int32_t>(tables_.size()) <= b.seqs[i]) tables_.emplace_back(*kv_);
      PARLEY_CHECK(tables_[static_cast<size_t>(b.seqs[i])].reserve(b.positions[i] + 1));
    }
    std::vector<SeqKv> seqs;
    for (auto& t : tables_) seqs.push_back({t.blocks().data(), static_cast<int32_t>(t.blocks().size())});
    fwd_.run(b, view_, seqs);
    std::vector<std::vector<float>> out;
    for (int32_t i = 0; i < fwd_.n_logits(); i++) {
      out.emplace_back(fwd_.logits(i), fwd_.logits(i) + fwd_.model().config().n_vocab);
    }
    kv_->check_invariants();
    return out;
  }

  // Logits at every position of one sequence, fed in chunks of `chunk` tokens.
  std::vector<std::vector<float>> all_positions(const std::vector<int32_t>& tokens, int32_t seq, int32_t chunk) {
    std::vector<std::vector<float>> out;
    for (size_t start = 0; start < tokens.size(); start += static_cast<size_t>(chunk)) {
      Batch b;
      for (size_t i = start; i < std::min(tokens.size(), start + static_cast<size_t>(chunk)); i++) {
        b.add(tokens[i], static_cast<int32_t>(i), seq, true);
      }
      for (auto& row : run(b)) out.push_back(std::move(row));
    }
    return out;
  }

  kv::BlockPool& kv() { return *kv_; }
  std::vector<kv::BlockTable>& tables() { return tables_; }

 private:
  ThreadPool pool_;
  Forward fwd_;
  std::unique_ptr<kv::BlockPool> kv_;
  KvView view_;
  std::vector<kv::BlockTable> tables_;
};

}  // namespace parley::model::test
