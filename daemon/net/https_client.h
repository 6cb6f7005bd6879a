// HttpsClient: the coroutine HTTP(S)/1.1 client for WeCom's API. TLS with certificate and
// hostname verification against the system CA store, SNI, a keep-alive pool per (scheme, host,
// port), a connect deadline and a deadline per exchange. Plain http is refused unless the host is
// loopback (the sandbox, tests). Invariant: a pooled connection is reused only after a complete
// response that allowed keep-alive.
#pragma once

#include "daemon/base/result.h"
#include "daemon/net/asio.h"
#include "daemon/net/http_client.h"
#include "daemon/net/http_types.h"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace yuer::net {

struct HttpsClientSettings {
  std::chrono::milliseconds connect_timeout{5000};   // resolve + TCP connect + TLS handshake
  std::chrono::milliseconds request_timeout{15000};  // write the request and read the whole response
  std::size_t max_idle_per_host = 64;                // idle keep-alive connections kept per host
  std::chrono::milliseconds max_idle_age{30000};     // older idle connections are closed, not reused
  std::string extra_ca_file;  // PEM trust anchors added to the system store (tests); "" = none
  bool use_system_ca = true;  // false: trust only extra_ca_file (tests of untrusted certificates)
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(std::string_view host);

class HttpsClient {
 public:
  // Every call must run on `ex` (one thread: the io thread). Throws std::runtime_error when the
  // TLS context cannot be set up (no CA store, unreadable extra_ca_file): a broken environment.
  HttpsClient(asio::any_io_executor ex, HttpsClientSettings settings);
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // Sends one request to `url` ("https://host[:port]/path?query", or "http://" to a loopback host)
  // and completes with the response (any status). A request that fails on a reused keep-alive
  // connection before any response byte arrives is sent once more on a fresh connection. Fails,
  // never throws, with Error{code, message}: "http.bad_url", "http.insecure" (plain http to a
  // non-loopback host), "http.unreachable" (resolve/connect), "http.tls" (handshake, untrusted
  // certificate, wrong host name), "http.timeout", "http.protocol". Messages carry the host, never
  // the path or query (they may hold secrets such as a robot key or an access token).
  awaitable<Result<ClientResponse>> request(http::Verb method, std::string url, std::string body = {},
                                            std::vector<std::pair<std::string, std::string>> headers = {});

  // Closes every idle connection. Call on the executor.
  void close_idle();

  std::size_t idle_connections() const;
  std::uint64_t connections_opened() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace yuer::net
