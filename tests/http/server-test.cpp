// The Beast server on a real socket with a stub handler: keep-alive, limits, malformed input,
// SSE chunking and heartbeats, disconnect → cancel, graceful shutdown. Plain POSIX sockets on
// the client side, so the test needs no Asio.
#include "http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <thread>

#include "base/log.h"
#include "base/strings.h"

namespace parley::http {
namespace {

using namespace std::chrono_literals;

// A stream whose frames are pushed by the test (from any thread, like the engine).
class StubStream final : public api::ResponseStream {
 public:
  explicit StubStream(bool sse) : sse_(sse) {}
  bool is_sse() const override { return sse_; }
  void start(std::function<void()> wake) override {
    std::lock_guard lock(mu_);
    wake_ = std::move(wake);
  }
  bool poll(std::string& out) override {
    std::lock_guard lock(mu_);
    out += pending_;
    pending_.clear();
    return finished_;
  }
  api::HttpResponse result() override {
    api::HttpResponse r;
    r.body = shut_down_ ? "{\"shutdown\":true}" : "{\"done\":true}";
    r.status = shut_down_ ? 529 : 200;
    return r;
  }
  std::string heartbeat() override {
    heartbeats++;
    return "event: ping\ndata: {\"type\":\"ping\"}\n\n";
  }
  void cancel() override { cancelled = true; }
  void shutdown(std::string& out) override {
    shut_down_ = true;
    out += "event: error\ndata: {\"type\":\"error\"}\n\n";
  }
  // Test side.
  void push(const std::string& frame, bool finish) {
    std::function<void()> wake;
    {
      std::lock_guard lock(mu_);
      pending_ += frame;
      finished_ = finish;
      wake = wake_;
    }
    if (wake) wake();
  }
  bool started() {
    std::lock_guard lock(mu_);
    return wake_ != nullptr;
  }
  std::atomic<bool> cancelled{false};
  std::atomic<int> heartbeats{0};

 private:
  bool sse_;
  std::mutex mu_;
  std::function<void()> wake_;
  std::string pending_;
  bool finished_ = false;
  bool shut_down_ = false;
};

class StubHandler final : public api::Handler {
 public:
  api::HttpResponse handle(const api::HttpRequest& req) override {
    api::HttpResponse r;
    r.headers.emplace_back("request-id", "req_test");
    if (req.path == "/hello") {
      r.body = "{\"hello\":\"" + req.query + "\"}";
    } else if (req.path == "/echo") {
      r.body = str_printf("{\"bytes\":%zu}", req.body.size());
    } else if (req.path == "/sse" || req.path == "/deferred") {
      stream = std::make_shared<StubStream>(req.path == "/sse");
      r.stream = stream;
      r.content_type = "text/event-stream";
    } else {
      r.status = 404;
      r.body = "{}";
    }
    return r;
  }
  api::HttpResponse transport_error(const api::HttpRequest&, api::TransportError e,
                                    std::string_view detail) override {
    api::HttpResponse r;
    r.status = e == api::TransportError::body_too_large ? 413 : 400;
    r.body = "{\"error\":\"" + std::string(detail) + "\"}";
    r.close = true;
    return r;
  }
  std::shared_ptr<StubStream> stream;
};

class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  ~Client() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void send(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
  // Reads until `marker` appears in what was read (or EOF / timeout). Returns all read so far.
  std::string read_until(const std::string& marker, std::chrono::milliseconds timeout = 5000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (buf_.find(marker) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char tmp[4096];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) {
        eof_ = true;
        break;
      }
      buf_.append(tmp, static_cast<size_t>(n));
    }
    return buf_;
  }
  // Everything until the server closes the connection.
  std::string read_to_eof(std::chrono::milliseconds timeout = 5000ms) {
    read_until(std::string("\x01\x02never", 7), timeout);
    return buf_;
  }
  bool eof() const { return eof_; }
  void clear() { buf_.clear(); }

 private:
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_log_level(LogLevel::warn);
    ServerOptions opt;
    opt.port = 0;
    opt.max_body_bytes = 1024;
    opt.heartbeat_interval = 50ms;
    opt.shutdown_grace = 2000ms;
    server_ = std::make_unique<Server>(opt, handler_);
    ASSERT_TRUE(server_->listen().ok());
    thread_ = std::thread([this] { server_->run(); });
  }
  void TearDown() override {
    server_->stop();
    thread_.join();
  }
  uint16_t port() const { return server_->port(); }
  template <class F>
  bool wait_for(F cond, std::chrono::milliseconds timeout = 3000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!cond()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

  StubHandler handler_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Client c(port());
  c.send("GET /hello?a=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string r1 = c.read_until("}");
  EXPECT_NE(r1.find("HTTP/1.1 200 OK"), std::string::npos) << r1;
  EXPECT_NE(r1.find("request-id: req_test"), std::string::npos);
  EXPECT_NE(r1.find("{\"hello\":\"a=1\"}"), std::string::npos);
  c.clear();
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde");
  EXPECT_NE(c.read_until("}").find("{\"bytes\":5}"), std::string::npos);
}

TEST_F(ServerTest, OversizedBodyIs413AndTheServerKeepsServing) {
  {
    Client c(port());
    c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n");
    std::string r = c.read_to_eof();
    EXPECT_NE(r.find("HTTP/1.1 413"), std::string::npos) << r;
    EXPECT_NE(r.find("exceeds the 1024-byte limit"), std::string::npos) << r;
    EXPECT_TRUE(c.eof());
  }
  {
    // Chunked: the limit is found while reading.
    Client c(port());
    c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" +
           std::string(0x800, 'x') + "\r\n0\r\n\r\n");
    std::string r = c.read_to_eof();
    EXPECT_NE(r.find("HTTP/1.1 413"), std::string::npos) << r;
  }
  Client c(port());
  c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(c.read_until("}").find("200 OK"), std::string::npos);
}

