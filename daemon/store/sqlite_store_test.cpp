#include "daemon/store/sqlite_store.h"

#include "daemon/store/migrations.h"
#include "daemon/store/store.h"
#include "daemon/store/store_testing.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace yuer::store {
namespace {

using testing::make_event;
using testing::TempDir;
using testing::cpu_seconds;

std::unique_ptr<Store> open_ok(const Settings& settings) {
  auto opened = open_sqlite_store(settings);
  if (!opened) FAIL("open_sqlite_store: " << opened.error().code << ": " << opened.error().message);
  return std::move(*opened);
}

Settings settings_at(const std::string& path) {
  Settings s;
  s.path = path;
  return s;
}

InboxQuery query_with_limit(int limit) {
  InboxQuery q;
  q.limit = limit;
  return q;
}

SqliteStore& as_sqlite(Store& s) { return dynamic_cast<SqliteStore&>(s); }

// Runs `fn`, which must throw StoreError, and returns its code ("" when it did not throw).
std::string store_error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const StoreError& e) {
    return e.code();
  }
  return "";
}

TEST_CASE("migrations are numbered 1..N without gaps", "[store]") {
  const auto all = internal::migrations();
  REQUIRE(!all.empty());
  for (std::size_t i = 0; i < all.size(); ++i) {
    CAPTURE(all[i].name);
    CHECK(all[i].version == static_cast<int>(i + 1));
    CHECK(!all[i].sql.empty());
  }
  CHECK(latest_schema_version() == all.back().version);
}

TEST_CASE("open creates the folder, migrates once, and a reopen keeps data and version", "[store]") {
  TempDir dir;
  const auto path = dir.file("var/lib/yuer/yuer.db");
  {
    auto store = open_ok(settings_at(path));
    CHECK(std::filesystem::exists(path));
    CHECK(store->schema_version() == latest_schema_version());
    CHECK(as_sqlite(*store).database().execAndGet("PRAGMA journal_mode").getString() == "wal");
    CHECK(as_sqlite(*store).database().execAndGet("PRAGMA foreign_keys").getInt() == 1);
    CHECK(as_sqlite(*store).database().execAndGet("PRAGMA synchronous").getInt() == 2);  // FULL
    CHECK(as_sqlite(*store).database().execAndGet("PRAGMA wal_autocheckpoint").getInt() == 10000);
    store->insert_inbox({make_event("app", "msg:1"), make_event("app", "msg:2")});
  }
  // A second run of migration 0001 would fail on "table inbox already exists".
  auto settings = settings_at(path);
  settings.synchronous = "normal";
  auto store = open_ok(settings);
  CHECK(store->schema_version() == latest_schema_version());
  CHECK(as_sqlite(*store).database().execAndGet("PRAGMA synchronous").getInt() == 1);  // NORMAL
  CHECK(store->count_inbox() == 2);
  CHECK(store->quick_check() == "ok");
}

struct OpenFailure {
  const char* label;
  std::function<Settings(const TempDir&)> setup;  // prepares the folder, returns the settings
  const char* code;
  std::vector<std::string> message_has;
};

