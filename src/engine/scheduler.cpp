#include "engine/scheduler.h"

#include <algorithm>

#include "base/check.h"

namespace parley::engine {

Scheduler::Scheduler(kv::BlockPool& pool, const SchedulerOptions& options) : pool_(&pool), options_(options) {
  PARLEY_CHECK(options.max_batch_tokens > 0 && options.max_seqs > 0 && options.n_ctx > 1);
  // A lone sequence of n_ctx positions must always fit, or the oldest could not advance.
  PARLEY_CHECK_MSG(static_cast<int64_t>(pool.n_blocks()) * pool.block_size() >= options.n_ctx,
                   "KV pool smaller than one full context");
  running_.reserve(static_cast<size_t>(options.max_seqs));
  order_.reserve(static_cast<size_t>(options.max_seqs));
  finished_.reserve(static_cast<size_t>(options.max_seqs));
  if (options.prefix_cache) cache_ = std::make_unique<kv::RadixCache>(pool);
}

void Scheduler::check_invariants() const {
  if (cache_) {
    cache_->check_invariants();
  } else {
    pool_->check_invariants();
  }
  for (const auto& s : running_) {
    if (cache_) {
      cache_->check_table(s->request.cache_namespace, s->blocks);
    } else {
      for (kv::BlockId id : s->blocks.blocks()) PARLEY_CHECK_MSG(pool_->ref_count(id) == 1, "a block shared without the cache");
    }
  }
  for (const auto& s : waiting_) PARLEY_CHECK_MSG(s->blocks.blocks().empty(), "a waiting sequence holds blocks");
}

int32_t Scheduler::match_prefix(Sequence& seq) {
  PARLEY_CHECK(seq.blocks.blocks().empty() && seq.n_computed == 0);
  if (!cache_) return 0;
  // Leave the last token to compute: its logits are needed.
  seq.n_computed = cache_->match(seq.request.cache_namespace, seq.tokens, seq.n_tokens() - 1, seq.blocks);
  // Blocks the disk holds beyond the radix match are read in and join the tree (disk-cache.h).
  if (disk_) {
    seq.n_computed = disk_->extend(seq.request.cache_namespace, seq.tokens, seq.n_tokens() - 1, seq.blocks);
  }
  return seq.n_computed;
}

// The prompt tokens before the request's cache breakpoint that this request adds to the cache:
// the full prompt blocks after the cached prefix (a block enters the cache only when full).
int32_t Scheduler::n_cache_written(const Sequence& seq, int32_t n_cached) const {
  if (!cache_ || seq.request.cache_breakpoint <= 0) return 0;
  const int32_t bs = cache_->pool().block_size();
  const int32_t end = std::min(seq.request.cache_breakpoint, seq.n_prompt / bs * bs);
  return std::max(0, end - n_cached);
}

// Whether a running sequence of the same namespace is still prefilling whole blocks that the
// waiting `seq` shares beyond what the cache already holds. Those blocks enter the cache as the
// other's prefill computes them, so `seq` is admitted once they are there.
bool Scheduler::waits_for_shared_prefill(const Sequence& seq) const {
  if (!cache_) return false;
  const int32_t bs = pool_->block_size();
  int32_t cached = -1;  // computed on first need
  for (const auto& r : running_) {
    if (r->state != SeqState::prefilling || r->request.cache_namespace != seq.request.cache_namespace) continue;
    // Whole blocks both prompts share, leaving seq at least one token of its own to compute.
    const int32_t n_max = std::min(r->n_prompt, seq.n_tokens() - 1);
    int32_t common = 0;
    while (common < n_max && r->tokens[static_cast<size_t>(common)] == seq.tokens[static_cast<size_t>(common)]) common++;
    common = common / bs * bs;
    if (common <= r->n_computed / bs * bs) continue;  // what it shares is cached already
    if (cached < 0) cached = cache_->peek(seq.request.cache_namespace, seq.tokens, seq.n_tokens() - 1);
    if (common > cached) return true;
  }
  return false;
}

void Scheduler::add(std::unique_ptr<Sequence> seq) {
  PARLEY_CHECK(seq->n_prompt > 0 && seq->n_prompt < options_.n_ctx);
  // Room for every token it can reach, so the step loop never grows it.
  seq->tokens.reserve(static_cast<size_t>(std::min<int64_t>(options_.n_ctx, int64_t{seq->n_prompt} + seq->request.max_tokens)));
  waiting_.push_back(std::move(seq));
}

void Scheduler::emit(Sequence& seq, Event e) {
  if (seq.request.on_event) seq.request.on_event(e);
}

void Scheduler::finish(Sequence& seq, FinishReason reason, const std::string& error) {
  Event e;
  e.kind = Event::Kind::finished;
  e.reason = reason;
  e.error = error;
  e.n_prompt_tokens = seq.n_prompt;
  e.n_generated = seq.n_generated;
  emit(seq, e);
  seq.blocks.clear();
  finished_.push_back(&seq);
}

void Scheduler::retire_finished() {
  if (finished_.empty()) return;
  auto is_finished = [&](const std::unique_ptr<Sequence>& s) {
    return std::find(finished_.begin(), finished_.end(), s.get()) != finished_.end();
  };
  std::erase_if(running_, is_finished);
  std::erase_if(waiting_, is_finished);
  finished_.clear();
}

bool Scheduler::cancel(RequestId id) {
  auto match = [&](const std::unique_ptr<Sequence>& s) { return s->id == id; };
  Sequence* found = nullptr;
  if (auto it = std::find_if(running_.begin(), running_.end(), match); it != running_.end()) found = it->get();
  if (auto it = std::find_if(waiting_.begin(), waiting_.end(), match); it != waiting_.end()) found = it->get();
  if (found == nullptr) return false;
  finish(*found, FinishReason::cancelled);
  retire_finished();
  return true;
}

void Scheduler::finish_all(FinishReason reason, const std::string& error) {
  for (auto& s : running_) finish(*s, reason, error);
  for (auto& s : waiting_) finish(*s, reason, error);
  retire_finished();
}

void Scheduler::preempt(Sequence& seq, std::vector<StepItem>& items, int32_t& budget) {
  // Drop its planned item (if any) and its blocks; it will recompute prompt + generated.
  for (auto it = items.begin(); it != items.end(); ++it) {
    if (it->seq == &seq) {
      budget += it->n;
      items.erase(it);
      break;
    }
  }
  seq.blocks.clear();
  seq.n_computed = 0;
  seq.state = SeqState::waiting;
  stats_.n_preempted++;
  auto it = std::find_if(running_.begin(), running_.end(), [&](const auto& s) { return s.get() == &seq; });
  PARLEY_CHECK(it != running_.end());
  std::unique_ptr<Sequence> owned = std::move(*it);
  running_.erase(it);
  // Back into the queue in arrival order (ids grow with arrival).
  auto pos = std::find_if(waiting_.begin(), waiting_.end(), [&](const auto& w) { return w->id > seq.id; });
  waiting_.insert(pos, std::move(owned));
}

int32_t Scheduler::reserve(Sequence& seq, int32_t n, std::vector<StepItem>& items, int32_t& budget, bool may_preempt) {
  const int32_t bs = pool_->block_size();
  while (true) {
    if (seq.blocks.reserve(seq.n_computed + n)) return n;
    // Shrink to what the table's last block plus the free blocks can hold.
    int32_t fit = seq.blocks.capacity() + pool_->n_available() * bs - seq.n_computed;
    if (fit > 0) {
      n = std::min(n, fit);
      continue;
    }
    if (!may_preempt) return 0;
    Sequence* victim = running_.back().get();
    preempt(*victim, items, budget);
    if (victim == &seq) return 0;
  }
}

void Scheduler::plan(std::vector<StepItem>& items) {
  items.clear();
  int32_t budget = options_.max_batch_tokens;
  const int32_t n_preempted_before = stats_.n_preempted;
  // Decoding sequences first, oldest first: one token each. Preemption may remove entries
  // after the current one, so iterate by index over a snapshot of pointers.
  std::vector<Sequence*>& order = order_;
  order.clear();
  for (auto& s : running_) order.push_back(s.get());
  auto still_running = [&](Sequence* s) {
    return std::any_of(running_.begin(), running_.end(), [&](const auto& r) { return r.get() == s; });
  };
  for (Sequence* s : order) {
    if (budget == 0) break;
    if (s->state != SeqState::decoding || !still_running(s)) continue;
    if (reserve(*s, 1, items, budget, true) == 1) {
      items.push_back({s, s->n_computed, 1, true});
      budget -= 1;
    }
  }
  // Running prefills, oldest first.
  for (Sequence* s : order) {
    if (budget == 0) break;
    if (s->state != SeqState::prefilling || !still_running(s)) continue;
    int32_t n = reserve(*s, std::min(s->n_tokens() - s->n_computed, budget), items, budget, true);
    if (n > 0) {
      items.push_back({s, s->n_computed, n, s->n_computed + n == s->n_tokens()});
      budget -= n;
    }
  }
  // Admit waiting requests in arrival order while budget, sequence slots and free KV last;
  // admission never preempts, and a request that does not fit blocks the ones behind it. Not in
  // a step that had to preempt: the pool is short, and the victim would come straight back.
  while (stats_.n_preempted == n_preempted_before && budget > 0 && !waiting_.empty() && static_cast<int32_t>(running_.size()) < options_.max_seqs) {
    Sequence& s = *waiting_.front();
    // Its prefix is being prefilled by a running sequence: wait for those blocks instead of
    // computing them a second time in the same steps (the budget they share is better spent).
    if (waits_for_shared_prefill(s)) break;
    const int32_t n_cached = match_prefix(s);
    int32_t n = reserve(s, std::min(s.n_tokens() - s.n_computed, budget), items, budget, false);
    if (n == 0) {
      s.blocks.clear();  // the matched blocks go back to the cache
      s.n_computed = 0;
      break;
    }
    stats_.n_tokens_cached += n_cached;
    s.state = SeqState::prefilling;
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
    if (!s.started) {
      s.started = true;
      Event e;
      e.kind = Event::Kind::started;
      e.n_prompt_tokens = s.n_prompt;
      e.n_cached_tokens = std::min(n_cached, s.n_prompt);
      e.n_cache_written_tokens = n_cache_written(s, e.n_cached_tokens);
      emit(s, e);
    }
    items.push_back({&s, s.n_computed, n, s.n_computed + n == s.n_tokens()});
    budget -= n;
  }
}

void Scheduler::commit(std::span<const StepItem> items, std::span<const TokenId> sampled) {
  size_t k = 0;
  for (const StepItem& item : items) {
    Sequence& s = *item.seq;
    PARLEY_CHECK(item.start == s.n_computed);
    s.n_computed += item.n;
    // Blocks this step filled join the prefix cache (prompt and generated tokens alike).
    if (cache_) cache_->insert(s.request.cache_namespace, s.tokens, s.n_computed, s.blocks);
    if (s.state == SeqState::prefilling && std::min(s.n_computed, s.n_prompt) > s.n_prefilled_reported) {
      s.n_prefilled_reported = std::min(s.n_computed, s.n_prompt);
      Event e;
      e.kind = Event::Kind::progress;
      e.n_prompt_tokens = s.n_prompt;
      e.n_prefilled = s.n_prefilled_reported;
      emit(s, e);
    }
    if (!item.sample) continue;
    PARLEY_CHECK(k < sampled.size());
    TokenId token = sampled[k++];
    s.state = SeqState::decoding;
    if (token < 0) {
      finish(s, FinishReason::error, "the output constraint (grammar) allows no next token");
      continue;
    }
    const auto& stops = s.request.stop_tokens;
    if (std::find(stops.begin(), stops.end(), token) != stops.end()) {
      finish(s, FinishReason::stop_token);
      continue;
    }
    s.tokens.push_back(token);
    s.n_generated++;
    Event e;
    e.kind = Event::Kind::token;
    e.token = token;
    e.n_prompt_tokens = s.n_prompt;
    e.n_generated = s.n_generated;
    emit(s, e);
    if (s.n_generated >= s.request.max_tokens) {
      finish(s, FinishReason::max_tokens);
    } else if (s.n_tokens() >= options_.n_ctx) {
      finish(s, FinishReason::context_full);
    }
  }
  PARLEY_CHECK(k == sampled.size());
  retire_finished();
#ifndef NDEBUG
  check_invariants();
#endif
}

}  // namespace parley::engine
