// The groups part of the admin API: management and parent groups (add, list, show, set), the
// township join ways (the QR links coordinators share) and the alerts. Member lists are never
// returned: a group shows counts only (members, parents matched to the roster).
#include "daemon/admin/admin_api.h"
#include "daemon/admin/reply.h"

#include "daemon/groups/policy.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/url/parse.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <set>

namespace yuer::admin {
namespace {

using nlohmann::json;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json group_json(const store::ChatGroup& g, const groups::Caps& defaults) {
  const auto caps = groups::caps_of(g, defaults);
  json j = {{"id", g.id},
            {"kind", g.kind},
            {"unit_code", g.unit_code},
            {"name", g.name},
            {"chat_id", g.chat_id},
            {"route", g.route},
            {"robot", g.robot},
            {"owner", g.owner},
            {"state", g.state},
            {"updated_ms", g.updated_ms}};
  if (g.kind == "parent") {
    j["members"] = g.members;
    j["soft_cap"] = caps.soft;
    j["hard_cap"] = caps.hard;
    j["synced_ms"] = g.synced_ms;
  }
  return j;
}

// Store calls on the store thread: named coroutines with by-value arguments (STYLE C2, D4).
awaitable<std::vector<store::ChatGroup>> list_groups(store::GroupStore* s, std::string kind, std::string unit) {
  co_return s->groups(kind, unit);
}
awaitable<std::optional<store::ChatGroup>> get_group(store::GroupStore* s, std::int64_t id) { co_return s->group(id); }
awaitable<Result<std::int64_t>> put_group(store::GroupStore* s, store::ChatGroup g, std::int64_t now) {
  co_return s->put_group(g, now);
}
struct GroupDetail {
  std::optional<store::ChatGroup> group;
  store::GroupFamilies families;
  std::optional<store::JoinWayRow> join_way;
};
awaitable<GroupDetail> group_detail(store::GroupStore* s, std::int64_t id) {
  GroupDetail d;
  d.group = s->group(id);
  if (d.group && d.group->kind == "parent") {
    d.families = s->families_of(d.group->chat_id, groups::township_state(d.group->unit_code));
    d.join_way = s->join_way(d.group->unit_code);
  }
  co_return d;
}
awaitable<std::vector<store::JoinWayRow>> list_join_ways(store::GroupStore* s) { co_return s->join_ways(); }
awaitable<std::vector<store::GroupAlert>> list_alerts(store::GroupStore* s, std::int64_t after) {
  co_return s->alerts(after, 1000);
}
awaitable<std::optional<store::OrgUnit>> find_unit(store::OrgStore* o, std::string code) {
  for (auto& u : o->units(code))
    if (u.code == code) co_return u;
  co_return std::nullopt;
}

// Applies the fields of `body` to `g`; an error message names the field.
std::optional<std::string> apply_fields(const json& body, store::ChatGroup& g, bool creating) {
  static const std::set<std::string> known = {"kind", "unit_code", "name", "chat_id", "route", "robot", "owner",
                                              "soft_cap", "hard_cap"};
  for (const auto& [k, v] : body.items()) {
    if (!known.contains(k)) return "unknown field: " + k;
    if (!creating && (k == "kind" || k == "unit_code" || k == "chat_id")) return k + " cannot be changed";
    if (k == "soft_cap" || k == "hard_cap") {
      if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > 2000)
        return k + " must be a whole number from 0 (programme default) to 2000";
      (k == "soft_cap" ? g.soft_cap : g.hard_cap) = v.get<int>();
      continue;
    }
    if (!v.is_string()) return k + " must be a string";
    const auto s = v.get<std::string>();
    if (k == "kind") g.kind = s;
    else if (k == "unit_code") g.unit_code = s;
    else if (k == "name") g.name = s;
    else if (k == "chat_id") g.chat_id = s;
    else if (k == "route") g.route = s;
    else if (k == "robot") g.robot = s;
    else if (k == "owner") g.owner = s;
  }
  if (g.kind != "parent" && g.kind != "management") return "kind must be \"parent\" or \"management\"";
  if (g.unit_code.size() != 12 || g.unit_code.find_first_not_of("0123456789") != std::string::npos)
    return "unit_code must be a 12-digit division code";
  if (g.name.empty() || g.name.size() > 120) return "name must be 1 to 120 bytes";
  if (g.route.empty()) g.route = g.kind == "parent" ? "group_task" : (g.robot.empty() ? "appchat" : "robot");
  if (g.kind == "parent") {
    if (g.chat_id.empty()) return "a parent group needs chat_id (the customer group's chat id)";
    if (g.owner.empty()) return "a parent group needs owner (the coordinator's userid)";
    if (g.route != "group_task" && g.route != "robot") return "a parent group's route is group_task or robot";
  } else {
    if (g.route != "robot" && g.route != "appchat") return "a management group's route is robot or appchat";
  }
  if (g.route == "robot" && g.robot.empty()) return "route robot needs robot (its name in the robot keys file)";
  if (g.route == "appchat" && g.chat_id.empty()) return "route appchat needs chat_id (the app chat id)";
  const int soft = g.soft_cap, hard = g.hard_cap;
  if (soft > 0 && hard > 0 && soft > hard) return "soft_cap must not be above hard_cap";
  return std::nullopt;
}

}  // namespace

