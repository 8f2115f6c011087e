#include "http/server.h"

#include <sys/socket.h>

#include <cerrno>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <cctype>
#include <csignal>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "base/log.h"
#include "base/strings.h"

namespace parley::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// Engine-thread wake-ups post to a session strand; once the server is gone they must not.
struct WakeHub {
  std::mutex mu;
  bool alive = true;
};

struct Session {
  Session(tcp::socket socket) : stream(std::move(socket)), timer(stream.get_executor()) {}

  beast::tcp_stream stream;
  net::steady_timer timer;  // waits for a wake-up, the next heartbeat, or shutdown
  bool woken = false;
  bool client_gone = false;
  // Which request's disconnect watch is current: a watch whose wait completed just before it
  // was cancelled must not mark the next request on the connection as gone.
  uint64_t watch_generation = 0;
  bool shutting_down = false;
  bool reading = false;  // waiting for a request: shutdown may interrupt the read
  std::string peer;

  // On the session strand.
  void shutdown() {
    shutting_down = true;
    timer.cancel();
    if (reading) stream.socket().cancel();
  }
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_closed_error(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::operation_aborted || ec == beast::error::timeout ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == bhttp::error::partial_message;
}

}  // namespace

struct Server::Impl {
  Impl(ServerOptions o, api::Handler& h)
      : opt(std::move(o)),
        handler(h),
        strand(net::make_strand(ioc)),
        acceptor(strand),
        signals(strand),
        grace_timer(strand),
        hub(std::make_shared<WakeHub>()) {}

  ~Impl() {
    std::lock_guard lock(hub->mu);
    hub->alive = false;
  }

  ServerOptions opt;
  api::Handler& handler;
  net::io_context ioc;
  net::strand<net::io_context::executor_type> strand;  // acceptor, signals, shutdown
  tcp::acceptor acceptor;
  net::signal_set signals;
  net::steady_timer grace_timer;
  std::shared_ptr<WakeHub> hub;
  uint16_t bound_port = 0;

  std::mutex mu;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  bool stopping = false;

  net::awaitable<void> accept_loop();
  net::awaitable<void> run_session(std::shared_ptr<Session> s);
  net::awaitable<bool> write_full(Session& s, api::HttpResponse r, unsigned version,
                                  bool keep_alive, bool head);
  net::awaitable<bool> write_sse(std::shared_ptr<Session> s, api::HttpResponse& r,
                                 unsigned version, bool keep_alive);
  net::awaitable<bool> wait_deferred(std::shared_ptr<Session> s, api::HttpResponse& r,
                                     unsigned version, bool keep_alive);
  net::awaitable<void> linger(Session& s);
  std::function<void()> make_wake(const std::shared_ptr<Session>& s);
  void watch_client(const std::shared_ptr<Session>& s);
  void arm_watch(const std::shared_ptr<Session>& s, uint64_t generation);
  void begin_shutdown();
  void session_ended(Session* s);
};

// The wake function may outlive the server (a generation holds it until it is destroyed), so it
// holds no executor (a strand executor must not outlive its io_context): only the session, weakly.
std::function<void()> Server::Impl::make_wake(const std::shared_ptr<Session>& s) {
  return [hub = hub, weak = std::weak_ptr<Session>(s)] {
    std::lock_guard lock(hub->mu);
    if (!hub->alive) return;
    auto p = weak.lock();
    if (!p) return;
    net::post(p->stream.get_executor(), [weak] {
      if (auto q = weak.lock()) {
        q->woken = true;
        q->timer.cancel();
      }
    });
  };
}

// A client that closes its connection while we generate: readable with nothing to read. Data
// (a pipelined request) is left alone. A wait may complete spuriously (a readiness edge left
// over from the request just read), so end of stream is confirmed with a non-blocking peek and
// the watch re-armed when there is nothing there yet.
void Server::Impl::watch_client(const std::shared_ptr<Session>& s) {
  s->client_gone = false;
  arm_watch(s, ++s->watch_generation);
}

void Server::Impl::arm_watch(const std::shared_ptr<Session>& s, uint64_t generation) {
  s->stream.socket().async_wait(tcp::socket::wait_read, [this, weak = std::weak_ptr<Session>(s), generation](
                                                            beast::error_code ec) {
    auto p = weak.lock();
    if (!p || ec || p->watch_generation != generation) return;
    char byte = 0;
    const ssize_t n = ::recv(p->stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return;  // a pipelined request: not a disconnect, and not ours to read
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      arm_watch(p, generation);  // nothing there after all
      return;
    }
    p->client_gone = true;  // end of stream (n == 0) or a socket error
    p->timer.cancel();
  });
}

