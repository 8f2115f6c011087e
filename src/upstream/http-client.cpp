#include "upstream/http-client.h"

#include <algorithm>
#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "base/log.h"
#include "base/strings.h"
#include "upstream/sse-reader.h"

namespace parley::upstream {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr size_t kMaxErrorBody = 64 * 1024;

std::chrono::milliseconds ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(std::max(0.001, seconds) * 1000));
}

// What one attempt ended with.
struct Attempt {
  std::string failure;           // transport failure text (no status)
  int status = 0;                // a non-2xx status (with its body and retry-after)
  std::string body, retry_after;
};

void publish(CallState& st, const std::function<void(CallState&)>& update) {
  std::function<void()> wake;
  {
    std::lock_guard lock(st.mu);
    update(st);
    wake = st.wake;
  }
  if (wake) wake();
}

net::awaitable<Attempt> attempt_once(const PostRequest& req, CallState& st) {
  Attempt a;
  auto ex = co_await net::this_coro::executor;
  tcp::resolver resolver(ex);
  beast::tcp_stream stream(ex);
  st.abort = [&stream, &resolver] {
    resolver.cancel();
    stream.cancel();
  };
  struct Clear {
    CallState& st;
    ~Clear() { st.abort = nullptr; }
  } clear{st};
  auto [rec, results] = co_await resolver.async_resolve(req.endpoint.host, std::to_string(req.endpoint.port), use_tuple);
  if (rec) {
    a.failure = "cannot resolve " + req.endpoint.host + ": " + rec.message();
    co_return a;
  }
  stream.expires_after(ms(req.connect_timeout_s));
  auto [cec, ep] = co_await stream.async_connect(results, use_tuple);
  (void)ep;
  if (cec) {
    a.failure = str_printf("cannot connect to %s:%u: %s", req.endpoint.host.c_str(),
                           static_cast<unsigned>(req.endpoint.port), cec.message().c_str());
    co_return a;
  }
  // Streamed answers are many small writes each way: no Nagle delay waiting for an ACK.
  boost::system::error_code nodelay_ec;
  stream.socket().set_option(tcp::no_delay(true), nodelay_ec);
  bhttp::request<bhttp::string_body> r{bhttp::verb::post, req.endpoint.base_path + req.path, 11};
  r.set(bhttp::field::host, req.endpoint.host + ":" + std::to_string(req.endpoint.port));
  r.set(bhttp::field::user_agent, "parley-gateway");
  r.set(bhttp::field::content_type, "application/json");
  r.set(bhttp::field::accept, "text/event-stream");
  if (!req.api_key.empty() && req.key_as_x_api_key) r.set("x-api-key", req.api_key);
  if (!req.api_key.empty() && !req.key_as_x_api_key) r.set(bhttp::field::authorization, "Bearer " + req.api_key);
  for (const auto& [name, value] : req.headers) r.set(name, value);
  if (!req.request_id.empty()) r.set("x-request-id", req.request_id);
  r.body() = req.body;
  r.prepare_payload();
  r.keep_alive(false);
  stream.expires_after(ms(req.read_timeout_s));
  auto [wec, wn] = co_await bhttp::async_write(stream, r, use_tuple);
  (void)wn;
  if (wec) {
    a.failure = "sending the request failed: " + wec.message();
    co_return a;
  }
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(boost::none);
  auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, use_tuple);
  (void)hn;
  if (hec) {
    a.failure = "no answer: " + hec.message();
    co_return a;
  }
  const int status = static_cast<int>(parser.get().result_int());
  const bool ok = status >= 200 && status < 300;
  std::string retry_after;
  if (auto it = parser.get().find(bhttp::field::retry_after); it != parser.get().end()) {
    retry_after = std::string(it->value());
  }
  if (ok) publish(st, [&](CallState& s) { s.status = status; });
  SseReader sse;
  std::vector<std::string> events;
  std::string error_body;
  char chunk[16384];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    stream.expires_after(ms(req.read_timeout_s));
    // read_some, not read: read would wait until the 16 KiB chunk is full, holding back
    // every SSE event that arrived before it (a token's delta is ~100 bytes).
    auto [bec, bn] = co_await bhttp::async_read_some(stream, buffer, parser, use_tuple);
    (void)bn;
    if (bec == bhttp::error::need_buffer) bec = {};
    const size_t got = sizeof chunk - parser.get().body().size;
    if (ok) {
      sse.push(std::string_view(chunk, got), events);
      if (!events.empty()) {
        publish(st, [&](CallState& s) {
          for (auto& e : events) s.events.push_back(std::move(e));
        });
        events.clear();
      }
    } else if (error_body.size() < kMaxErrorBody) {
      error_body.append(chunk, std::min(got, kMaxErrorBody - error_body.size()));
    }
    if (bec) {
      if (!ok) break;  // the status says enough
      a.failure = st.cancelled ? "cancelled" : "the upstream's answer broke off: " + bec.message();
      co_return a;
    }
  }
  if (ok) {
    sse.finish(events);
    publish(st, [&](CallState& s) {
      for (auto& e : events) s.events.push_back(std::move(e));
    });
    co_return a;
  }
  a.status = status;
  a.body = std::move(error_body);
  a.retry_after = std::move(retry_after);
  co_return a;
}

