// Survey reminders, reports and robot commands: the message builders and the command parser.
#include "daemon/survey_service/bot_commands.h"
#include "daemon/survey_service/reports.h"

#include <catch2/catch.hpp>

#include <map>

namespace yuer::survey_service {
namespace {

std::vector<store::OrgUnit> tree() {
  return {{"530000000000", "云南省", 1, "", 0, 0},
          {"530100000000", "昆明市", 2, "530000000000", 0, 0},
          {"530102000000", "五华区", 3, "530100000000", 0, 0},
          {"530102001000", "甲镇", 4, "530102000000", 0, 0},
          {"530102002000", "乙镇", 4, "530102000000", 0, 0},
          {"530102003000", "丙镇", 4, "530102000000", 0, 0},
          {"530102001001", "甲镇一村", 5, "530102001000", 0, 0}};
}

std::vector<survey::CoverageRow> rows_of(std::map<std::string, survey::Ratio> counts) {
  return survey::coverage(tree(), counts);
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("robot commands: how management-group members write them", "[survey][reports]") {
  struct Case {
    const char* text;
    BotCommand want;
  };
  const Case cases[] = {
      {"@助手 进度", BotCommand::kProgress},
      {"@助手 进度？", BotCommand::kProgress},
      {"@助手　进度", BotCommand::kProgress},          // ideographic space
      {"@喂养助手 查一下进度", BotCommand::kProgress},
      {"@助手 调查进展怎么样了", BotCommand::kProgress},
      {"@助手 完成情况", BotCommand::kProgress},
      {"@助手 @张三 进度", BotCommand::kProgress},     // several mentions
      {"进度", BotCommand::kProgress},                 // no mention prefix (single chat)
      {"@助手 JD", BotCommand::kProgress},
      {"@助手 覆盖率", BotCommand::kCoverage},
      {"@助手 覆盖率！", BotCommand::kCoverage},
      {"@助手 完成率多少", BotCommand::kCoverage},
      {"@助手 帮助", BotCommand::kHelp},
      {"@助手 HELP", BotCommand::kHelp},
      {"@助手 ？", BotCommand::kHelp},
      {"@助手", BotCommand::kHelp},
      {"@助手 怎么用", BotCommand::kHelp},
      {"@助手 菜单", BotCommand::kHelp},
      {"@助手 你好", BotCommand::kUnknown},
      {"@助手 1", BotCommand::kUnknown},
      {"@助手 明天开会", BotCommand::kUnknown},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    CHECK(parse_bot_command(c.text) == c.want);
  }
}

TEST_CASE("robot replies: help, unknown, no open round", "[survey][reports]") {
  CHECK(contains(bot_reply(BotCommand::kHelp, {}), "进度"));
  CHECK_FALSE(contains(bot_reply(BotCommand::kHelp, {}), "没看懂"));
  CHECK(contains(bot_reply(BotCommand::kUnknown, {}), "没看懂"));
  CHECK(bot_reply(BotCommand::kProgress, {}) == "目前没有进行中的喂养调查。");
  CHECK(bot_reply(BotCommand::kProgress, {"a", "b"}) == "a\n\nb");
}

TEST_CASE("percent text is rounded down from integers", "[survey][reports]") {
  struct Case {
    std::int64_t responded, eligible;
    const char* want;
  };
  const Case cases[] = {{0, 10, "0.0%"}, {9, 10, "90.0%"}, {8996, 10000, "89.9%"}, {1, 3, "33.3%"},
                        {2, 3, "66.6%"}, {10, 10, "100.0%"}, {0, 0, "—"}};
  for (const auto& c : cases) {
    INFO(c.responded << "/" << c.eligible);
    CHECK(percent_text(c.responded, c.eligible) == c.want);
  }
}

TEST_CASE("township of a unit", "[survey][reports]") {
  CHECK(township_of("530102001001", 5) == "530102001000");
  CHECK(township_of("530102001000", 4) == "530102001000");
  CHECK(township_of("530102000000", 3) == "");
  CHECK(township_of("5301", 5) == "");
}

TEST_CASE("a parent group's reminder has counts and the link, no names", "[survey][reports]") {
  const std::string t = reminder_notice("甲镇", 7, 10, "https://work.weixin.qq.com/kfid/kfc1?enc_scene=s1_530102001000");
  CHECK(contains(t, "本乡镇（甲镇）已有 7 户完成喂养调查，还差 3 户"));
  CHECK(contains(t, "共 10 个孩子"));
  CHECK(contains(t, "https://work.weixin.qq.com/kfid/kfc1?enc_scene=s1_530102001000"));
  const std::string none = reminder_notice("", 0, 4, "");
  CHECK(contains(none, "本乡镇已有 0 户完成喂养调查，还差 4 户"));
  CHECK(contains(none, "要调查链接"));
  CHECK_FALSE(contains(none, "http"));
  CHECK(contains(reminder_notice("乙镇", 12, 10, ""), "还差 0 户"));  // never negative
}

TEST_CASE("a coverage report sums upward and flags below the targets", "[survey][reports]") {
  // 甲镇: village 5/6 + township 4/4 = 9/10 (90 %: not flagged); 乙镇 8/10 (flagged); 丙镇 0/0 (not listed).
  auto rows = rows_of({{"530102001001", {5, 6}}, {"530102001000", {4, 4}}, {"530102002000", {8, 10}}});
  store::SurveyRound round;
  round.id = 3;
  round.name = "2027 春季喂养调查";
  const std::string county = coverage_report("喂养调查进度日报", round, "2027-03-05", rows, "530102000000");
  INFO(county);
  CHECK(contains(county, "【喂养调查进度日报】2027 春季喂养调查（截至 2027-03-05）"));
  CHECK(contains(county, "五华区：17/20（85.0%）\n"));  // 17/20 = 85 % ≥ 80 %: no flag
  CHECK(contains(county, "· 甲镇：9/10（90.0%）\n"));
  CHECK(contains(county, "· 乙镇：8/10（80.0%） ⚠低于90%\n"));
  CHECK_FALSE(contains(county, "丙镇"));
  CHECK(contains(county, "1 个单位低于目标"));
  const std::string town = coverage_report("喂养调查进度", round, "", rows, "530102001000");
  CHECK(contains(town, "甲镇：9/10（90.0%）"));
  CHECK(contains(town, "· 甲镇一村：5/6（83.3%）"));  // villages are not flagged
  CHECK_FALSE(contains(town, "截至"));
  const std::string city = coverage_report("x", round, "", rows_of({{"530102002000", {1, 10}}}), "530100000000");
  CHECK(contains(city, "昆明市：1/10（10.0%）\n"));  // cities carry no flag
  CHECK(contains(city, "· 五华区：1/10（10.0%） ⚠低于80%"));
  CHECK(contains(coverage_report("x", round, "", rows, "530102003000"), "不在本轮调查范围"));
  CHECK(contains(coverage_report("x", round, "", rows, "999999999999"), "999999999999：不在本轮调查范围"));
  store::SurveyRound unnamed;
  unnamed.id = 8;
  CHECK(contains(coverage_report("x", unnamed, "", rows, "530102000000"), "【x】第 8 轮"));
}

TEST_CASE("kf nudges only to unfinished conversations inside the 48 h window", "[survey][reports]") {
  const std::int64_t h = 3'600'000;
  const std::int64_t t0 = 1'800'000'000'000;
  struct Case {
    const char* phase;
    std::int64_t updated, now;
    bool want;
  };
  const Case cases[] = {
      {"asking", t0, t0 + 2 * h, true},       {"summary", t0, t0 + 46 * h, true},
      {"ask_birth", t0, t0 + 1 * h, true},    {"asking", t0, t0 + 47 * h, false},  // within the 1 h margin
      {"asking", t0, t0 + 49 * h, false},     {"done", t0, t0 + h, false},
      {"paused", t0, t0 + h, false},          {"asking", t0, t0 - h, false},  // clock before the turn
  };
  for (const auto& c : cases) {
    INFO(c.phase << " " << (c.now - c.updated) / h << " h");
    store::SurveyConversationRow row{"kf", "wmX", 1, std::string("{\"phase\":\"") + c.phase + "\"}", c.updated};
    CHECK(nudge_due(row, c.now, h) == c.want);
  }
  store::SurveyConversationRow broken{"kf", "wmX", 1, "not json", t0};
  CHECK_FALSE(nudge_due(broken, t0 + h, h));
  CHECK_FALSE(contains(nudge_text(), "wm"));
}

TEST_CASE("robot message rows: text, chat and response_url", "[survey][reports]") {
  auto m = read_bot_message(
      R"({"msgid":"M1","aibotid":"B","chatid":"wrC1","chattype":"group","from":{"userid":"u"},)"
      R"("response_url":"http://127.0.0.1:1/cgi-bin/aibot/response?response_code=RC","msgtype":"text","text":{"content":"@助手 进度"}})");
  CHECK(m.msgid == "M1");
  CHECK(m.chatid == "wrC1");
  CHECK(m.chattype == "group");
  CHECK(m.text == "@助手 进度");
  CHECK(m.response_url == "http://127.0.0.1:1/cgi-bin/aibot/response?response_code=RC");
  auto mixed = read_bot_message(
      R"({"msgtype":"mixed","mixed":{"msg_item":[{"msgtype":"text","text":{"content":"@助手 "}},{"msgtype":"image","image":{"url":"x"}},{"msgtype":"text","text":{"content":"覆盖率"}}]}})");
  CHECK(mixed.text == "@助手 覆盖率");
  CHECK(read_bot_message("not json").text.empty());
}

}  // namespace yuer::survey_service
