// The HTTP/1.1 server: Boost.Beast with one C++20 coroutine per connection. Keep-alive, a
// timeout on every read and write, a body limit (413), Server-Sent Events as one chunk per
// write with heartbeats while the stream is silent, cancellation when the client goes away, and
// graceful shutdown (in-flight streams end with an error event). Routing and protocol live
// behind api::Handler; this is the only place that includes Asio/Beast.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "api/http-types.h"
#include "base/result.h"

namespace parley::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;                 // 0: any free port (see Server::port())
  int threads = 2;                      // io_context threads (templating/tokenizing run here)
  uint64_t max_body_bytes = 32ull << 20;  // larger bodies get 413 (the real API's limit)
  uint32_t max_header_bytes = 64u << 10;
  std::chrono::milliseconds idle_timeout{120'000};    // keep-alive wait for the next request
  std::chrono::milliseconds read_timeout{120'000};    // reading one request, header and body
  std::chrono::milliseconds write_timeout{120'000};   // one write (a client that stops reading)
  std::chrono::milliseconds heartbeat_interval{2'000};  // SSE silence before a heartbeat
  std::chrono::milliseconds shutdown_grace{10'000};   // then remaining connections are dropped
  bool handle_signals = false;          // SIGINT/SIGTERM start a graceful shutdown
};

class Server {
 public:
  Server(ServerOptions options, api::Handler& handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens. Errors: bad address, port in use.
  Status listen();
  uint16_t port() const;  // the bound port (after listen)
  // Serves until stop() (or a signal when handle_signals), then returns after the graceful
  // shutdown. Runs the io threads; call from one thread.
  void run();
  // Starts the graceful shutdown; thread-safe, idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::http
