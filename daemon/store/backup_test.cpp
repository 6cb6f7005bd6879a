#include "daemon/store/backup.h"
#include "daemon/store/store.h"
#include "daemon/store/store_testing.h"

#include <catch2/catch.hpp>

#include <fstream>

namespace yuer::store {
namespace {

using testing::TempDir;

TEST_CASE("backup copies a live store into a checked, self-contained file", "[store][backup]") {
  TempDir dir;
  Settings s;
  s.path = dir.file("yuer.db");
  auto live = open_sqlite_store(s);
  REQUIRE(live.has_value());
  std::vector<model::InboundEvent> events;
  for (int i = 0; i < 300; ++i) events.push_back(testing::make_event("app", "msg:" + std::to_string(i)));
  (*live)->insert_inbox(events);

  // Taken while the store is open and has uncheckpointed WAL frames.
  auto r = backup_store(s.path, dir.file("backup.db"));
  REQUIRE(r.has_value());
  CHECK(r->pages > 0);
  CHECK(r->bytes > 0);
  CHECK(r->schema_version == latest_schema_version());
  CHECK_FALSE(std::filesystem::exists(dir.file("backup.db-wal")));
  CHECK_FALSE(std::filesystem::exists(dir.file("backup.db.partial")));
  (*live)->insert_inbox({testing::make_event("app", "msg:after")});

  Settings b;
  b.path = dir.file("backup.db");
  auto copy = open_sqlite_store(b);
  REQUIRE(copy.has_value());
  CHECK((*copy)->count_inbox() == 300);  // the snapshot, not what came after
  CHECK((*copy)->quick_check() == "ok");
}

TEST_CASE("backup refuses a missing source, a non-database and an existing target", "[store][backup]") {
  TempDir dir;
  Settings s;
  s.path = dir.file("yuer.db");
  REQUIRE(open_sqlite_store(s).has_value());
  std::ofstream(dir.file("notes.txt")) << "not a database, just some text that is long enough to have a header";
  std::ofstream(dir.file("taken.db")) << "x";
  struct Case {
    const char* label;
    std::string from, to, code;
  };
  const Case cases[] = {
      {"missing source", dir.file("nope.db"), dir.file("a.db"), "store.backup_source"},
      {"not a database", dir.file("notes.txt"), dir.file("b.db"), "store.backup_source"},
      {"target exists", s.path, dir.file("taken.db"), "store.backup_target"},
      {"target folder missing", s.path, dir.file("no/such/dir/c.db"), "store.backup_target"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    auto r = backup_store(c.from, c.to);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == c.code);
    CHECK_FALSE(std::filesystem::exists(c.to + ".partial"));
  }
  std::ifstream taken(dir.file("taken.db"));
  std::string content;
  taken >> content;
  CHECK(content == "x");  // never overwritten
}

}  // namespace
}  // namespace yuer::store
