// The central access layer of /api/v1 (AdminApi::api): lockout, token check, the rules of
// access.h, resource lookups for ids in paths, list filtering and the audit log; and the
// /api/v1/tokens and /api/v1/audit handlers. Secrets never reach a log line or the audit log.
#include "daemon/admin/admin_api.h"
#include "daemon/admin/reply.h"

#include "daemon/base/secure.h"
#include "daemon/net/peer_header.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>

namespace yuer::admin {
namespace {

using nlohmann::json;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Store calls on the store thread: named coroutines with by-value arguments (STYLE C2, D4).
awaitable<std::int64_t> append_audit(store::AccessStore* s, store::AuditEntry e) { co_return s->append_audit(e); }
awaitable<Result<std::int64_t>> add_token(store::AccessStore* s, store::AdminToken t) { co_return s->add_token(t); }
awaitable<bool> revoke_token(store::AccessStore* s, std::int64_t id, std::int64_t now) {
  co_return s->revoke_token(id, now);
}
awaitable<std::vector<store::AuditEntry>> list_audit(store::AccessStore* s, store::AuditQuery q) { co_return s->audit(q); }

json token_json(const store::AdminToken& t) {
  return {{"id", t.id},
          {"name", t.name},
          {"role", t.role},
          {"unit", t.unit_code},
          {"created_by", t.created_by},
          {"created_ms", t.created_ms},
          {"revoked_ms", t.revoked_ms},
          {"state", t.revoked_ms ? "revoked" : "active"}};
}

json parse_or_string(const std::string& text) {
  if (text.empty()) return nullptr;
  auto j = json::parse(text, nullptr, false);
  return j.is_discarded() ? json(text) : j;
}

bool valid_token_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (unsigned char c : s)
    if (c < 0x21 || c == 0x7f) return false;  // UTF-8 (Chinese) names allowed; no spaces or controls
  return true;
}

}  // namespace

std::optional<Principal> AdminApi::authenticate(const http::Request& req) const {
  auto it = req.find(boost::beast::http::field::authorization);
  if (it == req.end()) return std::nullopt;
  std::string_view value = it->value();
  constexpr std::string_view kBearer = "Bearer ";
  if (value.substr(0, kBearer.size()) != kBearer) return std::nullopt;
  // Hashing first makes each comparison independent of the presented token's length; every stored
  // token is compared (no early exit), so the time does not tell which one matched.
  const std::string presented = sha256_hex(value.substr(kBearer.size()));
  std::optional<Principal> who;
  if (constant_time_equal(presented, token_hash_)) who = Principal{};
  for (const auto& t : tokens_) {
    const bool match = constant_time_equal(presented, t.secret_hash);
    if (match && t.revoked_ms == 0 && !who) {
      if (auto role = parse_role(t.role)) who = Principal{t.name, *role, t.unit_code, t.id};
    }
  }
  return who;
}

