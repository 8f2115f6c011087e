#include "upstream/gateway.h"

#include <algorithm>

#include "api/generation.h"
#include "base/json.h"
#include "base/strings.h"
#include "upstream/protocol.h"

namespace parley::upstream {
namespace {

using api::ErrorKind;

// The message of an error body in the envelopes upstreams use: OpenAI / llama-server
// {"error":{"message"}}, Anthropic {"type":"error","error":{...}}, vLLM {"object":"error",
// "message"}, FastAPI {"detail"}; else the body's text.
std::string error_message(std::string_view body) {
  auto parsed = json::parse(body);
  if (parsed.ok() && parsed->is_object()) {
    const json::Value& v = *parsed;
    if (const json::Value* e = v.find("error")) {
      if (e->is_string()) return e->as_string();
      if (const json::Value* m = e->find("message"); m != nullptr && m->is_string()) return m->as_string();
    }
    if (const json::Value* m = v.find("message"); m != nullptr && m->is_string()) return m->as_string();
    if (const json::Value* d = v.find("detail")) return d->is_string() ? d->as_string() : json::write(*d);
  }
  std::string text(trim(body.substr(0, 500)));
  return text.empty() ? "(no message)" : text;
}

// One request's answer from an upstream, as a GenerationSource.
class UpstreamSource final : public api::GenerationSource {
 public:
  UpstreamSource(HttpClient& client, const UpstreamConfig& upstream, std::shared_ptr<CallState> call,
                 std::unique_ptr<StreamReader> reader)
      : client_(client), upstream_(upstream), call_(std::move(call)), reader_(std::move(reader)) {}
  ~UpstreamSource() override { cancel(); }

  void set_wake(std::function<void()> wake) override {
    bool pending;
    {
      std::lock_guard lock(call_->mu);
      call_->wake = wake;
      pending = call_->status != 0 || call_->done || !call_->events.empty();
    }
    if (pending && wake) wake();
  }

  bool ready() const override {
    std::lock_guard lock(call_->mu);
    return call_->status != 0 || call_->done;
  }

  std::optional<api::EarlyError> early_error() const override {
    std::lock_guard lock(call_->mu);
    if (call_->status != 0 && (call_->status < 200 || call_->status >= 300)) {
      return api::EarlyError{map_upstream_error(upstream_, call_->status, call_->error_body), call_->retry_after};
    }
    if (call_->status == 0 && call_->done && !call_->transport_error.empty() && call_->transport_error != "cancelled") {
      return api::EarlyError{unreachable(call_->transport_error), ""};
    }
    return std::nullopt;
  }

  bool poll(api::GenerationSink& sink) override {
    if (finished_) return true;
    std::vector<std::string> events;
    int status;
    bool done;
    std::string transport_error, error_body;
    {
      std::lock_guard lock(call_->mu);
      events.swap(call_->events);
      status = call_->status;
      done = call_->done;
      transport_error = call_->transport_error;
      if (status != 0 && (status < 200 || status >= 300)) error_body = call_->error_body;
    }
    if (status != 0 && (status < 200 || status >= 300)) {
      api::ApiError e = map_upstream_error(upstream_, status, error_body);
      reader_->fail(e.kind, e.message, sink);
    } else if (status == 0 && done) {
      api::ApiError e = unreachable(transport_error);
      reader_->fail(e.kind, e.message, sink);
    }
    for (const std::string& data : events) {
      if (reader_->finished()) break;
      if (trim(data) == "[DONE]") {
        reader_->end(sink);
        break;
      }
      auto chunk = json::parse(data);
      if (!chunk.ok()) {
        reader_->fail(ErrorKind::api_error,
                     "upstream " + upstream_.name + " sent a chunk that is not JSON: " + chunk.error().message, sink);
        break;
      }
      reader_->chunk(*chunk, sink);
    }
    if (done && !reader_->finished()) {
      if (transport_error.empty()) {
        reader_->end(sink);
      } else {
        reader_->fail(ErrorKind::api_error, "upstream " + upstream_.name + ": " + transport_error, sink);
      }
    }
    if (reader_->finished()) finish_call(done);
    return finished_;
  }

  void cancel() override { finish_call(false); }

  int32_t n_prompt() const override { return 0; }

