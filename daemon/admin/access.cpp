#include "daemon/admin/access.h"

#include <algorithm>

namespace yuer::admin {
namespace {

using nlohmann::json;

constexpr std::pair<Role, std::string_view> kRoleNames[] = {
    {Role::kSuperuser, "superuser"},         {Role::kProvinceAdmin, "province_admin"},
    {Role::kCityAdmin, "city_admin"},        {Role::kCountyAdmin, "county_admin"},
    {Role::kTownshipCoordinator, "township_coordinator"}, {Role::kViewer, "viewer"},
};

bool all_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Segment-wise match: '*' is one non-empty segment.
bool matches(std::string_view pattern, std::string_view path) {
  while (true) {
    auto pe = pattern.find('/');
    auto xe = path.find('/');
    std::string_view ps = pattern.substr(0, pe), xs = path.substr(0, xe);
    if (ps == "*") {
      if (xs.empty()) return false;
    } else if (ps != xs) {
      return false;
    }
    if (pe == std::string_view::npos || xe == std::string_view::npos) return pe == xe;
    pattern.remove_prefix(pe + 1);
    path.remove_prefix(xe + 1);
  }
}

Denied forbidden_unit(std::string_view unit) {
  return {http::Status::forbidden, "auth.forbidden_unit", "无权访问这个单位：" + std::string(unit) + "（只能看本单位及下级）"};
}

void collect_units(const json& j, std::vector<std::string>& out) {
  if (!j.is_object()) return;
  for (const char* key : {"unit", "unit_code"})
    if (auto it = j.find(key); it != j.end() && it->is_string() && !it->get<std::string>().empty())
      out.push_back(it->get<std::string>());
  if (auto it = j.find("units"); it != j.end() && it->is_array())
    for (const auto& u : *it)
      if (u.is_string()) out.push_back(u.get<std::string>());
  if (auto it = j.find("audience"); it != j.end()) collect_units(*it, out);
}

// Whether one list item concerns the caller; items that name no unit are kept only for the superuser.
bool item_visible(const Principal& p, const json& item) {
  if (!item.is_object()) return true;
  if (auto it = item.find("unit_code"); it != item.end() && it->is_string()) return within(p, it->get<std::string>());
  if (auto it = item.find("unit"); it != item.end() && it->is_string()) return within(p, it->get<std::string>());
  if (auto it = item.find("code"); it != item.end() && it->is_string()) return within(p, it->get<std::string>());
  std::vector<std::string> units;
  collect_units(item, units);
  if (units.empty()) return true;  // not a unit-bearing item (e.g. a counter)
  return std::any_of(units.begin(), units.end(), [&](const std::string& u) { return overlaps(p, u); });
}

}  // namespace

std::optional<Role> parse_role(std::string_view name) {
  for (auto [r, n] : kRoleNames)
    if (n == name && r != Role::kSuperuser) return r;
  return std::nullopt;
}

std::string_view role_name(Role role) {
  for (auto [r, n] : kRoleNames)
    if (r == role) return n;
  return "?";
}

bool valid_unit_code(std::string_view code) { return code.size() == 12 && all_digits(code); }

int unit_level(std::string_view code) {
  auto zeros_from = [&](std::size_t i) { return code.substr(i).find_first_not_of('0') == std::string_view::npos; };
  if (zeros_from(2)) return 1;
  if (zeros_from(4)) return 2;
  if (zeros_from(6)) return 3;
  if (zeros_from(9)) return 4;
  return 5;
}

std::string scope_prefix(std::string_view code) {
  if (code.size() != 12) return std::string(code);
  constexpr std::size_t kDigits[] = {0, 2, 4, 6, 9, 12};
  return std::string(code.substr(0, kDigits[unit_level(code)]));
}

bool role_fits_unit(Role role, std::string_view code) {
  if (!valid_unit_code(code)) return false;
  switch (role) {
    case Role::kProvinceAdmin: return unit_level(code) == 1;
    case Role::kCityAdmin: return unit_level(code) == 2;
    case Role::kCountyAdmin: return unit_level(code) == 3;
    case Role::kTownshipCoordinator: return unit_level(code) == 4;
    case Role::kViewer: return true;
    case Role::kSuperuser: return false;
  }
  return false;
}

bool within(const Principal& p, std::string_view unit) {
  if (p.role == Role::kSuperuser) return true;
  if (!all_digits(unit) || unit.size() > 12) return false;
  return scope_prefix(unit).starts_with(scope_prefix(p.unit));
}

bool overlaps(const Principal& p, std::string_view unit) {
  if (within(p, unit)) return true;
  if (!all_digits(unit) || unit.size() > 12) return false;
  return scope_prefix(p.unit).starts_with(scope_prefix(unit));
}

bool may_identify(Role role) {
  return role == Role::kSuperuser || role == Role::kCountyAdmin || role == Role::kTownshipCoordinator;
}

bool may_manage_tokens(Role role) {
  return role == Role::kSuperuser || role == Role::kProvinceAdmin || role == Role::kCityAdmin ||
         role == Role::kCountyAdmin;
}

bool may_grant(const Principal& p, Role role, std::string_view unit) {
  if (!may_manage_tokens(p.role) || !role_fits_unit(role, unit) || !within(p, unit)) return false;
  // Never a wider role than one's own (enum order: superuser, province, city, county, township, viewer).
  return static_cast<int>(role) >= static_cast<int>(p.role);
}

const std::vector<Rule>& rules() {
  using A = Access;
  using U = UnitParam;
  using R = Resolver;
  static const std::vector<Rule> kRules = {
      {"GET", "/api/v1/inbox", A::kSuperuser},
      {"POST", "/api/v1/push", A::kSuperuser},
      {"GET", "/api/v1/outbox", A::kSuperuser},
      {"GET", "/api/v1/outbox/*", A::kSuperuser},
      {"POST", "/api/v1/outbox/*/retry", A::kSuperuser},
      {"POST", "/api/v1/outbox/*/cancel", A::kSuperuser},
      {"GET", "/api/v1/group_tasks", A::kSuperuser},
      {"GET", "/api/v1/group_posts/*", A::kSuperuser},
      {"POST", "/api/v1/org/import", A::kSuperuser},
      {"POST", "/api/v1/roster/import", A::kSuperuser},
      {"GET", "/api/v1/org", A::kScopedRead, U::kPrefix, "prefix", true},
      {"GET", "/api/v1/roster", A::kScopedRead, U::kPrefix, "unit", true},
      {"GET", "/api/v1/groups", A::kScopedRead, U::kPrefix, "unit", true},
      {"POST", "/api/v1/groups", A::kScopedWrite, U::kNone, "unit", false, true},
      {"POST", "/api/v1/groups/sync", A::kSuperuser},
      {"GET", "/api/v1/groups/*", A::kScopedRead, U::kNone, "unit", false, false, R::kGroup},
      {"PATCH", "/api/v1/groups/*", A::kScopedWrite, U::kNone, "unit", false, true, R::kGroup},
      {"GET", "/api/v1/join_ways", A::kScopedRead, U::kNone, "unit", true},
      {"GET", "/api/v1/group_alerts", A::kScopedRead, U::kNone, "unit", true},
      {"GET", "/api/v1/lessons", A::kAnyRole},
      {"GET", "/api/v1/lessons/*", A::kAnyRole},
      {"GET", "/api/v1/clock", A::kAnyRole},
      {"POST", "/api/v1/clock", A::kSuperuser},
      {"GET", "/api/v1/schedules", A::kScopedRead, U::kPrefix, "unit", true},
      {"POST", "/api/v1/schedules", A::kScopedWrite, U::kNone, "unit", false, true},
      {"GET", "/api/v1/schedules/preview", A::kScopedRead, U::kPrefix, "unit", true},
      {"POST", "/api/v1/schedules/*/pause", A::kScopedWrite, U::kNone, "unit", false, false, R::kSchedule},
      {"POST", "/api/v1/schedules/*/resume", A::kScopedWrite, U::kNone, "unit", false, false, R::kSchedule},
      {"GET", "/api/v1/pushes", A::kScopedRead, U::kPrefix, "unit", true},
      {"GET", "/api/v1/surveys", A::kScopedRead, U::kPrefix, "unit", true},
      {"POST", "/api/v1/surveys", A::kScopedWrite, U::kNone, "unit", false, true},
      {"POST", "/api/v1/surveys/*/close", A::kScopedWrite, U::kNone, "unit", false, false, R::kSurvey},
      {"POST", "/api/v1/surveys/*/invite", A::kScopedWrite, U::kNone, "unit", false, false, R::kSurvey},
      {"GET", "/api/v1/surveys/*/coverage", A::kScopedRead, U::kCode},
      {"GET", "/api/v1/surveys/*/missing", A::kScopedRead, U::kCode, "unit", true},
      {"GET", "/api/v1/surveys/*/indicators", A::kScopedRead, U::kCode},
      {"GET", "/api/v1/surveys/*/export", A::kScopedRead, U::kCode, "unit", false, false, R::kNone, true},
      {"GET", "/api/v1/surveys/*/unmatched", A::kScopedRead, U::kPrefix, "unit", true},
      {"GET", "/api/v1/surveys/*", A::kScopedRead, U::kNone, "unit", false, false, R::kSurvey},
      {"GET", "/api/v1/tokens", A::kAdmins, U::kNone, "unit", true},
      {"POST", "/api/v1/tokens", A::kAdmins},
      {"POST", "/api/v1/tokens/*/revoke", A::kAdmins, U::kNone, "unit", false, false, R::kToken},
      {"GET", "/api/v1/audit", A::kAdmins, U::kPrefix, "unit"},
      {"GET", "/api/v1/whoami", A::kAnyRole},
  };
  return kRules;
}

const Rule* find_rule(std::string_view method, std::string_view path) {
  for (const auto& r : rules())
    if (method == r.method && matches(r.pattern, path)) return &r;
  return nullptr;
}

std::string resolver_id(std::string_view path) {
  // /api/v1/<area>/<id>[/<action>]
  constexpr std::string_view kBase = "/api/v1/";
  if (!path.starts_with(kBase)) return {};
  path.remove_prefix(kBase.size());
  auto slash = path.find('/');
  if (slash == std::string_view::npos) return {};
  path.remove_prefix(slash + 1);
  return std::string(path.substr(0, path.find('/')));
}

std::vector<std::string> units_of(const json& j) {
  std::vector<std::string> out;
  collect_units(j, out);
  return out;
}

std::optional<Denied> check_resource(const Principal& p, const json& resource) {
  if (p.role == Role::kSuperuser) return std::nullopt;
  auto units = units_of(resource);
  if (units.empty())
    return Denied{http::Status::forbidden, "auth.forbidden_unit", "这项数据不属于任何单位，只有总管理员可以操作"};
  for (const auto& u : units)
    if (!within(p, u)) return forbidden_unit(u);
  return std::nullopt;
}

int filter_list(const Principal& p, json& body) {
  if (p.role == Role::kSuperuser || !body.is_object()) return 0;
  int dropped = 0;
  for (auto& [key, value] : body.items()) {
    if (!value.is_array()) continue;
    json kept = json::array();
    for (auto& item : value) {
      if (item_visible(p, item)) kept.push_back(std::move(item));
      else ++dropped;
    }
    value = std::move(kept);
  }
  return dropped;
}

void redact(json& j) {
  if (j.is_object()) {
    for (const char* key : {"secret", "secret_hash", "token_hash"}) j.erase(key);
    for (auto& [k, v] : j.items()) redact(v);
  } else if (j.is_array()) {
    for (auto& v : j) redact(v);
  }
}

Decision decide(const Principal& p, std::string_view method, std::string_view path,
                std::vector<std::pair<std::string, std::string>> params, const json* body) {
  Decision d;
  d.params = std::move(params);
  d.rule = find_rule(method, path);
  const bool superuser = p.role == Role::kSuperuser;
  d.audit = method != "GET" || (d.rule && d.rule->audit_get) || path.ends_with("/export");
  for (const auto& [k, v] : d.params)
    if (k == "identifying" && v != "0" && !may_identify(p.role)) {
      d.denied = Denied{http::Status::forbidden, "auth.forbidden_identifying",
                        "你的角色不能查看或导出可识别个人的信息（姓名、电话、编号）"};
      return d;
    }
  if (!d.rule) {
    if (!superuser)
      d.denied = Denied{http::Status::forbidden, "auth.forbidden", "只有总管理员可以调用这个接口：" + std::string(path)};
    return d;
  }
  const Rule& r = *d.rule;
  switch (r.access) {
    case Access::kAnyRole: break;
    case Access::kSuperuser:
      if (!superuser)
        d.denied = Denied{http::Status::forbidden, "auth.forbidden", "只有总管理员可以调用这个接口：" + std::string(path)};
      break;
    case Access::kScopedRead: break;
    case Access::kScopedWrite:
      if (p.role == Role::kViewer)
        d.denied = Denied{http::Status::forbidden, "auth.read_only", "只读账号不能修改数据"};
      break;
    case Access::kAdmins:
      if (!may_manage_tokens(p.role))
        d.denied = Denied{http::Status::forbidden, "auth.forbidden", "只有县级及以上管理员可以管理令牌和查看审计日志"};
      break;
  }
  if (d.denied) return d;

  // The unit named in the query.
  if (r.unit_param != UnitParam::kNone) {
    auto it = std::find_if(d.params.begin(), d.params.end(), [&](const auto& kv) { return kv.first == r.param; });
    if (it != d.params.end()) {
      if (!within(p, it->second)) {
        d.denied = forbidden_unit(it->second);
        return d;
      }
      if (r.unit_param == UnitParam::kPrefix && it->second.size() == 12) {
        // "that unit and below": a full code filters by its significant prefix.
        std::string prefix = scope_prefix(it->second);
        if (prefix != it->second) {
          it->second = prefix;
          d.params_changed = true;
        }
      }
      d.unit = it->second;
    } else if (!superuser) {
      d.unit = r.unit_param == UnitParam::kPrefix ? scope_prefix(p.unit) : p.unit;
      d.params.emplace_back(r.param, d.unit);
      d.params_changed = true;
    }
  } else if (!superuser) {
    d.unit = p.unit;
  }

  // The units named in the body.
  if (r.body_units && body && body->is_object()) {
    auto units = units_of(*body);
    for (const auto& u : units)
      if (!within(p, u)) {
        d.denied = forbidden_unit(u);
        return d;
      }
    if (!units.empty()) d.unit = units.front();
    if (units.empty() && !superuser && (path == "/api/v1/schedules" || path == "/api/v1/surveys")) {
      json changed = *body;
      if (path == "/api/v1/schedules") changed["audience"]["units"] = json::array({p.unit});
      else changed["units"] = json::array({p.unit});
      d.body = std::move(changed);
      d.unit = p.unit;
    }
  }
  // For the audit log: a change by the superuser concerns the unit its body names.
  if (d.unit.empty() && body && body->is_object())
    if (auto units = units_of(*body); !units.empty()) d.unit = units.front();
  return d;
}

std::int64_t Lockout::locked_for(const std::string& peer, std::int64_t now_ms) const {
  auto it = peers_.find(peer);
  if (it == peers_.end() || it->second.locked_until_ms <= now_ms) return 0;
  return it->second.locked_until_ms - now_ms;
}

bool Lockout::failure(const std::string& peer, std::int64_t now_ms) {
  // Bounded memory: forget peers whose window and lock have passed once the map grows large.
  if (peers_.size() > 10000)
    std::erase_if(peers_, [&](const auto& kv) {
      return kv.second.locked_until_ms <= now_ms && now_ms - kv.second.first_ms > window_ms_;
    });
  auto& s = peers_[peer];
  if (s.failures == 0 || now_ms - s.first_ms > window_ms_) {
    s.failures = 0;
    s.first_ms = now_ms;
  }
  if (++s.failures >= max_failures_) {
    s.locked_until_ms = now_ms + lock_ms_;
    s.failures = 0;
    return true;
  }
  return false;
}

void Lockout::success(const std::string& peer) {
  auto it = peers_.find(peer);
  if (it != peers_.end() && it->second.locked_until_ms == 0) peers_.erase(it);
  else if (it != peers_.end()) it->second.failures = 0;
}

}  // namespace yuer::admin