TEST_F(ServerTest, MalformedHttpIs400) {
  Client c(port());
  c.send("THIS IS NOT HTTP\r\n\r\n");
  std::string r = c.read_to_eof();
  EXPECT_NE(r.find("HTTP/1.1 400"), std::string::npos) << r;
  Client c2(port());
  c2.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(c2.read_until("}").find("200 OK"), std::string::npos);
}

TEST_F(ServerTest, ExpectContinueIsAnswered) {
  Client c(port());
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_NE(c.read_until("100 Continue").find("HTTP/1.1 100 Continue"), std::string::npos);
  c.send("abc");
  EXPECT_NE(c.read_until("}").find("{\"bytes\":3}"), std::string::npos);
}

TEST_F(ServerTest, HeadHasNoBody) {
  Client c(port());
  c.send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello?b HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string r = c.read_until("{\"hello\":\"b\"}");
  // The only body on the wire belongs to the GET.
  EXPECT_EQ(r.find("{\"hello\":\"\"}"), std::string::npos) << r;
  EXPECT_NE(r.find("{\"hello\":\"b\"}"), std::string::npos) << r;
}

TEST_F(ServerTest, SseIsChunkedWithHeartbeatsWhileSilent) {
  Client c(port());
  c.send("GET /sse HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string head = c.read_until("\r\n\r\n");
  EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Type: text/event-stream"), std::string::npos) << head;
  ASSERT_TRUE(wait_for([&] { return handler_.stream && handler_.stream->started(); }));
  std::this_thread::sleep_for(200ms);  // silence: heartbeats every 50 ms
  auto stream = handler_.stream;
  std::thread engine([stream] {
    stream->push("event: a\ndata: {}\n\n", false);
    std::this_thread::sleep_for(10ms);
    stream->push("event: b\ndata: {}\n\n", true);
  });
  std::string body = c.read_until("\r\n0\r\n\r\n");
  engine.join();
  EXPECT_GE(stream->heartbeats.load(), 2);
  EXPECT_NE(body.find("event: ping"), std::string::npos);
  size_t a = body.find("event: a"), b = body.find("event: b");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  EXPECT_LT(a, b);
  EXPECT_NE(body.find("\r\n0\r\n\r\n"), std::string::npos);  // last chunk
  EXPECT_FALSE(stream->cancelled.load());
  // Keep-alive after a stream.
  c.clear();
  c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(c.read_until("}").find("200 OK"), std::string::npos);
}

TEST_F(ServerTest, DeferredJsonWaitsForTheStream) {
  Client c(port());
  c.send("GET /deferred HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(wait_for([&] { return handler_.stream && handler_.stream->started(); }));
  handler_.stream->push("", true);
  std::string r = c.read_until("}");
  EXPECT_NE(r.find("{\"done\":true}"), std::string::npos) << r;
  EXPECT_NE(r.find("Content-Length: 13"), std::string::npos) << r;
}

TEST_F(ServerTest, ClientDisconnectCancelsTheStream) {
  for (const char* path : {"/sse", "/deferred"}) {
    handler_.stream.reset();
    Client c(port());
    c.send(std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(wait_for([&] { return handler_.stream && handler_.stream->started(); }));
    c.close();
    EXPECT_TRUE(wait_for([&] { return handler_.stream->cancelled.load(); })) << path;
  }
}

TEST_F(ServerTest, ShutdownEndsInFlightStreamsWithAnErrorEvent) {
  Client c(port());
  c.send("GET /sse HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(wait_for([&] { return handler_.stream && handler_.stream->started(); }));
  Client idle(port());  // an idle keep-alive connection must not hold the shutdown up
  server_->stop();
  std::string body = c.read_to_eof();
  EXPECT_NE(body.find("event: error"), std::string::npos) << body;
  EXPECT_NE(body.find("\r\n0\r\n\r\n"), std::string::npos) << body;
  idle.read_to_eof(1000ms);
  EXPECT_TRUE(idle.eof());
}

}  // namespace
}  // namespace parley::http
