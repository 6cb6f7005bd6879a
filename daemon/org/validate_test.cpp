#include "daemon/org/validate.h"

#include "daemon/org/phone_key.h"

#include <catch2/catch.hpp>

namespace yuer::org {
namespace {

using namespace std::chrono;

TEST_CASE("division codes: level, parent and structure", "[org][validate]") {
  auto [input, level, parent] = GENERATE(table<std::string, int, std::string>({
      {"440000000000", 1, ""},
      {"440100000000", 2, "440000000000"},
      {"440103000000", 3, "440100000000"},
      {"440103001000", 4, "440103000000"},
      {"440103001002", 5, "440103001000"},
      {" 440103001000 ", 4, "440103000000"},
      {"820000000000", 1, ""},
  }));
  CAPTURE(input);
  auto c = parse_division_code(input);
  REQUIRE(c.has_value());
  CHECK(static_cast<int>(c->level) == level);
  CHECK(c->parent == parent);
}

TEST_CASE("division codes: bad ones are refused with a Chinese reason", "[org][validate]") {
  auto [input, needle] = GENERATE(table<std::string, std::string>({
      {"", "为空"},
      {"44010300100", "12位数字"},
      {"4401030010000", "12位数字"},
      {"44010300100a", "12位数字"},
      {"４４０１０３００１０００", "12位数字"},
      {"990000000000", "不是有效的省级代码"},
      {"000000000000", "不是有效的省级代码"},
      {"440003000000", "结构错误"},
      {"440100001000", "结构错误"},
      {"440103000001", "结构错误"},
  }));
  CAPTURE(input);
  auto c = parse_division_code(input);
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error().code == "org.bad_code");
  CHECK(c.error().message.find(needle) != std::string::npos);
}

TEST_CASE("unit names", "[org][validate]") {
  auto [input, ok] = GENERATE(table<std::string, bool>({
      {"广州市", true},
      {" 越秀区 ", true},
      {"", false},
      {"Guangzhou", false},
      {"广州\n市", false},
      {std::string(41 * 3, 'x'), false},
  }));
  CAPTURE(input);
  CHECK(check_unit_name(input).has_value() == ok);
}

TEST_CASE("birth dates: 0-36 months before the import date", "[org][validate]") {
  const year_month_day today{year(2026), month(11), day(23)};
  auto [input, code, normalised] = GENERATE(table<std::string, std::string, std::string>({
      {"2026-11-23", "", "2026-11-23"},
      {"2025-03-08", "", "2025-03-08"},
      {"2025/3/8", "", "2025-03-08"},
      {"2023-11-23", "", "2023-11-23"},  // exactly 36 months
      {"2023-11-22", "roster.too_old", ""},
      {"2020-01-01", "roster.too_old", ""},
      {"2026-11-24", "roster.future_birth_date", ""},
      {"2027-01-01", "roster.future_birth_date", ""},
      {"2025-02-29", "roster.bad_birth_date", ""},
      {"2025-13-01", "roster.bad_birth_date", ""},
      {"2025-3-8", "roster.bad_birth_date", ""},
      {"20250308", "roster.bad_birth_date", ""},
      {"", "roster.bad_birth_date", ""},
      {"2025-03-08x", "roster.bad_birth_date", ""},
  }));
  CAPTURE(input);
  auto d = check_birth_date(input, today);
  if (code.empty()) {
    REQUIRE(d.has_value());
    CHECK(*d == normalised);
  } else {
    REQUIRE_FALSE(d.has_value());
    CHECK(d.error().code == code);
  }
}

TEST_CASE("birth dates: the 36-month cutoff from a 31st", "[org][validate]") {
  // 2027-05-31 minus 36 months is 2024-05-31; from 2027-02-28 it is 2024-02-28.
  CHECK(check_birth_date("2024-05-31", {year(2027), month(5), day(31)}).has_value());
  CHECK_FALSE(check_birth_date("2024-05-30", {year(2027), month(5), day(31)}).has_value());
  // 2026-02-29 does not exist: from 2029-02-28 ... the cutoff 2026-02-28 is used.
  CHECK(check_birth_date("2026-02-28", {year(2029), month(2), day(28)}).has_value());
}

TEST_CASE("shanghai date is UTC+8", "[org][validate]") {
  // 2026-11-22T16:00:00Z is midnight of the 23rd in Shanghai.
  CHECK(format_date(shanghai_date(1795363200000LL)) == "2026-11-23");
  CHECK(format_date(shanghai_date(1795363200000LL - 1)) == "2026-11-22");
}

TEST_CASE("mobile numbers", "[org][validate]") {
  auto [input, digits] = GENERATE(table<std::string, std::string>({
      {"13812341234", "13812341234"},
      {"138 1234 1234", "13812341234"},
      {"138-1234-1234", "13812341234"},
      {"+8613812341234", "13812341234"},
      {"8613812341234", "13812341234"},
      {"19912341234", "19912341234"},
      {"12812341234", ""},
      {"1381234123", ""},
      {"138123412345", ""},
      {"2381234123a", ""},
      {"", ""},
      {"010-12345678", ""},
  }));
  CAPTURE(input);
  auto p = check_mobile(input);
  if (digits.empty()) {
    REQUIRE_FALSE(p.has_value());
    CHECK(p.error().code == "roster.bad_phone");
    CHECK(p.error().message.find(input.empty() ? "为空" : "11位") != std::string::npos);
  } else {
    REQUIRE(p.has_value());
    CHECK(*p == digits);
  }
}

TEST_CASE("masked phones and keyed hashes", "[org][validate]") {
  CHECK(mask_mobile("13812341234") == "138****1234");
  PhoneKey a("key-one-0123456789"), b("key-two-0123456789");
  CHECK(a.hash("13812341234") == a.hash("13812341234"));
  CHECK(a.hash("13812341234") != b.hash("13812341234"));
  CHECK(a.hash("13812341234") != a.hash("13812341235"));
  CHECK(a.hash("13812341234").size() == 64);
  CHECK(a.hash("13812341234").find("13812341234") == std::string::npos);
  // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
  CHECK(PhoneKey("Jefe").hash("what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("child ids, sex, names, external ids", "[org][validate]") {
  CHECK(check_child_id("C-001_a").has_value());
  CHECK_FALSE(check_child_id("").has_value());
  CHECK_FALSE(check_child_id("C 1").has_value());
  CHECK_FALSE(check_child_id(std::string(65, 'a')).has_value());
  CHECK(*check_sex("") == "");
  CHECK(*check_sex("男") == "男");
  CHECK(*check_sex("F") == "女");
  CHECK_FALSE(check_sex("未知").has_value());
  CHECK(*check_person_name(" 王芳 ") == "王芳");
  CHECK(check_person_name("").has_value());
  CHECK_FALSE(check_person_name("王\t芳").has_value());
  CHECK(check_external_userid("wmAbc-_1").has_value());
  CHECK_FALSE(check_external_userid("wm abc").has_value());
}

TEST_CASE("programme tags split on ASCII and full-width semicolons", "[org][validate]") {
  auto [input, expected] = GENERATE(table<std::string, std::vector<std::string>>({
      {"", {}},
      {"特困", {"特困"}},
      {"特困；低保", {"特困", "低保"}},
      {"特困; 低保 ;;特困", {"特困", "低保"}},
      {" ； ", {}},
  }));
  CAPTURE(input);
  auto t = parse_tags(input);
  REQUIRE(t.has_value());
  CHECK(*t == expected);
  CHECK_FALSE(parse_tags(std::string(21 * 3, 'x')).has_value());
}

}  // namespace
}  // namespace yuer::org
