// AdminApi: the /api/v1 admin JSON API (Bearer token), /healthz and /metrics. Handlers run on
// the io thread and hop to the store executor for every store call.
#pragma once

#include "daemon/base/metrics.h"
#include "daemon/net/http_server.h"
#include "daemon/store/store.h"

#include <boost/asio/thread_pool.hpp>

#include <string>
#include <vector>

namespace yuer::admin {

class AdminApi {
 public:
  // `store` is used only on `store_pool`'s thread. `store`, `store_pool` and `metrics` must outlive
  // this object and the routes it returns. `token` is the admin secret (kept only as a hash).
  AdminApi(store::Store& store, boost::asio::thread_pool& store_pool, metrics::Registry& metrics,
           const std::string& token);

  // /api/v1/ (prefix, token required; loopback only unless `allow_remote`), /healthz, /metrics.
  std::vector<net::Route> routes(bool allow_remote);

  // Replaces the admin token (SIGHUP). Call on the io thread.
  void set_token(const std::string& token);

  awaitable<http::Response> api(http::Request req);
  awaitable<http::Response> healthz(http::Request req);
  awaitable<http::Response> metrics_route(http::Request req);
  http::Response metrics_text(const http::Request& req) const;

 private:
  bool authorized(const http::Request& req) const;
  awaitable<http::Response> list_inbox(http::Request req);

  store::Store& store_;
  boost::asio::thread_pool& store_pool_;
  metrics::Registry& metrics_;
  std::string token_hash_;
};

}  // namespace yuer::admin
