#include "daemon/admin/admin_api.h"
#include "daemon/admin/reply.h"

#include "daemon/base/secure.h"
#include "daemon/org/importer.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/url/parse.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <charconv>

namespace yuer::admin {
namespace {

using nlohmann::json;

// Store calls run on the store thread; named coroutines with by-value arguments (STYLE C2, D4).
awaitable<std::vector<model::InboxRow>> list_rows(store::Store* store, store::InboxQuery query) {
  co_return store->list_inbox(query);
}
awaitable<int> ping_store(store::Store* store) { co_return store->schema_version(); }

bool to_int64(std::string_view s, std::int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

AdminApi::AdminApi(store::Store& store, boost::asio::thread_pool& store_pool, metrics::Registry& metrics,
                   const std::string& token)
    : store_(store), store_pool_(store_pool), metrics_(metrics), token_hash_(sha256_hex(token)) {}

void AdminApi::set_token(const std::string& token) { token_hash_ = sha256_hex(token); }

std::vector<net::Route> AdminApi::routes(bool allow_remote) {
  std::vector<net::Route> out;
  net::Route api_route{"/api/v1/", net::Route::Match::kPrefix, "api",
                       [this](http::Request req) { return api(std::move(req)); }};
  api_route.loopback_only = !allow_remote;
  out.push_back(std::move(api_route));
  // CSV uploads are larger than other API bodies; the limit is checked before the body is read.
  for (const char* path : {"/api/v1/org/import", "/api/v1/roster/import"}) {
    net::Route import_route{path, net::Route::Match::kExact, "api",
                            [this](http::Request req) { return api(std::move(req)); }};
    import_route.body_limit = org::kMaxImportBytes;
    import_route.loopback_only = !allow_remote;
    out.push_back(std::move(import_route));
  }
  for (const char* path : {"/", "/console/"}) {
    net::Route console_route{path, std::string_view(path) == "/" ? net::Route::Match::kExact : net::Route::Match::kPrefix,
                             "console", [this](http::Request req) { return console(std::move(req)); }};
    console_route.loopback_only = !allow_remote;
    out.push_back(std::move(console_route));
  }
  out.push_back({"/healthz", net::Route::Match::kExact, "healthz",
                 [this](http::Request req) { return healthz(std::move(req)); }});
  out.push_back({"/metrics", net::Route::Match::kExact, "metrics",
                 [this](http::Request req) { return metrics_route(std::move(req)); }});
  return out;
}

awaitable<http::Response> AdminApi::dispatch(http::Request req, std::string path, Principal who) {
  if (path == "/api/v1/tokens" || path.starts_with("/api/v1/tokens/") || path == "/api/v1/audit" || path == "/api/v1/whoami")
    co_return co_await access_api(std::move(req), std::move(path), std::move(who));
  if (path == "/api/v1/inbox") {
    if (req.method() != http::Verb::get)
      co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use GET");
    co_return co_await list_inbox(std::move(req));
  }
  if (dispatcher_ && (path == "/api/v1/push" || path == "/api/v1/outbox" || path.starts_with("/api/v1/outbox/")))
    co_return co_await outbox_api(std::move(req), std::move(path));
  if (group_tasks_ && (path == "/api/v1/group_tasks" || path.starts_with("/api/v1/group_posts/")))
    co_return co_await group_task_api(std::move(req), std::move(path));
  if (org_ && (path == "/api/v1/org" || path == "/api/v1/org/import" || path == "/api/v1/roster" ||
               path == "/api/v1/roster/import"))
    co_return co_await org_api(std::move(req), std::move(path));
  if (groups_ && (path == "/api/v1/groups" || path.starts_with("/api/v1/groups/") || path == "/api/v1/join_ways" ||
                  path == "/api/v1/group_alerts"))
    co_return co_await groups_api(std::move(req), std::move(path));
  if (survey_service_ && org_ && (path == "/api/v1/surveys" || path.starts_with("/api/v1/surveys/")))
    co_return co_await survey_api(std::move(req), std::move(path));
  if (path == "/api/v1/lessons" || path.starts_with("/api/v1/lessons/"))
    co_return co_await lessons_api(std::move(req), std::move(path));
  if (path == "/api/v1/schedules" || path.starts_with("/api/v1/schedules/") || path == "/api/v1/pushes")
    co_return co_await schedules_api(std::move(req), std::move(path));
  if (clock_ && path == "/api/v1/clock") co_return co_await clock_api(std::move(req));
  co_return http::make_error(req, http::Status::not_found, "api.not_found", "no such API: " + path);
}

awaitable<http::Response> AdminApi::list_inbox(http::Request req) {
  auto url = boost::urls::parse_origin_form(req.target());
  store::InboxQuery query;
  bool with_payload = false;
  for (auto p : url->params()) {
    std::int64_t n = 0;
    if (p.key == "receiver") query.receiver = std::string(p.value);
    else if (p.key == "kind") query.kind = std::string(p.value);
    else if (p.key == "payload") with_payload = p.value == "1" || p.value == "true";
    else if (p.key == "order") {
      if (p.value != "newest" && p.value != "oldest")
        co_return http::make_error(req, http::Status::bad_request, "api.bad_param", "order must be newest or oldest");
      query.newest_first = p.value == "newest";
    } else if (p.key == "limit" || p.key == "after_id") {
      if (!to_int64(p.value, n) || n < 0 || (p.key == "limit" && (n < 1 || n > 1000)))
        co_return http::make_error(req, http::Status::bad_request, "api.bad_param",
                                   std::string(p.key) + " must be a number" +
                                       (p.key == "limit" ? " from 1 to 1000" : " ≥ 0"));
      if (p.key == "limit") query.limit = static_cast<int>(n);
      else query.after_id = n;
    } else {
      co_return http::make_error(req, http::Status::bad_request, "api.bad_param",
                                 "unknown parameter: " + std::string(p.key));
    }
  }
  auto rows = co_await net::co_spawn(store_pool_, list_rows(&store_, query), net::use_awaitable);
  json items = json::array();
  for (const auto& r : rows) {
    json item = {{"id", r.id},
                 {"receiver", r.event.receiver},
                 {"channel", r.event.channel},
                 {"kind", r.event.kind},
                 {"dedupe_key", r.event.dedupe_key},
                 {"from_user", r.event.from_user},
                 {"created_at", r.event.created_at},
                 {"received_at", r.event.received_at},
                 {"deliveries", r.deliveries},
                 {"payload_bytes", r.event.payload.size()}};
    // Payloads may hold what parents wrote: only on explicit request.
    if (with_payload) item["payload"] = r.event.payload;
    items.push_back(std::move(item));
  }
  co_return reply(req, {{"items", std::move(items)}});
}

awaitable<http::Response> AdminApi::healthz(http::Request req) {
  try {
    int schema = co_await net::co_spawn(store_pool_, ping_store(&store_), net::use_awaitable);
    co_return reply(req, {{"status", "ok"}, {"schema_version", schema}});
  } catch (const std::exception& e) {
    spdlog::error("healthz: store check failed: {}", e.what());
  }
  co_return reply(req, {{"status", "store_unavailable"}}, http::Status::service_unavailable);
}

awaitable<http::Response> AdminApi::metrics_route(http::Request req) { co_return metrics_text(req); }

http::Response AdminApi::metrics_text(const http::Request& req) const {
  return http::make_response(req, http::Status::ok, metrics_.render(), "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace yuer::admin
