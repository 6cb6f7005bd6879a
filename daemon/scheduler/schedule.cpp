#include "daemon/scheduler/schedule.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>

namespace yuer::scheduler {

using nlohmann::json;

namespace {

bool to_int(std::string_view s, int& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

// One cron field into `bits` (indexes lo..hi). `star` is set when the field is "*".
template <std::size_t N>
bool parse_field(std::string_view f, int lo, int hi, std::bitset<N>& bits, bool& star) {
  star = f == "*";
  for (auto part : split(f, ',')) {
    int step = 1;
    if (auto slash = part.find('/'); slash != std::string_view::npos) {
      if (!to_int(part.substr(slash + 1), step) || step < 1) return false;
      part = part.substr(0, slash);
    }
    int a = lo, b = hi;
    if (part != "*") {
      if (auto dash = part.find('-'); dash != std::string_view::npos) {
        if (!to_int(part.substr(0, dash), a) || !to_int(part.substr(dash + 1), b)) return false;
      } else {
        if (!to_int(part, a)) return false;
        b = step > 1 ? hi : a;
      }
    }
    if (a < lo || b > hi || a > b) return false;
    for (int v = a; v <= b; v += step) bits.set(static_cast<std::size_t>(v));
  }
  return true;
}

}  // namespace

Result<Cron> Cron::parse(std::string_view expr) {
  std::vector<std::string_view> fields;
  for (auto f : split(expr, ' '))
    if (!f.empty()) fields.push_back(f);
  if (fields.size() != 5)
    return Error{"scheduler.bad_cron", fmt::format("cron 表达式应有 5 个字段（分 时 日 月 周），实际 {} 个", fields.size())};
  Cron c;
  bool star = false;
  static constexpr const char* kNames[] = {"分钟(0-59)", "小时(0-23)", "日(1-31)", "月(1-12)", "星期(0-7)"};
  std::bitset<8> dow;
  const bool ok[] = {parse_field(fields[0], 0, 59, c.minutes, star), parse_field(fields[1], 0, 23, c.hours, star),
                     parse_field(fields[2], 1, 31, c.days, c.days_any), parse_field(fields[3], 1, 12, c.months, star),
                     parse_field(fields[4], 0, 7, dow, c.weekdays_any)};
  for (int i = 0; i < 5; ++i)
    if (!ok[i])
      return Error{"scheduler.bad_cron", fmt::format("cron 第 {} 个字段“{}”无效：{}", i + 1, fields[static_cast<std::size_t>(i)], kNames[i])};
  for (std::size_t d = 0; d < 7; ++d) c.weekdays[d] = dow[d];
  if (dow[7]) c.weekdays[0] = true;
  return c;
}

bool Cron::day_matches(int /*year*/, int month, int day, int weekday_sun0) const {
  if (!months[static_cast<std::size_t>(month)]) return false;
  const bool dom = days[static_cast<std::size_t>(day)];
  const bool dow = weekdays[static_cast<std::size_t>(weekday_sun0)];
  if (days_any && weekdays_any) return true;
  if (days_any) return dow;
  if (weekdays_any) return dom;
  return dom || dow;
}

bool QuietHours::contains(int m) const {
  if (empty()) return false;
  if (start_min < end_min) return m >= start_min && m < end_min;
  return m >= start_min || m < end_min;
}

std::string QuietHours::to_string() const {
  if (empty()) return "";
  return fmt::format("{:02}:{:02}-{:02}:{:02}", start_min / 60, start_min % 60, end_min / 60, end_min % 60);
}

bool parse_hhmm(std::string_view s, int& out) {
  if (s.size() != 5 || s[2] != ':') return false;
  int h = 0, m = 0;
  if (!to_int(s.substr(0, 2), h) || !to_int(s.substr(3, 2), m) || h < 0 || h > 23 || m < 0 || m > 59) return false;
  out = h * 60 + m;
  return true;
}

Result<Schedule> schedule_from_json(const json& j) {
  std::vector<std::string> problems;
  auto bad = [&](std::string field, std::string why) { problems.push_back(field + "：" + why); };
  Schedule s;
  if (!j.is_object()) return Error{"scheduler.invalid", "定时推送应为 JSON 对象"};
  static const std::set<std::string> known = {"id", "name", "state", "audience", "content", "time", "start_date",
                                              "end_date", "quiet_hours", "route", "source", "next_at_ms",
                                              "last_at_ms", "unit", "units"};
  for (const auto& [k, v] : j.items())
    if (!known.count(k)) bad(k, "未知字段");
  auto str = [&](const json& o, const char* k, std::string& out, bool required) {
    if (!o.contains(k) || o[k].is_null()) {
      if (required) bad(k, "缺少此项");
      return false;
    }
    if (!o[k].is_string()) {
      bad(k, "应为字符串");
      return false;
    }
    out = o[k].get<std::string>();
    return true;
  };
  auto strings = [&](const json& o, const char* k, std::vector<std::string>& out) {
    if (!o.contains(k) || o[k].is_null()) return;
    if (!o[k].is_array()) return bad(std::string("audience.") + k, "应为字符串数组");
    for (const auto& v : o[k])
      if (v.is_string()) out.push_back(v.get<std::string>());
      else return bad(std::string("audience.") + k, "应为字符串数组");
  };
  if (str(j, "id", s.id, false) && !s.id.empty()) {  // "" = none: the caller assigns one
    const bool ok = s.id.size() <= 64 && std::all_of(s.id.begin(), s.id.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
    if (!ok) bad("id", "只能用字母、数字、- 和 _，最多 64 个");
  }
  if (str(j, "name", s.name, true) && (s.name.empty() || s.name.size() > 200)) bad("name", "不能为空，最多 200 字节");
  if (str(j, "state", s.state, false) && s.state != "active" && s.state != "paused") bad("state", "应为 active 或 paused");
  if (j.contains("audience")) {
    const auto& a = j["audience"];
    if (!a.is_object()) bad("audience", "应为对象 {units, group_kinds, tags}");
    else {
      for (const auto& [k, v] : a.items())
        if (k != "units" && k != "group_kinds" && k != "tags") bad("audience." + k, "未知字段");
      strings(a, "units", s.audience.units);
      strings(a, "group_kinds", s.audience.group_kinds);
      strings(a, "tags", s.audience.tags);
    }
  }
  for (const auto& u : s.audience.units)
    if (u.empty() || u.size() > 12 || !std::all_of(u.begin(), u.end(), [](char c) { return c >= '0' && c <= '9'; }))
      bad("audience.units", "“" + u + "”不是区划代码或其前缀（1 到 12 位数字）");
  for (const auto& k : s.audience.group_kinds)
    if (k != "parent" && k != "management") bad("audience.group_kinds", "“" + k + "”应为 parent 或 management");
  if (!j.contains("content") || !j["content"].is_object()) bad("content", "缺少或不是对象 {kind, ref}");
  else {
    const auto& c = j["content"];
    str(c, "kind", s.content.kind, true);
    str(c, "ref", s.content.ref, false);
    if (s.content.kind != "lesson" && s.content.kind != "template" && s.content.kind != "series")
      bad("content.kind", "应为 lesson、template 或 series");
    else if (s.content.kind != "series" && s.content.ref.empty())
      bad("content.ref", "lesson 与 template 需要 ref（课程编号或模板名）");
  }
  if (!j.contains("time") || !j["time"].is_object()) bad("time", "缺少或不是对象 {kind, at, weekday, day, expr}");
  else {
    const auto& t = j["time"];
    str(t, "kind", s.time.kind, true);
    if (s.time.kind == "cron") {
      if (str(t, "expr", s.time.expr, true)) {
        auto c = Cron::parse(s.time.expr);
        if (!c) bad("time.expr", c.error().message);
        else s.time.cron = *c;
      }
    } else if (s.time.kind == "daily" || s.time.kind == "weekly" || s.time.kind == "monthly") {
      std::string at;
      int m = 0;
      if (str(t, "at", at, true)) {
        if (!parse_hhmm(at, m)) bad("time.at", "应为 HH:MM（00:00 到 23:59）");
        s.time.hour = m / 60;
        s.time.minute = m % 60;
      }
      if (s.time.kind == "weekly") {
        if (!t.contains("weekday") || !t["weekday"].is_number_integer() || t["weekday"].get<int>() < 1 ||
            t["weekday"].get<int>() > 7)
          bad("time.weekday", "应为 1（星期一）到 7（星期日）");
        else s.time.weekday = t["weekday"].get<int>();
      }
      if (s.time.kind == "monthly") {
        if (!t.contains("day") || !t["day"].is_number_integer() || t["day"].get<int>() < 1 || t["day"].get<int>() > 31)
          bad("time.day", "应为 1 到 31（当月没有这一天时在当月最后一天推送）");
        else s.time.day = t["day"].get<int>();
      }
    } else {
      bad("time.kind", "应为 daily、weekly、monthly 或 cron");
    }
  }
  std::string date;
  if (str(j, "start_date", date, true) && !parse_date(date, s.start_days)) bad("start_date", "应为有效日期 YYYY-MM-DD");
  if (j.contains("end_date") && !j["end_date"].is_null()) {
    std::int64_t d = 0;
    if (!j["end_date"].is_string() || !parse_date(j["end_date"].get<std::string>(), d)) bad("end_date", "应为有效日期 YYYY-MM-DD 或 null");
    else if (d < s.start_days) bad("end_date", "不能早于 start_date");
    else s.end_days = d;
  }
  if (j.contains("quiet_hours") && !j["quiet_hours"].is_null()) {
    std::string q = j["quiet_hours"].is_string() ? j["quiet_hours"].get<std::string>() : "?";
    if (q.empty()) s.quiet = QuietHours{0, 0};
    else if (q.size() != 11 || q[5] != '-' || !parse_hhmm(q.substr(0, 5), s.quiet.start_min) ||
             !parse_hhmm(q.substr(6), s.quiet.end_min))
      bad("quiet_hours", "应为 \"HH:MM-HH:MM\"（如 21:30-07:30），\"\" 表示不设");
  }
  if (str(j, "route", s.route, false) && s.route != "robot" && s.route != "group_task" && s.route != "kf" &&
      s.route != "auto")
    bad("route", "应为 robot、group_task、kf 或 auto");
  if (s.route == "kf" && s.content.kind == "template") bad("route", "kf 一对一推送只能发课程（lesson 或 series）");
  str(j, "source", s.source, false);
  if (!problems.empty()) {
    std::string msg;
    for (const auto& p : problems) msg += (msg.empty() ? "" : "；") + p;
    return Error{"scheduler.invalid", msg};
  }
  return s;
}

json schedule_to_json(const Schedule& s) {
  json time = {{"kind", s.time.kind}};
  if (s.time.kind == "cron") time["expr"] = s.time.expr;
  else time["at"] = fmt::format("{:02}:{:02}", s.time.hour, s.time.minute);
  if (s.time.kind == "weekly") time["weekday"] = s.time.weekday;
  if (s.time.kind == "monthly") time["day"] = s.time.day;
  return {{"id", s.id},
          {"name", s.name},
          {"state", s.state},
          {"audience", {{"units", s.audience.units}, {"group_kinds", s.audience.group_kinds}, {"tags", s.audience.tags}}},
          {"content", {{"kind", s.content.kind}, {"ref", s.content.ref}}},
          {"time", time},
          {"start_date", format_date(s.start_days)},
          {"end_date", s.end_days ? json(format_date(*s.end_days)) : json(nullptr)},
          {"quiet_hours", s.quiet.to_string()},
          {"route", s.route},
          {"source", s.source}};
}

std::optional<std::int64_t> next_nominal(const Schedule& s, const Zone& zone, std::int64_t after_ms) {
  const LocalTime now = zone.to_local(after_ms);
  std::int64_t day = std::max(days_from_civil(now.year, now.month, now.day) - 1, s.start_days);
  const std::int64_t last = std::min(s.end_days.value_or(INT64_MAX / 2), day + 5 * 366);
  for (; day <= last; ++day) {
    int y, m, d;
    civil_from_days(day, y, m, d);
    const int wd = weekday_of(day);  // Monday = 0
    bool match = false;
    if (s.time.kind == "daily") match = true;
    else if (s.time.kind == "weekly") match = wd + 1 == s.time.weekday;
    else if (s.time.kind == "monthly") match = d == std::min(s.time.day, days_in_month(y, m));
    else match = s.time.cron.day_matches(y, m, d, (wd + 1) % 7);
    if (!match) continue;
    if (s.time.kind != "cron") {
      const std::int64_t t = zone.to_unix_ms({y, m, d, s.time.hour, s.time.minute, 0});
      if (t > after_ms) return t;
      continue;
    }
    for (int h = 0; h < 24; ++h) {
      if (!s.time.cron.hours[static_cast<std::size_t>(h)]) continue;
      for (int mi = 0; mi < 60; ++mi) {
        if (!s.time.cron.minutes[static_cast<std::size_t>(mi)]) continue;
        const std::int64_t t = zone.to_unix_ms({y, m, d, h, mi, 0});
        if (t > after_ms) return t;
      }
    }
  }
  return std::nullopt;
}

std::int64_t shift_out_of_quiet(const QuietHours& q, const Zone& zone, std::int64_t nominal_ms) {
  const LocalTime t = zone.to_local(nominal_ms);
  const int m = t.hour * 60 + t.minute;
  if (!q.contains(m)) return nominal_ms;
  std::int64_t day = days_from_civil(t.year, t.month, t.day);
  if (q.start_min > q.end_min && m >= q.start_min) ++day;  // evening part: the end is tomorrow morning
  int y, mo, d;
  civil_from_days(day, y, mo, d);
  return zone.to_unix_ms({y, mo, d, q.end_min / 60, q.end_min % 60, 0});
}

}  // namespace yuer::scheduler
