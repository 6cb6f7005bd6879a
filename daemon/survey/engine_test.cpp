#include "daemon/survey/engine.h"

#include "daemon/survey/test_support.h"

#include <catch2/catch.hpp>

namespace yuer::survey {
namespace {

using testing::date;

store::Family family(std::string child, std::string birth, std::string hash, std::string masked, std::string userid) {
  store::Family f;
  f.child_id = std::move(child);
  f.birth_date = std::move(birth);
  f.unit_code = "441234001000";
  f.phone_hash = std::move(hash);
  f.phone_masked = std::move(masked);
  f.external_userid = std::move(userid);
  return f;
}

// c1 (7 months on 2026-03-10) and c2 (29 months) share a caregiver; c3 shares c1's birth date.
const VectorRoster& roster() {
  static const VectorRoster r({family("c1", "2025-08-01", "h1", "138****1234", "wm_one"),
                               family("c2", "2023-09-15", "h1", "138****1234", ""),
                               family("c3", "2025-08-01", "h3", "139****5678", ""),
                               family("c4", "2025-01-20", "h4", "137****0000", "wm_solo"),
                               family("old", "2022-01-01", "h5", "136****1111", "wm_old")});
  return r;
}

struct Step {
  std::string message;
  std::string expect;  // a part of the joined replies
  std::string date = "2026-03-10";
};

struct Run {
  ConversationState state;
  std::vector<CompletedResponse> completed;
  std::vector<std::string> last;
};

// Plays the steps through the engine. Between steps the state goes through JSON text and back,
// as if yuerd restarted after every message; every turn is checked against the kf limits.
Run play(const std::vector<Step>& steps, const std::string& userid, ConversationState start = {}) {
  Engine engine(testing::feeding());
  Run run{std::move(start), {}, {}};
  for (const auto& s : steps) {
    TurnContext ctx{date(s.date.c_str()), userid, &roster()};
    Turn t = engine.handle(run.state, s.message, ctx);
    std::string joined;
    for (const auto& r : t.replies) joined += r + "\n---\n";
    CAPTURE(s.message, joined);
    REQUIRE(!t.replies.empty());
    CHECK(t.replies.size() <= kMaxRepliesPerTurn);
    for (const auto& r : t.replies) CHECK(r.size() <= kMaxReplyBytes);
    CHECK(joined.find(s.expect) != std::string::npos);
    for (auto& c : t.completed) run.completed.push_back(std::move(c));
    run.last = t.replies;
    auto restored = ConversationState::from_json(nlohmann::json::parse(run.state.to_json().dump()));
    REQUIRE(restored.has_value());
    CHECK(restored->to_json() == run.state.to_json());
    run.state = std::move(*restored);
  }
  return run;
}

TEST_CASE("a known parent answers every question, corrects one and confirms", "[survey][engine]") {
  auto run = play({{"你好", "【第1题"},                // ever_bf
                   {"1", "多久第一次吃妈妈的奶"},       // first_bf
                   {"马上", "头两天"},                  // prelacteal
                   {"2", "昨天一整天"},                 // bf_yesterday (with block intro)
                   {"吃过", "奶瓶"},                    // bottle
                   {"没用过", "喝过下面哪些"},          // liquids
                   {"1，2", "几次婴儿奶粉"},            // formula_n
                   {"三次", "吃过下面哪些"},            // foods_plant
                   {"米饭 南瓜", "还吃过下面哪些"},     // foods_other
                   {"鸡蛋", "一共吃了几次固体"},        // meals_n
                   {"2次", "请核对"},
                   {"改2", "多久第一次吃妈妈的奶"},
                   {"3", "请核对"},
                   {"确认", "问卷已提交"}},
                  "wm_solo");
  REQUIRE(run.completed.size() == 1);
  const auto& r = run.completed[0];
  CHECK(r.child.child_id == "c4");
  CHECK(r.matched);
  CHECK(r.age_months == 13);
  CHECK(r.interview_date == "2026-03-10");
  CHECK_FALSE(r.recall_shifted);
  CHECK(r.answers["ever_bf"] == nlohmann::json{{"code", "yes"}});
  CHECK(r.answers["first_bf"] == nlohmann::json{{"code", "later"}});
  CHECK(r.answers["liquids"] == nlohmann::json{{"codes", {"water", "formula"}}});
  CHECK(r.answers["formula_n"] == nlohmann::json{{"int", 3}});
  CHECK(r.answers["foods_plant"] == nlohmann::json{{"codes", {"grains", "orange_veg"}}});
  CHECK(r.answers["foods_other"] == nlohmann::json{{"codes", {"egg"}}});
  CHECK(r.answers["meals_n"] == nlohmann::json{{"int", 2}});
  CHECK_FALSE(r.answers.contains("any_solid"));
  CHECK_FALSE(r.answers.contains("milk_n"));
  CHECK(run.state.phase == Phase::kDone);
}

TEST_CASE("re-asks carry the reason and the question again", "[survey][engine]") {
  play({{"hi", "吃过妈妈的奶"},
        {"5", "没有第5项"},
        {"5", "宝宝出生以后吃过妈妈的奶吗"},
        {"1 2", "只能选一个"},
        {"改3", "到时候可以修改"},
        {"嗯", "没看明白"},
        {"1", "多久第一次"}},
       "wm_solo");
}

TEST_CASE("上一题, 重新开始, 退出 and coming back days later", "[survey][engine]") {
  auto run = play({{"hi", "【第1题"},
                   {"上一题", "已经是第一题了"},
                   {"1", "多久第一次"},
                   {"返回", "您之前的回答：吃过"},
                   {"2", "昨天白天或夜里，宝宝吃过母乳吗"},  // first_bf and prelacteal are skipped now
                   {"上一题", "回到上一题"},
                   {"1", "多久第一次"},
                   {"不填了", "已经保存"},
                   {"在吗", "欢迎回来", "2026-03-13"},
                   {"重新开始", "从头开始"},
                   {"1", "多久第一次", "2026-03-13"}},
                  "wm_solo");
  CHECK(run.state.recall_shifted);
  CHECK(run.state.interview_date == "2026-03-10");
}

TEST_CASE("a correction that changes skip logic drops and adds questions", "[survey][engine]") {
  std::vector<Step> steps = {{"hi", "【第1题"}, {"2", "昨天一整天"}, {"1", "奶瓶"}, {"2", "喝过下面哪些"},
                             {"11", "吃过下面哪些"}, {"8", "还吃过下面哪些"}, {"12", "任何固体"},
                             {"没有", "请核对"}};
  auto run = play(steps, "wm_solo");
  auto lines = Engine(testing::feeding()).summary_lines(run.state);
  REQUIRE(lines.size() == 7);
  CHECK(lines[0] == "1. 吃过母乳：没吃过");
  // 改1 → 吃过: the birth block opens, two new questions, then the summary again.
  steps = {{"改1", "好的，请重新回答"}, {"1", "多久第一次"}, {"1", "头两天"}, {"3", "请核对"}};
  run = play(steps, "wm_solo", run.state);
  CHECK(Engine(testing::feeding()).summary_lines(run.state).size() == 9);
  // 改7 (foods_plant) → 米饭: any_solid disappears, meals_n appears.
  steps = {{"改7", "吃过下面哪些"}, {"米饭", "一共吃了几次"}, {"2", "请核对"}, {"改99", "没有第99项"}, {"好的", "问卷已提交"}};
  run = play(steps, "wm_solo", run.state);
  REQUIRE(run.completed.size() == 1);
  CHECK_FALSE(run.completed[0].answers.contains("any_solid"));
  CHECK(run.completed[0].answers["meals_n"] == nlohmann::json{{"int", 2}});
  CHECK(run.state.phase == Phase::kDone);
  play({{"你好", "问卷已经填好了"}}, "wm_solo", run.state);
}

TEST_CASE("an unknown parent is matched by birth date and the last 4 phone digits", "[survey][engine]") {
  auto run = play({{"你好", "出生日期"},
                   {"2025年8月1日", "后4位"},
                   {"5679", "没有找到"},
                   {"2025-8-1", "后4位"},
                   {"尾号１２３４", "2个孩子"}},
                  "");
  REQUIRE(run.state.children.size() == 2);
  CHECK(run.state.children[0].child_id == "c2");  // older child first
  CHECK(run.state.children[1].child_id == "c1");
  CHECK(run.state.current == "bf_yesterday");
}

TEST_CASE("an unmatched parent still answers, the response is kept as unmatched", "[survey][engine]") {
  std::vector<Step> steps = {{"你好", "出生日期"}, {"2025-9-9", "后4位"}, {"1111", "没有找到"},
                             {"2025-9-9", "后4位"}, {"2222", "工作人员之后会核对"}};
  auto run = play(steps, "");
  REQUIRE(run.state.children.size() == 1);
  CHECK(run.state.children[0].child_id.empty());
  CHECK(run.state.children[0].birth_date == "2025-09-09");
  CHECK(run.state.current == "ever_bf");
}

TEST_CASE("children outside 0-36 months are not surveyed", "[survey][engine]") {
  auto run = play({{"hi", "不在这次调查的月龄范围"}}, "wm_old");
  CHECK(run.state.phase == Phase::kDone);
  CHECK(run.completed.empty());
}

TEST_CASE("two children answer one after the other", "[survey][engine]") {
  // c2 (29 months) first: no birth block.
  std::vector<Step> steps = {{"hi", "2个孩子"}, {"2", "奶瓶"}, {"2", "喝过"}, {"3", "几次牛奶"},
                             {"2", "甜的"}, {"2", "吃过下面哪些"}, {"1 4 7", "还吃过"}, {"4 5", "一共吃了几次"},
                             {"3", "请核对"}, {"确认", "第1个孩子的问卷已提交"}};
  auto run = play(steps, "wm_one");
  REQUIRE(run.completed.size() == 1);
  CHECK(run.completed[0].child.child_id == "c2");
  CHECK(run.completed[0].age_months == 29);
  CHECK(run.state.child == 1);
  CHECK(run.state.current == "ever_bf");
  CHECK(run.state.answers.empty());
}

TEST_CASE("a long summary is split into messages within the kf limits", "[survey][engine]") {
  std::vector<Step> steps = {{"hi", "【第1题"}, {"1", "多久"}, {"1", "头两天"}, {"1", "昨天"}, {"1", "奶瓶"},
                             {"1", "喝过"}, {"1 2 3 4 5 6 7 8 9 10", "几次婴儿奶粉"}};
  auto run = play(steps, "wm_solo");
  // Answer every follow-up with 1 until the summary appears.
  for (int i = 0; i < 20 && run.state.phase == Phase::kAsking; ++i) {
    std::string reply = run.state.current == "foods_plant" ? "1 2 3 4 5 6 7" : run.state.current == "foods_other" ? "1 2 3 4 5 6 7 8 9 10 11" : "1";
    run = play({{reply, ""}}, "wm_solo", run.state);
  }
  REQUIRE(run.state.phase == Phase::kSummary);
  std::size_t total = 0;
  for (const auto& r : run.last) total += r.size();
  CHECK(total > 1000);
  CHECK(run.last.size() <= kMaxRepliesPerTurn);
}

TEST_CASE("pack_replies keeps at most 5 messages of at most 2000 bytes", "[survey][engine]") {
  auto [count, line_bytes] = GENERATE(table<int, int>({{1, 10}, {3, 100}, {8, 100}, {40, 300}, {200, 90}, {2, 5000}}));
  CAPTURE(count, line_bytes);
  std::vector<std::string> in;
  for (int i = 0; i < count; ++i) in.push_back(std::string(static_cast<std::size_t>(line_bytes), 'x') + "\n" + "第" + std::to_string(i));
  auto out = pack_replies(in);
  CHECK(!out.empty());
  CHECK(out.size() <= kMaxRepliesPerTurn);
  for (const auto& m : out) CHECK(m.size() <= kMaxReplyBytes);
  if (count <= 3 && line_bytes < 1000) CHECK(out.size() == static_cast<std::size_t>(count));
}

TEST_CASE("pack_replies cuts only at UTF-8 boundaries", "[survey][engine]") {
  std::string line;
  for (int i = 0; i < 1000; ++i) line += "字";
  auto out = pack_replies({line});
  REQUIRE(out.size() == 2);
  for (const auto& m : out) CHECK(to_u32(m).find(U'\uFFFD') == std::u32string::npos);
  CHECK(out[0].size() + out[1].size() == line.size());
}

TEST_CASE("a state that is not ours is refused", "[survey][engine]") {
  CHECK_FALSE(ConversationState::from_json(nlohmann::json::parse("{}")).has_value());
  auto j = ConversationState{}.to_json();
  j["phase"] = "dancing";
  CHECK_FALSE(ConversationState::from_json(j).has_value());
  j = ConversationState{}.to_json();
  j["answers"] = {{"x", {{"int", "3"}}}};
  CHECK_FALSE(ConversationState::from_json(j).has_value());
}

}  // namespace
}  // namespace yuer::survey
