// HttpServer: the one HTTP/1.1 listener of yuerd (Beast, C++20 coroutines). Connections are
// spread over `io_threads` io threads: the main io_context passed in plus io_threads - 1 own ones;
// a connection stays on one thread. Route handlers run on the main io_context unless the route
// says it is thread-safe (`any_thread`). Routes are registered before start(); each route names
// its metric label and body limit.
// Invariant: every socket operation has a deadline; limits are explicit and per request.
#pragma once

#include "daemon/base/metrics.h"
#include "daemon/base/result.h"
#include "daemon/net/asio.h"
#include "daemon/net/http_types.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace yuer::net {

struct ServerSettings {
  std::string listen = "127.0.0.1:8080";  // "host:port"; port 0 picks an ephemeral port
  std::size_t max_connections = 4096;     // further connections are accepted and closed at once
  std::size_t header_limit = 8 * 1024;    // bytes of request line + headers
  std::size_t default_body_limit = 1024 * 1024;
  std::chrono::milliseconds read_timeout{5000};   // whole request (headers + body) must arrive within
  std::chrono::milliseconds idle_timeout{30000};  // keep-alive connection with no new request
  std::chrono::milliseconds write_timeout{5000};
  // Threads serving connections: the main io_context's thread plus io_threads - 1 threads the
  // server starts (and joins). Accepted connections go round-robin over them. 0 is taken as 1.
  std::size_t io_threads = 1;
};

// A handler is called with the complete request; it must not block. It runs on the main
// io_context (the one passed to HttpServer), or, for an `any_thread` route, on the io thread of
// the connection, possibly several at once.
// It is a plain callable returning an awaitable (e.g. a lambda calling a member coroutine), never a
// capturing lambda coroutine itself (STYLE C2).
using Handler = std::function<awaitable<http::Response>(http::Request)>;

// Thrown by a handler to end the connection without any answer, as a peer that vanishes would
// (fault injection in the WeCom emulator). The server resets the connection at once.
struct DropConnection {};

struct Route {
  enum class Match { kExact, kPrefix };
  std::string path;    // "/healthz" (exact) or "/api/v1/" (prefix)
  Match match = Match::kExact;
  std::string label;   // metric label: "healthz", "wecom_app", "api"
  Handler handler;
  std::size_t body_limit = 0;  // 0 = ServerSettings::default_body_limit
  bool loopback_only = false;  // peers other than 127.0.0.0/8 and ::1 get 403
  // The handler is thread-safe: it runs on the connection's io thread, concurrently with itself.
  // Otherwise (the default) a connection on another io thread hands the request to the main
  // io_context and waits for the response there (one post each way).
  bool any_thread = false;
};

class HttpServer {
 public:
  // `ioc` (the main io_context) and `metrics` must outlive the server. Call everything except
  // connection_count() on the main io thread, or before `ioc` runs. Destroy the server after
  // stop() has completed (or once `ioc` no longer runs), on a thread other than the server's own
  // io threads; the destructor joins them. Without a completed stop() the connections of the
  // extra io threads are abandoned (their memory is not freed: the process is about to exit).
  HttpServer(boost::asio::io_context& ioc, ServerSettings settings, metrics::Registry& metrics);
  ~HttpServer();

  // Adds a route. Longest matching path wins; exact beats prefix. Requires: called before start().
  void add_route(Route route);

  // Binds and listens. Returns the bound endpoint (with the real port when 0 was asked), or an
  // Error{"server.listen", "..."} naming the address when it cannot bind.
  Result<boost::asio::ip::tcp::endpoint> listen();

  // Starts the extra io threads and accepts on the main io thread. Requires: listen() succeeded.
  void start();

  // Stops accepting, lets in-flight requests finish until `grace` passes, then closes what is
  // left. Completes when every connection is closed. Connections idle between requests close at
  // once; responses written meanwhile carry "Connection: close". After `grace`, handlers get
  // terminal cancellation (a handler awaiting something that ignores it delays completion).
  // When it completes, the extra io threads have nothing left to do and end.
  // Co_await on the main io thread; calling it again is harmless.
  awaitable<void> stop(std::chrono::milliseconds grace);

  std::size_t connection_count() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace yuer::net