awaitable<http::Response> AdminApi::api(http::Request req) {
  const std::string peer(req[http::kPeerHeader]);
  const std::int64_t now = steady_ms();
  if (auto ms = lockout_.locked_for(peer, now); ms > 0) {
    auto rsp = http::make_error(req, http::Status::too_many_requests, "auth.locked_out",
                                "too many wrong tokens from this address; try again later");
    rsp.set(boost::beast::http::field::retry_after, std::to_string((ms + 999) / 1000));
    co_return rsp;
  }
  auto who = authenticate(req);
  if (!who) {
    if (lockout_.failure(peer, now))
      spdlog::warn("admin api: peer {} locked out after repeated wrong tokens", peer.empty() ? "?" : peer);
    auto rsp = http::make_error(req, http::Status::unauthorized, "auth.required",
                                "missing or wrong Bearer token (see admin.token_file)");
    rsp.set(boost::beast::http::field::www_authenticate, "Bearer realm=\"yuer\"");
    co_return rsp;
  }
  lockout_.success(peer);

  auto url = boost::urls::parse_origin_form(req.target());
  if (!url) co_return http::make_error(req, http::Status::bad_request, "api.bad_target", "malformed request target");
  std::string path = url->path();
  const std::string query(url->encoded_query());  // `url` views req's target: not used after req moves
  std::vector<std::pair<std::string, std::string>> params;
  for (auto p : url->params()) params.emplace_back(std::string(p.key), std::string(p.value));
  const std::string method(req.method_string());
  std::optional<json> body;
  if (!req.body().empty() && !path.ends_with("/import")) {
    auto parsed = json::parse(req.body(), nullptr, false);
    if (!parsed.is_discarded()) body = std::move(parsed);
  }

  Decision d = decide(*who, method, path, params, body ? &*body : nullptr);
  std::optional<json> before;
  if (!d.denied && d.rule && d.rule->resolver != Resolver::kNone &&
      (who->role != Role::kSuperuser || d.audit)) {
    // Named locals, no temporaries in the co_await expression (GCC 12 coroutine double free).
    std::string id = resolver_id(path);
    const Resolver resolver = d.rule->resolver;
    before = co_await resolve(resolver, id);
    if (before && who->role != Role::kSuperuser)
      if (auto denied = check_resource(*who, *before)) d.denied = std::move(denied);
    if (before && !d.denied)
      if (auto units = units_of(*before); !units.empty()) d.unit = units.front();
    if (!before && who->role != Role::kSuperuser)
      d.denied = Denied{http::Status::not_found, "api.not_found", "没有这项数据：" + path};
  }

  store::AuditEntry entry;
  entry.at_ms = wall_ms();
  entry.actor = who->name;
  entry.role = std::string(role_name(who->role));
  entry.actor_unit = who->unit;
  entry.method = method;
  entry.path = path;
  entry.unit = d.unit;
  if (before) {
    json b = *before;
    redact(b);
    entry.before_json = b.dump(-1, ' ', false, json::error_handler_t::replace);
  }

  http::Response rsp;
  if (d.denied) {
    spdlog::info("admin api: {} ({}) refused {} {}: {}", who->name, role_name(who->role), method, path, d.denied->code);
    rsp = http::make_error(req, d.denied->status, d.denied->code, d.denied->message);
  } else {
    if (d.params_changed) {
      boost::urls::url u;
      u.set_path(path);
      for (const auto& [k, v] : d.params) u.params().append({k, v});
      req.target(u.buffer());
    }
    if (d.body) {
      req.body() = d.body->dump();
      req.prepare_payload();
    }
    entry.query = std::string(boost::urls::parse_origin_form(req.target())->encoded_query());
    rsp = co_await dispatch(std::move(req), path, *who);
    if (d.rule && d.rule->list && who->role != Role::kSuperuser && rsp.result() == http::Status::ok) {
      auto j = json::parse(rsp.body(), nullptr, false);
      if (!j.is_discarded() && filter_list(*who, j) > 0) {
        rsp.body() = j.dump(-1, ' ', false, json::error_handler_t::replace);
        rsp.prepare_payload();
      }
    }
  }
  if (d.audit && access_) {
    if (entry.query.empty()) entry.query = query;
    entry.status = static_cast<int>(rsp.result_int());
    const bool is_json = rsp[boost::beast::http::field::content_type].starts_with("application/json");
    if (is_json && rsp.body().size() <= 64 * 1024) {
      auto j = json::parse(rsp.body(), nullptr, false);
      if (!j.is_discarded()) {
        redact(j);
        entry.after_json = j.dump(-1, ' ', false, json::error_handler_t::replace);
      }
    } else if (!is_json) {
      entry.after_json = json({{"bytes", rsp.body().size()}}).dump();  // an export: its size, not its rows
    }
    co_await write_audit(std::move(entry));
  }
  co_return rsp;
}

awaitable<void> AdminApi::write_audit(store::AuditEntry entry) {
  try {
    co_await net::co_spawn(store_pool_, append_audit(access_, std::move(entry)), net::use_awaitable);
  } catch (const std::exception& e) {
    spdlog::error("admin api: cannot write the audit log: {}", e.what());
  }
}

