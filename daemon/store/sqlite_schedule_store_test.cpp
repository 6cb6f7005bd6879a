#include "daemon/store/schedule_store.h"

#include "daemon/store/group_store.h"
#include "daemon/store/migrations.h"
#include "daemon/store/org_store.h"
#include "daemon/store/store_testing.h"

#include <SQLiteCpp/Database.h>

#include <catch2/catch.hpp>

namespace yuer::store {
namespace {

using testing::TempDir;

using Env = testing::StoreEnv<ScheduleStore, open_sqlite_schedule_store>;

SchedulePush push(std::string target, std::string lesson, std::int64_t at, std::string key) {
  SchedulePush p;
  p.schedule_id = "s1";
  p.at_ms = at;
  p.local_date = "2026-12-04";
  p.target = std::move(target);
  p.unit_code = "410102001000";
  p.route = "robot";
  p.address = "r1";
  p.lesson_id = std::move(lesson);
  p.band = 6;
  p.idempotency_key = std::move(key);
  return p;
}

TEST_CASE("schedule store: put keeps state and watermark unless reset, set_state", "[store][schedules]") {
  Env env;
  ScheduleRow r{"s1", "每日", "active", "{}", "config", 100, 0, 0, 0};
  env.store->put_schedule(r, true, 10);
  CHECK(env.store->set_state("s1", "paused", 11));
  CHECK_FALSE(env.store->set_state("nope", "paused", 11));
  r.name = "每日课程";
  r.watermark_ms = 999;
  r.state = "active";
  env.store->put_schedule(r, false, 12);
  auto got = env.store->schedule("s1");
  REQUIRE(got);
  CHECK(got->name == "每日课程");
  CHECK(got->state == "paused");
  CHECK(got->watermark_ms == 100);
  CHECK(got->created_ms == 10);
  env.store->put_schedule(r, true, 13);
  CHECK(env.store->schedule("s1")->watermark_ms == 999);
  CHECK(env.store->schedules().size() == 1);
}

TEST_CASE("schedule store: an occurrence commits its pushes and the watermark at once, a repeat adds nothing",
          "[store][schedules]") {
  Env env;
  env.store->put_schedule({"s1", "每日", "active", "{}", "api", 0, 0, 0, 0}, true, 1);
  OccurrenceCommit c;
  c.occurrence = {"s1", 5000, 6000, "done", 2, "", 7000};
  c.pushes = {push("g:1", "L-06m-01", 6000, "sched:s1:5000:g:1"), push("g:2", "L-06m-02", 6000, "sched:s1:5000:g:2")};
  env.store->commit_occurrence(c);
  env.store->commit_occurrence(c);  // a double tick
  auto row = env.store->schedule("s1");
  CHECK(row->watermark_ms == 5000);
  CHECK(row->last_at_ms == 6000);
  auto planned = env.store->planned();
  REQUIRE(planned.size() == 2);
  CHECK(env.store->occurrences("s1", 10).size() == 1);
  env.store->mark_push(planned[0].id, "enqueued", 42, "", 8000);
  env.store->mark_push(planned[1].id, "failed", 0, "未知机器人", 8000);
  CHECK(env.store->planned().empty());
  auto h = env.store->history("g:1");
  REQUIRE(h.size() == 1);
  CHECK(h[0].outbox_id == 42);
  CHECK(h[0].state == "enqueued");
  CHECK(env.store->history("g:2").empty());  // a failed push is not a lesson the group had
  CHECK(env.store->all_history().size() == 1);
  PushQuery q;
  q.unit_prefix = "4101";
  CHECK(env.store->pushes(q).size() == 2);
  q.unit_prefix = "42";
  CHECK(env.store->pushes(q).empty());
  q.unit_prefix = "";
  q.since_ms = 6001;
  CHECK(env.store->pushes(q).empty());
  // An older occurrence never moves the watermark back.
  OccurrenceCommit old;
  old.occurrence = {"s1", 1000, 1000, "skipped", 0, "超过补发时限", 9000};
  env.store->commit_occurrence(old);
  CHECK(env.store->schedule("s1")->watermark_ms == 5000);
}

TEST_CASE("schedule store: a group's roster children through its members' external_userid", "[store][schedules]") {
  Env env;
  auto groups = open_sqlite_group_store(env.settings).value();
  auto org = open_sqlite_org_store(env.settings).value();
  org->write_units({{"410000000000", "河南省", 1, "", 0, 0}}, 1);
  Family a, b, c;
  a.child_id = "A";
  a.birth_date = "2026-06-01";
  a.unit_code = "410000000000";
  a.phone_hash = "h1";
  a.phone_masked = "138****0001";
  a.external_userid = "wmA";
  a.tags = {"特困"};
  b = a;
  b.child_id = "B";
  b.birth_date = "2025-01-01";
  b.external_userid = "wmB";
  b.tags = {};
  c = a;
  c.child_id = "C";
  c.external_userid = "";  // not matched
  org->write_families({a, b, c}, 1);
  ChatGroup g;
  g.kind = "parent";
  g.unit_code = "410000000000";
  g.name = "育儿群";
  g.chat_id = "wr1";
  g.route = "group_task";
  REQUIRE(groups->put_group(g, 1).has_value());
  groups->write_members(1, {{"wmA", 2, 0, ""}, {"wmB", 2, 0, ""}, {"staff", 1, 0, ""}, {"wmX", 2, 0, ""}}, "v1", "open", 2);
  auto kids = env.store->group_children("wr1");
  REQUIRE(kids.size() == 2);
  CHECK(kids[0].child_id == "A");
  CHECK(kids[0].birth_date == "2026-06-01");
  CHECK(kids[0].tags == std::vector<std::string>{"特困"});
  CHECK(kids[1].child_id == "B");
  CHECK(env.store->group_children("wr2").empty());
}

TEST_CASE("schedule store: the schedules migration upgrades a file of the previous version", "[store][schedules]") {
  TempDir dir;
  const auto path = (dir.path() / "yuer.db").string();
  int ours = 0;
  for (const auto& m : internal::migrations())
    if (m.name.find("_schedules.sql") != std::string_view::npos) ours = m.version;
  REQUIRE(ours > 1);
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    for (const auto& m : internal::migrations())
      if (m.version < ours) db.exec(std::string(m.sql));
    db.exec("PRAGMA user_version = " + std::to_string(ours - 1));
    db.exec("INSERT INTO org_unit (code, name, level, parent, created_ms, updated_ms) "
            "VALUES ('410000000000', '河南省', 1, '', 1, 1)");
  }
  Settings s;
  s.path = path;
  auto opened = open_sqlite_schedule_store(s);
  REQUIRE(opened.has_value());
  (*opened)->put_schedule({"s1", "每日", "active", "{}", "api", 0, 0, 0, 0}, true, 1);
  SQLite::Database check(path, SQLite::OPEN_READONLY);
  CHECK(check.execAndGet("PRAGMA user_version").getInt() >= ours);
  CHECK(check.execAndGet("SELECT count(*) FROM org_unit").getInt() == 1);
  CHECK(check.execAndGet("SELECT count(*) FROM schedule").getInt() == 1);
}

}  // namespace
}  // namespace yuer::store
