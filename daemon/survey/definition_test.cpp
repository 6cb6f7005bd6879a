#include "daemon/survey/definition.h"

#include "daemon/survey/test_support.h"

#include <catch2/catch.hpp>

namespace yuer::survey {
namespace {

// A small valid survey; cases append or replace parts of it.
const std::string kHead = R"(
id = "mini"
title = "小问卷"
)";
const std::string kQ1 = R"(
[[question]]
id = "bf"
type = "single"
prompt = "吃过母乳吗？"
options = [ { code = "yes", text = "吃过" }, { code = "no", text = "没吃过" } ]
)";
const std::string kQ2 = R"(
[[question]]
id = "times"
type = "integer"
prompt = "几次？"
min = 1
max = 10
when = "bf == 'yes'"
)";

TEST_CASE("a valid definition loads", "[survey][definition]") {
  auto s = load_survey(kHead + kQ1 + kQ2, "mini.toml");
  REQUIRE(s.has_value());
  CHECK(s->id == "mini");
  REQUIRE(s->questions.size() == 2);
  CHECK(s->questions[1].type == QuestionType::kInteger);
  CHECK(*s->questions[1].max == 10);
  CHECK(s->questions[0].label == "bf");  // label defaults to the id
  CHECK(s->index_of("times") == 1);
}

TEST_CASE("the validator names file, question and problem", "[survey][definition]") {
  auto [label, text, needle] = GENERATE(table<std::string, std::string, std::string>({
      {"duplicate id", kHead + kQ1 + kQ1, "mini.toml: 题目 bf: id 重复"},
      {"unknown reference", kHead + kQ1 + R"(
[[question]]
id = "x"
type = "text"
prompt = "?"
when = "nothere == 1"
)", "mini.toml: 题目 x: when 引用了不存在的 nothere"},
      {"forward reference", kHead + R"(
[[question]]
id = "x"
type = "text"
prompt = "?"
when = "bf == 'yes'"
)" + kQ1, "题目 x: when 引用了后面的题目 bf"},
      {"self reference", kHead + R"(
[[question]]
id = "x"
type = "integer"
prompt = "?"
min = 0
max = 3
when = "x == 1"
)", "题目 x: when 引用了本题目 x"},
      {"unknown option code", kHead + kQ1 + R"(
[[question]]
id = "x"
type = "text"
prompt = "?"
when = "bf == 'maybe'"
)", "题目 x: when 里 bf 没有选项代码 'maybe'"},
      {"min above max", kHead + R"(
[[question]]
id = "x"
type = "integer"
prompt = "?"
min = 5
max = 2
)", "题目 x: 范围不对：min 5 大于 max 2"},
      {"integer without range", kHead + R"(
[[question]]
id = "x"
type = "integer"
prompt = "?"
)", "题目 x: 整数题要写 min 和 max"},
      {"one option", kHead + R"(
[[question]]
id = "x"
type = "single"
prompt = "?"
options = [ { code = "a", text = "甲" } ]
)", "题目 x: 选择题至少要有 2 个选项"},
      {"duplicate option code", kHead + R"(
[[question]]
id = "x"
type = "single"
prompt = "?"
options = [ { code = "a", text = "甲" }, { code = "a", text = "乙" } ]
)", "题目 x: 选项代码 a 重复"},
      {"unknown type", kHead + R"(
[[question]]
id = "x"
type = "slider"
prompt = "?"
)", "题目 x: type 只能是"},
      {"unknown field", kHead + R"(
[[question]]
id = "x"
type = "text"
prompt = "?"
skip_if = "1"
)", "题目 x: 不认识的字段 skip_if"},
      {"constraint without message", kHead + R"(
[[question]]
id = "x"
type = "integer"
prompt = "?"
min = 0
max = 9
constraint = "value < 5"
)", "题目 x: 有 constraint 就要写 constraint_message"},
      {"calc cycle", kHead + kQ1 + R"(
[[calc]]
id = "a"
expr = "b + 1"
[[calc]]
id = "b"
expr = "c + 1"
[[calc]]
id = "c"
expr = "a + 1"
)", "循环引用：a → b → c → a"},
      {"calc reaching a later question", kHead + R"(
[[question]]
id = "x"
type = "text"
prompt = "?"
when = "later_yes"
)" + kQ1 + R"(
[[calc]]
id = "later_yes"
expr = "bf == 'yes'"
)", "题目 x: when 通过计算字段引用了后面的题目 bf"},
      {"unreachable by age", kHead + R"(
[[question]]
id = "x"
type = "text"
prompt = "?"
when = "age_months > 40"
)", "题目 x: 永远不会被问到"},
      {"unreachable by answers", kHead + kQ1 + R"(
[[question]]
id = "x"
type = "text"
prompt = "?"
when = "bf == 'yes' and bf == 'no'"
)", "题目 x: 永远不会被问到"},
      {"unreachable by range", kHead + kQ1 + kQ2 + R"(
[[question]]
id = "x"
type = "text"
prompt = "?"
when = "times > 10"
)", "题目 x: 永远不会被问到"},
      {"bad expression", kHead + R"(
[[question]]
id = "x"
type = "text"
prompt = "?"
when = "age_months <"
)", "题目 x: when 写错了"},
      {"reserved id", kHead + R"(
[[question]]
id = "age_months"
type = "text"
prompt = "?"
)", "id age_months 是保留字"},
      {"no questions", kHead, "survey: 没有题目"},
      {"bad age range", kHead + "min_age_months = 10\nmax_age_months = 5\n" + kQ1, "月龄范围 10–5 不对"},
      {"toml syntax", "id = \"mini\nquestion = 1", "mini.toml:1:"},
      {"comparison of an integer with text", kHead + kQ1 + kQ2 + R"(
[[question]]
id = "x"
type = "text"
prompt = "?"
when = "times == 'many'"
)", "把 times（integer）和文字 'many' 比较"},
  }));
  CAPTURE(label);
  auto s = load_survey(text, "mini.toml");
  REQUIRE_FALSE(s.has_value());
  CHECK(s.error().code == "survey.bad_definition");
  CAPTURE(s.error().message);
  CHECK(s.error().message.find(needle) != std::string::npos);
}

