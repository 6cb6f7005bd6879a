// Test helpers for daemon/net (included only by *_test.cpp): an HttpServer on 127.0.0.1:0 with its
// io thread, and a raw POSIX socket client whose every wait is bounded, for tests that need to
// control bytes on the wire (keep-alive, slowloris, limits).
#pragma once

#include "daemon/base/metrics.h"
#include "daemon/net/http_server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace yuer::net::testing {

using namespace std::chrono_literals;

// "code: message" of a failed Result, "" otherwise (Catch cannot print Result itself).
template <class T>
std::string error_text(const Result<T>& r) {
  return r ? std::string() : r.error().code + ": " + r.error().message;
}

// --- handlers: plain lambdas call these named coroutines (STYLE C2) ---

inline awaitable<http::Response> reply_text(http::Request req, std::string body) {
  co_return http::make_response(req, http::Status::ok, std::move(body));
}

// Waits `delay` on a timer (cancellable by stop()), then answers "slow". `entered` counts calls.
inline awaitable<http::Response> reply_slowly(http::Request req, std::chrono::milliseconds delay,
                                              std::atomic<int>* entered) {
  entered->fetch_add(1);
  asio::steady_timer t(co_await asio::this_coro::executor, delay);
  co_await t.async_wait(use_awaitable);
  co_return http::make_response(req, http::Status::ok, "slow");
}

inline awaitable<http::Response> throw_inside(http::Request req) {
  if (!req.target().empty()) throw std::runtime_error("handler failed on purpose");
  co_return http::make_response(req, http::Status::ok, "unreachable");
}

inline Route text_route(std::string path, Route::Match match, std::string label, std::size_t body_limit = 0) {
  Route r;
  r.path = std::move(path);
  r.match = match;
  r.label = label;
  r.body_limit = body_limit;
  r.handler = [label](http::Request req) { return reply_text(std::move(req), label); };
  return r;
}

// --- server on an ephemeral port with its own io thread ---

class TestServer {
 public:
  // Listens on 127.0.0.1:0 unless `settings.listen` was changed from its default.
  TestServer(ServerSettings settings, std::vector<Route> routes) {
    if (settings.listen == ServerSettings{}.listen) settings.listen = "127.0.0.1:0";
    server_.emplace(ioc_, std::move(settings), registry_);
    for (auto& r : routes) server_->add_route(std::move(r));
    auto ep = server_->listen();
    if (!ep) throw std::runtime_error(ep.error().message);
    port_ = ep->port();
    server_->start();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  ~TestServer() {
    stop(0ms);
    ioc_.stop();
    thread_.join();
  }

  // Runs HttpServer::stop(grace) on the io thread; true if it completed within `bound`.
  bool stop(std::chrono::milliseconds grace, std::chrono::milliseconds bound = 10s) {
    if (!stop_future_.valid()) stop_future_ = asio::co_spawn(ioc_, server_->stop(grace), asio::use_future);
    return stop_future_.wait_for(bound) == std::future_status::ready;
  }
  // Starts stop(grace) without waiting; call stop() later to wait for it.
  void begin_stop(std::chrono::milliseconds grace) {
    stop_future_ = asio::co_spawn(ioc_, server_->stop(grace), asio::use_future);
  }

  unsigned short port() const { return port_; }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  HttpServer& server() { return *server_; }
  std::string metrics_text() const { return registry_.render(); }

  // Polls connection_count() until it equals `n` or `bound` passes.
  bool wait_for_connections(std::size_t n, std::chrono::milliseconds bound = 5s) {
    auto end = std::chrono::steady_clock::now() + bound;
    while (server_->connection_count() != n) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

 private:
  metrics::Registry registry_;
  asio::io_context ioc_;
  std::optional<HttpServer> server_;
  unsigned short port_ = 0;
  std::future<void> stop_future_;
  std::thread thread_;
};

// --- raw client ---

struct RawResponse {
  unsigned status = 0;
  std::string head;  // status line and headers, lower-cased
  std::string body;
};

class RawClient {
 public:
  explicit RawClient(unsigned short port, std::chrono::milliseconds wait = 5s, const char* ipv4 = "127.0.0.1")
      : wait_(wait) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket() failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    if (::inet_pton(AF_INET, ipv4, &addr.sin_addr) != 1) throw std::runtime_error("bad IPv4 address");
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  ~RawClient() { ::close(fd_); }

  bool connected() const { return connected_; }

  bool send(std::string_view data) {
    while (!data.empty()) {
      auto n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads one response framed by Content-Length. nullopt if the peer closed or `wait` passed.
  std::optional<RawResponse> read_response() {
    auto end = std::chrono::steady_clock::now() + wait_;
    std::size_t head_end;
    while ((head_end = pending_.find("\r\n\r\n")) == std::string::npos)
      if (!fill(end)) return std::nullopt;
    RawResponse r;
    r.head = pending_.substr(0, head_end);
    std::transform(r.head.begin(), r.head.end(), r.head.begin(), [](unsigned char c) { return std::tolower(c); });
    if (r.head.size() < 12) return std::nullopt;
    r.status = static_cast<unsigned>(std::stoul(r.head.substr(9, 3)));
    std::size_t length = 0;
    if (auto p = r.head.find("\r\ncontent-length:"); p != std::string::npos)
      length = std::stoul(r.head.substr(p + 17));
    pending_.erase(0, head_end + 4);
    if (r.status == 100) return r;
    while (pending_.size() < length)
      if (!fill(end)) return std::nullopt;
    r.body = pending_.substr(0, length);
    pending_.erase(0, length);
    return r;
  }

  // True if the peer closes the connection within `bound` (data before the close is discarded).
  bool closed_within(std::chrono::milliseconds bound) {
    auto end = std::chrono::steady_clock::now() + bound;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      int rc = ::poll(&p, 1, static_cast<int>(left.count()));
      if (rc == 0) return false;
      if (rc < 0) continue;
      char buf[4096];
      auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
    }
  }

 private:
  bool fill(std::chrono::steady_clock::time_point end) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[8192];
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    pending_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::chrono::milliseconds wait_;
  std::string pending_;
};

inline std::string get_request(const std::string& target, const std::string& extra_headers = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: t\r\n" + extra_headers + "\r\n";
}

}  // namespace yuer::net::testing
