#include "daemon/survey/answer.h"

#include "daemon/survey/test_support.h"

#include <catch2/catch.hpp>

namespace yuer::survey {
namespace {

using testing::date;

const Question& q(const char* id) {
  const Question* found = testing::feeding().find(id);
  if (!found) throw std::runtime_error(std::string("no question ") + id);
  return *found;
}

Question date_question() {
  Question d;
  d.id = "birth";
  d.type = QuestionType::kDate;
  d.prompt = "出生日期";
  return d;
}

// Expected: the answer's JSON, or "!" followed by a part of the Chinese re-ask reason.
void check(const Question& question, const std::string& reply, const std::string& expected) {
  CAPTURE(question.id, reply, expected);
  auto a = parse_answer(question, reply, date("2026-03-10"));
  if (expected.rfind('!', 0) == 0) {
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().code == "survey.reask");
    CAPTURE(a.error().message);
    CHECK(a.error().message.find(expected.substr(1)) != std::string::npos);
  } else {
    CAPTURE(a ? std::string() : a.error().message);
    REQUIRE(a.has_value());
    CHECK(a->to_json().dump() == expected);
  }
}

TEST_CASE("single choice: how parents type", "[survey][answer]") {
  auto [reply, expected] = GENERATE(table<std::string, std::string>({
      {"1", R"({"code":"yes"})"},
      {"2", R"({"code":"no"})"},
      {"3", R"({"code":"dk"})"},
      {" 1 ", R"({"code":"yes"})"},
      {"１", R"({"code":"yes"})"},
      {"２。", R"({"code":"no"})"},
      {"一", R"({"code":"yes"})"},
      {"两", R"({"code":"no"})"},
      {"三", R"({"code":"dk"})"},
      {"选2吧", R"({"code":"no"})"},
      {"我选1", R"({"code":"yes"})"},
      {"第三个", R"({"code":"dk"})"},
      {"第一个", R"({"code":"yes"})"},
      {"1.", R"({"code":"yes"})"},
      {"1、吃过", R"({"code":"yes"})"},
      {"吃过", R"({"code":"yes"})"},
      {"吃过的", R"({"code":"yes"})"},
      {"没吃过", R"({"code":"no"})"},
      {"没有", R"({"code":"no"})"},
      {"有", R"({"code":"yes"})"},
      {"是的", R"({"code":"yes"})"},
      {"不是", R"({"code":"no"})"},
      {"不记得了", R"({"code":"dk"})"},
      {"不知道", R"({"code":"dk"})"},
      {"记不清", R"({"code":"dk"})"},
      {"吃了，吃了一点", R"({"code":"yes"})"},
      {"一直吃奶粉", R"({"code":"no"})"},
      {"2 没吃过", R"({"code":"no"})"},
      {"4", "!没有第4项"},
      {"0", "!没有第0项"},
      {"12", "!没有第12项"},
      {"1 2", "!只能选一个"},
      {"吃过 2", "!只能选一个"},
      {"", "!没有收到回答"},
      {"？？", "!没看明白"},
      {"嗯嗯", "!没看明白"},
      {"hello", "!没看明白"},
  }));
  check(q("ever_bf"), reply, expected);
}

TEST_CASE("single choice with longer options and numbers inside option text", "[survey][answer]") {
  auto [reply, expected] = GENERATE(table<std::string, std::string>({
      {"1", R"({"code":"lt1h"})"},
      {"马上", R"({"code":"lt1h"})"},
      {"一出生就吃了", R"({"code":"lt1h"})"},
      {"1小时以内", R"({"code":"lt1h"})"},
      {"当天", R"({"code":"same_day"})"},
      {"出生第二天或更晚", R"({"code":"later"})"},
      {"第二天", R"({"code":"later"})"},
      {"④", "!没看明白"},
      {"4", R"({"code":"dk"})"},
      {"四", R"({"code":"dk"})"},
      {"5", "!没有第5项"},
  }));
  check(q("first_bf"), reply, expected);
}

TEST_CASE("multiple choice: several answers in one message", "[survey][answer]") {
  auto [reply, expected] = GENERATE(table<std::string, std::string>({
      {"1", R"({"codes":["water"]})"},
      {"1 2", R"({"codes":["water","formula"]})"},
      {"1，2", R"({"codes":["water","formula"]})"},
      {"1,2,3", R"({"codes":["water","formula","milk"]})"},
      {"1、3、5", R"({"codes":["water","milk","choco_drink"]})"},
      {"3 1", R"({"codes":["water","milk"]})"},
      {"1 1", R"({"codes":["water"]})"},
      {"１２", "!没有第12项"},
      {"10", R"({"codes":["other_drink"]})"},
      {"11", R"({"codes":["none"]})"},
      {"一和三", R"({"codes":["water","milk"]})"},
      {"选1跟2", R"({"codes":["water","formula"]})"},
      {"奶粉", R"({"codes":["formula"]})"},
      {"喝了奶粉和白开水", R"({"codes":["water","formula"]})"},
      {"牛奶", R"({"codes":["milk"]})"},
      {"果汁 可乐", R"({"codes":["juice","soda"]})"},
      {"米汤", R"({"codes":["other_drink"]})"},
      {"都没喝", R"({"codes":["none"]})"},
      {"1 11", "!不能和别的选项一起选"},
      {"都没有，喝了水 1", "!不能和别的选项一起选"},
      {"12", "!没有第12项"},
      {"0", "!没有第0项"},
      {"啥", "!可以选多个"},
  }));
  check(q("liquids"), reply, expected);
}

TEST_CASE("multiple choice with at most 9 options reads digit runs one by one", "[survey][answer]") {
  auto [reply, expected] = GENERATE(table<std::string, std::string>({
      {"123", R"({"codes":["grains","orange_veg","white_tubers"]})"},
      {"１３５", R"({"codes":["grains","white_tubers","other_veg"]})"},
      {"二三", R"({"codes":["orange_veg","white_tubers"]})"},
      {"19", "!没有第9项"},
      {"8", R"({"codes":["none"]})"},
      {"米饭、青菜、苹果", R"({"codes":["grains","leafy_veg","other_fruit"]})"},
      {"稀饭和南瓜", R"({"codes":["grains","orange_veg"]})"},
      {"番茄", R"({"codes":["other_veg"]})"},
      {"土豆", R"({"codes":["white_tubers"]})"},
      {"香蕉", R"({"codes":["other_fruit"]})"},
  }));
  check(q("foods_plant"), reply, expected);
}

TEST_CASE("food words: a longer word wins over a shorter one inside it", "[survey][answer]") {
  auto [reply, expected] = GENERATE(table<std::string, std::string>({
      {"蛋糕", R"({"codes":["sweets"]})"},
      {"鸡蛋", R"({"codes":["egg"]})"},
      {"鸡蛋和蛋糕", R"({"codes":["egg","sweets"]})"},
      {"猪肝", R"({"codes":["organ"]})"},
      {"火腿肠", R"({"codes":["processed_meat"]})"},
      {"豆腐", R"({"codes":["legumes"]})"},
      {"辣条", R"({"codes":["fried_snacks"]})"},
      {"4 5", R"({"codes":["meat","egg"]})"},
      {"12", R"({"codes":["none"]})"},
  }));
  check(q("foods_other"), reply, expected);
}

TEST_CASE("integers: digits, Chinese numerals, units and don't know", "[survey][answer]") {
  auto [reply, expected] = GENERATE(table<std::string, std::string>({
      {"3", R"({"int":3})"},
      {"３", R"({"int":3})"},
      {"3次", R"({"int":3})"},
      {"三次", R"({"int":3})"},
      {"两次", R"({"int":2})"},
      {"十次", R"({"int":10})"},
      {"十二", R"({"int":12})"},
      {"大概4次吧", R"({"int":4})"},
      {"喝了5回", R"({"int":5})"},
      {"20", R"({"int":20})"},
      {"21", "!21次不在范围内"},
      {"0", "!0次不在范围内"},
      {"没有", "!0次不在范围内"},
      {"3到4次", "!请只回复一个数字"},
      {"三四次", "!请只回复一个数字"},
      {"不知道", R"({"dk":true})"},
      {"记不清了", R"({"dk":true})"},
      {"好多", "!没看明白"},
      {"", "!没看明白"},
  }));
  check(q("formula_n"), reply, expected);
}

TEST_CASE("integer without a don't-know option refuses 不知道", "[survey][answer]") {
  Question n;
  n.id = "n";
  n.type = QuestionType::kInteger;
  n.min = 0;
  n.max = 36;
  n.unit = "个月";
  check(n, "三个月", R"({"int":3})");
  check(n, "不知道", "!请回复 0 到 36 之间的数字");
  check(n, "没有", R"({"int":0})");
  check(n, "37个月", "!37个月不在范围内");
}

TEST_CASE("dates the way parents write them", "[survey][answer]") {
  auto [reply, expected] = GENERATE(table<std::string, std::string>({
      {"2026-3-5", R"({"date":"2026-03-05"})"},
      {"2026-03-05", R"({"date":"2026-03-05"})"},
      {"2026/3/5", R"({"date":"2026-03-05"})"},
      {"2026.3.5", R"({"date":"2026-03-05"})"},
      {"2026年3月5日", R"({"date":"2026-03-05"})"},
      {"2026年3月5号", R"({"date":"2026-03-05"})"},
      {"２０２６年３月５日", R"({"date":"2026-03-05"})"},
      {"20260305", R"({"date":"2026-03-05"})"},
      {"3月5日", R"({"date":"2026-03-05"})"},
      {"3月5号出生的", R"({"date":"2026-03-05"})"},
      {"5月1日", R"({"date":"2025-05-01"})"},
      {"二〇二五年三月五日", R"({"date":"2025-03-05"})"},
      {"三月五号", R"({"date":"2026-03-05"})"},
      {"25年12月1日", R"({"date":"2025-12-01"})"},
      {"2024年2月29日", R"({"date":"2024-02-29"})"},
      {"2025年2月29日", "!不是一个正确的日期"},
      {"2026-13-01", "!不是一个正确的日期"},
      {"2026-04-01", "!日期不能晚于今天"},
      {"去年", "!没看懂这个日期"},
      {"2026", "!没看懂这个日期"},
      {"1899-1-1", "!不是一个正确的日期"},
  }));
  check(date_question(), reply, expected);
}

TEST_CASE("text answers are trimmed and bounded", "[survey][answer]") {
  Question t;
  t.id = "t";
  t.type = QuestionType::kText;
  check(t, "  小米粥 ", R"({"text":"小米粥"})");
  check(t, "   ", "!没有收到回答");
  std::string long_text;
  for (int i = 0; i < 201; ++i) long_text += "字";
  check(t, long_text, "!回答太长了");
}

TEST_CASE("optional questions accept 跳过", "[survey][answer]") {
  Question t = q("ever_bf");
  t.required = false;
  check(t, "跳过", R"({"skipped":true})");
  check(t, "不想回答", R"({"skipped":true})");
  check(q("ever_bf"), "跳过", "!没看明白");
}

TEST_CASE("commands and their variants", "[survey][answer]") {
  auto [reply, kind, number] = GENERATE(table<std::string, CommandKind, int>({
      {"上一题", CommandKind::kPrevious, 0},
      {"返回", CommandKind::kPrevious, 0},
      {"回到上一题", CommandKind::kPrevious, 0},
      {"上一个", CommandKind::kPrevious, 0},
      {"退回去", CommandKind::kPrevious, 0},
      {"重新开始", CommandKind::kRestart, 0},
      {"我要重新开始", CommandKind::kRestart, 0},
      {"重来", CommandKind::kRestart, 0},
      {"重新填", CommandKind::kRestart, 0},
      {"从头开始吧", CommandKind::kRestart, 0},
      {"退出", CommandKind::kExit, 0},
      {"不填了", CommandKind::kExit, 0},
      {"我不想填了", CommandKind::kExit, 0},
      {"先不填了", CommandKind::kExit, 0},
      {"结束", CommandKind::kExit, 0},
      {"确认", CommandKind::kConfirm, 0},
      {"确定", CommandKind::kConfirm, 0},
      {"提交", CommandKind::kConfirm, 0},
      {"对的", CommandKind::kConfirm, 0},
      {"没问题", CommandKind::kConfirm, 0},
      {"ＯＫ", CommandKind::kConfirm, 0},
      {"改3", CommandKind::kCorrect, 3},
      {"改 3", CommandKind::kCorrect, 3},
      {"改第三题", CommandKind::kCorrect, 3},
      {"修改12", CommandKind::kCorrect, 12},
      {"第2题改一下", CommandKind::kCorrect, 2},
      {"改１０", CommandKind::kCorrect, 10},
      {"1", CommandKind::kNone, 0},
      {"吃过", CommandKind::kNone, 0},
      {"不知道", CommandKind::kNone, 0},
      {"改", CommandKind::kNone, 0},
      {"不对", CommandKind::kNone, 0},
      {"宝宝昨天吃了米饭然后我们就结束了吃饭去玩了", CommandKind::kNone, 0},
  }));
  CAPTURE(reply);
  auto c = parse_command(reply);
  CHECK(c.kind == kind);
  CHECK(c.number == number);
}

TEST_CASE("answers round-trip through JSON", "[survey][answer]") {
  std::vector<Answer> all(7);
  all[0].kind = Answer::Kind::kCode;
  all[0].code = "yes";
  all[1].kind = Answer::Kind::kCodes;
  all[1].codes = {"a", "b"};
  all[2].kind = Answer::Kind::kInt;
  all[2].n = 7;
  all[3].kind = Answer::Kind::kDate;
  all[3].text = "2026-03-05";
  all[4].kind = Answer::Kind::kText;
  all[4].text = "粥";
  all[5].kind = Answer::Kind::kDontKnow;
  all[6].kind = Answer::Kind::kSkipped;
  for (const auto& a : all) {
    auto back = Answer::from_json(a.to_json());
    REQUIRE(back.has_value());
    CHECK(*back == a);
  }
  CHECK_FALSE(Answer::from_json(nlohmann::json::parse(R"({"int":"3"})")).has_value());
  CHECK_FALSE(Answer::from_json(nlohmann::json::parse(R"({"code":"a","int":3})")).has_value());
  CHECK_FALSE(Answer::from_json(nlohmann::json::parse(R"([1])")).has_value());
}

TEST_CASE("describe shows answers as a parent reads them", "[survey][answer]") {
  Answer a;
  a.kind = Answer::Kind::kCodes;
  a.codes = {"water", "formula"};
  CHECK(describe(q("liquids"), a) == "白开水或清水、婴儿奶粉（配方奶粉）");
  Answer n;
  n.kind = Answer::Kind::kInt;
  n.n = 3;
  CHECK(describe(q("formula_n"), n) == "3次");
  Answer d;
  d.kind = Answer::Kind::kDate;
  d.text = "2026-03-05";
  CHECK(describe(date_question(), d) == "2026年3月5日");
}

}  // namespace
}  // namespace yuer::survey
