#include "api/generation-stream.h"

#include "api/anthropic-stream.h"
#include "api/openai-stream.h"
#include "base/check.h"

namespace parley::api {
namespace {

class GenerationStream final : public ResponseStream {
 public:
  // Exactly one of `encoder` / `fold` is set; `emitter` writes into it.
  GenerationStream(std::unique_ptr<GenerationSource> generation, std::unique_ptr<SseEncoder> encoder,
                   std::unique_ptr<EventFold> fold, std::string request_id, bool anthropic)
      : generation_(std::move(generation)),
        encoder_(std::move(encoder)),
        fold_(std::move(fold)),
        request_id_(std::move(request_id)),
        anthropic_(anthropic) {}

  void set_emitter(std::unique_ptr<Emitter> emitter) { emitter_ = std::move(emitter); }
  EventSink& sink() { return encoder_ ? static_cast<EventSink&>(*encoder_) : *fold_; }

  bool is_sse() const override { return encoder_ != nullptr; }

  void start(std::function<void()> wake) override { generation_->set_wake(std::move(wake)); }

  bool poll(std::string& out) override {
    if (!emitter_->done()) generation_->poll(*emitter_);
    take(out);
    return emitter_->done();
  }

  HttpResponse result() override {
    PARLEY_CHECK(fold_ != nullptr && emitter_->done());
    if (auto e = generation_->early_error()) return early_error_response(*e, anthropic_, request_id_);
    HttpResponse r = fold_->response(request_id_);
    r.headers.emplace_back("request-id", request_id_);
    return r;
  }

  std::string heartbeat() override {
    std::string out;
    if (encoder_ == nullptr) return out;
    emitter_->heartbeat();
    take(out);
    return out;
  }

  void cancel() override { generation_->cancel(); }

  void shutdown(std::string& out) override {
    generation_->cancel();
    emitter_->fail(ErrorKind::overloaded, "the server is shutting down");
    take(out);
  }

 private:
  void take(std::string& out) {
    if (encoder_) out += encoder_->take();
  }

  std::unique_ptr<GenerationSource> generation_;
  std::unique_ptr<SseEncoder> encoder_;
  std::unique_ptr<EventFold> fold_;
  std::unique_ptr<Emitter> emitter_;
  std::string request_id_;
  bool anthropic_;
};

// An SSE response whose source is not ready: deferred (no header yet) until it is; then its
// result is the SSE stream itself, or the early error as a plain response.
class HeldStream final : public ResponseStream {
 public:
  HeldStream(std::shared_ptr<GenerationStream> inner, GenerationSource& source, bool anthropic,
             std::string request_id)
      : inner_(std::move(inner)), source_(source), anthropic_(anthropic), request_id_(std::move(request_id)) {}

  bool is_sse() const override { return false; }
  void start(std::function<void()> wake) override { source_.set_wake(std::move(wake)); }
  bool poll(std::string&) override { return source_.ready(); }
  HttpResponse result() override {
    if (shut_down_) {
      EarlyError e{ApiError{ErrorKind::overloaded, "the server is shutting down", {}}, "1"};
      return early_error_response(e, anthropic_, request_id_);
    }
    if (auto e = source_.early_error()) return early_error_response(*e, anthropic_, request_id_);
    HttpResponse r;
    r.content_type = "text/event-stream; charset=utf-8";
    r.headers.emplace_back("cache-control", "no-cache");
    r.headers.emplace_back("request-id", request_id_);
    r.stream = inner_;
    return r;
  }
  std::string heartbeat() override { return {}; }
  void cancel() override { inner_->cancel(); }
  void shutdown(std::string& out) override {
    inner_->cancel();
    (void)out;
    shut_down_ = true;
  }

 private:
  std::shared_ptr<GenerationStream> inner_;
  GenerationSource& source_;  // owned by inner_
  bool anthropic_;
  std::string request_id_;
  bool shut_down_ = false;
};

std::shared_ptr<ResponseStream> hold_if_needed(std::shared_ptr<GenerationStream> stream,
                                               GenerationSource& source, bool sse, bool anthropic,
                                               const std::string& request_id) {
  // ready() first: once true, early_error() no longer changes.
  if (!sse || (source.ready() && !source.early_error())) return stream;
  return std::make_shared<HeldStream>(std::move(stream), source, anthropic, request_id);
}

std::shared_ptr<GenerationStream> make_stream(std::unique_ptr<GenerationSource> generation,
                                              std::unique_ptr<SseEncoder> encoder,
                                              std::unique_ptr<EventFold> fold,
                                              const std::string& request_id, bool anthropic) {
  return std::make_shared<GenerationStream>(std::move(generation), std::move(encoder),
                                            std::move(fold), request_id, anthropic);
}

}  // namespace

std::shared_ptr<ResponseStream> make_anthropic_stream(std::unique_ptr<GenerationSource> generation,
                                                      const AnthropicStreamInfo& info, bool sse) {
  int32_t n_prompt = generation->n_prompt();
  GenerationSource& source = *generation;
  auto stream = sse ? make_stream(std::move(generation), std::make_unique<AnthropicSseEncoder>(),
                                  nullptr, info.request_id, true)
                    : make_stream(std::move(generation), nullptr,
                                  std::make_unique<AnthropicFold>(), info.request_id, true);
  stream->set_emitter(std::make_unique<AnthropicEmitter>(info.message_id, info.model,
                                                         info.request_id, n_prompt,
                                                         stream->sink()));
  return hold_if_needed(std::move(stream), source, sse, true, info.request_id);
}

std::shared_ptr<ResponseStream> make_openai_stream(std::unique_ptr<GenerationSource> generation,
                                                   const OpenAIStreamInfo& info, bool sse) {
  GenerationSource& source = *generation;
  auto stream = sse ? make_stream(std::move(generation), std::make_unique<OpenAISseEncoder>(),
                                  nullptr, info.request_id, false)
                    : make_stream(std::move(generation), nullptr, std::make_unique<OpenAIFold>(),
                                  info.request_id, false);
  bool include_usage = sse ? info.include_usage : true;
  stream->set_emitter(std::make_unique<OpenAIEmitter>(info.completion_id, info.model, info.created,
                                                      include_usage, stream->sink()));
  return hold_if_needed(std::move(stream), source, sse, false, info.request_id);
}

HttpResponse early_error_response(const EarlyError& e, bool anthropic, const std::string& request_id) {
  HttpResponse r;
  r.status = error_status(e.error.kind);
  r.body = json::write(anthropic ? anthropic_error_json(e.error, request_id) : openai_error_json(e.error));
  r.headers.emplace_back("request-id", request_id);
  if (!e.retry_after.empty()) r.headers.emplace_back("retry-after", e.retry_after);
  if (r.status < 500 && e.error.kind != ErrorKind::rate_limit && e.error.kind != ErrorKind::request_timeout) {
    r.headers.emplace_back("x-should-retry", "false");
  }
  return r;
}

}  // namespace parley::api
