#include "daemon/store/survey_store.h"

#include "daemon/store/store_testing.h"

#include <catch2/catch.hpp>

namespace yuer::store {
namespace {

using testing::TempDir;

using Env = testing::StoreEnv<SurveyStore, open_sqlite_survey_store>;

SurveyResponse response(std::string child, std::string unit, std::string answers) {
  SurveyResponse r;
  r.child_id = std::move(child);
  r.unit_code = std::move(unit);
  r.birth_date = "2025-08-01";
  r.interview_date = "2026-03-10";
  r.age_months = 7;
  r.answers = std::move(answers);
  return r;
}

TEST_CASE("survey store: a round keeps its eligible snapshot", "[store][survey]") {
  Env env;
  auto id = env.store->open_round(testing::march_round("440103000000"),
                                  {{"c1", "440103001000", "2025-08-01"},
                                   {"c2", "440103001000", "2024-01-01"},
                                   {"c3", "440103002000", "2025-02-02"},
                                   {"c1", "440103001000", "2025-08-01"}},
                                  1000);
  auto r = env.store->round(id);
  REQUIRE(r.has_value());
  CHECK(r->eligible == 3);
  CHECK(r->state == "open");
  CHECK(env.store->eligible(id).size() == 3);
  CHECK(env.store->rounds(true).size() == 1);
  CHECK(env.store->close_round(id, 2000));
  CHECK(env.store->round(id)->state == "closed");
  CHECK(env.store->round(id)->closed_ms == 2000);
  CHECK(env.store->rounds(true).empty());
  CHECK(env.store->rounds(false).size() == 1);
  CHECK_FALSE(env.store->close_round(id + 100, 3000));
  CHECK_FALSE(env.store->round(id + 100).has_value());
}

TEST_CASE("survey store: state and responses are written together, a correction keeps history", "[store][survey]") {
  Env env;
  auto id = env.store->open_round(testing::march_round("440103000000"),
                                  {{"c1", "440103001000", "2025-08-01"}, {"c2", "440103001000", "2024-01-01"},
                                   {"c3", "440103002000", "2025-02-02"}},
                                  1000);
  CHECK_FALSE(env.store->conversation("kf", "wm_1", id).has_value());
  SurveyTurnWrite t{"kf", "wm_1", id, R"({"v":1,"phase":"asking"})", {}, "", 0};
  CHECK(env.store->save_turn(t, 1100).empty());
  CHECK(*env.store->conversation("kf", "wm_1", id) == R"({"v":1,"phase":"asking"})");

  t.state = R"({"v":1,"phase":"done"})";
  t.responses = {response("c1", "440103001000", R"({"ever_bf":{"code":"yes"}})")};
  auto ids = env.store->save_turn(t, 1200);
  REQUIRE(ids.size() == 1);
  CHECK(*env.store->conversation("kf", "wm_1", id) == R"({"v":1,"phase":"done"})");

  // The same child answered again (another day, another channel): replaced, history kept.
  SurveyTurnWrite again{"app", "zhangsan", id, "{}", {response("c1", "440103001000", R"({"ever_bf":{"code":"no"}})")}, "", 0};
  auto ids2 = env.store->save_turn(again, 1300);
  REQUIRE(ids2 == ids);
  auto all = env.store->responses(id);
  REQUIRE(all.size() == 1);
  CHECK(all[0].revision == 2);
  CHECK(all[0].answers == R"({"ever_bf":{"code":"no"}})");
  CHECK(all[0].channel == "app");
  CHECK(all[0].created_ms == 1200);
  CHECK(all[0].updated_ms == 1300);
  auto hist = env.store->history(ids[0]);
  REQUIRE(hist.size() == 1);
  CHECK(hist[0].revision == 1);
  CHECK(hist[0].answers == R"({"ever_bf":{"code":"yes"}})");
  CHECK(hist[0].channel == "kf");

  // Unmatched respondents are kept apart, one per (channel, user, birth date).
  SurveyTurnWrite stranger{"kf", "wm_9", id, "{}", {response("", "", R"({})"), response("", "", R"({"x":{"int":1}})")}, "", 0};
  auto sid = env.store->save_turn(stranger, 1400);
  REQUIRE(sid.size() == 2);
  CHECK(sid[0] == sid[1]);
  CHECK(env.store->unmatched(id).size() == 1);
  CHECK(env.store->responses(id).size() == 2);

  auto counts = env.store->coverage_counts(id);
  CHECK(counts["440103001000"].responded == 1);
  CHECK(counts["440103001000"].eligible == 2);
  CHECK(counts["440103002000"].responded == 0);
  CHECK(counts["440103002000"].eligible == 1);
}

TEST_CASE("survey store: a child outside the snapshot does not raise coverage", "[store][survey]") {
  Env env;
  auto id = env.store->open_round(testing::march_round("440103000000"), {{"c1", "440103001000", "2025-08-01"}}, 1000);
  env.store->save_turn({"kf", "u", id, "{}", {response("late", "440103001000", "{}")}, "", 0}, 1100);
  auto counts = env.store->coverage_counts(id);
  CHECK(counts["440103001000"].responded == 0);
  CHECK(counts["440103001000"].eligible == 1);
}

TEST_CASE("survey store: a read-only store refuses writes and changes nothing", "[store][survey]") {
  Env env;
  auto id = env.store->open_round(testing::march_round("440103000000"), {{"c1", "440103001000", "2025-08-01"}}, 1000);
  Settings ro = env.settings;
  ro.read_only = true;
  auto opened = open_sqlite_survey_store(ro);
  REQUIRE(opened.has_value());
  auto& store = *opened;
  CHECK_THROWS_AS(store->save_turn({"kf", "u", id, "{}", {response("c1", "440103001000", "{}")}, "", 0}, 1100), StoreError);
  CHECK(store->responses(id).empty());
  CHECK_FALSE(store->conversation("kf", "u", id).has_value());
}

}  // namespace
}  // namespace yuer::store

