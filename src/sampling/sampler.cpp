#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>

#include "base/check.h"
#include "base/cpu.h"
#include "sampling/sampler-kernels.h"

namespace parley::sampling {
namespace {

bool by_logit_desc(const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

// Tokens whose weight is below e^-40 of the best one's (at temperature 1 and at the request's)
// are left out of the filtered candidates: all of them together, on a 152k vocabulary, carry
// less than 1e-12 of the probability, far below the float rounding of what is kept.
constexpr float kNegligibleLogGap = 40.0f;

// The unfiltered draw runs over the vocabulary in chunks: one sum each, so the draw finds its
// chunk first and accumulates inside one chunk only.
constexpr int32_t kChunk = 1024;

float max_of(const float* x, int32_t n) {
  return cpu_path_at_least(CpuPath::avx2) ? detail::avx2_max(x, n) : detail::max_scalar(x, n);
}

float exp_weights(const float* l, int32_t n, float max, float inv_t, float* w) {
  return cpu_path_at_least(CpuPath::avx2) ? detail::avx2_exp_weights(l, n, max, inv_t, w)
                                          : detail::exp_weights_scalar(l, n, max, inv_t, w);
}

int32_t first_above(const float* x, int32_t n, float t) {
  return cpu_path_at_least(CpuPath::avx2) ? detail::avx2_first_above(x, n, t) : detail::first_above_scalar(x, n, t);
}

}  // namespace

namespace detail {

float max_scalar(const float* x, int32_t n) {
  // Four independent chains: the compare-select of one does not wait for the others.
  float m[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (int j = 0; j < 4; j++) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
  }
  for (; i < n; i++) m[0] = x[i] > m[0] ? x[i] : m[0];
  return std::max(std::max(m[0], m[1]), std::max(m[2], m[3]));
}

float exp_weights_scalar(const float* l, int32_t n, float max, float inv_t, float* w) {
  float sum = 0;
  for (int32_t i = 0; i < n; i++) {
    w[i] = static_cast<float>(std::exp(static_cast<double>(l[i] - max) * inv_t));
    sum += w[i];
  }
  return sum;
}

int32_t first_above_scalar(const float* x, int32_t n, float t) {
  for (int32_t i = 0; i < n; i++) {
    if (x[i] > t) return i;
  }
  return n;
}

}  // namespace detail

int32_t argmax(const float* logits, int32_t n) {
  const float m = max_of(logits, n);
  for (int32_t i = 0; i < n; i++) {
    if (logits[i] == m) return i;
  }
  return 0;  // every value NaN
}

Sampler::Sampler(int32_t n_vocab) : n_vocab_(n_vocab) {
  PARLEY_CHECK(n_vocab > 0);
  cand_.reserve(static_cast<size_t>(n_vocab));
  weights_.resize(static_cast<size_t>(n_vocab));
  chunk_sums_.reserve(static_cast<size_t>((n_vocab + kChunk - 1) / kChunk));
}

int32_t Sampler::sample(const float* logits, const Params& p, Rng& rng) {
  const int32_t best = argmax(logits, n_vocab_);
  if (logits[best] == -INFINITY) return -1;
  if (p.temperature <= 0.0f || p.top_k == 1) return best;
  const bool filtered = (p.top_k > 0 && p.top_k < n_vocab_) || p.top_p < 1.0f || p.min_p > 0.0f;
  if (!filtered) return sample_all(logits, logits[best], p.temperature, rng);
  return sample_filtered(logits, logits[best], p, rng);
}

int32_t Sampler::sample_all(const float* logits, float max_logit, float temperature, Rng& rng) {
  cand_.clear();
  float* w = weights_.data();
  chunk_sums_.clear();
  double total = 0;
  for (int32_t c = 0; c < n_vocab_; c += kChunk) {
    const int32_t n = std::min(kChunk, n_vocab_ - c);
    chunk_sums_.push_back(exp_weights(logits + c, n, max_logit, 1.0f / temperature, w + c));
    total += chunk_sums_.back();
  }
  // Inverse CDF in token-id order: find the chunk, then the token inside it.
  double target = rng.uniform_double() * total;
  for (size_t k = 0; k < chunk_sums_.size(); k++) {
    if (target >= chunk_sums_[k]) {
      target -= chunk_sums_[k];
      continue;
    }
    const int32_t c = static_cast<int32_t>(k) * kChunk;
    const int32_t end = std::min(c + kChunk, n_vocab_);
    double acc = 0;
    int32_t last = -1;
    for (int32_t i = c; i < end; i++) {
      if (w[i] <= 0) continue;
      acc += w[i];
      last = i;
      if (target < acc) return i;
    }
    // The chunk's float sum rounded above its tokens' double one: its last weighted token.
    if (last >= 0) return last;
  }
  // Rounding: the target landed at the very end; the last token with any weight.
  for (int32_t i = n_vocab_ - 1; i > 0; i--) {
    if (w[i] > 0) return i;
  }
  return 0;
}

void Sampler::select_top_k(const float* logits, float cutoff, int32_t k) {
  // A heap of the k best so far whose front is the worst of them: most tokens lose against
  // the front and cost one comparison. Ids rise through the scan, so a token that only ties
  // the front's logit loses too (the lower id wins ties).
  cand_.clear();
  const auto k_size = static_cast<size_t>(k);
  int32_t i = 0;
  for (; i < n_vocab_ && cand_.size() < k_size; i++) {
    if (logits[i] < cutoff) continue;
    cand_.emplace_back(logits[i], i);
    std::push_heap(cand_.begin(), cand_.end(), by_logit_desc);
  }
  while (i < n_vocab_) {
    // Skips (vectorised) to the next token that beats the worst kept one and the cutoff.
    i += first_above(logits + i, n_vocab_ - i, std::max(cand_.front().first, std::nextafter(cutoff, -INFINITY)));
    if (i >= n_vocab_) break;
    std::pop_heap(cand_.begin(), cand_.end(), by_logit_desc);
    cand_.back() = {logits[i], i};
    std::push_heap(cand_.begin(), cand_.end(), by_logit_desc);
    i++;
  }
  std::sort_heap(cand_.begin(), cand_.end(), by_logit_desc);  // best first
}

int32_t Sampler::sample_filtered(const float* logits, float max_logit, const Params& p, Rng& rng) {
  const float cutoff = max_logit - kNegligibleLogGap * std::max(1.0f, p.temperature);
  const bool sorted = p.top_k > 0 && p.top_k < n_vocab_;
  if (sorted) {
    select_top_k(logits, cutoff, p.top_k);
  } else {
    cand_.clear();
    for (int32_t i = 0; i < n_vocab_; i++) {
      if (logits[i] >= cutoff) cand_.emplace_back(logits[i], i);
    }
  }
  if (p.top_p < 1.0f) {
    if (!sorted) std::sort(cand_.begin(), cand_.end(), by_logit_desc);
    double sum = 0;
    for (const auto& c : cand_) sum += std::exp(static_cast<double>(c.first - max_logit));
    // Smallest prefix whose probability reaches top_p (at least one token).
    double cum = 0;
    size_t keep = cand_.size();
    for (size_t i = 0; i < cand_.size(); i++) {
      cum += std::exp(static_cast<double>(cand_[i].first - max_logit)) / sum;
      if (cum >= p.top_p) {
        keep = i + 1;
        break;
      }
    }
    cand_.resize(keep);
  }
  if (p.min_p > 0.0f) {
    // p_i >= min_p * p_max  <=>  logit_i >= max_logit + log(min_p).
    float threshold = max_logit + std::log(p.min_p);
    std::erase_if(cand_, [&](const std::pair<float, int32_t>& c) { return c.first < threshold; });
  }
  // Temperature, softmax and one draw over the survivors in their current order.
  double sum = 0;
  for (auto& c : cand_) {
    c.first = static_cast<float>(std::exp(static_cast<double>(c.first - max_logit) / p.temperature));
    sum += c.first;
  }
  for (auto& c : cand_) c.first = static_cast<float>(c.first / sum);
  double u = rng.uniform_double();
  double acc = 0;
  for (const auto& c : cand_) {
    acc += c.first;
    if (u < acc) return c.second;
  }
  return cand_.back().second;  // rounding: u landed at the very end
}

}  // namespace parley::sampling
