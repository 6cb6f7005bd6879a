#include "daemon/group_task/engine.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace yuer::group_task {
namespace {

// Unix ms of a UTC instant.
std::int64_t utc_ms(int y, unsigned m, unsigned d, int h, int min = 0) {
  auto days = std::chrono::sys_days(std::chrono::year_month_day(std::chrono::year(y), std::chrono::month(m),
                                                                std::chrono::day(d)));
  return std::chrono::duration_cast<std::chrono::milliseconds>(days.time_since_epoch()).count() +
         (h * 60LL + min) * 60000;
}

TEST_CASE("the quota month is the Asia/Shanghai calendar month", "[group_task]") {
  struct Case {
    const char* name;
    std::int64_t at;
    const char* month;
    int days;
    std::int64_t next;
  };
  const std::vector<Case> cases = {
      {"mid November", utc_ms(2026, 11, 15, 3), "2026-11", 30, utc_ms(2026, 11, 30, 16)},
      // 2026-11-30 16:00 UTC is 12-01 00:00 in Shanghai: already December there.
      {"UTC evening of the 30th", utc_ms(2026, 11, 30, 16), "2026-12", 31, utc_ms(2026, 12, 31, 16)},
      {"one minute before", utc_ms(2026, 11, 30, 15, 59), "2026-11", 30, utc_ms(2026, 11, 30, 16)},
      {"February of a leap year", utc_ms(2028, 2, 10, 0), "2028-02", 29, utc_ms(2028, 2, 29, 16)},
      {"February", utc_ms(2027, 2, 10, 0), "2027-02", 28, utc_ms(2027, 2, 28, 16)},
      {"year end", utc_ms(2026, 12, 31, 17), "2027-01", 31, utc_ms(2027, 1, 31, 16)},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(shanghai_month(c.at) == c.month);
    CHECK(days_in_shanghai_month(c.at) == c.days);
    CHECK(next_shanghai_month_start_ms(c.at) == c.next);
  }
}

TEST_CASE("merge_texts joins in order with a blank line while within the limit", "[group_task]") {
  struct Case {
    const char* name;
    std::vector<std::string> texts;
    std::size_t max;
    std::size_t taken;
    std::string merged;
  };
  const std::vector<Case> cases = {
      {"all fit", {"甲", "乙", "丙"}, 100, 3, "甲\n\n乙\n\n丙"},
      {"exactly at the limit", {"abc", "de"}, 7, 2, "abc\n\nde"},
      {"one byte over stops", {"abc", "de"}, 6, 1, "abc"},
      {"first too long", {std::string(10, 'x'), "y"}, 9, 0, ""},
      {"none", {}, 10, 0, ""},
      {"order kept after a stop", {"a", std::string(20, 'b'), "c"}, 10, 1, "a"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    std::string out = "stale";
    CHECK(merge_texts(c.texts, c.max, out) == c.taken);
    CHECK(out == c.merged);
  }
}

}  // namespace
}  // namespace yuer::group_task