TEST_CASE("open refuses what it cannot use, with a code and a message naming the file", "[store]") {
  const std::string latest = std::to_string(latest_schema_version());
  const std::vector<OpenFailure> cases = {
      {"database from a newer binary",
       [](const TempDir& d) {
         SQLite::Database db(d.file("yuer.db"), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
         db.exec("CREATE TABLE future (x); PRAGMA user_version = 999;");
         return settings_at(d.file("yuer.db"));
       },
       "store.too_new",
       {"yuer.db", "999", latest}},
      {"text file",
       [](const TempDir& d) {
         std::ofstream(d.file("yuer.db")) << "this is a note, not a database; it is long enough to fill a header.\n"
                                          << std::string(200, 'x') << '\n';
         return settings_at(d.file("yuer.db"));
       },
       "store.open",
       {"yuer.db", "not a SQLite database"}},
      {"path is a folder",
       [](const TempDir& d) {
         std::filesystem::create_directory(d.file("yuer.db"));
         return settings_at(d.file("yuer.db"));
       },
       "store.open",
       {"yuer.db"}},
      {"unknown synchronous mode",
       [](const TempDir& d) {
         auto s = settings_at(d.file("yuer.db"));
         s.synchronous = "off";
         return s;
       },
       "store.open",
       {"synchronous", "off"}},
      {"read-only open of a file that needs migrating",
       [](const TempDir& d) {
         SQLite::Database db(d.file("yuer.db"), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
         db.exec("CREATE TABLE unrelated (x)");
         auto s = settings_at(d.file("yuer.db"));
         s.read_only = true;
         return s;
       },
       "store.migrate",
       {"yuer.db", "read-only"}},
      {"migration collides with an existing table",
       [](const TempDir& d) {
         SQLite::Database db(d.file("yuer.db"), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
         db.exec("CREATE TABLE inbox (x)");
         return settings_at(d.file("yuer.db"));
       },
       "store.migrate",
       {"yuer.db", "0001_inbox.sql", "nothing applied"}},
  };
  for (const auto& c : cases) {
    SECTION(c.label) {
      TempDir dir;
      const auto settings = c.setup(dir);
      auto opened = open_sqlite_store(settings);
      REQUIRE_FALSE(opened.has_value());
      CAPTURE(opened.error().message);
      CHECK(opened.error().code == c.code);
      for (const auto& part : c.message_has) CHECK_THAT(opened.error().message, Catch::Contains(part));
    }
  }
}

TEST_CASE("a newer database is left exactly as it was", "[store]") {
  TempDir dir;
  {
    SQLite::Database db(dir.file("yuer.db"), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA user_version = 999");
  }
  REQUIRE_FALSE(open_sqlite_store(settings_at(dir.file("yuer.db"))).has_value());
  SQLite::Database db(dir.file("yuer.db"), SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == 999);
  CHECK(db.execAndGet("PRAGMA journal_mode").getString() == "delete");
  CHECK_FALSE(db.tableExists("inbox"));
}

TEST_CASE("a failed migration applies nothing, and the version stays", "[store]") {
  TempDir dir;
  {
    SQLite::Database db(dir.file("yuer.db"), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("CREATE TABLE inbox (x)");
  }
  REQUIRE_FALSE(open_sqlite_store(settings_at(dir.file("yuer.db"))).has_value());
  SQLite::Database db(dir.file("yuer.db"), SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == 0);
  CHECK(db.execAndGet("SELECT count(*) FROM sqlite_schema WHERE name = 'inbox_by_kind'").getInt() == 0);
}

TEST_CASE("insert reports duplicates within a batch and across batches, counting deliveries", "[store]") {
  TempDir dir;
  auto store = open_ok(settings_at(dir.file("yuer.db")));

  // Each step: one batch; expected per event: the key of the row it maps to and whether duplicate.
  struct Expect {
    std::string key;
    bool duplicate;
  };
  struct Step {
    std::vector<model::InboundEvent> batch;
    std::vector<Expect> expect;
  };
  const std::vector<Step> steps = {
      {{make_event("app", "msg:a"), make_event("app", "msg:b"), make_event("app", "msg:a"), make_event("app", "msg:c")},
       {{"app|msg:a", false}, {"app|msg:b", false}, {"app|msg:a", true}, {"app|msg:c", false}}},
      {{make_event("app", "msg:a"), make_event("app", "msg:d"), make_event("app", "msg:b")},
       {{"app|msg:a", true}, {"app|msg:d", false}, {"app|msg:b", true}}},
      // The same key at another receiver is another delivery.
      {{make_event("bot/x", "msg:a"), make_event("bot/x", "msg:a")}, {{"bot/x|msg:a", false}, {"bot/x|msg:a", true}}},
  };
  std::map<std::string, std::int64_t> id_of;
  std::map<std::string, int> deliveries;
  for (std::size_t s = 0; s < steps.size(); ++s) {
    CAPTURE(s);
    const auto results = store->insert_inbox(steps[s].batch);
    REQUIRE(results.size() == steps[s].batch.size());
    for (std::size_t i = 0; i < results.size(); ++i) {
      const auto& want = steps[s].expect[i];
      CAPTURE(i, want.key);
      CHECK(results[i].duplicate == want.duplicate);
      CHECK(results[i].id > 0);
      auto [it, fresh] = id_of.emplace(want.key, results[i].id);
      CHECK(fresh != want.duplicate);
      CHECK(it->second == results[i].id);
      ++deliveries[want.key];
    }
  }

  CHECK(store->count_inbox() == static_cast<std::int64_t>(id_of.size()));
  for (const auto& row : store->list_inbox(query_with_limit(1000))) {
    const auto key = row.event.receiver + "|" + row.event.dedupe_key;
    CAPTURE(key);
    CHECK(row.id == id_of.at(key));
    CHECK(row.deliveries == deliveries.at(key));
  }
}

TEST_CASE("stored rows keep every field exactly", "[store]") {
  TempDir dir;
  auto store = open_ok(settings_at(dir.file("yuer.db")));
  auto e = make_event("bot/家长群", "sha256:00ff", "event:change_external_chat",
                      std::string("{\"text\":\"老师好 'quoted' \\\"x\\\"\"}\n") + std::string(70000, 'z'));
  e.from_user = "wmABC";
  e.created_at = 0;
  e.received_at = 1710000000123;
  const auto id = store->insert_inbox({e}).at(0).id;
  const auto rows = store->list_inbox({});
  REQUIRE(rows.size() == 1);
  const auto& r = rows[0];
  CHECK(r.id == id);
  CHECK(r.deliveries == 1);
  CHECK(r.event.receiver == e.receiver);
  CHECK(r.event.channel == e.channel);
  CHECK(r.event.kind == e.kind);
  CHECK(r.event.dedupe_key == e.dedupe_key);
  CHECK(r.event.from_user == e.from_user);
  CHECK(r.event.created_at == e.created_at);
  CHECK(r.event.received_at == e.received_at);
  CHECK(r.event.payload == e.payload);
}

TEST_CASE("an empty batch commits nothing and returns nothing", "[store]") {
  TempDir dir;
  auto store = open_ok(settings_at(dir.file("yuer.db")));
  CHECK(store->insert_inbox({}).empty());
  CHECK(store->count_inbox() == 0);
}

TEST_CASE("list_inbox filters and pages", "[store]") {
  TempDir dir;
  auto store = open_ok(settings_at(dir.file("yuer.db")));
  // ids 1..9: receiver cycles app, bot/a, bot/b; kind is image for ids 3, 6, 9.
  std::vector<model::InboundEvent> batch;
  const char* receivers[] = {"app", "bot/a", "bot/b"};
  for (int i = 1; i <= 9; ++i)
    batch.push_back(make_event(receivers[(i - 1) % 3], "msg:" + std::to_string(i), i % 3 == 0 ? "image" : "text"));
  const auto results = store->insert_inbox(batch);
  for (int i = 1; i <= 9; ++i) REQUIRE(results[i - 1].id == i);

  using Ids = std::vector<std::int64_t>;
  using Str = std::optional<std::string>;
  auto [label, receiver, kind, after, before, limit, newest, expected] =
      GENERATE(table<const char*, Str, Str, std::int64_t, std::int64_t, int, bool, Ids>({
          {"all, newest first", {}, {}, 0, 0, 100, true, {9, 8, 7, 6, 5, 4, 3, 2, 1}},
          {"all, oldest first", {}, {}, 0, 0, 100, false, {1, 2, 3, 4, 5, 6, 7, 8, 9}},
          {"by receiver", Str("bot/a"), {}, 0, 0, 100, true, {8, 5, 2}},
          {"by kind", {}, Str("image"), 0, 0, 100, false, {3, 6, 9}},
          {"by receiver and kind", Str("bot/b"), Str("image"), 0, 0, 100, true, {9, 6, 3}},
          {"no match", Str("app"), Str("image"), 0, 0, 100, true, {}},
          {"unknown receiver", Str("bot/zz"), {}, 0, 0, 100, true, {}},
          {"forward page 1", {}, {}, 0, 0, 4, false, {1, 2, 3, 4}},
          {"forward page 2", {}, {}, 4, 0, 4, false, {5, 6, 7, 8}},
          {"forward page 3", {}, {}, 8, 0, 4, false, {9}},
          {"polling for new rows, newest first", {}, {}, 6, 0, 100, true, {9, 8, 7}},
          {"backward page 1", {}, {}, 0, 0, 4, true, {9, 8, 7, 6}},
          {"backward page 2", {}, {}, 0, 6, 4, true, {5, 4, 3, 2}},
          {"backward page 3", {}, {}, 0, 2, 4, true, {1}},
          {"window between ids", {}, {}, 2, 6, 100, false, {3, 4, 5}},
          {"filtered page", Str("app"), Str("text"), 1, 0, 1, false, {4}},
          {"limit 0 is clamped to 1", {}, {}, 0, 0, 0, true, {9}},
          {"negative limit is clamped to 1", {}, {}, 0, 0, -5, false, {1}},
      }));
  CAPTURE(label);
  InboxQuery q;
  q.receiver = receiver;
  q.kind = kind;
  q.after_id = after;
  q.before_id = before;
  q.limit = limit;
  q.newest_first = newest;
  Ids got;
  for (const auto& row : store->list_inbox(q)) got.push_back(row.id);
  CHECK(got == expected);
}

TEST_CASE("a large batch is one transaction and the limit is clamped to 1000", "[store]") {
  TempDir dir;
  auto store = open_ok(settings_at(dir.file("yuer.db")));
  std::vector<model::InboundEvent> batch;
  for (int i = 0; i < 50000; ++i) batch.push_back(make_event("app", "msg:" + std::to_string(i)));
  batch.push_back(make_event("app", "msg:17"));  // duplicate at the very end
  const auto results = store->insert_inbox(batch);
  REQUIRE(results.size() == batch.size());
  for (std::size_t i = 1; i < 50000; ++i) REQUIRE(results[i].id == results[i - 1].id + 1);
  CHECK(results.back().duplicate);
  CHECK(results.back().id == results[17].id);
  CHECK(store->count_inbox() == 50000);
  CHECK(store->list_inbox(query_with_limit(5000)).size() == 1000);
}

// Tests run as root here, and root ignores file modes; SQLite's read-only open is what a file the
// daemon may not write looks like to the store (SQLite falls back to it for a 0444 file).
TEST_CASE("a read-only store refuses inserts with store.readonly and commits no part of the batch", "[store]") {
  TempDir dir;
  const auto path = dir.file("yuer.db");
  open_ok(settings_at(path))->insert_inbox({make_event("app", "msg:old")});

  auto settings = settings_at(path);
  settings.read_only = true;
  auto ro = open_ok(settings);
  CHECK(ro->count_inbox() == 1);
  CHECK(store_error_of([&] { ro->insert_inbox({make_event("app", "msg:new1"), make_event("app", "msg:old")}); }) ==
        "store.readonly");
  // The connection is still usable for reading, and the writer sees nothing of the batch.
  CHECK(ro->list_inbox({}).size() == 1);
  auto rw = open_ok(settings_at(path));
  CHECK(rw->count_inbox() == 1);
  CHECK(rw->list_inbox({}).at(0).deliveries == 1);
}

TEST_CASE("a file the process may not write refuses inserts with store.readonly", "[store]") {
  if (::geteuid() == 0) {
    WARN("skipped: running as root, which ignores file modes (the read_only case covers the code)");
    return;
  }
  TempDir dir;
  const auto path = dir.file("yuer.db");
  {
    auto store = open_ok(settings_at(path));
    store->insert_inbox({make_event("app", "msg:old")});
  }
  std::filesystem::permissions(path, std::filesystem::perms::owner_read);
  auto store = open_ok(settings_at(path));
  CHECK(store_error_of([&] { store->insert_inbox({make_event("app", "msg:new")}); }) == "store.readonly");
  CHECK(store->count_inbox() == 1);
}

TEST_CASE("a full disk fails the whole batch with store.full and the connection stays usable", "[store]") {
  TempDir dir;
  auto store = open_ok(settings_at(dir.file("yuer.db")));
  store->insert_inbox({make_event("app", "msg:first")});
  auto& db = as_sqlite(*store).database();
  // A size cap is how SQLite lets a test run out of space: the batch below needs ~250 pages.
  const int pages = db.execAndGet("PRAGMA page_count").getInt();
  db.exec("PRAGMA max_page_count = " + std::to_string(pages + 20));

  std::vector<model::InboundEvent> batch;
  for (int i = 0; i < 200; ++i) batch.push_back(make_event("app", "msg:" + std::to_string(i), "text", std::string(4000, 'p')));
  CHECK(store_error_of([&] { store->insert_inbox(batch); }) == "store.full");
  CHECK(store->count_inbox() == 1);
  CHECK(store->quick_check() == "ok");

  db.exec("PRAGMA max_page_count = 1073741823");
  const auto results = store->insert_inbox(batch);
  CHECK(results.size() == 200);
  CHECK_FALSE(results.front().duplicate);
  CHECK(store->count_inbox() == 201);
}

TEST_CASE("a write lock held elsewhere fails with store.busy after busy_timeout", "[store]") {
  TempDir dir;
  auto holder = open_ok(settings_at(dir.file("yuer.db")));
  auto settings = settings_at(dir.file("yuer.db"));
  settings.busy_timeout_ms = 20;
  auto other = open_ok(settings);

  as_sqlite(*holder).database().exec("BEGIN IMMEDIATE");
  CHECK(store_error_of([&] { other->insert_inbox({make_event("app", "msg:1")}); }) == "store.busy");
  as_sqlite(*holder).database().exec("ROLLBACK");
  CHECK(other->insert_inbox({make_event("app", "msg:1")}).at(0).id == 1);
  CHECK(holder->count_inbox() == 1);
}

TEST_CASE("SQLite result codes map to store error codes", "[store]") {
  auto [sqlite_code, expected] = GENERATE(table<int, const char*>({
      {SQLITE_FULL, "store.full"},
      {SQLITE_READONLY, "store.readonly"},
      {SQLITE_READONLY_DBMOVED, "store.readonly"},
      {SQLITE_CANTOPEN, "store.readonly"},
      {SQLITE_CORRUPT, "store.corrupt"},
      {SQLITE_NOTADB, "store.corrupt"},
      {SQLITE_BUSY, "store.busy"},
      {SQLITE_BUSY_SNAPSHOT, "store.busy"},
      {SQLITE_LOCKED, "store.busy"},
      {SQLITE_IOERR_FSYNC, "store.io"},
      {SQLITE_ERROR, "store.io"},
      {-1, "store.io"},  // SQLiteCpp's own misuse errors
  }));
  CAPTURE(sqlite_code);
  CHECK(store_error_code(sqlite_code) == expected);
}

// Throughput of insert_inbox with batches of 256 callback-sized rows, for sequential MsgId keys
// (text messages; what bench/ sends) and random "sha256:" keys (events). Not a pass/fail test:
//   yuer_unit_tests "[.bench]"   (YUER_BENCH_DIR picks the folder; default: the temp folder)
std::string bench_key(bool random, int i) {
  if (!random) return "msg:" + std::to_string(7000000000000000000ULL + static_cast<unsigned long long>(i));
  std::uint64_t z = 0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(i + 1);  // splitmix64
  std::string key = "sha256:";
  for (int part = 0; part < 4; ++part) {
    z += 0x9e3779b97f4a7c15ULL;
    std::uint64_t x = z;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    key += fmt::format("{:016x}", x ^ (x >> 31));
  }
  return key;
}

TEST_CASE("bench: insert_inbox rows per second, batches of 256", "[.bench][store]") {
  constexpr int kBatch = 256;
  constexpr int kBatches = 800;
  const std::string payload(600, 'x');  // about a decrypted text callback
  for (const bool random_keys : {false, true}) {
    for (const char* sync : {"full", "normal"}) {
      TempDir dir;
      const char* bench_dir = std::getenv("YUER_BENCH_DIR");
      const auto path = bench_dir ? std::string(bench_dir) + "/yuer-bench.db" : dir.file("bench.db");
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
      auto settings = settings_at(path);
      settings.synchronous = sync;
      auto store = open_ok(settings);
      std::vector<std::vector<model::InboundEvent>> batches(kBatches);
      for (int b = 0; b < kBatches; ++b)
        for (int i = 0; i < kBatch; ++i)
          batches[b].push_back(make_event("app", bench_key(random_keys, b * kBatch + i), "text", payload));
      const double cpu_start = cpu_seconds();
      const auto start = std::chrono::steady_clock::now();
      for (const auto& batch : batches) store->insert_inbox(batch);
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      const double cpu = cpu_seconds() - cpu_start;
      std::cout << fmt::format("insert_inbox keys={:10} synchronous={:6}: {} rows in {:.2f} s = {:.0f} rows/s, {:.0f} "
                               "commits/s; {:.2f} CPU-s = {:.0f} rows per CPU-second ({})\n",
                               random_keys ? "sha256" : "sequential", sync, kBatches * kBatch, took.count(),
                               kBatches * kBatch / took.count(), kBatches / took.count(), cpu,
                               kBatches * kBatch / cpu, path);
      CHECK(store->count_inbox() == kBatches * kBatch);
      store.reset();
      if (bench_dir)
        for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    }
  }
}

}  // namespace
}  // namespace yuer::store
