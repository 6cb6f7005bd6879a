// [time] test_clock/clock_rate, [scheduler] and [[schedule]] in yuerd's config (issue 6).
#include "daemon/store/store_testing.h"
#include "daemon/yuerd/config.h"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace {

using Dir = yuer::store::testing::TempDir;

yuer::Result<yuer::yuerd::Settings> load(const std::string& api_base, const std::string& extra,
                                         const std::string& time_extra = "") {
  Dir d;
  {
    std::ofstream(d.path() / "admin_token") << "admin-token-0123456789abcdef";
    ::chmod((d.path() / "admin_token").c_str(), 0600);
    std::ofstream(d.path() / "yuerd.toml") << "[server]\nlisten = \"127.0.0.1:0\"\n[store]\npath = \"yuer.db\"\n"
                                          << "[wecom]\napi_base = \"" << api_base << "\"\ncorp_id = \"ww1\"\n"
                                          << "[time]\nzone = \"Asia/Shanghai\"\n" << time_extra
                                          << "[admin]\ntoken_file = \"admin_token\"\n" << extra;
  }
  return yuer::yuerd::load_config((d.path() / "yuerd.toml").string(), [](const std::string&) { return std::nullopt; });
}

const char* kSchedule = R"(
[[schedule]]
id = "daily"
name = "每日课程"
content = { kind = "series" }
time = { kind = "monthly", at = "09:00", day = 31 }
start_date = "2027-01-01"
route = "robot"
)";

}  // namespace

TEST_CASE("config: [scheduler] and [[schedule]] are read, defaults hold without them", "[yuerd][config][scheduler]") {
  auto plain = load("http://127.0.0.1:9", "");
  INFO((plain ? "" : plain.error().message));
  REQUIRE(plain.has_value());
  CHECK(plain->scheduler.catch_up == std::chrono::hours(24));
  CHECK(plain->scheduler.plan.group_task_per_day == 1);
  CHECK_FALSE(plain->test_clock);
  CHECK(plain->scheduler.config_schedules.empty());

  auto s = load("http://127.0.0.1:9", std::string("[scheduler]\ncatch_up_s = 3600\ngroup_task_per_day = 2\n") + kSchedule,
                "test_clock = true\nclock_rate = 1440\n");
  INFO((s ? "" : s.error().message));
  REQUIRE(s.has_value());
  CHECK(s->test_clock);
  CHECK(s->clock_rate == 1440.0);
  CHECK(s->scheduler.catch_up == std::chrono::hours(1));
  CHECK(s->scheduler.plan.group_task_per_day == 2);
  REQUIRE(s->scheduler.config_schedules.size() == 1);
  CHECK(s->scheduler.config_schedules[0].id == "daily");
  CHECK(s->scheduler.config_schedules[0].time.day == 31);
  CHECK(s->scheduler.config_schedules[0].source == "config");
}

TEST_CASE("config: bad scheduler settings name the key", "[yuerd][config][scheduler]") {
  struct Case {
    const char* label;
    std::string api_base, extra, time_extra, expect;
  };
  const std::vector<Case> cases = {
      {"test clock with a real WeCom", "https://qyapi.weixin.qq.com", "", "test_clock = true\n", "time.test_clock"},
      {"negative clock rate", "http://127.0.0.1:9", "", "clock_rate = -1\n", "time.clock_rate"},
      {"unknown scheduler key", "http://127.0.0.1:9", "[scheduler]\ncatchup_s = 1\n", "", "scheduler.catchup_s"},
      {"schedule without an id", "http://127.0.0.1:9",
       "[[schedule]]\nname = \"x\"\ncontent = { kind = \"series\" }\ntime = { kind = \"daily\", at = \"09:00\" }\n"
       "start_date = \"2027-01-01\"\n",
       "", "schedule[0].id"},
      {"schedule with a bad time", "http://127.0.0.1:9",
       "[[schedule]]\nid = \"a\"\nname = \"x\"\ncontent = { kind = \"series\" }\ntime = { kind = \"daily\", at = \"9\" }\n"
       "start_date = \"2027-01-01\"\n",
       "", "time.at"},
      {"the same id twice", "http://127.0.0.1:9", std::string(kSchedule) + kSchedule, "", "used twice"},
      {"kf without kf_account", "http://127.0.0.1:9",
       "[[schedule]]\nid = \"k\"\nname = \"x\"\ncontent = { kind = \"series\" }\ntime = { kind = \"daily\", at = \"09:00\" }\n"
       "start_date = \"2027-01-01\"\nroute = \"kf\"\n",
       "", "kf_account"},
  };
  for (const auto& c : cases) {
    SECTION(c.label) {
      auto r = load(c.api_base, c.extra, c.time_extra);
      REQUIRE_FALSE(r.has_value());
      CHECK_THAT(r.error().message, Catch::Contains(c.expect));
    }
  }
}