 private:
  api::ApiError unreachable(const std::string& why) const {
    return api::ApiError{ErrorKind::api_error, "upstream " + upstream_.name + " is unreachable: " + why, {}};
  }

  void finish_call(bool call_done) {
    if (finished_) return;
    finished_ = true;
    // The answer is complete (or not wanted): whatever the upstream still sends is not read.
    if (!call_done) client_.cancel(call_);
    std::lock_guard lock(call_->mu);
    call_->wake = nullptr;  // the transport's wake target may be going away
  }

  HttpClient& client_;
  const UpstreamConfig& upstream_;
  std::shared_ptr<CallState> call_;
  std::unique_ptr<StreamReader> reader_;
  bool finished_ = false;
};

}  // namespace

api::ApiError map_upstream_error(const UpstreamConfig& upstream, int status, std::string_view body) {
  api::ApiError e;
  std::string message = scrub_secret(error_message(body), upstream.api_key);
  switch (status) {
    case 400:
    case 422: e.kind = ErrorKind::invalid_request; break;
    case 401: e.kind = ErrorKind::authentication; break;
    case 403: e.kind = ErrorKind::permission; break;
    case 404: e.kind = ErrorKind::not_found; break;
    case 408: e.kind = ErrorKind::request_timeout; break;
    case 413: e.kind = ErrorKind::request_too_large; break;
    case 429: e.kind = ErrorKind::rate_limit; break;
    case 503:
    case 529: e.kind = ErrorKind::overloaded; break;
    default: e.kind = status >= 500 ? ErrorKind::api_error : ErrorKind::invalid_request; break;
  }
  if (e.kind == ErrorKind::invalid_request || e.kind == ErrorKind::not_found || e.kind == ErrorKind::request_too_large) {
    // The request's own fault: the upstream's words as they are (Claude Code's "prompt is too
    // long" compaction trigger among them).
    e.message = std::move(message);
  } else if (e.kind == ErrorKind::authentication || e.kind == ErrorKind::permission) {
    e.message = str_printf("upstream %s refused the gateway's credentials (%d): %s", upstream.name.c_str(),
                           status, message.c_str());
  } else {
    e.message = str_printf("upstream %s: %d: %s", upstream.name.c_str(), status, message.c_str());
  }
  return e;
}

Gateway::Gateway(std::vector<UpstreamConfig> upstreams) : upstreams_(std::move(upstreams)) {}

const UpstreamConfig* Gateway::find(std::string_view model) const {
  for (const auto& u : upstreams_) {
    if (std::find(u.models.begin(), u.models.end(), model) != u.models.end()) return &u;
  }
  return nullptr;
}

bool Gateway::serves(std::string_view model) const { return find(model) != nullptr; }

bool Gateway::relays_thinking_signatures(std::string_view model) const {
  const UpstreamConfig* u = find(model);
  return u != nullptr && u->protocol != Protocol::openai_chat;
}

std::vector<std::string> Gateway::model_ids() const {
  std::vector<std::string> ids;
  for (const auto& u : upstreams_) {
    for (const auto& m : u.models) {
      if (std::find(ids.begin(), ids.end(), m) == ids.end()) ids.push_back(m);
    }
  }
  return ids;
}

std::unique_ptr<api::GenerationSource> Gateway::start(const api::ChatRequest& req, const api::UpstreamCall& call,
                                                      api::ApiError& err) {
  const UpstreamConfig* u = find(req.model);
  if (u == nullptr) {
    err = api::ApiError{ErrorKind::not_found, "model: " + quote_for_message(req.model, 200) + " is not served here", "model"};
    return nullptr;
  }
  ProtocolCall pc;
  if (!prepare_call(*u, req, call, pc, err)) return nullptr;
  PostRequest post = std::move(pc.post);
  post.upstream = u->name;
  post.endpoint = u->endpoint;
  post.api_key = u->api_key;
  post.request_id = call.request_id;
  post.connect_timeout_s = u->connect_timeout_s;
  post.read_timeout_s = u->read_timeout_s;
  post.max_retries = u->max_retries;
  auto state = client_.post(std::move(post));
  return std::make_unique<UpstreamSource>(client_, *u, std::move(state), std::move(pc.reader));
}

}  // namespace parley::upstream
