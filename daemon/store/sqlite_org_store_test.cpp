#include "daemon/store/org_store.h"

#include "daemon/store/migrations.h"
#include "daemon/store/store_testing.h"

#include <SQLiteCpp/Database.h>

#include <catch2/catch.hpp>

namespace yuer::store {
namespace {

using testing::TempDir;

using Env = testing::StoreEnv<OrgStore, open_sqlite_org_store>;

Family family(std::string id, std::string unit, std::string masked = "138****0000") {
  Family f;
  f.child_id = std::move(id);
  f.birth_date = "2025-01-02";
  f.unit_code = std::move(unit);
  f.phone_hash = "h-" + f.child_id;
  f.phone_masked = std::move(masked);
  f.tags = {"特困", "低保"};
  return f;
}

TEST_CASE("org store: units upsert by code and list by prefix", "[store][org]") {
  Env env;
  env.store->write_units({{"440000000000", "广东省", 1, ""}, {"440100000000", "广州市", 2, "440000000000"},
                          {"450000000000", "广西壮族自治区", 1, ""}},
                         100);
  env.store->write_units({{"440100000000", "广州", 2, "440000000000"}}, 200);
  auto all = env.store->units("");
  REQUIRE(all.size() == 3);
  auto gd = env.store->units("44");
  REQUIRE(gd.size() == 2);
  CHECK(gd[1].name == "广州");
  CHECK(gd[1].created_ms == 100);
  CHECK(gd[1].updated_ms == 200);
  CHECK(gd[1].parent == "440000000000");
}

TEST_CASE("org store: families upsert by child id, query by unit prefix with paging", "[store][org]") {
  Env env;
  env.store->write_families({family("C1", "440103001000"), family("C2", "440103002000"), family("C3", "440104001000")}, 10);
  env.store->write_families({family("C2", "440103002000", "139****1111")}, 20);
  CHECK(env.store->count_families("") == 3);
  CHECK(env.store->count_families("440103") == 2);
  auto got = env.store->families_by_child({"C2", "C9"});
  REQUIRE(got.size() == 1);
  CHECK(got["C2"].phone_masked == "139****1111");
  CHECK(got["C2"].created_ms == 10);
  CHECK(got["C2"].updated_ms == 20);
  CHECK(got["C2"].tags == std::vector<std::string>{"特困", "低保"});
  auto page = env.store->families({"440103", "", 1});
  REQUIRE(page.size() == 1);
  CHECK(page[0].child_id == "C1");
  auto next = env.store->families({"440103", "C1", 10});
  REQUIRE(next.size() == 1);
  CHECK(next[0].child_id == "C2");
}

TEST_CASE("org store: a failed write changes nothing", "[store][org]") {
  Env env;
  env.store->write_families({family("C1", "440103001000")}, 10);
  Settings quick = env.settings;
  quick.busy_timeout_ms = 50;
  auto opened = open_sqlite_org_store(quick);
  REQUIRE(opened.has_value());
  // A second connection holds the write lock: the whole batch fails and nothing is written.
  SQLite::Database other(env.settings.path, SQLite::OPEN_READWRITE);
  other.exec("BEGIN IMMEDIATE");
  CHECK_THROWS((*opened)->write_families({family("C2", "440103001000"), family("C3", "440103001000")}, 20));
  other.exec("ROLLBACK");
  CHECK(env.store->count_families("") == 1);
}

TEST_CASE("org store: migration 0005 upgrades a version-4 file and keeps its rows", "[store][org]") {
  TempDir dir;
  const auto path = (dir.path() / "yuer.db").string();
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    for (const auto& m : internal::migrations())
      if (m.version <= 4) db.exec(std::string(m.sql));
    db.exec("PRAGMA user_version = 4");
    db.exec("INSERT INTO group_post (chat_id, content, idempotency_key, created_ms, updated_ms) "
            "VALUES ('wrA', 'x', 'k1', 1, 1)");
  }
  Settings s;
  s.path = path;
  auto opened = open_sqlite_org_store(s);
  REQUIRE(opened.has_value());
  (*opened)->write_units({{"440000000000", "广东省", 1, ""}}, 5);
  CHECK((*opened)->units("").size() == 1);
  SQLite::Database check(path, SQLite::OPEN_READONLY);
  CHECK(check.execAndGet("PRAGMA user_version").getInt() >= 5);
  CHECK(check.execAndGet("SELECT count(*) FROM group_post").getInt() == 1);
}

}  // namespace
}  // namespace yuer::store
