#include "daemon/yuerctl/schedules_commands.h"

#include "daemon/yuerctl/table.h"

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

namespace yuer::yuerctl {
namespace {

using nlohmann::json;

constexpr int kUsage = 2;

std::string when(const json& ms, const std::string& tz) {
  if (!ms.is_number_integer() || ms.get<std::int64_t>() <= 0) return "-";
  ::setenv("TZ", tz.c_str(), 1);
  ::tzset();
  std::time_t t = ms.get<std::int64_t>() / 1000;
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string time_text(const json& t) {
  const std::string kind = t.value("kind", "");
  if (kind == "cron") return "cron " + t.value("expr", "");
  if (kind == "weekly") return "每周" + std::to_string(t.value("weekday", 0)) + " " + t.value("at", "");
  if (kind == "monthly") return "每月" + std::to_string(t.value("day", 0)) + "日 " + t.value("at", "");
  return "每天 " + t.value("at", "");
}

std::string content_text(const json& c) {
  const std::string kind = c.value("kind", "");
  if (kind == "series") return c.value("ref", "").empty() ? "分龄课程" : "分龄课程（" + c.value("ref", "") + "）";
  if (kind == "lesson") return "课程 " + c.value("ref", "");
  return "模板 " + c.value("ref", "");
}

struct State {
  ApiCalls api;
  bool json_out = false;
  std::string unit, id, from, to, schedule;
  // add
  std::string file, name, lesson, tmpl, series_topic, daily, weekly, monthly, cron, start, end, units, kinds, tags,
      quiet, route = "auto";
  bool series = false;
  CLI::App *list = nullptr, *add = nullptr, *pause = nullptr, *resume = nullptr, *preview = nullptr;
};

int print_or(const State& st, const json& out, const std::function<void()>& human) {
  if (st.json_out) std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  else human();
  return 0;
}

void print_schedules(const State& st, const json& list) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : list) {
    std::string units;
    for (const auto& u : s["audience"]["units"]) units += (units.empty() ? "" : ",") + u.get<std::string>();
    rows.push_back({s.value("id", ""), s.value("name", ""), s.value("state", "") == "active" ? "启用" : "暂停",
                    content_text(s["content"]), time_text(s["time"]), units.empty() ? "全部" : units,
                    s.value("route", ""), when(s["next_at_ms"], *st.api.tz), s.value("source", "")});
  }
  print_table(std::cout, {"编号", "名称", "状态", "内容", "时间", "单位", "途径", "下次推送", "来源"}, rows);
  std::cout << "共 " << rows.size() << " 个定时推送\n";
}

int run_add(State& st) {
  json body;
  if (!st.file.empty()) {
    std::ifstream in(st.file);
    if (!in) {
      std::cerr << "yuerctl: cannot read " << st.file << "\n";
      return kUsage;
    }
    body = json::parse(in, nullptr, false);
    if (body.is_discarded()) {
      std::cerr << "yuerctl: " << st.file << " is not JSON\n";
      return kUsage;
    }
  } else {
    const int contents = !st.lesson.empty() + !st.tmpl.empty() + st.series;
    const int times = !st.daily.empty() + !st.weekly.empty() + !st.monthly.empty() + !st.cron.empty();
    if (st.name.empty() || contents != 1 || times != 1 || st.start.empty()) {
      std::cerr << "yuerctl: schedules add needs --name, one of --lesson/--template/--series, one of "
                   "--daily/--weekly/--monthly/--cron, and --start (or --file)\n";
      return kUsage;
    }
    body["name"] = st.name;
    if (!st.id.empty()) body["id"] = st.id;
    if (!st.lesson.empty()) body["content"] = {{"kind", "lesson"}, {"ref", st.lesson}};
    else if (!st.tmpl.empty()) body["content"] = {{"kind", "template"}, {"ref", st.tmpl}};
    else body["content"] = {{"kind", "series"}, {"ref", st.series_topic}};
    auto split_at = [](const std::string& s, json& t, const char* key) {
      auto sp = s.find(' ');
      if (sp == std::string::npos) return false;
      t[key] = std::atoi(s.substr(0, sp).c_str());
      t["at"] = s.substr(sp + 1);
      return true;
    };
    json t;
    if (!st.daily.empty()) t = {{"kind", "daily"}, {"at", st.daily}};
    else if (!st.cron.empty()) t = {{"kind", "cron"}, {"expr", st.cron}};
    else if (!st.weekly.empty()) {
      t = {{"kind", "weekly"}};
      if (!split_at(st.weekly, t, "weekday")) {
        std::cerr << "yuerctl: --weekly expects \"WEEKDAY HH:MM\" (1 = Monday … 7 = Sunday)\n";
        return kUsage;
      }
    } else {
      t = {{"kind", "monthly"}};
      if (!split_at(st.monthly, t, "day")) {
        std::cerr << "yuerctl: --monthly expects \"DAY HH:MM\" (1..31)\n";
        return kUsage;
      }
    }
    body["time"] = t;
    body["start_date"] = st.start;
    if (!st.end.empty()) body["end_date"] = st.end;
    body["audience"] = {{"units", split_list(st.units)}, {"group_kinds", split_list(st.kinds)}, {"tags", split_list(st.tags)}};
    if (!st.quiet.empty()) body["quiet_hours"] = st.quiet == "none" ? "" : st.quiet;
    body["route"] = st.route;
  }
  json out;
  if (int rc = st.api.post("/api/v1/schedules", body.dump(), out); rc != 0) return rc;
  return print_or(st, out, [&] {
    std::cout << "已添加定时推送 " << out["schedule"].value("id", "") << "，下次推送 "
              << when(out["schedule"]["next_at_ms"], *st.api.tz) << "\n";
  });
}

int run(State& st) {
  json out;
  if (*st.list) {
    if (int rc = st.api.get("/api/v1/schedules" + (st.unit.empty() ? "" : "?unit=" + st.unit), out); rc != 0) return rc;
    return print_or(st, out, [&] { print_schedules(st, out["schedules"]); });
  }
  if (*st.add) return run_add(st);
  if (*st.pause || *st.resume) {
    const bool pause = static_cast<bool>(*st.pause);
    if (int rc = st.api.post("/api/v1/schedules/" + st.id + (pause ? "/pause" : "/resume"), "{}", out); rc != 0) return rc;
    return print_or(st, out, [&] {
      std::cout << "定时推送 " << st.id << (pause ? " 已暂停" : " 已恢复（暂停期间的推送不补发）") << "\n";
    });
  }
  if (*st.preview) {
    std::string path = "/api/v1/schedules/preview?from=" + st.from + "&to=" + st.to;
    if (!st.schedule.empty()) path += "&schedule=" + st.schedule;
    if (!st.unit.empty()) path += "&unit=" + st.unit;
    if (int rc = st.api.get(path, out); rc != 0) return rc;
    return print_or(st, out, [&] {
      std::vector<std::vector<std::string>> rows;
      for (const auto& i : out["items"])
        rows.push_back({i.value("at_local", ""), i.value("schedule_id", ""),
                        i.value("group_name", "").empty() ? i.value("target", "") : i.value("group_name", ""),
                        i.value("unit", ""), i.value("route", ""), i.value("lesson_id", ""), i.value("lesson_title", "")});
      print_table(std::cout, {"时间", "定时推送", "群", "单位", "途径", "课程", "标题"}, rows);
      std::cout << "共 " << rows.size() << " 条将推送\n";
    });
  }
  return -1;
}

}  // namespace