awaitable<http::Response> AdminApi::groups_api(http::Request req, std::string path) {
  auto url = boost::urls::parse_origin_form(req.target());
  const auto defaults = groups_engine_ ? groups_engine_->settings().caps : groups::Caps{};

  if (path == "/api/v1/join_ways" || path == "/api/v1/group_alerts") {
    if (req.method() != http::Verb::get)
      co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use GET");
    json items = json::array();
    if (path == "/api/v1/join_ways") {
      for (const auto& w : co_await net::co_spawn(store_pool_, list_join_ways(groups_), net::use_awaitable))
        items.push_back({{"unit_code", w.unit_code},
                         {"config_id", w.config_id},
                         {"qr_code", w.qr_code},
                         {"chat_ids", w.chat_ids},
                         {"asked_ms", w.asked_ms},
                         {"updated_ms", w.updated_ms}});
      json body = {{"join_ways", std::move(items)}};
      co_return reply(req, body);
    }
    for (const auto& a : co_await net::co_spawn(store_pool_, list_alerts(groups_, 0), net::use_awaitable))
      items.push_back({{"id", a.id},
                       {"chat_id", a.chat_id},
                       {"unit_code", a.unit_code},
                       {"kind", a.kind},
                       {"members", a.members},
                       {"created_ms", a.created_ms}});
    json body = {{"alerts", std::move(items)}};
    co_return reply(req, body);
  }

  if (path == "/api/v1/groups/sync") {
    if (req.method() != http::Verb::post)
      co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use POST");
    if (!groups_engine_)
      co_return http::make_error(req, http::Status::service_unavailable, "groups.off", "[groups] is not enabled");
    co_await groups_engine_->reconcile();
    json body = {{"synced", true}};
    co_return reply(req, body);
  }

  if (path == "/api/v1/groups") {
    if (req.method() == http::Verb::get) {
      std::string kind, unit;
      for (auto p : url->params()) {
        if (p.key == "kind" && (p.value == "parent" || p.value == "management")) kind = std::string(p.value);
        else if (p.key == "unit" && p.value.size() <= 12 && std::string(p.value).find_first_not_of("0123456789") == std::string::npos)
          unit = std::string(p.value);
        else
          co_return http::make_error(req, http::Status::bad_request, "api.bad_param",
                                     "expected kind=parent|management, unit=CODE_PREFIX");
      }
      json items = json::array();
      for (const auto& g : co_await net::co_spawn(store_pool_, list_groups(groups_, kind, unit), net::use_awaitable))
        items.push_back(group_json(g, defaults));
      json body = {{"groups", std::move(items)}};
      co_return reply(req, body);
    }
    if (req.method() != http::Verb::post)
      co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use GET or POST");
    auto body = json::parse(req.body(), nullptr, false);
    if (!body.is_object())
      co_return http::make_error(req, http::Status::bad_request, "api.bad_body", "expected a JSON object");
    store::ChatGroup g;
    if (auto problem = apply_fields(body, g, true))
      co_return http::make_error(req, http::Status::bad_request, "groups.invalid", *problem);
    if (org_) {
      auto unit = co_await net::co_spawn(store_pool_, find_unit(org_, g.unit_code), net::use_awaitable);
      if (!unit)
        co_return http::make_error(req, http::Status::unprocessable_entity, "groups.unknown_unit",
                                   "单位代码 " + g.unit_code + " 不在组织架构中（先用 yuerctl org import 导入）");
      if (g.kind == "parent" && unit->level != 4)
        co_return http::make_error(req, http::Status::unprocessable_entity, "groups.not_township",
                                   "家长群只能属于乡镇（第4级）单位");
      if (g.kind == "management" && (unit->level < 2 || unit->level > 4))
        co_return http::make_error(req, http::Status::unprocessable_entity, "groups.bad_level",
                                   "管理群属于市、县或乡镇单位");
    }
    auto id = co_await net::co_spawn(store_pool_, put_group(groups_, g, now_ms()), net::use_awaitable);
    if (!id) co_return http::make_error(req, http::Status::conflict, id.error().code, id.error().message);
    spdlog::info("groups: added {} group {} of unit {}", g.kind, *id, g.unit_code);
    if (groups_engine_ && g.kind == "parent") groups_engine_->on_change({g.chat_id, "create", "", ""});
    g.id = *id;
    co_return reply(req, group_json(g, defaults), http::Status::created);
  }

  // /api/v1/groups/ID
  std::int64_t id = 0;
  const std::string tail = path.substr(std::string("/api/v1/groups/").size());
  auto [end, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), id);
  if (ec != std::errc() || end != tail.data() + tail.size() || id <= 0)
    co_return http::make_error(req, http::Status::not_found, "api.not_found", "no such API: " + path);
  if (req.method() == http::Verb::get) {
    auto d = co_await net::co_spawn(store_pool_, group_detail(groups_, id), net::use_awaitable);
    if (!d.group) co_return http::make_error(req, http::Status::not_found, "groups.not_found", "没有这个群");
    json j = group_json(*d.group, defaults);
    if (d.group->kind == "parent") {
      j["families"] = {{"parents", d.families.parents},
                       {"matched", d.families.matched},
                       {"joined_by_township_qr", d.families.state_matched}};
      if (d.join_way)
        j["join_way"] = {{"config_id", d.join_way->config_id},
                         {"qr_code", d.join_way->qr_code},
                         {"listed", std::find(d.join_way->chat_ids.begin(), d.join_way->chat_ids.end(),
                                              d.group->chat_id) != d.join_way->chat_ids.end()}};
    }
    co_return reply(req, j);
  }
  if (req.method() != http::Verb::patch)
    co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use GET or PATCH");
  auto body = json::parse(req.body(), nullptr, false);
  if (!body.is_object())
    co_return http::make_error(req, http::Status::bad_request, "api.bad_body", "expected a JSON object");
  auto existing = co_await net::co_spawn(store_pool_, get_group(groups_, id), net::use_awaitable);
  if (!existing) co_return http::make_error(req, http::Status::not_found, "groups.not_found", "没有这个群");
  store::ChatGroup g = *existing;
  if (auto problem = apply_fields(body, g, false))
    co_return http::make_error(req, http::Status::bad_request, "groups.invalid", *problem);
  // New caps: the state is worked out afresh at the next read (a raised cap reopens a closed group).
  if ((g.soft_cap != existing->soft_cap || g.hard_cap != existing->hard_cap) && g.state != "dismissed") g.state = "open";
  auto put = co_await net::co_spawn(store_pool_, put_group(groups_, g, now_ms()), net::use_awaitable);
  if (!put) co_return http::make_error(req, http::Status::conflict, put.error().code, put.error().message);
  spdlog::info("groups: changed group {}", id);
  // New caps apply at once: the group is read again and the join way follows.
  if (groups_engine_ && g.kind == "parent") groups_engine_->on_change({g.chat_id, "update", "", ""});
  co_return reply(req, group_json(g, defaults));
}

}  // namespace yuer::admin