TEST_CASE("reachable questions pass the reachability check", "[survey][definition]") {
  auto text = kHead + kQ1 + kQ2 + R"x(
[[question]]
id = "a"
type = "multiple"
prompt = "?"
options = [ { code = "p", text = "甲" }, { code = "q", text = "乙" }, { code = "r", text = "丙" } ]
[[question]]
id = "x"
type = "text"
prompt = "?"
when = "a has 'p' and a has 'r' and times >= 7 and age_months >= 6 and age_months <= 8 and count(a) == 3"
[[question]]
id = "y"
type = "text"
prompt = "?"
when = "not answered(times)"
)x";
  auto s = load_survey(text, "mini.toml");
  CAPTURE(s ? std::string() : s.error().message);
  CHECK(s.has_value());
}

TEST_CASE("the shipped feeding survey loads", "[survey][definition][feeding]") {
  const Survey& s = testing::feeding();
  CHECK(s.id == "feeding");
  for (const char* id : {"ever_bf", "first_bf", "prelacteal", "bf_yesterday", "bottle", "liquids", "formula_n",
                         "milk_n", "foods_plant", "foods_other", "any_solid", "meals_n"})
    CHECK(s.find(id) != nullptr);
  CHECK(s.find_calc("any_food_listed") != nullptr);
  // Every choice question fits one message with numbered options.
  for (const auto& q : s.questions) {
    CAPTURE(q.id);
    CHECK(q.options.size() <= 12);
    CHECK(q.prompt.size() < 600);
  }
}

TEST_CASE("every file in templates/surveys loads", "[survey][definition]") {
  auto all = load_survey_dir((std::filesystem::path(YUER_SOURCE_DIR) / "templates" / "surveys").string());
  CAPTURE(all ? std::string() : all.error().message);
  REQUIRE(all.has_value());
  CHECK(!all->empty());
}

}  // namespace
}  // namespace yuer::survey