std::function<int()> add_schedules_commands(CLI::App& cli, ApiCalls api) {
  auto st = std::make_shared<State>();
  st->api = std::move(api);
  auto* top = cli.add_subcommand("schedules", "scheduled pushes (定时推送): list, add, pause, resume, preview");
  top->require_subcommand(1);
  st->list = top->add_subcommand("list", "list schedules with their next push");
  st->list->add_option("--unit", st->unit, "only schedules for this division-code prefix");
  st->list->add_flag("--json", st->json_out, "print JSON");
  st->add = top->add_subcommand("add", "add a schedule (or --file with the API's JSON)");
  auto* a = st->add;
  a->add_option("--file", st->file, "a JSON file with the schedule as POST /api/v1/schedules takes it");
  a->add_option("--id", st->id, "stable id (default: assigned)");
  a->add_option("--name", st->name, "name shown in listings");
  a->add_option("--lesson", st->lesson, "send this one lesson (id)");
  a->add_option("--template", st->tmpl, "send this message template");
  a->add_flag("--series", st->series, "the age-staged lesson series");
  a->add_option("--topic", st->series_topic, "with --series: only lessons with this topic");
  a->add_option("--daily", st->daily, "HH:MM every day");
  a->add_option("--weekly", st->weekly, "\"WEEKDAY HH:MM\" (1 = Monday … 7 = Sunday)");
  a->add_option("--monthly", st->monthly, "\"DAY HH:MM\" (a day the month lacks: its last day)");
  a->add_option("--cron", st->cron, "5-field cron expression, e.g. \"30 9 * * 1-5\"");
  a->add_option("--start", st->start, "first date YYYY-MM-DD");
  a->add_option("--end", st->end, "last date YYYY-MM-DD");
  a->add_option("--units", st->units, "division-code prefixes, comma-separated (default: all)");
  a->add_option("--kinds", st->kinds, "group kinds: parent,management (default parent)");
  a->add_option("--tags", st->tags, "roster tags, comma-separated: only families with one of them");
  a->add_option("--quiet", st->quiet, "quiet hours HH:MM-HH:MM (default 21:30-07:30; none = no quiet hours)");
  a->add_option("--route", st->route, "robot | group_task | kf | auto (each group's own route)")->capture_default_str();
  a->add_flag("--json", st->json_out, "print JSON");
  st->pause = top->add_subcommand("pause", "pause a schedule");
  st->pause->add_option("id", st->id, "schedule id")->required();
  st->pause->add_flag("--json", st->json_out, "print JSON");
  st->resume = top->add_subcommand("resume", "resume a paused schedule (what fell while paused is not sent)");
  st->resume->add_option("id", st->id, "schedule id")->required();
  st->resume->add_flag("--json", st->json_out, "print JSON");
  st->preview = top->add_subcommand("preview", "the exact (time, group, lesson) list that would go out");
  st->preview->add_option("--from", st->from, "first date YYYY-MM-DD")->required();
  st->preview->add_option("--to", st->to, "last date YYYY-MM-DD")->required();
  st->preview->add_option("--schedule", st->schedule, "only this schedule");
  st->preview->add_option("--unit", st->unit, "only groups of this division-code prefix");
  st->preview->add_flag("--json", st->json_out, "print JSON");
  return [st] { return run(*st); };
}

}  // namespace yuer::yuerctl
