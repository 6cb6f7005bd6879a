#include "daemon/store/group_store.h"

#include "daemon/store/migrations.h"
#include "daemon/store/org_store.h"
#include "daemon/store/store_testing.h"

#include <SQLiteCpp/Database.h>

#include <catch2/catch.hpp>

namespace yuer::store {
namespace {

using testing::TempDir;

using Env = testing::StoreEnv<GroupStore, open_sqlite_group_store>;

ChatGroup parent(std::string chat, std::string unit = "440103001000") {
  ChatGroup g;
  g.kind = "parent";
  g.unit_code = std::move(unit);
  g.name = "育儿群";
  g.chat_id = std::move(chat);
  g.route = "group_task";
  g.owner = "Coord1";
  return g;
}

TEST_CASE("group store: groups by kind and unit, updates by id, a chat id belongs to one group", "[store][groups]") {
  Env env;
  auto a = env.store->put_group(parent("wrA"), 10);
  auto b = env.store->put_group(parent("wrB", "440104001000"), 11);
  ChatGroup mgmt = parent("");
  mgmt.kind = "management";
  mgmt.route = "robot";
  mgmt.robot = "wrMgmt";
  auto m = env.store->put_group(mgmt, 12);
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  REQUIRE(m.has_value());
  CHECK(env.store->groups("", "").size() == 3);
  CHECK(env.store->groups("parent", "").size() == 2);
  CHECK(env.store->groups("parent", "440103").size() == 1);
  CHECK(env.store->groups("management", "440103001000").size() == 1);
  // Two robot-only groups may both have no chat id; two groups may not share one.
  CHECK(env.store->put_group(mgmt, 13).has_value());
  auto dup = env.store->put_group(parent("wrA"), 14);
  REQUIRE_FALSE(dup.has_value());
  CHECK(dup.error().code == "groups.duplicate_chat");
  auto g = *env.store->group(*a);
  g.hard_cap = 300;
  g.name = "一群";
  REQUIRE(env.store->put_group(g, 20).has_value());
  auto again = env.store->group_by_chat("wrA");
  REQUIRE(again.has_value());
  CHECK(again->id == *a);
  CHECK(again->hard_cap == 300);
  CHECK(again->name == "一群");
  CHECK(again->created_ms == 10);
  CHECK(again->updated_ms == 20);
  CHECK_FALSE(env.store->group_by_chat("").has_value());
  CHECK_FALSE(env.store->group(9999).has_value());
}

TEST_CASE("group store: a member list replaces the last one and is matched to the roster", "[store][groups]") {
  Env env;
  auto id = *env.store->put_group(parent("wrA"), 1);
  env.store->write_members(id, {{"Coord1", 1, 1, ""}, {"wmX", 2, 2, "yuer440103001000"}, {"wmY", 2, 3, ""}}, "v1", "open", 5);
  env.store->write_members(id,
                           {{"Coord1", 1, 1, ""}, {"wmX", 2, 2, "yuer440103001000"}, {"wmZ", 2, 4, "yuer440103001000"},
                            {"wmW", 2, 5, ""}},
                           "v2", "warned", 6);
  auto g = *env.store->group(id);
  CHECK(g.members == 4);
  CHECK(g.member_version == "v2");
  CHECK(g.state == "warned");
  CHECK(g.synced_ms == 6);
  auto members = env.store->members("wrA");
  REQUIRE(members.size() == 4);
  CHECK(members[0].userid == "Coord1");
  // wmX is in the roster; wmZ joined by this township's QR but is not; wmW neither.
  auto org = open_sqlite_org_store(env.settings);
  REQUIRE(org.has_value());
  Family f;
  f.child_id = "C1";
  f.birth_date = "2025-01-02";
  f.unit_code = "440103001000";
  f.phone_hash = "h";
  f.phone_masked = "138****0000";
  f.external_userid = "wmX";
  Family sibling = f;
  sibling.child_id = "C2";  // two children of one parent count once
  (*org)->write_families({f, sibling}, 7);
  auto fam = env.store->families_of("wrA", "yuer440103001000");
  CHECK(fam.parents == 3);
  CHECK(fam.matched == 1);
  CHECK(fam.state_matched == 1);
  CHECK(env.store->families_of("wrA", "").state_matched == 0);
}

TEST_CASE("group store: join ways and alerts", "[store][groups]") {
  Env env;
  CHECK_FALSE(env.store->join_way("440103001000").has_value());
  env.store->put_join_way({"440103001000", "cfg1", "yuer440103001000", "https://qr", {"wrA", "wrB"}, 0, 0}, 5);
  env.store->put_join_way({"440103001000", "cfg1", "yuer440103001000", "https://qr", {}, 9, 0}, 6);
  auto w = env.store->join_way("440103001000");
  REQUIRE(w.has_value());
  CHECK(w->chat_ids.empty());
  CHECK(w->asked_ms == 9);
  CHECK(w->updated_ms == 6);
  env.store->put_join_way({"440103002000", "cfg2", "yuer440103002000", "", {"wrC"}, 0, 0}, 7);
  auto all = env.store->join_ways();
  REQUIRE(all.size() == 2);
  CHECK(all[1].chat_ids == std::vector<std::string>{"wrC"});
  auto a1 = env.store->add_alert({0, "wrA", "440103001000", "over_hard_cap", 401, 10});
  auto a2 = env.store->add_alert({0, "", "440103001000", "no_room", 0, 11});
  auto alerts = env.store->alerts(0, 10);
  REQUIRE(alerts.size() == 2);
  CHECK(alerts[0].id == a1);
  CHECK(alerts[0].members == 401);
  CHECK(env.store->alerts(a1, 10).front().id == a2);
}

TEST_CASE("group store: migration 0006 upgrades a version-5 file and keeps its rows", "[store][groups]") {
  TempDir dir;
  const auto path = (dir.path() / "yuer.db").string();
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    for (const auto& m : internal::migrations())
      if (m.version <= 5) db.exec(std::string(m.sql));
    db.exec("PRAGMA user_version = 5");
    db.exec("INSERT INTO org_unit (code, name, level, parent, created_ms, updated_ms) "
            "VALUES ('440000000000', '广东省', 1, '', 1, 1)");
  }
  Settings s;
  s.path = path;
  auto opened = open_sqlite_group_store(s);
  REQUIRE(opened.has_value());
  CHECK((*opened)->put_group(parent("wrA"), 5).has_value());
  SQLite::Database check(path, SQLite::OPEN_READONLY);
  CHECK(check.execAndGet("PRAGMA user_version").getInt() >= 6);
  CHECK(check.execAndGet("SELECT count(*) FROM org_unit").getInt() == 1);
}

}  // namespace
}  // namespace yuer::store