net::awaitable<void> run_call(std::shared_ptr<PostRequest> req, std::shared_ptr<CallState> st) {
  auto ex = co_await net::this_coro::executor;
  if (req->delay_s > 0 && !st->cancelled) {
    net::steady_timer timer(ex);
    timer.expires_after(ms(req->delay_s));
    st->abort = [&timer] { timer.cancel(); };
    co_await timer.async_wait(use_tuple);
    st->abort = nullptr;
  }
  Attempt a;
  if (st->cancelled) {
    a.failure = "cancelled";
  } else {
    a = co_await attempt_once(*req, *st);
  }
  publish(*st, [&](CallState& s) {
    if (a.status != 0) {
      s.status = a.status;
      s.error_body = std::move(a.body);
      s.retry_after = std::move(a.retry_after);
    } else if (!a.failure.empty()) {
      s.transport_error = std::move(a.failure);
    }
    s.done = true;
  });
}

// The status of a GET (its body is read and dropped); connecting, sending and reading the
// answer each within the timeout.
net::awaitable<void> run_get(std::shared_ptr<GetRequest> req,
                             std::function<void(int status, const std::string& error)> done) {
  auto ex = co_await net::this_coro::executor;
  tcp::resolver resolver(ex);
  beast::tcp_stream stream(ex);
  auto [rec, results] = co_await resolver.async_resolve(req->endpoint.host, std::to_string(req->endpoint.port), use_tuple);
  if (rec) {
    done(0, "cannot resolve " + req->endpoint.host + ": " + rec.message());
    co_return;
  }
  stream.expires_after(ms(req->timeout_s));
  auto [cec, ep] = co_await stream.async_connect(results, use_tuple);
  (void)ep;
  if (cec) {
    done(0, "cannot connect: " + cec.message());
    co_return;
  }
  bhttp::request<bhttp::empty_body> r{bhttp::verb::get, req->endpoint.base_path + req->path, 11};
  r.set(bhttp::field::host, req->endpoint.host + ":" + std::to_string(req->endpoint.port));
  r.set(bhttp::field::user_agent, "parley-gateway");
  if (!req->api_key.empty() && req->key_as_x_api_key) r.set("x-api-key", req->api_key);
  if (!req->api_key.empty() && !req->key_as_x_api_key) r.set(bhttp::field::authorization, "Bearer " + req->api_key);
  for (const auto& [name, value] : req->headers) r.set(name, value);
  r.keep_alive(false);
  stream.expires_after(ms(req->timeout_s));
  auto [wec, wn] = co_await bhttp::async_write(stream, r, use_tuple);
  (void)wn;
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kMaxErrorBody);
  if (wec) {
    done(0, "sending the request failed: " + wec.message());
    co_return;
  }
  stream.expires_after(ms(req->timeout_s));
  auto [hec, hn] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
  (void)hn;
  if (hec && !parser.is_header_done()) {
    done(0, "no answer: " + hec.message());
    co_return;
  }
  done(static_cast<int>(parser.get().result_int()), "");
}

net::awaitable<void> run_every(double interval_s, std::function<void()> tick) {
  auto ex = co_await net::this_coro::executor;
  net::steady_timer timer(ex);
  for (;;) {
    timer.expires_after(ms(interval_s));
    auto [ec] = co_await timer.async_wait(use_tuple);
    if (ec) co_return;
    tick();
  }
}

}  // namespace

struct HttpClient::Impl {
  net::io_context io{1};
  net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(io);
  std::thread thread;
};

HttpClient::HttpClient() : impl_(std::make_unique<Impl>()) {
  impl_->thread = std::thread([io = &impl_->io] { io->run(); });
}

HttpClient::~HttpClient() {
  impl_->work.reset();
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::shared_ptr<CallState> HttpClient::post(PostRequest request) {
  auto st = std::make_shared<CallState>();
  st->wake = std::move(request.wake);
  auto req = std::make_shared<PostRequest>(std::move(request));
  net::co_spawn(impl_->io, run_call(req, st), net::detached);
  return st;
}

void HttpClient::cancel(const std::shared_ptr<CallState>& call) {
  call->cancelled = true;
  net::post(impl_->io, [call] {
    if (call->abort) call->abort();
  });
}

void HttpClient::get(GetRequest request, std::function<void(int status, const std::string& error)> done) {
  net::co_spawn(impl_->io, run_get(std::make_shared<GetRequest>(std::move(request)), std::move(done)), net::detached);
}

void HttpClient::every(double interval_s, std::function<void()> tick) {
  net::co_spawn(impl_->io, run_every(interval_s, std::move(tick)), net::detached);
}

}  // namespace parley::upstream
