#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>

#include "base/check.h"

namespace parley::sampling {
namespace {

bool by_logit_desc(const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

}  // namespace

int32_t argmax(const float* logits, int32_t n) {
  int32_t best = 0;
  for (int32_t i = 1; i < n; i++) {
    if (logits[i] > logits[best]) best = i;
  }
  return best;
}

Sampler::Sampler(int32_t n_vocab) : n_vocab_(n_vocab) {
  PARLEY_CHECK(n_vocab > 0);
  cand_.reserve(static_cast<size_t>(n_vocab));
}

int32_t Sampler::sample(const float* logits, const Params& p, Rng& rng) {
  const int32_t best = argmax(logits, n_vocab_);
  if (logits[best] == -INFINITY) return -1;
  if (p.temperature <= 0.0f || p.top_k == 1) return best;
  cand_.clear();
  for (int32_t i = 0; i < n_vocab_; i++) cand_.emplace_back(logits[i], i);
  bool sorted = false;
  if (p.top_k > 0 && p.top_k < n_vocab_) {
    auto k = static_cast<std::ptrdiff_t>(p.top_k);
    std::partial_sort(cand_.begin(), cand_.begin() + k, cand_.end(), by_logit_desc);
    cand_.resize(static_cast<size_t>(k));
    sorted = true;
  }
  float max_logit = -INFINITY;
  for (const auto& c : cand_) max_logit = std::max(max_logit, c.first);
  if (p.top_p < 1.0f) {
    if (!sorted) std::sort(cand_.begin(), cand_.end(), by_logit_desc);
    sorted = true;
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
