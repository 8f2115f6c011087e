// The upstream HTTP client hands on each SSE event as it arrives, not when a read buffer fills
// or the answer ends: a fake upstream (a plain socket on a thread) sends one event, then holds
// the rest back until the test has seen that event in the call's state.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "upstream/http-client.h"

namespace parley::upstream {
namespace {

using namespace std::chrono_literals;

void send_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Reads the request up to the end of its headers plus its Content-Length bytes.
void read_request(int fd) {
  std::string got;
  char buf[4096];
  size_t body_at = std::string::npos;
  size_t length = 0;
  for (;;) {
    if (body_at != std::string::npos && got.size() >= body_at + length) return;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    got.append(buf, static_cast<size_t>(n));
    if (body_at == std::string::npos) {
      size_t end = got.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      body_at = end + 4;
      size_t cl = got.find("Content-Length: ");
      if (cl != std::string::npos) length = std::stoul(got.substr(cl + 16));
    }
  }
}

struct Snapshot {
  size_t events = 0;
  bool done = false;
};

Snapshot look(CallState& st) {
  std::lock_guard lock(st.mu);
  return {st.events.size(), st.done};
}

TEST(HttpClient, EachSseEventArrivesBeforeTheAnswerEnds) {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const uint16_t port = ntohs(addr.sin_port);

  std::mutex mu;
  std::condition_variable cv;
  bool first_seen = false;
  bool held_until_seen = false;  // the server's view: the client saw event 1 before event 2 went
  std::thread server([&] {
    int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) return;
    read_request(fd);
    send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n");
    send_all(fd, "data: {\"n\":1}\n\n");
    {
      std::unique_lock lock(mu);
      held_until_seen = cv.wait_for(lock, 5s, [&] { return first_seen; });
    }
    send_all(fd, "data: {\"n\":2}\n\n");
    ::close(fd);
  });

  HttpClient client;
  PostRequest req;
  req.upstream = "fake";
  req.endpoint.host = "127.0.0.1";
  req.endpoint.port = port;
  req.path = "/v1/chat/completions";
  req.body = "{}";
  req.read_timeout_s = 20;
  auto st = client.post(req);

  // Wait (polling: the wake may be set after the first event) for event 1 alone.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (look(*st).events == 0 && !look(*st).done && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  {
    std::lock_guard lock(mu);
    first_seen = true;
  }
  cv.notify_all();
  while (!look(*st).done && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  server.join();
  ::close(listener);

  EXPECT_TRUE(held_until_seen) << "the first event reached the caller only after the answer ended";
  std::lock_guard lock(st->mu);
  EXPECT_TRUE(st->done);
  EXPECT_EQ(st->transport_error, "");
  ASSERT_EQ(st->events.size(), 2u);
  EXPECT_EQ(st->events[0], "{\"n\":1}");
  EXPECT_EQ(st->events[1], "{\"n\":2}");
}

}  // namespace
}  // namespace parley::upstream
