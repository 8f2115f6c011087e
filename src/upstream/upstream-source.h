// One gateway request's answer, as a GenerationSource: a sequence of attempts, each one call to
// one replica. An attempt that fails before its answer started (connect failure, timeout, 429,
// 5xx) is retried — at once on another replica of the model when one is available, else on
// the same one after a backoff — up to the failed upstream's max_retries; once a 2xx status
// came, the answer is relayed and a failure ends it with an `error` event (never retried: the
// client has seen part of it). Every attempt's slot goes back to the Router with its outcome.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/chat-request.h"
#include "api/generation-source.h"
#include "api/upstreams.h"
#include "upstream/gateway.h"
#include "upstream/stream-reader.h"

namespace parley::upstream {

class UpstreamSource final : public api::GenerationSource {
 public:
  UpstreamSource(Gateway& gateway, const api::ChatRequest& req, const api::UpstreamCall& call,
                 std::vector<uint64_t> hashes);
  ~UpstreamSource() override;

  // The first attempt: false with `err` when no replica can take it (529 overloaded) or the
  // request cannot be expressed for the chosen one's protocol (400).
  bool begin(api::ApiError& err);

  void set_wake(std::function<void()> wake) override;
  bool ready() override;
  std::optional<api::EarlyError> early_error() const override;
  bool poll(api::GenerationSink& sink) override;
  void cancel() override;
  int32_t n_prompt() const override { return 0; }

 private:
  struct Attempt {
    int upstream = -1;
    bool probe = false;
    bool released = false;
    std::shared_ptr<CallState> call;
    std::unique_ptr<StreamReader> reader;
  };

  bool start_attempt(const ReplicaPick& pick, double delay_s, api::ApiError& err);
  void advance();
  bool retry(const std::string& retry_after);
  void release(AttemptOutcome outcome, const std::string& status);
  void finish(bool call_done);
  const UpstreamConfig& upstream() const { return gateway_.upstream(attempt_.upstream); }
  api::ApiError unreachable(const std::string& why) const;

  Gateway& gateway_;
  api::ChatRequest req_;  // kept for the retries (a replica may speak another protocol)
  api::UpstreamCall call_;
  std::vector<uint64_t> hashes_;
  std::function<void()> wake_;
  Attempt attempt_;
  std::vector<int> tried_;  // upstreams that failed this request
  int n_retries_ = 0;
  bool streaming_ = false;  // a 2xx status came: the answer is being relayed
  bool failed_ = false;     // ended before its answer: early_error() says how
  bool finished_ = false;
};

}  // namespace parley::upstream
