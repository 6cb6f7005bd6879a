#include "daemon/survey/text.h"

#include "daemon/survey/test_support.h"

#include <catch2/catch.hpp>

namespace yuer::survey {
namespace {

TEST_CASE("Chinese numerals up to 99", "[survey][text]") {
  auto [input, expected] = GENERATE(table<std::string, int>({
      {"一", 1}, {"两", 2}, {"二", 2}, {"九", 9}, {"零", 0}, {"十", 10}, {"十一", 11},
      {"十九", 19}, {"二十", 20}, {"二十三", 23}, {"九十九", 99}, {"两十", 20},
  }));
  CAPTURE(input);
  auto v = cn_number(to_u32(input));
  REQUIRE(v.has_value());
  CHECK(*v == expected);
}

TEST_CASE("not Chinese numbers", "[survey][text]") {
  auto input = GENERATE(as<std::string>{}, "", "一一", "十十", "零十", "十零", "二十三四", "三百", "百");
  CAPTURE(input);
  CHECK_FALSE(cn_number(to_u32(input)).has_value());
}

TEST_CASE("fold: full width, punctuation, case", "[survey][text]") {
  auto [input, expected] = GENERATE(table<std::string, std::string>({
      {"１２３", "123"},
      {"ＡＢｃ", "abc"},
      {"选２，３。", "选2,3 "},
      {"（好）", "(好)"},
      {"【好】、", " 好  "},
      {"a\u3000b", "a b"},
      {"母乳", "母乳"},
  }));
  CAPTURE(input);
  CHECK(to_utf8(fold(to_u32(input))) == expected);
}

TEST_CASE("UTF-8 round trip and invalid bytes", "[survey][text]") {
  CHECK(to_utf8(to_u32("宝宝 ok 😀")) == "宝宝 ok 😀");
  CHECK(to_u32(std::string("\xff\xfe", 2)) == U"\uFFFD\uFFFD");
  CHECK(to_u32(std::string("\xe5\xae", 2)) == U"\uFFFD\uFFFD");  // truncated
  CHECK(to_u32(std::string("\xc0\xaf", 2)) == U"\uFFFD\uFFFD");  // overlong '/'
}

TEST_CASE("completed months and days", "[survey][text]") {
  using testing::date;
  auto [birth, on, months] = GENERATE(table<std::string, std::string, int>({
      {"2024-03-05", "2024-03-05", 0},
      {"2024-03-05", "2024-04-04", 0},
      {"2024-03-05", "2024-04-05", 1},
      {"2024-03-05", "2025-03-04", 11},
      {"2024-03-05", "2025-03-05", 12},
      {"2024-01-31", "2024-02-29", 0},
      {"2024-01-31", "2024-03-31", 2},
      {"2023-12-15", "2026-01-10", 24},
      {"2023-12-15", "2026-12-15", 36},
      {"2024-03-05", "2024-03-01", -1},
  }));
  CAPTURE(birth, on);
  CHECK(completed_months(date(birth.c_str()), date(on.c_str())) == months);
  CHECK(days_between(date("2024-02-28"), date("2024-03-01")) == 2);
}

TEST_CASE("ISO dates", "[survey][text]") {
  CHECK(parse_iso_date("2024-02-29").has_value());
  CHECK_FALSE(parse_iso_date("2023-02-29").has_value());
  CHECK_FALSE(parse_iso_date("2023-2-28").has_value());
  CHECK_FALSE(parse_iso_date("2023-13-01").has_value());
  CHECK(format_date(testing::date("2026-03-05")) == "2026-03-05");
}

}  // namespace
}  // namespace yuer::survey