namespace yuer::store {
namespace {

TEST_CASE("survey store 0009: name, units, links, bindings and the cursor moved with the turns", "[store][survey]") {
  Env env;
  auto r = testing::march_round("440103000000");
  r.name = "第一轮";
  r.units = {"440103001000", "440103002000"};
  auto id = env.store->open_round(r, {{"c1", "440103001000", "2025-08-01"}}, 1000);
  auto got = env.store->round(id);
  REQUIRE(got.has_value());
  CHECK(got->name == "第一轮");
  CHECK(got->units == r.units);

  env.store->put_kf_links(id, {{id, "440103001000", "wk1", "s1_440103001000", "https://a"},
                               {id, "440103002000", "wk1", "s1_440103002000", "https://b"}});
  CHECK(env.store->kf_links(id).size() == 2);
  auto link = env.store->kf_link_by_scene("s1_440103002000");
  REQUIRE(link.has_value());
  CHECK(link->url == "https://b");
  CHECK_FALSE(env.store->kf_link_by_scene("s9_440103002000").has_value());

  CHECK_FALSE(env.store->binding("kf", "wm1").has_value());
  CHECK(env.store->cursor("kf") == 0);
  SurveyTurnWrite t;
  t.channel = "kf";
  t.user_id = "wm1";
  t.round_id = id;
  t.state = "{}";
  t.responses.push_back(response("c1", "440103001000", R"({"ever_bf":{"code":"yes"}})"));
  env.store->save_turns({{"kf", "wm1", {id, "440103001000"}}}, {t, t}, "kf", 42, 2000);
  CHECK(env.store->cursor("kf") == 42);
  auto b = env.store->binding("kf", "wm1");
  REQUIRE(b.has_value());
  CHECK(b->round_id == id);
  CHECK(b->unit_code == "440103001000");
  auto rs = env.store->responses(id);
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].revision == 2);  // the same child twice in one page: the second replaces the first
  int seen = 0;
  env.store->for_each_response(id, [&](const SurveyResponse& x) { seen += x.child_id == "c1"; });
  CHECK(seen == 1);
  env.store->set_cursor("kf", 50);
  CHECK(env.store->cursor("kf") == 50);
}

}  // namespace
}  // namespace yuer::store

namespace yuer::store {

TEST_CASE("survey store: conversations of a round on a channel since a time", "[store][survey][reports]") {
  testing::StoreEnv<SurveyStore, open_sqlite_survey_store> env;
  auto r = testing::march_round();
  auto id = env.store->open_round(r, {{"c1", "440103001000", "2025-08-01"}}, 1000);
  auto other = env.store->open_round(r, {{"c1", "440103001000", "2025-08-01"}}, 1000);
  env.store->save_turn({"kf", "wm_b", id, R"({"phase":"asking"})", {}, "", 0}, 2000);
  env.store->save_turn({"kf", "wm_a", id, R"({"phase":"done"})", {}, "", 0}, 3000);
  env.store->save_turn({"app", "zhangsan", id, R"({"phase":"asking"})", {}, "", 0}, 3000);
  env.store->save_turn({"kf", "wm_c", other, R"({"phase":"asking"})", {}, "", 0}, 3000);
  auto all = env.store->conversations(id, "kf", 0);
  REQUIRE(all.size() == 2);
  CHECK(all[0].user_id == "wm_a");
  CHECK(all[0].state == R"({"phase":"done"})");
  CHECK(all[0].updated_ms == 3000);
  CHECK(all[0].round_id == id);
  CHECK(all[0].channel == "kf");
  CHECK(all[1].user_id == "wm_b");
  CHECK(all[1].updated_ms == 2000);
  auto recent = env.store->conversations(id, "kf", 2500);
  REQUIRE(recent.size() == 1);
  CHECK(recent[0].user_id == "wm_a");
  // A later turn moves updated_ms.
  env.store->save_turn({"kf", "wm_b", id, R"({"phase":"summary"})", {}, "", 0}, 4000);
  recent = env.store->conversations(id, "kf", 3500);
  REQUIRE(recent.size() == 1);
  CHECK(recent[0].user_id == "wm_b");
  CHECK(recent[0].state == R"({"phase":"summary"})");
  CHECK(env.store->conversations(id + 100, "kf", 0).empty());
}

}  // namespace yuer::store