net::awaitable<bool> Server::Impl::write_full(Session& s, api::HttpResponse r, unsigned version,
                                              bool keep_alive, bool head) {
  bhttp::response<bhttp::string_body> res;
  res.version(version);
  res.result(static_cast<unsigned>(r.status));
  if (r.status == 529) res.reason("Overloaded");
  res.set(bhttp::field::server, "parley");
  res.set(bhttp::field::content_type, r.content_type);
  for (const auto& [k, v] : r.headers) res.set(k, v);
  res.keep_alive(keep_alive);
  if (!head) res.body() = std::move(r.body);
  res.prepare_payload();
  s.stream.expires_after(opt.write_timeout);
  auto [ec, n] = co_await bhttp::async_write(s.stream, res, use_tuple);
  (void)n;
  co_return !ec;
}

// After an error answer to a request whose body was not (all) read: stop sending, then read and
// drop what the client still sends for a moment. Closing with unread data would reset the
// connection, and the client could lose the answer before reading it.
net::awaitable<void> Server::Impl::linger(Session& s) {
  beast::error_code ec;
  s.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  std::vector<char> sink(64 * 1024);
  const auto deadline = Clock::now() + std::chrono::seconds(3);
  uint64_t total = 0;
  while (total < (256ull << 20)) {
    s.stream.expires_at(deadline);
    auto [rec, n] = co_await s.stream.async_read_some(net::buffer(sink), use_tuple);
    if (rec) break;
    total += n;
  }
}

net::awaitable<bool> Server::Impl::write_sse(std::shared_ptr<Session> s, api::HttpResponse& r,
                                             unsigned version, bool keep_alive) {
  api::ResponseStream& stream = *r.stream;
  bhttp::response<bhttp::empty_body> head;
  head.version(version);
  head.result(static_cast<unsigned>(r.status));
  head.set(bhttp::field::server, "parley");
  head.set(bhttp::field::content_type, r.content_type);
  for (const auto& [k, v] : r.headers) head.set(k, v);
  head.keep_alive(keep_alive);
  head.chunked(true);
  bhttp::response_serializer<bhttp::empty_body> sr{head};
  s->stream.expires_after(opt.write_timeout);
  auto [ec, n] = co_await bhttp::async_write_header(s->stream, sr, use_tuple);
  (void)n;
  if (ec) {
    stream.cancel();
    co_return false;
  }
  s->woken = false;
  stream.start(make_wake(s));
  watch_client(s);
  Clock::time_point last_write = Clock::now();
  bool done = false;
  std::string out;
  while (!done) {
    out.clear();
    if (s->client_gone) {
      stream.cancel();
      co_return false;
    }
    if (s->shutting_down) {
      stream.shutdown(out);
      done = true;
    } else {
      done = stream.poll(out);
    }
    if (!done && out.empty()) {
      if (!s->woken) {
        s->timer.expires_at(last_write + opt.heartbeat_interval);
        co_await s->timer.async_wait(use_tuple);
      }
      bool woken = s->woken;
      s->woken = false;
      if (woken || s->client_gone || s->shutting_down) continue;
      if (Clock::now() < last_write + opt.heartbeat_interval) continue;
      out = stream.heartbeat();
      if (out.empty()) {
        last_write = Clock::now();
        continue;
      }
    }
    if (out.empty()) break;
    s->stream.expires_after(opt.write_timeout);
    auto [wec, wn] = co_await net::async_write(s->stream, bhttp::make_chunk(net::buffer(out)), use_tuple);
    (void)wn;
    if (wec) {
      stream.cancel();
      co_return false;
    }
    last_write = Clock::now();
  }
  s->stream.expires_after(opt.write_timeout);
  auto [lec, ln] = co_await net::async_write(s->stream, bhttp::make_chunk_last(), use_tuple);
  (void)ln;
  beast::error_code ignored;
  s->stream.socket().cancel(ignored);  // stop watching for a disconnect
  s->watch_generation++;               // and ignore a watch that completed already
  co_return !lec;
}

net::awaitable<bool> Server::Impl::wait_deferred(std::shared_ptr<Session> s, api::HttpResponse& r,
                                                 unsigned version, bool keep_alive) {
  api::ResponseStream& stream = *r.stream;
  s->woken = false;
  stream.start(make_wake(s));
  watch_client(s);
  std::string ignored_out;
  for (;;) {
    if (s->client_gone) {
      stream.cancel();
      co_return false;
    }
    if (s->shutting_down) {
      stream.shutdown(ignored_out);
      break;
    }
    if (stream.poll(ignored_out)) break;
    if (!s->woken) {
      s->timer.expires_after(std::chrono::hours(24));
      co_await s->timer.async_wait(use_tuple);
    }
    s->woken = false;
  }
  beast::error_code ignored;
  s->stream.socket().cancel(ignored);
  s->watch_generation++;
  api::HttpResponse result = stream.result();
  // A deferred response may resolve into a stream: an SSE answer whose header waited for what
  // decides its status (a gateway upstream's answer).
  if (result.stream && result.stream->is_sse() && !s->shutting_down) {
    co_return co_await write_sse(s, result, version, keep_alive);
  }
  result.stream.reset();
  co_return co_await write_full(*s, std::move(result), version, keep_alive, false);
}

