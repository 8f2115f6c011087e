// The batched forward pass. A batch is rows of (token, position, sequence) plus which rows need
// logits; rows of several sequences of different lengths run in one call. K/V go to a paged
// cache described by KvView (the storage of kv::BlockPool) and one block table per sequence.
// There is no single-sequence path: decode is a batch whose rows are one token per sequence.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/model.h"
#include "tensor/thread-pool.h"

namespace parley::model {

struct Batch {
  std::vector<int32_t> tokens;
  std::vector<int32_t> positions;
  std::vector<int32_t> seqs;        // index into the SeqKv span given to run()
  std::vector<uint8_t> want_logits;

  void clear() {
    tokens.clear();
    positions.clear();
    seqs.clear();
    want_logits.clear();
  }
  void add(int32_t token, int32_t position, int32_t seq, bool logits) {
    tokens.push_back(token);
    positions.push_back(position);
    seqs.push_back(seq);
    want_logits.push_back(logits ? 1 : 0);
  }
  int32_t size() const { return static_cast<int32_t>(tokens.size()); }
};

// Where the cache lives: per layer a base pointer for K and for V. Within a layer, block b holds
// for kv head g the rows of its block_size positions: element (b, g, slot, d) at
// ((b * n_head_kv + g) * block_size + slot) * head_dim + d (kv::BlockPool's layout); for Q8_0
// the row (b, g, slot) is head_dim / 32 blocks of 34 bytes.
struct KvView {
  DType type = DType::f16;  // f32, f16, bf16 or q8_0 (rows of kv_row_bytes(type, head_dim))
  int32_t block_size = 16;
  std::vector<uint8_t*> k, v;
};

// One sequence's block table: position p is in blocks[p / block_size], slot p % block_size.
// Attention of a row at position p reads positions 0..p of its sequence, so the positions
// before the batch's must already be in the cache.
struct SeqKv {
  const int32_t* blocks = nullptr;
  int32_t n_blocks = 0;
};

struct ForwardOptions {
  int32_t max_tokens = 512;  // rows per batch
  int32_t max_logits = 8;    // rows with logits per batch
  int32_t n_ctx = 4096;      // largest position + 1
};

// Scratch for one forward at a time, allocated once for the largest batch.
class Forward {
 public:
  Forward(const Model& model, const ForwardOptions& options, ThreadPool& pool);

  // Runs the batch: writes its K/V into the cache and computes logits for the rows that want
  // them, in row order (logits(0) is the first such row). Aborts on a batch that breaks the
  // contract (sizes, token ids, positions outside the sequence's blocks): callers check
  // untrusted input before.
  void run(const Batch& batch, const KvView& kv, std::span<const SeqKv> seqs);

  const float* logits(int32_t i) const { return logits_.data() + static_cast<size_t>(i) * static_cast<size_t>(n_vocab_); }
  // Writable: the sampler's logits processors (constraints) mask rows in place.
  float* logits(int32_t i) { return logits_.data() + static_cast<size_t>(i) * static_cast<size_t>(n_vocab_); }
  int32_t n_logits() const { return n_logits_; }
  const Model& model() const { return *model_; }
  const ForwardOptions& options() const { return options_; }
  ThreadPool& pool() const { return *pool_; }
  // Bytes of the buffers below and the logits, allocated at construction.
  uint64_t scratch_bytes() const;

  // Buffers the architecture forward functions use; sizes in the comments (T = max_tokens).
  struct Scratch {
    std::vector<float> x;       // [T, n_embd] residual stream
    std::vector<float> h;       // [T, n_embd] normed input / block output
    std::vector<float> q;       // [T, q_dim] (widths: the architecture's ScratchShape)
    std::vector<float> k;       // [T, kv_dim]
    std::vector<float> v;       // [T, kv_dim]
    std::vector<float> att;     // [T, q_dim]
    std::vector<float> gate;    // [T, n_ff]
    std::vector<float> up;      // [T, n_ff]
    std::vector<float> out_x;   // [max_logits, n_embd]
    std::vector<float> scores;  // [n_threads, ops::attention_scratch_floats] attention scratch
    std::vector<float> rope_cs; // [T, n_rot] cos/sin per row
    std::vector<float> inv_freq;// [n_rot / 2]
    std::vector<float> rope_cs_swa;  // sliding-window layers' (own rope base; empty without): [T, n_rot]
    std::vector<float> inv_freq_swa; // [n_rot / 2]
    // Mixture of experts (empty for dense models); K = n_expert_used.
    std::vector<float> router;           // [T, n_expert] router logits
    std::vector<int32_t> route_expert;   // [T, K] the experts each row is routed to
    std::vector<float> route_weight;     // [T, K] their weights (summing to 1 per row)
    std::vector<int32_t> expert_begin;   // [n_expert + 1] where each expert's routes start in expert_routes
    std::vector<int32_t> expert_routes;  // [T * K] routes (row * K + j), grouped by expert, rows ascending
    std::vector<float> moe_in;           // [T, n_embd] the rows routed to one expert, gathered
    std::vector<float> moe_out;          // [T, n_embd] that expert's output for them
    MatmulScratch mm;           // quantized activations + kernel scratch, reserved for T rows
  };

 private:
  const Model* model_;
  ForwardOptions options_;
  ThreadPool* pool_;
  int32_t n_vocab_;
  Scratch s_;
  std::vector<float> logits_;  // [max_logits, n_vocab]
  int32_t n_logits_ = 0;
};

// What an architecture's forward pass (model/arch.h) gets.
struct ForwardArgs {
  const Model& model;
  Forward::Scratch& s;
  const Batch& batch;
  const KvView& kv;
  std::span<const SeqKv> seqs;
  ThreadPool& pool;
  float* logits;  // [n_logits, n_vocab]
  int32_t n_ctx;  // scores rows per thread
};
}  // namespace parley::model
