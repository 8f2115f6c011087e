#include "api/generation-stream.h"

#include "api/anthropic-stream.h"
#include "api/openai-stream.h"
#include "base/check.h"

namespace parley::api {
namespace {

class GenerationStream final : public ResponseStream {
 public:
  // Exactly one of `encoder` / `fold` is set; `emitter` writes into it.
  GenerationStream(std::unique_ptr<Generation> generation, std::unique_ptr<SseEncoder> encoder,
                   std::unique_ptr<EventFold> fold, std::string request_id)
      : generation_(std::move(generation)),
        encoder_(std::move(encoder)),
        fold_(std::move(fold)),
        request_id_(std::move(request_id)) {}

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

  std::unique_ptr<Generation> generation_;
  std::unique_ptr<SseEncoder> encoder_;
  std::unique_ptr<EventFold> fold_;
  std::unique_ptr<Emitter> emitter_;
  std::string request_id_;
};

std::shared_ptr<GenerationStream> make_stream(std::unique_ptr<Generation> generation,
                                              std::unique_ptr<SseEncoder> encoder,
                                              std::unique_ptr<EventFold> fold,
                                              const std::string& request_id) {
  return std::make_shared<GenerationStream>(std::move(generation), std::move(encoder),
                                            std::move(fold), request_id);
}

}  // namespace

std::shared_ptr<ResponseStream> make_anthropic_stream(std::unique_ptr<Generation> generation,
                                                      const AnthropicStreamInfo& info, bool sse) {
  int32_t n_prompt = generation->n_prompt();
  auto stream = sse ? make_stream(std::move(generation), std::make_unique<AnthropicSseEncoder>(),
                                  nullptr, info.request_id)
                    : make_stream(std::move(generation), nullptr,
                                  std::make_unique<AnthropicFold>(), info.request_id);
  stream->set_emitter(std::make_unique<AnthropicEmitter>(info.message_id, info.model,
                                                         info.request_id, n_prompt,
                                                         stream->sink()));
  return stream;
}

std::shared_ptr<ResponseStream> make_openai_stream(std::unique_ptr<Generation> generation,
                                                   const OpenAIStreamInfo& info, bool sse) {
  auto stream = sse ? make_stream(std::move(generation), std::make_unique<OpenAISseEncoder>(),
                                  nullptr, info.request_id)
                    : make_stream(std::move(generation), nullptr, std::make_unique<OpenAIFold>(),
                                  info.request_id);
  bool include_usage = sse ? info.include_usage : true;
  stream->set_emitter(std::make_unique<OpenAIEmitter>(info.completion_id, info.model, info.created,
                                                      include_usage, stream->sink()));
  return stream;
}

}  // namespace parley::api
