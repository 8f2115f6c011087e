// The transport-neutral boundary between http/ (Beast sessions) and api/ (the protocol): a parsed
// request, a response that is either complete or streamed, and the handler that maps one to the
// other. Nothing here knows about sockets; nothing in api/ includes Asio or Beast.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::api {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET", "POST", "HEAD", ...
  std::string target;  // as sent: "/v1/messages?beta=true"
  std::string path;    // target without the query string
  std::string query;   // after '?', undecoded ("" when none)
  HeaderList headers;  // names lower-cased, values as sent, in wire order
  std::string body;
  std::string peer;    // "127.0.0.1:54321", for logs

  // The last header with this (lower-case) name, or nullptr.
  const std::string* header(std::string_view name) const;
};

struct HttpResponse;

// A response body produced over time (SSE, or a JSON answer that waits for generation). The
// transport drives it from one thread at a time (its session strand); only the `wake` callback
// given to start() may be called from other threads (the engine thread).
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;

  // true: Server-Sent Events; the 200 header goes out at once and poll() output is written as
  // it comes. false: nothing is written until poll() says done; then result() is the response.
  virtual bool is_sse() const = 0;
  // Called once before the first poll(). `wake` asks the transport to call poll() soon.
  virtual void start(std::function<void()> wake) = 0;
  // Appends what is ready to `out` (SSE frames); returns true when the response is complete
  // (the last bytes are in `out`).
  virtual bool poll(std::string& out) = 0;
  // Non-SSE: the whole response, once poll() returned true.
  virtual HttpResponse result() = 0;
  // SSE: bytes to send after `interval` without output (Anthropic: a ping event). Called only
  // while poll() has not returned true.
  virtual std::string heartbeat() = 0;
  // The client went away: cancel the work. No more calls follow.
  virtual void cancel() = 0;
  // The server is shutting down: end now. SSE: append a final error frame to `out`; non-SSE:
  // result() becomes an error response. Cancels the work. No poll() follows.
  virtual void shutdown(std::string& out) = 0;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  HeaderList headers;  // extra headers (request-id, retry-after, ...)
  std::string body;
  std::shared_ptr<ResponseStream> stream;  // set: the body comes from the stream
  bool close = false;                      // close the connection after this response
};

// Transport-level failures the handler turns into protocol-shaped error responses.
enum class TransportError {
  body_too_large,   // 413
  bad_request,      // malformed HTTP (400)
  timeout,          // reading the request took too long (408)
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Must not block for long: generation runs on the engine thread and is delivered via
  // HttpResponse::stream.
  virtual HttpResponse handle(const HttpRequest& request) = 0;
  // The response for a request the transport could not read. `request` holds what was read
  // (method, target and headers at least when the header was complete).
  virtual HttpResponse transport_error(const HttpRequest& request, TransportError error,
                                       std::string_view detail) = 0;
};

}  // namespace parley::api