awaitable<std::optional<json>> AdminApi::resolve(Resolver resolver, std::string id) {
  if (resolver == Resolver::kToken) {
    for (const auto& t : tokens_)
      if (std::to_string(t.id) == id) co_return token_json(t);
    co_return std::nullopt;
  }
  std::string target = resolver == Resolver::kGroup      ? "/api/v1/groups/" + id
                       : resolver == Resolver::kSchedule ? "/api/v1/schedules"
                                                         : "/api/v1/surveys";
  http::Request get{http::Verb::get, target, 11};
  Principal root;  // a named local, not a temporary in the co_await (GCC 12)
  auto rsp = co_await dispatch(std::move(get), target, root);
  if (rsp.result() != http::Status::ok) co_return std::nullopt;
  auto j = json::parse(rsp.body(), nullptr, false);
  if (j.is_discarded()) co_return std::nullopt;
  if (resolver == Resolver::kGroup) co_return j;
  const char* key = resolver == Resolver::kSchedule ? "schedules" : "rounds";
  if (!j.contains(key) || !j[key].is_array()) co_return std::nullopt;
  for (const auto& item : j[key]) {
    if (!item.is_object() || !item.contains("id")) continue;
    const auto& v = item["id"];
    if ((v.is_string() && v.get<std::string>() == id) || (v.is_number_integer() && std::to_string(v.get<std::int64_t>()) == id))
      co_return item;
  }
  co_return std::nullopt;
}

