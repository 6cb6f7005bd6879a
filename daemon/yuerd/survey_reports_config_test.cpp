// [survey.reminders], [survey.reports] and the [survey] notice keys in yuerd's config (issue 7).
#include "daemon/store/store_testing.h"
#include "daemon/yuerd/config.h"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace {

using Dir = yuer::store::testing::TempDir;

// The head is 12 lines long, so the survey text starts on line 13.
yuer::Result<yuer::yuerd::Settings> load(const std::string& survey) {
  Dir d;
  {
    std::ofstream(d.path() / "admin_token") << "admin-token-0123456789abcdef";
    ::chmod((d.path() / "admin_token").c_str(), 0600);
    std::ofstream(d.path() / "yuerd.toml") << "[server]\nlisten = \"127.0.0.1:0\"\n[store]\npath = \"yuer.db\"\n"
                                          << "[wecom]\napi_base = \"http://127.0.0.1:9\"\ncorp_id = \"ww1\"\n"
                                          << "[time]\nzone = \"Asia/Shanghai\"\n"
                                          << "[admin]\ntoken_file = \"admin_token\"\n"
                                          << "[survey]\n"
                                          << survey;
  }
  return yuer::yuerd::load_config((d.path() / "yuerd.toml").string(), [](const std::string&) { return std::nullopt; });
}

}  // namespace

TEST_CASE("config: survey reminders and reports are off without their tables", "[yuerd][config][reports]") {
  auto s = load("");
  INFO((s ? "" : s.error().message));
  REQUIRE(s.has_value());
  const auto& r = s->survey_reports;
  CHECK_FALSE(r.reminders.has_value());
  CHECK_FALSE(r.reports.has_value());
  CHECK(r.kf_nudge);
  CHECK(r.bot_commands);
  CHECK(r.township_percent == 90);
  CHECK(r.county_percent == 80);
  CHECK(r.catch_up_s == 6 * 3600);
  CHECK(r.poll_ms == 1000);
}

TEST_CASE("config: [survey.reminders] and [survey.reports] are read", "[yuerd][config][reports]") {
  auto s = load(R"(notice_catch_up_s = 7200
notice_poll_ms = 250
[survey.reminders]
time = { kind = "weekly", at = "10:00", weekday = 3 }
quiet_hours = "22:00-07:00"
start_date = "2027-03-01"
end_date = "2027-04-30"
kf_nudge = false
nudge_margin_s = 1800
nudge_expire_s = 900
[survey.reports]
time = { kind = "cron", expr = "30 17 * * 1-5" }
township_percent = 95
county_percent = 85
bot_commands = false
)");
  INFO((s ? "" : s.error().message));
  REQUIRE(s.has_value());
  const auto& r = s->survey_reports;
  REQUIRE(r.reminders.has_value());
  CHECK(r.reminders->time.kind == "weekly");
  CHECK(r.reminders->time.weekday == 3);
  CHECK(r.reminders->time.hour == 10);
  CHECK(r.reminders->quiet.start_min == 22 * 60);
  CHECK(r.reminders->quiet.end_min == 7 * 60);
  CHECK(r.reminders->start_days == 20878);  // 2027-03-01
  REQUIRE(r.reminders->end_days.has_value());
  CHECK(*r.reminders->end_days == 20938);   // 2027-04-30
  CHECK_FALSE(r.kf_nudge);
  CHECK(r.nudge_margin_s == 1800);
  CHECK(r.nudge_expire_s == 900);
  REQUIRE(r.reports.has_value());
  CHECK(r.reports->time.kind == "cron");
  CHECK(r.reports->time.expr == "30 17 * * 1-5");
  CHECK(r.reports->quiet.start_min == 21 * 60 + 30);  // the scheduler's default quiet hours
  CHECK(r.township_percent == 95);
  CHECK(r.county_percent == 85);
  CHECK_FALSE(r.bot_commands);
  CHECK(r.catch_up_s == 7200);
  CHECK(r.poll_ms == 250);
}

TEST_CASE("config: [survey.reports] without time keeps only the thresholds and commands", "[yuerd][config][reports]") {
  auto s = load("[survey.reports]\ntownship_percent = 70\n");
  INFO((s ? "" : s.error().message));
  REQUIRE(s.has_value());
  CHECK_FALSE(s->survey_reports.reports.has_value());
  CHECK(s->survey_reports.township_percent == 70);
}

TEST_CASE("config: survey notice mistakes are named by file, line and key", "[yuerd][config][reports]") {
  struct Case {
    const char* survey;
    const char* code;
    const char* where;  // "<line>: <key>"
    const char* says;
  };
  const Case cases[] = {
      {"[survey.reminders]\nquiet_hours = \"\"\n", "config.missing_key", ":13: survey.reminders.time", "missing"},
      {"[survey.reminders]\ntime = { kind = \"hourly\", at = \"10:00\" }\n", "config.bad_value",
       ":14: survey.reminders.time", "time.kind"},
      {"[survey.reminders]\ntime = { kind = \"daily\", at = \"25:00\" }\n", "config.bad_value",
       ":14: survey.reminders.time", "time.at"},
      {"[survey.reminders]\ntime = { kind = \"daily\", at = \"10:00\" }\nquiet_hours = \"late\"\n", "config.bad_value",
       ":14: survey.reminders.time", "quiet_hours"},
      {"[survey.reminders]\ntime = \"10:00\"\n", "config.wrong_type", ":14: survey.reminders.time", "a table"},
      {"[survey.reminders]\ntime = { kind = \"daily\", at = \"10:00\" }\nkf_nuge = true\n", "config.unknown_key",
       ":15: survey.reminders.kf_nuge", "did you mean kf_nudge"},
      {"[survey.reminders]\ntime = { kind = \"daily\", at = \"10:00\" }\nkf_nudge = 1\n", "config.wrong_type",
       ":15: survey.reminders.kf_nudge", "a boolean"},
      {"[survey.reminders]\ntime = { kind = \"daily\", at = \"10:00\" }\nnudge_margin_s = 200000\n",
       "config.bad_value", ":15: survey.reminders.nudge_margin_s", "out of range"},
      {"[survey.reports]\ntime = { kind = \"cron\", expr = \"61 * * * *\" }\n", "config.bad_value",
       ":14: survey.reports.time", "time"},
      {"[survey.reports]\ntownship_percent = 0\n", "config.bad_value", ":14: survey.reports.township_percent",
       "out of range"},
      {"[survey.reports]\ncounty_percent = 101\n", "config.bad_value", ":14: survey.reports.county_percent",
       "out of range"},
      {"[survey.reports]\nbot_command = true\n", "config.unknown_key", ":14: survey.reports.bot_command",
       "did you mean bot_commands"},
      {"notice_poll_ms = 1\n", "config.bad_value", ":13: survey.notice_poll_ms", "out of range"},
      {"reminders = 3\n", "config.wrong_type", ":13: survey.reminders", "expected a table"},
  };
  for (const auto& c : cases) {
    INFO(c.survey);
    auto s = load(c.survey);
    REQUIRE_FALSE(s.has_value());
    INFO(s.error().message);
    CHECK(s.error().code == c.code);
    CHECK(s.error().message.find(c.where) != std::string::npos);
    CHECK(s.error().message.find(c.says) != std::string::npos);
  }
}
