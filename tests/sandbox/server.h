// SandboxServer: puts a Sandbox behind the project's HttpServer. WeCom endpoints under /cgi-bin/,
// the control API under /_sandbox/. Fault latency waits on a timer (the io thread stays free);
// callback deliveries run on a small worker pool because they block for up to attempts × 5 s.
#pragma once

#include "daemon/base/metrics.h"
#include "daemon/base/result.h"
#include "daemon/net/http_server.h"
#include "tests/sandbox/sandbox.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace yuer::sandbox {

class SandboxServer {
 public:
  // `ioc`, `sandbox` and `metrics` must outlive the server. `listen` is "host:port" (port 0 allowed).
  SandboxServer(boost::asio::io_context& ioc, Sandbox& sandbox, std::string listen, metrics::Registry& metrics);
  ~SandboxServer();

  // Binds and starts accepting. Returns the bound endpoint or the HttpServer's listen error.
  Result<boost::asio::ip::tcp::endpoint> start();

  // Stops accepting and waits for in-flight requests (up to `grace`). Co_await on the io thread.
  awaitable<void> stop(std::chrono::milliseconds grace);

 struct Impl;  // public so the request handlers in server.cpp can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace yuer::sandbox
