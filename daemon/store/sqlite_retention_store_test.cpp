// The retention purge on real SQLite: identifying fields of closed rounds past the cut-off go,
// coverage and indicator inputs stay, and a second purge changes nothing.
#include "daemon/store/retention_store.h"

#include "daemon/store/field_cipher.h"
#include "daemon/store/store_testing.h"
#include "daemon/store/survey_store.h"

#include <SQLiteCpp/Database.h>

#include <catch2/catch.hpp>

namespace yuer::store {
namespace {

using testing::TempDir;

constexpr std::int64_t kDay = 86'400'000;

struct Env {
  TempDir dir;
  Settings s;
  std::unique_ptr<Store> main;
  std::unique_ptr<SurveyStore> survey;
  std::unique_ptr<RetentionStore> retention;
  explicit Env(bool sealed) {
    s.path = dir.file("yuer.db");
    if (sealed) s.field_cipher = *FieldCipher::parse("k1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    main = std::move(*open_sqlite_store(s));
    survey = std::move(*open_sqlite_survey_store(s));
    retention = std::move(*open_sqlite_retention_store(s));
  }
  // A round with two eligible children, one matched response (corrected once) and one unmatched.
  std::int64_t round(std::int64_t opened_ms) {
    auto r = testing::march_round();
    const auto id = survey->open_round(r, {{"c1", "440103001000", "2025-08-01"}, {"c2", "440103001000", "2025-02-02"}}, opened_ms);
    SurveyTurnWrite t;
    t.channel = "kf";
    t.user_id = "wmParent1";
    t.round_id = id;
    t.state = "{\"phase\":\"done\"}";
    SurveyResponse m;
    m.child_id = "c1";
    m.unit_code = "440103001000";
    m.birth_date = "2025-08-01";
    m.interview_date = "2026-03-10";
    m.age_months = 7;
    m.answers = "{\"q1\":\"yes\"}";
    SurveyResponse u = m;
    u.child_id = "";
    u.unit_code = "";
    u.birth_date = "2024-12-12";
    t.responses = {m, u};
    survey->save_turn(t, opened_ms + 1);
    survey->save_turn(t, opened_ms + 2);
    survey->bind("kf", "wmParent1", {id, "440103001000"}, opened_ms + 3);
    return id;
  }
};

TEST_CASE("retention: a closed round past the cut-off loses its identifying fields, keeps its counts", "[store][retention]") {
  for (bool sealed : {false, true}) {
    CAPTURE(sealed);
    Env env(sealed);
    const auto old_round = env.round(1 * kDay);
    const auto open_round = env.round(2 * kDay);
    const auto recent = env.round(3 * kDay);
    env.survey->close_round(old_round, 10 * kDay);
    env.survey->close_round(recent, 100 * kDay);
    env.main->insert_inbox({testing::make_event("app", "old"), testing::make_event("app", "new")});
    {
      SQLite::Database db(env.s.path, SQLite::OPEN_READWRITE);
      db.exec("UPDATE inbox SET received_at = 1000 WHERE dedupe_key = 'old'");
    }
    const auto coverage_before = env.survey->coverage_counts(old_round);
    const auto responses_before = env.survey->responses(old_round);

    // Cut-off at day 50: only old_round (closed day 10) qualifies; open rounds never do.
    auto c = env.retention->purge(50 * kDay, 2000);
    CHECK(c.rounds == 1);
    CHECK(c.eligible == 2);
    CHECK(c.responses == 2);
    CHECK(c.history == 2);
    CHECK(c.conversations == 1);
    CHECK(c.bindings == 0);  // the binding points at the last round bound (recent)
    CHECK(c.inbox_payloads == 1);

    for (const auto& e : env.survey->eligible(old_round)) CHECK(e.birth_date.empty());
    auto rs = env.survey->responses(old_round);
    REQUIRE(rs.size() == 2);
    for (std::size_t i = 0; i < rs.size(); ++i) {
      CHECK(rs[i].birth_date.empty());
      CHECK(rs[i].user_id.empty());
      // What the reports use stays.
      CHECK(rs[i].child_id == responses_before[i].child_id);
      CHECK(rs[i].unit_code == responses_before[i].unit_code);
      CHECK(rs[i].age_months == responses_before[i].age_months);
      CHECK(rs[i].answers == responses_before[i].answers);
      CHECK(rs[i].interview_date == responses_before[i].interview_date);
      CHECK(rs[i].revision == 2);
    }
    for (const auto& h : env.survey->history(rs[0].id)) CHECK(h.user_id.empty());
    CHECK(env.survey->coverage_counts(old_round)["440103001000"].responded == coverage_before.at("440103001000").responded);
    CHECK(env.survey->coverage_counts(old_round)["440103001000"].eligible == 2);
    CHECK_FALSE(env.survey->conversation("kf", "wmParent1", old_round).has_value());
    auto inbox = env.main->list_inbox({});
    REQUIRE(inbox.size() == 2);
    CHECK(inbox[0].event.payload.size() > 0);  // newest first: "new" kept
    CHECK(inbox[1].event.payload.empty());
    // The other rounds are untouched.
    for (auto id : {open_round, recent}) {
      CHECK(env.survey->eligible(id)[0].birth_date == "2025-08-01");
      CHECK(env.survey->responses(id)[1].birth_date == "2024-12-12");
      CHECK(env.survey->conversation("kf", "wmParent1", id).has_value());
    }

    // Idempotent.
    auto again = env.retention->purge(50 * kDay, 2000);
    CHECK(again.rounds == 1);
    CHECK(again.changed() == 0);

    // Later the recent round passes the cut-off too: its binding goes with it.
    auto later = env.retention->purge(200 * kDay, 0);
    CHECK(later.rounds == 2);
    CHECK(later.bindings == 1);
    CHECK(later.responses == 2);
    CHECK_FALSE(env.survey->binding("kf", "wmParent1").has_value());
    // Zero cut-offs purge nothing.
    CHECK(env.retention->purge(0, 0).rounds == 0);
  }
}

}  // namespace
}  // namespace yuer::store
