#include "daemon/scheduler/schedule.h"

#include <catch2/catch.hpp>

using namespace yuer::scheduler;
using nlohmann::json;

namespace {

const Zone& shanghai() {
  static const Zone z = Zone::load("Asia/Shanghai").value();
  return z;
}

std::int64_t at(const Zone& z, int y, int mo, int d, int h, int mi) { return z.to_unix_ms({y, mo, d, h, mi, 0}); }

std::string local(const Zone& z, std::int64_t ms) {
  auto t = z.to_local(ms);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d", t.year, t.month, t.day, t.hour, t.minute);
  return buf;
}

Schedule make(json time, std::string start = "2024-01-01", json end = nullptr, std::string quiet = "21:30-07:30") {
  json j = {{"name", "t"}, {"content", {{"kind", "series"}}}, {"time", time}, {"start_date", start},
            {"end_date", end}, {"quiet_hours", quiet}};
  auto s = schedule_from_json(j);
  INFO(j.dump());
  REQUIRE(s.has_value());
  return *s;
}

}  // namespace

TEST_CASE("zone: Asia/Shanghai from the tz database is UTC+8 today and had DST in 1988", "[scheduler]") {
  const Zone& z = shanghai();
  CHECK(z.offset_at(1'700'000'000) == 8 * 3600);
  // 1988-07-01 (China observed DST 1986-1991): UTC+9.
  CHECK(z.offset_at(days_from_civil(1988, 7, 1) * 86400) == 9 * 3600);
  CHECK(local(z, 0) == "1970-01-01 08:00");
  CHECK(at(z, 2026, 12, 4, 9, 0) == (days_from_civil(2026, 12, 4) * 86400 + 3600) * 1000);
  CHECK_FALSE(Zone::load("No/Such_Zone").has_value());
  CHECK_FALSE(Zone::load("../etc/passwd").has_value());
}

TEST_CASE("zone: a DST zone's gap moves forward and its overlap takes the earlier instant", "[scheduler]") {
  auto berlin = Zone::load("Europe/Berlin");
  REQUIRE(berlin.has_value());
  // 2026-03-29 02:00 CET → 03:00 CEST: 02:30 does not exist and is 03:30 CEST = 01:30 UTC.
  const auto gap = berlin->to_unix_ms({2026, 3, 29, 2, 30, 0});
  CHECK(gap == (days_from_civil(2026, 3, 29) * 86400 + 3600 + 1800) * 1000);
  CHECK(local(*berlin, gap) == "2026-03-29 03:30");
  // 2026-10-25 03:00 CEST → 02:00 CET: 02:30 happens twice; the first is 00:30 UTC.
  CHECK(berlin->to_unix_ms({2026, 10, 25, 2, 30, 0}) == (days_from_civil(2026, 10, 25) * 86400 + 1800) * 1000);
}

TEST_CASE("dates: parsing, leap years, month lengths, weekdays", "[scheduler]") {
  auto [text, ok] = GENERATE(table<std::string, bool>({{"2024-02-29", true}, {"2023-02-29", false},
                                                        {"2000-02-29", true}, {"1900-02-28", false},
                                                        {"2026-04-31", false}, {"2026-13-01", false},
                                                        {"2026-1-01", false}, {"2026-12-31", true}}));
  CAPTURE(text);
  std::int64_t d = 0;
  CHECK(parse_date(text, d) == ok);
  if (ok) CHECK(format_date(d) == text);
  CHECK(days_in_month(2024, 2) == 29);
  CHECK(days_in_month(2100, 2) == 28);
  CHECK(weekday_of(days_from_civil(2026, 12, 4)) == 4);  // a Friday
}

TEST_CASE("next fire times in Asia/Shanghai: daily, weekly, monthly (month ends, leap days), cron", "[scheduler]") {
  struct Case {
    const char* label;
    json time;
    const char* start;
    const char* after;  // local "YYYY-MM-DD HH:MM"
    std::vector<std::string> expect;
  };
  const std::vector<Case> cases = {
      {"daily, later the same day", {{"kind", "daily"}, {"at", "09:00"}}, "2024-01-01", "2026-12-04 08:59",
       {"2026-12-04 09:00", "2026-12-05 09:00"}},
      {"daily, strictly after", {{"kind", "daily"}, {"at", "09:00"}}, "2024-01-01", "2026-12-04 09:00",
       {"2026-12-05 09:00"}},
      {"daily, not before the start date", {{"kind", "daily"}, {"at", "10:00"}}, "2027-01-01", "2026-12-04 08:00",
       {"2027-01-01 10:00"}},
      {"daily over a year end", {{"kind", "daily"}, {"at", "08:15"}}, "2024-01-01", "2026-12-31 09:00",
       {"2027-01-01 08:15", "2027-01-02 08:15"}},
      {"weekly on Monday (1)", {{"kind", "weekly"}, {"at", "09:00"}, {"weekday", 1}}, "2024-01-01", "2026-12-04 09:00",
       {"2026-12-07 09:00", "2026-12-14 09:00"}},
      {"weekly on Sunday (7)", {{"kind", "weekly"}, {"at", "18:00"}, {"weekday", 7}}, "2024-01-01", "2026-12-04 09:00",
       {"2026-12-06 18:00"}},
      {"monthly day 31: last day of 30-day months and February", {{"kind", "monthly"}, {"at", "09:00"}, {"day", 31}},
       "2024-01-01", "2026-01-31 10:00", {"2026-02-28 09:00", "2026-03-31 09:00", "2026-04-30 09:00", "2026-05-31 09:00"}},
      {"monthly day 29 in a leap year and after", {{"kind", "monthly"}, {"at", "09:00"}, {"day", 29}}, "2024-01-01",
       "2028-01-30 00:00", {"2028-02-29 09:00", "2028-03-29 09:00"}},
      {"monthly day 30 in a non-leap February", {{"kind", "monthly"}, {"at", "12:00"}, {"day", 30}}, "2024-01-01",
       "2027-02-01 00:00", {"2027-02-28 12:00", "2027-03-30 12:00"}},
      {"cron on weekdays at 9:30", {{"kind", "cron"}, {"expr", "30 9 * * 1-5"}}, "2024-01-01", "2026-12-04 10:00",
       {"2026-12-07 09:30", "2026-12-08 09:30"}},
      {"cron every 20 minutes from 8 to 9", {{"kind", "cron"}, {"expr", "*/20 8-9 * * *"}}, "2024-01-01",
       "2026-12-04 09:30", {"2026-12-04 09:40", "2026-12-05 08:00", "2026-12-05 08:20"}},
      {"cron on Feb 29 only", {{"kind", "cron"}, {"expr", "0 10 29 2 *"}}, "2024-01-01", "2026-03-01 00:00",
       {"2028-02-29 10:00", "2032-02-29 10:00"}},
      {"cron day 1 OR Sunday (both restricted)", {{"kind", "cron"}, {"expr", "0 8 1 * 0"}}, "2024-01-01",
       "2026-11-28 00:00", {"2026-11-29 08:00", "2026-12-01 08:00", "2026-12-06 08:00"}},
      {"cron with 7 = Sunday", {{"kind", "cron"}, {"expr", "0 8 * * 7"}}, "2024-01-01", "2026-12-04 00:00",
       {"2026-12-06 08:00"}},
  };
  for (const auto& c : cases) {
    SECTION(c.label) {
      Schedule s = make(c.time, c.start);
      std::int64_t after = 0;
      int y, mo, d, h, mi;
      REQUIRE(std::sscanf(c.after, "%d-%d-%d %d:%d", &y, &mo, &d, &h, &mi) == 5);
      after = at(shanghai(), y, mo, d, h, mi);
      for (const auto& e : c.expect) {
        auto n = next_nominal(s, shanghai(), after);
        REQUIRE(n);
        CHECK(local(shanghai(), *n) == e);
        after = *n;
      }
    }
  }
}

TEST_CASE("next fire times stop at the end date and for a cron that never matches", "[scheduler]") {
  Schedule s = make({{"kind", "daily"}, {"at", "09:00"}}, "2026-12-01", "2026-12-05");
  auto n = next_nominal(s, shanghai(), at(shanghai(), 2026, 12, 5, 8, 0));
  REQUIRE(n);
  CHECK(local(shanghai(), *n) == "2026-12-05 09:00");
  CHECK_FALSE(next_nominal(s, shanghai(), *n));
  Schedule never = make({{"kind", "cron"}, {"expr", "0 9 30 2 *"}});
  CHECK_FALSE(next_nominal(never, shanghai(), at(shanghai(), 2026, 1, 1, 0, 0)));
}

TEST_CASE("quiet hours shift an occurrence to their end", "[scheduler]") {
  auto [quiet, when, expect] = GENERATE(table<std::string, std::string, std::string>({
      {"21:30-07:30", "2026-12-04 21:29", "2026-12-04 21:29"},
      {"21:30-07:30", "2026-12-04 21:30", "2026-12-05 07:30"},
      {"21:30-07:30", "2026-12-04 23:59", "2026-12-05 07:30"},
      {"21:30-07:30", "2026-12-31 22:00", "2027-01-01 07:30"},
      {"21:30-07:30", "2026-12-05 03:00", "2026-12-05 07:30"},
      {"21:30-07:30", "2026-12-05 07:30", "2026-12-05 07:30"},
      {"12:00-14:00", "2026-12-05 13:00", "2026-12-05 14:00"},
      {"12:00-14:00", "2026-12-05 14:00", "2026-12-05 14:00"},
      {"", "2026-12-05 03:00", "2026-12-05 03:00"},
  }));
  CAPTURE(quiet, when);
  Schedule s = make({{"kind", "daily"}, {"at", "09:00"}}, "2024-01-01", nullptr, quiet);
  int y, mo, d, h, mi;
  REQUIRE(std::sscanf(when.c_str(), "%d-%d-%d %d:%d", &y, &mo, &d, &h, &mi) == 5);
  CHECK(local(shanghai(), shift_out_of_quiet(s.quiet, shanghai(), at(shanghai(), y, mo, d, h, mi))) == expect);
}

TEST_CASE("schedule JSON: bad input is named by field in Chinese", "[scheduler]") {
  const json good = {{"name", "每周课程"},
                     {"audience", {{"units", {"4101"}}}},
                     {"content", {{"kind", "series"}}},
                     {"time", {{"kind", "weekly"}, {"at", "09:00"}, {"weekday", 3}}},
                     {"start_date", "2026-12-01"},
                     {"route", "robot"}};
  auto s = schedule_from_json(good);
  REQUIRE(s.has_value());
  CHECK(s->quiet.to_string() == "21:30-07:30");
  CHECK(schedule_from_json(schedule_to_json(*s)).value().time.weekday == 3);
  struct Case {
    const char* field;
    json value;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"time", {{"kind", "daily"}, {"at", "24:00"}}, "time.at"},
      {"time", {{"kind", "weekly"}, {"at", "09:00"}, {"weekday", 0}}, "time.weekday"},
      {"time", {{"kind", "monthly"}, {"at", "09:00"}, {"day", 32}}, "time.day"},
      {"time", {{"kind", "cron"}, {"expr", "61 * * * *"}}, "time.expr"},
      {"time", {{"kind", "cron"}, {"expr", "* * *"}}, "5 个字段"},
      {"time", {{"kind", "hourly"}}, "time.kind"},
      {"start_date", "2026-02-30", "start_date"},
      {"end_date", "2026-11-01", "end_date"},
      {"quiet_hours", "21:30", "quiet_hours"},
      {"route", "sms", "route"},
      {"content", {{"kind", "lesson"}}, "content.ref"},
      {"audience", {{"units", {"41x"}}}, "audience.units"},
      {"audience", {{"group_kinds", {"family"}}}, "audience.group_kinds"},
      {"colour", "red", "colour"},
  };
  for (const auto& c : cases) {
    json j = good;
    j[c.field] = c.value;
    auto r = schedule_from_json(j);
    CAPTURE(c.field, c.value.dump());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == "scheduler.invalid");
    CHECK_THAT(r.error().message, Catch::Contains(c.expect));
  }
}