net::awaitable<void> Server::Impl::run_session(std::shared_ptr<Session> s) {
  {
    std::lock_guard lock(mu);
    sessions[s.get()] = s;
    if (stopping) s->shutting_down = true;
  }
  beast::error_code pec;
  auto ep = s->stream.socket().remote_endpoint(pec);
  if (!pec) s->peer = ep.address().to_string() + ":" + std::to_string(ep.port());
  beast::flat_buffer buffer;
  while (!s->shutting_down) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(opt.max_header_bytes);
    parser.body_limit(opt.max_body_bytes);
    s->reading = true;
    s->stream.expires_after(buffer.size() > 0 ? opt.read_timeout : opt.idle_timeout);
    auto [ec, n] = co_await bhttp::async_read_header(s->stream, buffer, parser, use_tuple);
    (void)n;
    s->reading = false;
    api::HttpRequest req;
    req.peer = s->peer;
    if (parser.is_header_done()) {
      const auto& hdr = parser.get();
      req.method = std::string(hdr.method_string());
      req.target = std::string(hdr.target());
      size_t q = req.target.find('?');
      req.path = req.target.substr(0, q);
      if (q != std::string::npos) req.query = req.target.substr(q + 1);
      for (const auto& field : hdr) {
        req.headers.emplace_back(lower(field.name_string()), std::string(field.value()));
      }
    }
    if (ec) {
      if (is_closed_error(ec) || s->shutting_down) break;
      auto kind = api::TransportError::bad_request;
      std::string detail = "malformed HTTP request: " + ec.message();
      if (ec == bhttp::error::header_limit) {
        kind = api::TransportError::body_too_large;
        detail = str_printf("request header larger than %u bytes", opt.max_header_bytes);
      } else if (ec == bhttp::error::body_limit) {
        // A Content-Length over the limit: refused before reading the body.
        kind = api::TransportError::body_too_large;
        detail = str_printf("request body exceeds the %llu-byte limit",
                            static_cast<unsigned long long>(opt.max_body_bytes));
      }
      if (co_await write_full(*s, handler.transport_error(req, kind, detail), 11, false, false)) {
        co_await linger(*s);
      }
      break;
    }
    const auto& hdr = parser.get();
    const unsigned version = hdr.version();
    bool keep_alive = hdr.keep_alive();
    if (beast::iequals(hdr[bhttp::field::expect], "100-continue")) {
      bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, version};
      s->stream.expires_after(opt.write_timeout);
      auto [cec, cn] = co_await bhttp::async_write(s->stream, cont, use_tuple);
      (void)cn;
      if (cec) break;
    }
    if (!parser.is_done()) {
      s->stream.expires_after(opt.read_timeout);
      auto [bec, bn] = co_await bhttp::async_read(s->stream, buffer, parser, use_tuple);
      (void)bn;
      if (bec) {
        if (bec == bhttp::error::body_limit) {
          std::string detail = str_printf("request body exceeds the %llu-byte limit",
                                          static_cast<unsigned long long>(opt.max_body_bytes));
          if (co_await write_full(*s, handler.transport_error(req, api::TransportError::body_too_large, detail),
                                  version, false, false)) {
            co_await linger(*s);
          }
        } else if (!is_closed_error(bec)) {
          if (co_await write_full(*s, handler.transport_error(req, api::TransportError::bad_request,
                                                              "malformed HTTP request body: " + bec.message()),
                                  version, false, false)) {
            co_await linger(*s);
          }
        }
        break;
      }
    }
    req.body = std::move(parser.get().body());

    auto started = Clock::now();
    api::HttpResponse res;
    try {
      res = handler.handle(req);
    } catch (const std::exception& e) {
      // Handlers report errors as responses; this is an allocation failure or a bug.
      log_error("handler failed on %s %s: %s", req.method.c_str(), req.target.c_str(), e.what());
      res = handler.transport_error(req, api::TransportError::bad_request,
                                    std::string("internal error: ") + e.what());
      res.status = 500;
    }
    keep_alive = keep_alive && !res.close && !s->shutting_down;
    bool ok;
    if (!res.stream) {
      int status = res.status;
      ok = co_await write_full(*s, std::move(res), version, keep_alive, req.method == "HEAD");
      log_info("%s %s %s -> %d (%.0f ms)", s->peer.c_str(), req.method.c_str(),
               req.target.c_str(), status,
               std::chrono::duration<double, std::milli>(Clock::now() - started).count());
    } else if (res.stream->is_sse()) {
      ok = co_await write_sse(s, res, version, keep_alive);
      log_info("%s %s %s -> %d stream %s (%.0f ms)", s->peer.c_str(), req.method.c_str(),
               req.target.c_str(), res.status, ok ? "complete" : "ended early",
               std::chrono::duration<double, std::milli>(Clock::now() - started).count());
    } else {
      ok = co_await wait_deferred(s, res, version, keep_alive);
      log_info("%s %s %s -> %s (%.0f ms)", s->peer.c_str(), req.method.c_str(),
               req.target.c_str(), ok ? "answered" : "client gone",
               std::chrono::duration<double, std::milli>(Clock::now() - started).count());
    }
    res.stream.reset();  // cancels a generation still running
    if (!ok || !keep_alive) break;
  }
  beast::error_code ignored;
  s->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  s->stream.socket().close(ignored);
  session_ended(s.get());
}

