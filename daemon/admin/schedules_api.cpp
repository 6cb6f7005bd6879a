// Scheduled pushes in the admin API (contracts.md "Schedules API"): GET/POST /api/v1/schedules,
// POST /api/v1/schedules/ID/pause|resume, GET /api/v1/schedules/preview, GET /api/v1/pushes; and
// the controllable clock GET/POST /api/v1/clock ([time] test_clock only). Logic in daemon/scheduler.
#include "daemon/admin/admin_api.h"
#include "daemon/admin/reply.h"

#include "daemon/scheduler/zone.h"

#include <boost/url/parse.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>

namespace yuer::admin {
namespace {

using nlohmann::json;

json view_json(const scheduler::ScheduleView& v) {
  json j = scheduler::schedule_to_json(v.schedule);
  j["next_at_ms"] = v.next_at_ms ? json(*v.next_at_ms) : json(nullptr);
  j["last_at_ms"] = v.last_at_ms ? json(v.last_at_ms) : json(nullptr);
  return j;
}

bool digits(std::string_view s) {
  return s.size() <= 12 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool to_i64(std::string_view s, std::int64_t& n) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

awaitable<http::Response> AdminApi::schedules_api(http::Request req, std::string path) {
  if (!scheduler_)
    co_return http::make_error(req, http::Status::service_unavailable, "schedules.unavailable",
                               "定时推送没有启用（需要课程库和 [groups] 的群数据）");
  auto url = boost::urls::parse_origin_form(req.target());
  const bool get = req.method() == http::Verb::get, post = req.method() == http::Verb::post;

  if (path == "/api/v1/pushes") {
    if (!get) co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use GET");
    store::PushQuery q;
    for (auto p : url->params()) {
      std::int64_t n = 0;
      if (p.key == "unit" && digits(p.value)) q.unit_prefix = std::string(p.value);
      else if (p.key == "schedule") q.schedule_id = std::string(p.value);
      else if (p.key == "since_ms" && to_i64(p.value, n)) q.since_ms = n;
      else if (p.key == "limit" && to_i64(p.value, n)) q.limit = static_cast<int>(std::clamp<std::int64_t>(n, 1, 100000));
      else
        co_return http::make_error(req, http::Status::bad_request, "api.bad_param",
                                   "expected unit=DIGITS, schedule=ID, since_ms=N, limit=N; got " + std::string(p.key));
    }
    auto rows = co_await scheduler_->pushes(q);
    json out = json::array();
    for (const auto& p : rows)
      out.push_back({{"at_ms", p.at_ms},       {"schedule_id", p.schedule_id}, {"chat_id", p.chat_id},
                     {"target", p.target},     {"unit", p.unit_code},          {"lesson_id", p.lesson_id},
                     {"route", p.route},       {"outbox_id", p.outbox_id},     {"state", p.state},
                     {"reason", p.reason}});
    co_return reply(req, {{"pushes", out}});
  }

  if (path == "/api/v1/schedules/preview") {
    if (!get) co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use GET");
    std::int64_t from = -1, to = -1;
    std::string schedule, unit;
    for (auto p : url->params()) {
      if (p.key == "from" && scheduler::parse_date(p.value, from)) continue;
      if (p.key == "to" && scheduler::parse_date(p.value, to)) continue;
      if (p.key == "schedule") schedule = std::string(p.value);
      else if (p.key == "unit" && digits(p.value)) unit = std::string(p.value);
      else
        co_return http::make_error(req, http::Status::bad_request, "api.bad_param",
                                   "from 与 to 应为日期 YYYY-MM-DD；可选 schedule=ID、unit=区划代码前缀（" +
                                       std::string(p.key) + "）");
    }
    if (from < 0 || to < 0 || to < from || to - from > 3660)
      co_return http::make_error(req, http::Status::bad_request, "api.bad_param",
                                 "需要 from 和 to（YYYY-MM-DD，from 不晚于 to，最多 10 年）");
    auto items = co_await scheduler_->preview(from, to, schedule, unit);
    if (!items) co_return http::make_error(req, http::Status::unprocessable_entity, items.error().code, items.error().message);
    json out = json::array();
    for (const auto& i : *items)
      out.push_back({{"at_ms", i.at_ms},
                     {"at_local", i.at_local},
                     {"schedule_id", i.schedule_id},
                     {"chat_id", i.chat_id},
                     {"target", i.target},
                     {"group_name", i.group_name},
                     {"unit", i.unit},
                     {"lesson_id", i.lesson_id},
                     {"lesson_title", i.lesson_title},
                     {"route", i.route}});
    co_return reply(req, {{"items", out}});
  }

  if (path == "/api/v1/schedules") {
    if (get) {
      std::string unit;
      for (auto p : url->params()) {
        if (p.key == "unit" && digits(p.value)) unit = std::string(p.value);
        else co_return http::make_error(req, http::Status::bad_request, "api.bad_param", "expected unit=DIGITS");
      }
      auto views = co_await scheduler_->list(unit);
      json out = json::array();
      for (const auto& v : views) out.push_back(view_json(v));
      co_return reply(req, {{"schedules", out}});
    }
    if (!post) co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use GET or POST");
    auto body = json::parse(req.body(), nullptr, false);
    if (body.is_discarded() || !body.is_object())
      co_return http::make_error(req, http::Status::bad_request, "api.bad_body", "请求体应为 JSON 对象");
    auto s = scheduler::schedule_from_json(body);
    if (!s) co_return http::make_error(req, http::Status::unprocessable_entity, s.error().code, s.error().message);
    auto added = co_await scheduler_->add(std::move(*s));
    if (!added) {
      const auto status = added.error().code == "scheduler.exists" ? http::Status::conflict : http::Status::unprocessable_entity;
      co_return http::make_error(req, status, added.error().code, added.error().message);
    }
    co_return reply(req, {{"schedule", view_json(*added)}}, http::Status::created);
  }

  // /api/v1/schedules/ID/pause|resume
  const std::string rest = path.substr(std::string_view("/api/v1/schedules/").size());
  const auto slash = rest.find('/');
  const std::string id = rest.substr(0, slash);
  const std::string verb = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (verb != "pause" && verb != "resume")
    co_return http::make_error(req, http::Status::not_found, "api.not_found", "expected /api/v1/schedules/ID/pause|resume");
  if (!post) co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use POST");
  auto v = co_await scheduler_->set_state(id, verb == "pause" ? "paused" : "active");
  if (!v) co_return http::make_error(req, http::Status::not_found, v.error().code, v.error().message);
  co_return reply(req, {{"schedule", view_json(*v)}});
}

awaitable<http::Response> AdminApi::clock_api(http::Request req) {
  if (req.method() == http::Verb::post) {
    auto body = json::parse(req.body(), nullptr, false);
    if (body.is_discarded() || !body.is_object())
      co_return http::make_error(req, http::Status::bad_request, "api.bad_body",
                                 "expected JSON {\"advance_s\"?:N, \"set_unix_ms\"?:N, \"rate\"?:R}");
    for (const auto& [k, v] : body.items())
      if ((k != "advance_s" && k != "set_unix_ms" && k != "rate") || !v.is_number() ||
          (k != "rate" && !v.is_number_integer()))
        co_return http::make_error(req, http::Status::bad_request, "api.bad_body",
                                   "unknown or non-numeric field: " + k);
    if (body.contains("rate")) {
      const double r = body["rate"].get<double>();
      if (!std::isfinite(r) || r < 0 || r > 1e7)
        co_return http::make_error(req, http::Status::bad_request, "api.bad_body", "rate must be 0..10000000");
      clock_->set_rate(r);
    }
    if (body.contains("set_unix_ms")) clock_->set_unix_ms(body["set_unix_ms"].get<std::int64_t>());
    if (body.contains("advance_s")) clock_->advance(std::chrono::seconds(body["advance_s"].get<std::int64_t>()));
    if (clock_moved_) clock_moved_();
  } else if (req.method() != http::Verb::get) {
    co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use GET or POST");
  }
  co_return reply(req, {{"unix_ms", clock_->unix_ms()}, {"rate", clock_->rate()}});
}

}  // namespace yuer::admin