awaitable<http::Response> AdminApi::access_api(http::Request req, std::string path, Principal who) {
  if (path == "/api/v1/whoami") {
    if (req.method() != http::Verb::get)
      co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use GET");
    co_return reply(req, {{"name", who.name},
                          {"role", role_name(who.role)},
                          {"unit", who.unit},
                          {"unit_prefix", scope_prefix(who.unit)},
                          {"may_identify", may_identify(who.role)},
                          {"may_manage_tokens", may_manage_tokens(who.role)}});
  }
  if (!access_)
    co_return http::make_error(req, http::Status::service_unavailable, "access.unavailable", "令牌和审计日志未启用");
  auto url = boost::urls::parse_origin_form(req.target());

  if (path == "/api/v1/audit") {
    if (req.method() != http::Verb::get)
      co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use GET");
    store::AuditQuery q;
    for (auto p : url->params()) {
      std::int64_t n = 0;
      auto [end, ec] = std::from_chars(p.value.data(), p.value.data() + p.value.size(), n);
      const bool number = ec == std::errc() && end == p.value.data() + p.value.size() && n >= 0;
      if (p.key == "unit") q.unit_prefix = std::string(p.value);
      else if (p.key == "before_id" && number) q.before_id = n;
      else if (p.key == "limit" && number && n >= 1 && n <= 1000) q.limit = static_cast<int>(n);
      else
        co_return http::make_error(req, http::Status::bad_request, "api.bad_param",
                                   "expected unit=CODE_PREFIX, before_id=N, limit=1..1000");
    }
    auto rows = co_await net::co_spawn(store_pool_, list_audit(access_, q), net::use_awaitable);
    json items = json::array();
    for (const auto& e : rows)
      items.push_back({{"id", e.id},
                       {"at_ms", e.at_ms},
                       {"actor", e.actor},
                       {"role", e.role},
                       {"actor_unit", e.actor_unit},
                       {"unit", e.unit},
                       {"method", e.method},
                       {"path", e.path},
                       {"query", e.query},
                       {"status", e.status},
                       {"before", parse_or_string(e.before_json)},
                       {"after", parse_or_string(e.after_json)}});
    co_return reply(req, {{"entries", std::move(items)}});
  }

  if (path == "/api/v1/tokens") {
    if (req.method() == http::Verb::get) {
      json items = json::array();
      for (const auto& t : tokens_) items.push_back(token_json(t));
      co_return reply(req, {{"tokens", std::move(items)}});
    }
    if (req.method() != http::Verb::post)
      co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use GET or POST");
    auto body = json::parse(req.body(), nullptr, false);
    if (!body.is_object() || !body.contains("name") || !body["name"].is_string() || !body.contains("role") ||
        !body["role"].is_string() || !body.contains("unit") || !body["unit"].is_string())
      co_return http::make_error(req, http::Status::unprocessable_entity, "tokens.invalid",
                                 "需要 JSON：{\"name\":\"名称\",\"role\":\"county_admin\",\"unit\":\"12位区划代码\"}");
    store::AdminToken t;
    t.name = body["name"].get<std::string>();
    t.unit_code = body["unit"].get<std::string>();
    auto role = parse_role(body["role"].get<std::string>());
    if (!valid_token_name(t.name))
      co_return http::make_error(req, http::Status::unprocessable_entity, "tokens.invalid",
                                 "名称不能为空、不能含空格，最多 64 字节");
    if (!role)
      co_return http::make_error(req, http::Status::unprocessable_entity, "tokens.invalid",
                                 "角色只能是 province_admin、city_admin、county_admin、township_coordinator 或 viewer");
    if (!role_fits_unit(*role, t.unit_code))
      co_return http::make_error(req, http::Status::unprocessable_entity, "tokens.invalid",
                                 "单位必须是 12 位区划代码，且与角色的级别一致（省/市/县管理员、乡镇协调员）");
    if (!may_grant(who, *role, t.unit_code))
      co_return http::make_error(req, http::Status::forbidden, "auth.forbidden_unit",
                                 "只能为本单位及下级创建不高于自己角色的令牌");
    t.role = std::string(role_name(*role));
    t.created_by = who.name;
    t.created_ms = wall_ms();
    const std::string secret = "yt_" + [] {
      static constexpr char kHex[] = "0123456789abcdef";
      std::string out;
      for (unsigned char c : random_bytes(24)) {
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
      return out;
    }();
    t.secret_hash = sha256_hex(secret);
    auto id = co_await net::co_spawn(store_pool_, add_token(access_, t), net::use_awaitable);
    if (!id) co_return http::make_error(req, http::Status::conflict, id.error().code, id.error().message);
    t.id = *id;
    tokens_.push_back(t);
    spdlog::info("admin api: token {} ({} {}) created by {}", t.name, t.role, t.unit_code, who.name);
    co_return reply(req, {{"token", token_json(t)}, {"secret", secret}}, http::Status::created);
  }

  // /api/v1/tokens/ID/revoke
  if (req.method() != http::Verb::post || !path.ends_with("/revoke"))
    co_return http::make_error(req, http::Status::not_found, "api.not_found", "no such API: " + path);
  const std::string id_text = resolver_id(path);
  std::int64_t id = 0;
  auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
  auto it = std::find_if(tokens_.begin(), tokens_.end(), [&](const auto& t) { return t.id == id; });
  if (ec != std::errc() || end != id_text.data() + id_text.size() || it == tokens_.end())
    co_return http::make_error(req, http::Status::not_found, "tokens.not_found", "没有这个令牌");
  if (!within(who, it->unit_code))
    co_return http::make_error(req, http::Status::forbidden, "auth.forbidden_unit", "只能吊销本单位及下级的令牌");
  const std::int64_t now = wall_ms();
  if (!co_await net::co_spawn(store_pool_, revoke_token(access_, id, now), net::use_awaitable))
    co_return http::make_error(req, http::Status::conflict, "tokens.revoked", "这个令牌已经吊销");
  // The list may have changed while the store call ran: look the token up again.
  for (auto& t : tokens_)
    if (t.id == id) {
      t.revoked_ms = now;
      spdlog::info("admin api: token {} revoked by {}", t.name, who.name);
      co_return reply(req, {{"token", token_json(t)}});
    }
  co_return http::make_error(req, http::Status::not_found, "tokens.not_found", "没有这个令牌");
}

}  // namespace yuer::admin
