// A small HTTP/1.1 client for upstream engines: one POST whose answer streams back as SSE. The
// requests run as coroutines on the client's own io_context thread (Asio stays in src/http/ and
// here); what they receive is queued in a CallState and the caller's wake is called, like the
// engine's events for a local Generation. Plain http:// only (no TLS yet).
//
// One call is one attempt: retries, which may go to another replica, are the gateway's
// (gateway.cpp), which starts a new call for each (with a delay for a backoff).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "upstream/config.h"

namespace parley::upstream {

// Shared between the client's thread (writes) and the caller (reads, on its own thread).
struct CallState {
  std::mutex mu;
  int status = 0;               // the answer's HTTP status once known (0: not yet)
  std::string retry_after;      // the answer's retry-after header
  std::string error_body;       // a non-2xx answer's body (at most 64 KiB)
  std::vector<std::string> events;  // SSE data payloads not yet taken
  bool done = false;            // nothing more will come
  std::string transport_error;  // set with done: the connection failed (no status, or mid-body)
  std::function<void()> wake;
  std::atomic<bool> cancelled{false};
  std::function<void()> abort;  // client thread only: cancels the pending I/O
};

struct PostRequest {
  std::string upstream;  // its name, for messages
  Url endpoint;
  std::string path;  // "/v1/chat/completions" (appended to the base path)
  std::string body;
  std::string api_key;     // "" : no Authorization header
  // How api_key is sent: "Authorization: Bearer <key>" (openai-chat) or "x-api-key: <key>"
  // (Anthropic's header).
  bool key_as_x_api_key = false;
  std::vector<std::pair<std::string, std::string>> headers;  // more, e.g. anthropic-version
  std::string request_id;  // sent as x-request-id
  double connect_timeout_s = 10;
  double read_timeout_s = 600;
  double delay_s = 0;          // wait this long before connecting (a retry's backoff)
  std::function<void()> wake;  // the state's wake from the start (set_wake can change it)
};

// A GET whose answer only counts by its status (an active health check).
struct GetRequest {
  Url endpoint;
  std::string path;
  std::string api_key;
  bool key_as_x_api_key = false;
  std::vector<std::pair<std::string, std::string>> headers;
  double timeout_s = 5;  // to connect, to send, and to read the answer (each)
};

class HttpClient {
 public:
  HttpClient();
  ~HttpClient();  // abandons calls still running
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Starts the request; its progress arrives in the returned state.
  std::shared_ptr<CallState> post(PostRequest request);
  // Cancels a call (thread-safe; its state gets done with "cancelled").
  void cancel(const std::shared_ptr<CallState>& call);
  // Sends the GET; `done` gets its status (0: no answer, with why) on the client's thread.
  void get(GetRequest request, std::function<void(int status, const std::string& error)> done);
  // Calls `tick` on the client's thread every `interval_s` seconds until the client is
  // destroyed.
  void every(double interval_s, std::function<void()> tick);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::upstream
