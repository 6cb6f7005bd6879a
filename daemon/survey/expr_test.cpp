#include "daemon/survey/expr.h"

#include <catch2/catch.hpp>

#include <map>

namespace yuer::survey {
namespace {

EValue lookup(const std::string& id) {
  static const std::map<std::string, EValue> env = {
      {"age_months", EValue::integer(7)},
      {"ever_bf", EValue::str("yes")},
      {"foods", EValue::codes({"egg", "meat"})},
      {"n", EValue::integer(3)},
      {"gone", EValue::missing()},
  };
  auto it = env.find(id);
  return it == env.end() ? EValue::missing() : it->second;
}

TEST_CASE("expressions evaluate", "[survey][expr]") {
  auto [text, expected] = GENERATE(table<std::string, bool>({
      {"age_months < 24", true},
      {"age_months >= 6 and age_months <= 8", true},
      {"age_months > 8 or ever_bf == 'yes'", true},
      {"ever_bf != 'yes'", false},
      {"not ever_bf == 'no'", true},
      {"foods has 'egg'", true},
      {"foods has 'fish'", false},
      {"count(foods) == 2", true},
      {"n + 2 == 5", true},
      {"n - 4 == -1", true},
      {"num(gone) + n >= 3", true},
      {"gone == 1", false},
      {"gone != 1", false},
      {"not answered(gone)", true},
      {"answered(ever_bf)", true},
      {"(age_months < 6 or age_months > 8) and true", false},
      {"count(gone) == 0", true},
      {"gone + 1 == 1", false},
      {"\"yes\" == ever_bf", true},
  }));
  CAPTURE(text);
  auto e = Expr::parse(text);
  REQUIRE(e.has_value());
  CHECK(e->eval(lookup).truthy() == expected);
}

TEST_CASE("bad expressions name the place", "[survey][expr]") {
  auto [text, needle] = GENERATE(table<std::string, std::string>({
      {"age_months <", "不完整"},
      {"a == 'x", "引号"},
      {"a = 1", "不认识的符号"},
      {"(a == 1", "缺少 )"},
      {"a == 1 b", "多余"},
      {"foo(a)", "不认识的函数"},
      {"count('a')", "题目或计算字段"},
      {"a and or b", "不能是 or"},
      {"a ; b", "第3个字符"},
  }));
  CAPTURE(text);
  auto e = Expr::parse(text);
  REQUIRE_FALSE(e.has_value());
  CHECK(e.error().code == "survey.bad_expr");
  CHECK(e.error().message.find(needle) != std::string::npos);
}

TEST_CASE("identifiers and code comparisons are listed", "[survey][expr]") {
  auto e = Expr::parse("a == 'x' or b has 'y' and count(c) > 1 and age_months < 6");
  REQUIRE(e.has_value());
  CHECK(e->identifiers() == std::vector<std::string>{"a", "b", "c", "age_months"});
  CHECK(e->code_comparisons() == std::vector<std::pair<std::string, std::string>>{{"a", "x"}, {"b", "y"}});
  CHECK(e->int_literals() == std::vector<std::int64_t>{1, 6});
}

TEST_CASE("an empty expression is true", "[survey][expr]") { CHECK(Expr().eval(lookup).truthy()); }

}  // namespace
}  // namespace yuer::survey
