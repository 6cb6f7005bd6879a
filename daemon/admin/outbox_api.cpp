// The outbox part of the admin API: push a notice, list/show rows, retry and cancel; and the
// customer-group task route: push to customer groups, list tasks (supervisors: who has not confirmed).
#include "daemon/admin/admin_api.h"
#include "daemon/admin/reply.h"

#include "daemon/base/secure.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/url/parse.hpp>
#include <nlohmann/json.hpp>

#include <charconv>
#include <set>

namespace yuer::admin {
namespace {

using nlohmann::json;

awaitable<std::vector<store::OutboxRow>> list_outbox(store::OutboxStore* s, store::OutboxQuery q) { co_return s->list(q); }
awaitable<std::optional<store::OutboxRow>> get_outbox(store::OutboxStore* s, std::int64_t id) { co_return s->get(id); }
awaitable<std::vector<store::OutboxRouteStats>> outbox_stats(store::OutboxStore* s) { co_return s->stats(); }

json row_json(const store::OutboxRow& r, bool with_content) {
  json j = {{"id", r.item.id},
            {"route", r.item.route},
            {"target", r.item.target},
            {"kind", model::to_string(r.item.kind)},
            {"state", model::to_string(r.state)},
            {"idempotency_key", r.item.idempotency_key},
            {"part", r.item.part},
            {"parts", r.item.parts},
            {"attempts", r.item.attempts},
            {"resends", r.resends},
            {"next_attempt_ms", r.next_attempt_ms},
            {"expire_at_ms", r.expire_at_ms},
            {"created_ms", r.created_ms},
            {"updated_ms", r.updated_ms},
            {"sent_ms", r.sent_ms},
            {"last_errcode", r.last_errcode},
            {"last_reason", r.last_reason},
            {"remote_id", r.remote_id},
            {"content_bytes", r.item.content.size()}};
  if (with_content) j["content"] = r.item.content;
  return j;
}

bool to_id(std::string_view s, std::int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && out > 0;
}

http::Response error_for(const http::Request& req, const Error& e) {
  http::Status status = http::Status::bad_request;
  if (e.code == "outbox.not_found") status = http::Status::not_found;
  else if (e.code == "outbox.bad_state") status = http::Status::conflict;
  else if (e.code == "outbox.unknown_target" || e.code == "outbox.unknown_route") status = http::Status::unprocessable_entity;
  return http::make_error(req, status, e.code, e.message);
}

}  // namespace

// {"targets":[...], "content", "key", ["route"], ["kind"]}: one message to many targets (a lesson
// to every group) in one transaction; each target's key is "<key>/<target>".
awaitable<http::Response> AdminApi::push_many(http::Request req, nlohmann::json body) {
  std::vector<outbox::EnqueueRequest> requests;
  model::ContentKind kind;
  if (!model::parse_content_kind(body.value("kind", "text"), kind) || kind == model::ContentKind::kTemplateCard)
    co_return http::make_error(req, http::Status::bad_request, "api.bad_body", "kind must be text or markdown");
  for (const auto& t : body["targets"]) {
    if (!t.is_string()) co_return http::make_error(req, http::Status::bad_request, "api.bad_body", "targets must be strings");
    outbox::EnqueueRequest r;
    r.route = body.value("route", "robot");
    r.target = t.get<std::string>();
    r.kind = kind;
    r.content = body["content"].get<std::string>();
    r.idempotency_key = body["key"].get<std::string>() + "/" + r.target;
    requests.push_back(std::move(r));
  }
  auto done = co_await dispatcher_->enqueue_batch(std::move(requests));
  if (!done) co_return error_for(req, done.error());
  std::size_t ids = 0, duplicates = 0;
  for (const auto& e : *done) ids += e.ids.size(), duplicates += e.duplicate ? 1 : 0;
  co_return reply(req, {{"targets", done->size()}, {"rows", ids}, {"duplicates", duplicates}}, http::Status::accepted);
}

awaitable<http::Response> AdminApi::outbox_api(http::Request req, std::string path) {
  if (path == "/api/v1/push") {
    if (req.method() != http::Verb::post)
      co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use POST");
    json body = json::parse(req.body(), nullptr, false);
    if (body.is_object() && body.contains("route") && body["route"] == "group_task")
      co_return co_await push_group_posts(std::move(req), std::move(body));
    if (body.is_object() && body.contains("targets") && body["targets"].is_array() && body.contains("content") &&
        body["content"].is_string() && body.contains("key") && body["key"].is_string())
      co_return co_await push_many(std::move(req), std::move(body));
    if (!body.is_object() || !body.contains("target") || !body["target"].is_string() || !body.contains("content") ||
        !body["content"].is_string())
      co_return http::make_error(req, http::Status::bad_request, "api.bad_body",
                                 "expected JSON {\"target\":..., \"content\":..., [\"route\"], [\"kind\"], [\"key\"]}");
    outbox::EnqueueRequest r;
    r.route = body.value("route", "robot");
    r.target = body["target"].get<std::string>();
    r.content = body["content"].get<std::string>();
    if (!model::parse_content_kind(body.value("kind", "text"), r.kind) || r.kind == model::ContentKind::kTemplateCard)
      co_return http::make_error(req, http::Status::bad_request, "api.bad_body", "kind must be text or markdown");
    // Without a key, the same notice pushed twice is sent twice; yuerctl passes one per run.
    r.idempotency_key = body.value("key", "");
    if (r.idempotency_key.empty()) r.idempotency_key = "push:" + sha256_hex(r.route + "\n" + r.target + "\n" + r.content + "\n" + random_bytes(16));
    r.expire_at_ms = body.value("expire_at_ms", std::int64_t{0});
    auto done = co_await dispatcher_->enqueue(std::move(r));
    if (!done) co_return error_for(req, done.error());
    co_return reply(req, {{"ids", done->ids}, {"duplicate", done->duplicate}}, http::Status::accepted);
  }

  if (path == "/api/v1/outbox") {
    if (req.method() != http::Verb::get)
      co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use GET");
    auto url = boost::urls::parse_origin_form(req.target());
    store::OutboxQuery q;
    bool stats = false;
    for (auto p : url->params()) {
      std::int64_t n = 0;
      if (p.key == "route") q.route = std::string(p.value);
      else if (p.key == "target") q.target = std::string(p.value);
      else if (p.key == "state") {
        model::OutboxState s;
        if (!model::parse_outbox_state(p.value, s))
          co_return http::make_error(req, http::Status::bad_request, "api.bad_param",
                                     "state must be queued, sending, sent, failed, expired or cancelled");
        q.state = s;
      } else if (p.key == "order") q.newest_first = p.value != "oldest";
      else if (p.key == "stats") stats = p.value == "1" || p.value == "true";
      else if (p.key == "limit" || p.key == "after_id") {
        if (!to_id(p.value, n) && p.value != "0")
          co_return http::make_error(req, http::Status::bad_request, "api.bad_param", std::string(p.key) + " must be a number");
        if (p.key == "limit") q.limit = static_cast<int>(std::clamp<std::int64_t>(n, 1, 1000));
        else q.after_id = n;
      } else {
        co_return http::make_error(req, http::Status::bad_request, "api.bad_param", "unknown parameter: " + std::string(p.key));
      }
    }
    if (stats) {
      auto s = co_await net::co_spawn(store_pool_, outbox_stats(outbox_), net::use_awaitable);
      json routes = json::array();
      for (const auto& r : s) routes.push_back({{"route", r.route}, {"open", r.queued}, {"oldest_created_ms", r.oldest_created_ms}});
      co_return reply(req, {{"routes", routes}, {"resent_after_crash", dispatcher_->resent_after_crash()}});
    }
    auto rows = co_await net::co_spawn(store_pool_, list_outbox(outbox_, q), net::use_awaitable);
    json items = json::array();
    for (const auto& r : rows) items.push_back(row_json(r, false));
    co_return reply(req, {{"items", std::move(items)}});
  }

  // /api/v1/outbox/ID[/retry|/cancel]
  std::string_view rest = std::string_view(path).substr(std::string_view("/api/v1/outbox/").size());
  std::string_view action;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    action = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  std::int64_t id = 0;
  if (!to_id(rest, id)) co_return http::make_error(req, http::Status::not_found, "api.not_found", "no such outbox id");
  if (action.empty()) {
    if (req.method() != http::Verb::get)
      co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use GET");
    auto row = co_await net::co_spawn(store_pool_, get_outbox(outbox_, id), net::use_awaitable);
    if (!row) co_return http::make_error(req, http::Status::not_found, "outbox.not_found", "没有该编号的消息");
    co_return reply(req, row_json(*row, true));
  }
  if (req.method() != http::Verb::post)
    co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use POST");
  Result<void> done;
  if (action == "retry") done = co_await dispatcher_->retry(id);
  else if (action == "cancel") done = co_await dispatcher_->cancel(id);
  else co_return http::make_error(req, http::Status::not_found, "api.not_found", "use retry or cancel");
  if (!done) co_return error_for(req, done.error());
  co_return reply(req, {{"id", id}, {"ok", true}});
}

namespace {

json post_json(const store::GroupPost& p) {
  return {{"id", p.id},           {"chat_id", p.chat_id},     {"state", p.state},
          {"task_id", p.task_id}, {"idempotency_key", p.idempotency_key},
          {"not_before_ms", p.not_before_ms}, {"expire_at_ms", p.expire_at_ms}, {"created_ms", p.created_ms},
          {"updated_ms", p.updated_ms}, {"sent_ms", p.sent_ms}, {"reason", p.reason},
          {"content_bytes", p.content.size()}};
}

json task_json(const store::GroupTask& t) {
  json chats = json::object();
  for (const auto& [chat, result] : t.chats) chats[chat] = result.empty() ? "pending" : result;
  return {{"id", t.id},
          {"owner", t.owner},
          {"state", t.state},
          {"msgid", t.msgid},
          {"month", t.month},
          {"created_ms", t.created_ms},
          {"updated_ms", t.updated_ms},
          {"next_check_ms", t.next_check_ms},
          {"reminds", t.reminds},
          {"last_remind_ms", t.last_remind_ms},
          {"done_ms", t.done_ms},
          {"reason", t.reason},
          {"chats", chats},
          {"post_ids", t.post_ids},
          {"content_bytes", t.content.size()}};
}

http::Response group_error(const http::Request& req, const Error& e) {
  return http::make_error(req, http::Status::unprocessable_entity, e.code, e.message);
}

}  // namespace

// {"route":"group_task", "target" | "targets", "content", ["key"], ["expire_at_ms"]}: posts for
// customer groups (text only); with "targets" each group's key is "<key>/<chat_id>".
awaitable<http::Response> AdminApi::push_group_posts(http::Request req, nlohmann::json body) {
  if (!group_tasks_)
    co_return http::make_error(req, http::Status::unprocessable_entity, "outbox.unknown_route",
                               "没有配置客户群群发（[group_task] 与 [wecom.app]）");
  if (!body.contains("content") || !body["content"].is_string() || body.value("kind", "text") != "text")
    co_return http::make_error(req, http::Status::bad_request, "api.bad_body",
                               "customer-group posts need a text \"content\" (kind text only)");
  std::vector<std::string> targets;
  if (body.contains("targets") && body["targets"].is_array()) {
    if (!body.contains("key") || !body["key"].is_string())
      co_return http::make_error(req, http::Status::bad_request, "api.bad_body", "\"targets\" needs a \"key\"");
    for (const auto& t : body["targets"])
      if (t.is_string()) targets.push_back(t.get<std::string>());
      else co_return http::make_error(req, http::Status::bad_request, "api.bad_body", "targets must be strings");
  } else if (body.contains("target") && body["target"].is_string()) {
    targets.push_back(body["target"].get<std::string>());
  } else {
    co_return http::make_error(req, http::Status::bad_request, "api.bad_body", "expected \"target\" or \"targets\"");
  }
  const std::string content = body["content"].get<std::string>();
  const std::string key = body.contains("key") && body["key"].is_string() ? body["key"].get<std::string>() : "";
  const std::int64_t expire = body.contains("expire_at_ms") && body["expire_at_ms"].is_number_integer()
                                  ? body["expire_at_ms"].get<std::int64_t>()
                                  : 0;
  json ids = json::array();
  std::size_t duplicates = 0;
  for (const auto& target : targets) {
    store::NewGroupPost p{target, content, "", expire};
    if (body.contains("targets")) p.idempotency_key = key + "/" + target;
    else if (!key.empty()) p.idempotency_key = key;
    else p.idempotency_key = "push:" + sha256_hex("group_task\n" + target + "\n" + content + "\n" + random_bytes(16));
    auto r = co_await group_tasks_->enqueue(std::move(p));
    if (!r) co_return group_error(req, r.error());
    ids.push_back(r->id);
    duplicates += r->duplicate ? 1 : 0;
  }
  co_return reply(req, {{"ids", ids}, {"duplicates", duplicates}, {"duplicate", duplicates == targets.size()}},
                  http::Status::accepted);
}

awaitable<http::Response> AdminApi::group_task_api(http::Request req, std::string path) {
  if (req.method() != http::Verb::get)
    co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use GET");
  if (path.starts_with("/api/v1/group_posts/")) {
    std::int64_t id = 0;
    if (!to_id(std::string_view(path).substr(20), id))
      co_return http::make_error(req, http::Status::bad_request, "api.bad_param", "expected /api/v1/group_posts/ID");
    auto p = co_await group_tasks_->post(id);
    if (!p) co_return http::make_error(req, http::Status::not_found, "outbox.not_found", "没有该客户群消息");
    co_return reply(req, post_json(*p));
  }
  auto url = boost::urls::parse_origin_form(req.target());
  store::GroupTaskQuery q;
  for (auto p : url->params()) {
    std::int64_t n = 0;
    if (p.key == "state") {
      static const std::set<std::string> states = {"open", "creating", "waiting", "done", "cancelled", "failed"};
      if (!states.count(std::string(p.value)))
        co_return http::make_error(req, http::Status::bad_request, "api.bad_param",
                                   "state must be open, creating, waiting, done, cancelled or failed");
      q.state = std::string(p.value);
    } else if (p.key == "owner") {
      q.owner = std::string(p.value);
    } else if (p.key == "limit" && to_id(p.value, n)) {
      q.limit = static_cast<int>(std::min<std::int64_t>(n, 1000));
    } else {
      co_return http::make_error(req, http::Status::bad_request, "api.bad_param", "unknown parameter " + std::string(p.key));
    }
  }
  auto tasks = co_await group_tasks_->tasks(q);
  json items = json::array();
  for (const auto& t : tasks) items.push_back(task_json(t));
  co_return reply(req, {{"tasks", items}});
}

}  // namespace yuer::admin
