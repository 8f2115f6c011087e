// Token sampling from logits: greedy, temperature, top-k, top-p (nucleus) and min-p, with the
// random generator passed in (same seed, same tokens).
//
// Order (llama.cpp's default chain): top_k, top_p and min_p filter the candidates on the
// temperature-1 distribution, then the survivors are divided by the temperature and one is
// drawn. temperature <= 0 is greedy: the largest logit, the lowest id on ties. Without a
// filter (the API's default: temperature 1 alone) the draw goes over the whole vocabulary with
// SIMD exponentials where the CPU has them; tokens below e^-40 of the best never matter.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "base/rng.h"

namespace parley::sampling {

struct Params {
  float temperature = 1.0f;  // <= 0: greedy
  int32_t top_k = 0;         // 0: off
  float top_p = 1.0f;        // >= 1: off
  float min_p = 0.0f;        // <= 0: off
  uint64_t seed = 0;         // the request's RNG seed (the engine seeds one Rng per request)
};

// Index of the largest value (the first one on ties).
int32_t argmax(const float* logits, int32_t n);

class Sampler {
 public:
  // Candidate buffers for n_vocab tokens are allocated here, once.
  explicit Sampler(int32_t n_vocab);

  // -1 when every logit is -infinity (a constraint left no token).
  int32_t sample(const float* logits, const Params& params, Rng& rng);

  // The candidates that survived the filters of the last filtered sample() (top_k, top_p or
  // min_p set) with their probabilities after temperature (for tests and, later, logprobs);
  // empty after an unfiltered one, which draws from every token's weight in id order.
  const std::vector<std::pair<float, int32_t>>& last_candidates() const { return cand_; }

 private:
  int32_t sample_all(const float* logits, float max_logit, float temperature, Rng& rng);
  int32_t sample_filtered(const float* logits, float max_logit, const Params& p, Rng& rng);
  // cand_ = the k largest logits at or above cutoff, largest first (lowest id on ties).
  void select_top_k(const float* logits, float cutoff, int32_t k);

  int32_t n_vocab_;
  std::vector<std::pair<float, int32_t>> cand_;  // (logit, then probability; id)
  std::vector<float> weights_;                   // unfiltered draw: exp((logit - max) / T)
  std::vector<double> chunk_sums_;
};

}  // namespace parley::sampling
