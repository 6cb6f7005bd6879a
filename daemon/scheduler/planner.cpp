#include "daemon/scheduler/planner.h"

#include <fmt/format.h>

#include <algorithm>

namespace yuer::scheduler {

std::map<std::string, StagingState> states_from_history(const std::vector<store::SchedulePush>& history) {
  std::map<std::string, StagingState> out;
  for (const auto& p : history) record_push(out[p.target], p.lesson_id, p.band, p.local_date);
  return out;
}

std::string push_key(const std::string& schedule_id, std::int64_t nominal_ms, const std::string& target) {
  return fmt::format("sched:{}:{}:{}", schedule_id, nominal_ms, target);
}

std::string resolve_route(const std::string& route, const store::ChatGroup& g, std::string& address) {
  const std::string r = route == "auto" ? g.route : route;
  if (r == "robot") {
    address = g.robot;
    return g.robot.empty() ? "" : r;
  }
  if (r == "group_task" || r == "appchat") {
    address = g.chat_id;
    return g.chat_id.empty() || (r == "group_task" && g.kind != "parent") ? "" : r;
  }
  return "";
}

namespace {

// A full 12-digit division code stands for its unit and everything below it (539901000000, a
// county, covers 539901…), as the admin API's scoped callers and the console write it; shorter
// entries are prefixes as they are.
std::string_view significant(std::string_view p) {
  if (p.size() != 12) return p;
  for (std::size_t digits : {2, 4, 6, 9})
    if (p.find_first_not_of('0', digits) == std::string_view::npos) return p.substr(0, digits);
  return p;
}

bool unit_in(const std::string& code, const std::vector<std::string>& prefixes) {
  if (prefixes.empty()) return true;
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& p) { return code.starts_with(significant(p)); });
}

bool tagged(const std::vector<std::string>& tags, const std::vector<std::string>& wanted) {
  if (wanted.empty()) return true;
  return std::any_of(tags.begin(), tags.end(),
                     [&](const std::string& t) { return std::find(wanted.begin(), wanted.end(), t) != wanted.end(); });
}

int age_on(const std::string& birth_date, std::int64_t day) {
  std::int64_t b = 0;
  if (!parse_date(birth_date, b)) return -1;
  return static_cast<int>(day - b);
}

}  // namespace

std::vector<store::SchedulePush> plan_occurrence(const Schedule& s, std::int64_t nominal_ms, std::int64_t at_ms,
                                                 const Zone& zone, const lessons::Library& library,
                                                 const PlanSettings& settings, World& world, int& skipped_quota) {
  std::vector<store::SchedulePush> out;
  const LocalTime lt = zone.to_local(at_ms);
  const std::int64_t day = days_from_civil(lt.year, lt.month, lt.day);
  const std::string date = format_date(day);
  auto push = [&](std::string target, std::string chat_id, std::string unit, std::string route, std::string address,
                  std::string lesson_id, int band) {
    store::SchedulePush p;
    p.schedule_id = s.id;
    p.at_ms = at_ms;
    p.local_date = date;
    p.idempotency_key = push_key(s.id, nominal_ms, target);
    p.target = std::move(target);
    p.chat_id = std::move(chat_id);
    p.unit_code = std::move(unit);
    p.route = std::move(route);
    p.address = std::move(address);
    p.lesson_id = std::move(lesson_id);
    p.band = band;
    record_push(world.states[p.target], p.lesson_id, p.band, date);
    out.push_back(std::move(p));
  };
  const std::string topic = s.content.kind == "series" ? s.content.ref : "";

  if (s.route == "kf") {
    if (settings.kf_account.empty()) return out;
    for (const auto& f : world.families) {
      if (f.external_userid.empty() || !unit_in(f.unit_code, s.audience.units) || !tagged(f.tags, s.audience.tags))
        continue;
      const std::string target = "kf:" + f.child_id;
      const auto& st = world.states[target];
      const int age = age_on(f.birth_date, day);
      const lessons::Lesson* l = nullptr;
      int band = -1;
      if (s.content.kind == "lesson") {
        l = library.find(s.content.ref);
        if (l && st.sent.count(l->id)) l = nullptr;
      } else if (auto pick = pick_for_child(library, topic, age, st)) {
        l = pick->lesson;
        band = pick->band;
      }
      if (!l) continue;
      push(target, "", f.unit_code, "kf", settings.kf_account + "/" + f.external_userid, l->id, band);
    }
    return out;
  }

  std::vector<std::string> kinds = s.audience.group_kinds;
  if (kinds.empty()) kinds = {"parent"};
  for (const auto& g : world.groups) {
    if (g.state == "dismissed" || std::find(kinds.begin(), kinds.end(), g.kind) == kinds.end() ||
        !unit_in(g.unit_code, s.audience.units))
      continue;
    std::string address;
    const std::string route = resolve_route(s.route, g, address);
    if (route.empty()) continue;
    std::vector<int> ages;
    bool any_tagged = s.audience.tags.empty();
    if (auto it = world.children.find(g.id); it != world.children.end())
      for (const auto& c : it->second)
        if (tagged(c.tags, s.audience.tags)) {
          any_tagged = true;
          ages.push_back(age_on(c.birth_date, day));
        }
    if (!any_tagged) continue;
    const std::string target = fmt::format("g:{}", g.id);
    const auto& st = world.states[target];
    if (route == "group_task") {
      auto it = st.per_day.find(date);
      if (it != st.per_day.end() && it->second >= settings.group_task_per_day) {
        ++skipped_quota;
        continue;
      }
    }
    if (s.content.kind == "template") {
      push(target, g.chat_id, g.unit_code, route, address, "", -1);
    } else if (s.content.kind == "lesson") {
      const auto* l = library.find(s.content.ref);
      if (l && !st.sent.count(l->id)) push(target, g.chat_id, g.unit_code, route, address, l->id, -1);
    } else if (auto pick = pick_for_group(library, topic, ages, st, settings.starve_after)) {
      push(target, g.chat_id, g.unit_code, route, address, pick->lesson->id, pick->band);
    }
  }
  return out;
}

}  // namespace yuer::scheduler