void Server::Impl::session_ended(Session* s) {
  std::lock_guard lock(mu);
  sessions.erase(s);
  if (stopping && sessions.empty()) {
    net::post(strand, [this] { grace_timer.cancel(); });
  }
}

net::awaitable<void> Server::Impl::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(net::make_strand(ioc), use_tuple);
    if (ec) {
      if (!acceptor.is_open()) co_return;  // shutting down
      log_warn("accept failed: %s", ec.message().c_str());
      continue;
    }
    // SSE streams are small back-to-back writes: without TCP_NODELAY the second of two
    // writes waits for the client's delayed ACK (up to 40 ms on Linux).
    boost::system::error_code nd;
    socket.set_option(net::ip::tcp::no_delay(true), nd);
    auto s = std::make_shared<Session>(std::move(socket));
    auto ex = s->stream.get_executor();
    net::co_spawn(ex, run_session(std::move(s)), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex2) {
        log_error("connection failed: %s", ex2.what());
      }
    });
  }
}

void Server::Impl::begin_shutdown() {
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(mu);
    if (stopping) return;
    stopping = true;
    for (auto& [ptr, weak] : sessions) {
      if (auto p = weak.lock()) live.push_back(std::move(p));
    }
  }
  log_info("shutting down: %zu open connection(s)", live.size());
  beast::error_code ignored;
  acceptor.close(ignored);
  signals.cancel(ignored);
  signals.clear(ignored);  // a second signal now ends the process the default way
  for (auto& p : live) {
    net::post(p->stream.get_executor(), [p] { p->shutdown(); });
  }
  if (live.empty()) return;
  grace_timer.expires_after(opt.shutdown_grace);
  grace_timer.async_wait([this](beast::error_code ec) {
    if (ec) return;  // every connection ended in time
    log_warn("shutdown: dropping connections still open after %lld ms",
             static_cast<long long>(opt.shutdown_grace.count()));
    ioc.stop();
  });
}

Server::Server(ServerOptions options, api::Handler& handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}

Server::~Server() = default;

Status Server::listen() {
  Impl& d = *impl_;
  beast::error_code ec;
  net::ip::address address = net::ip::make_address(d.opt.host, ec);
  if (ec) {
    tcp::resolver resolver(d.ioc);
    auto results = resolver.resolve(d.opt.host, std::to_string(d.opt.port), ec);
    if (ec || results.empty()) {
      return Error::fmt("cannot resolve host '%s': %s", d.opt.host.c_str(),
                        ec ? ec.message().c_str() : "no address");
    }
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint endpoint(address, d.opt.port);
  d.acceptor.open(endpoint.protocol(), ec);
  if (!ec) d.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) d.acceptor.bind(endpoint, ec);
  if (!ec) d.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error::fmt("cannot listen on %s:%u: %s", d.opt.host.c_str(),
                      static_cast<unsigned>(d.opt.port), ec.message().c_str());
  }
  d.bound_port = d.acceptor.local_endpoint().port();
  return {};
}

uint16_t Server::port() const { return impl_->bound_port; }

void Server::run() {
  Impl& d = *impl_;
  net::co_spawn(d.strand, d.accept_loop(), [](std::exception_ptr) {});
  if (d.opt.handle_signals) {
    d.signals.add(SIGINT);
    d.signals.add(SIGTERM);
    d.signals.async_wait([&d](beast::error_code ec, int sig) {
      if (ec) return;
      log_info("received %s: finishing in-flight requests", sig == SIGINT ? "SIGINT" : "SIGTERM");
      d.begin_shutdown();
    });
  }
  std::vector<std::thread> threads;
  for (int i = 1; i < d.opt.threads; i++) threads.emplace_back([&d] { d.ioc.run(); });
  d.ioc.run();
  for (auto& t : threads) t.join();
}

void Server::stop() {
  Impl& d = *impl_;
  net::post(d.strand, [&d] { d.begin_shutdown(); });
}

}  // namespace parley::http
