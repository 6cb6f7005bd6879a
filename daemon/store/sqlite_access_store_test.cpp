#include "daemon/store/access_store.h"

#include "daemon/store/store_testing.h"

#include <catch2/catch.hpp>

namespace yuer::store {
namespace {

using testing::TempDir;

using Env = testing::StoreEnv<AccessStore, open_sqlite_access_store>;

AdminToken token(std::string name, std::string hash, std::string unit = "440305100000") {
  AdminToken t;
  t.name = std::move(name);
  t.role = "township_coordinator";
  t.unit_code = std::move(unit);
  t.secret_hash = std::move(hash);
  t.created_by = "admin";
  t.created_ms = 1000;
  return t;
}

AuditEntry entry(std::string unit, std::string path) {
  AuditEntry e;
  e.at_ms = 5;
  e.actor = "东镇协调员";
  e.role = "township_coordinator";
  e.actor_unit = "440305100000";
  e.unit = std::move(unit);
  e.method = "POST";
  e.path = std::move(path);
  e.status = 200;
  e.after_json = R"({"ok":true})";
  return e;
}

}  // namespace

TEST_CASE("access store: tokens are added once by name and hash, revoked once, kept across a reopen",
          "[store][access]") {
  Env env;
  auto a = env.store->add_token(token("东镇协调员", "aa"));
  REQUIRE(a.has_value());
  auto b = env.store->add_token(token("西镇协调员", "bb", "440305200000"));
  REQUIRE(b.has_value());
  CHECK(*b > *a);
  auto same_name = env.store->add_token(token("东镇协调员", "cc"));
  REQUIRE_FALSE(same_name.has_value());
  CHECK(same_name.error().code == "tokens.duplicate");
  CHECK_FALSE(env.store->add_token(token("另一个", "aa")).has_value());  // same secret hash

  CHECK(env.store->revoke_token(*a, 2000));
  CHECK_FALSE(env.store->revoke_token(*a, 3000));  // already revoked
  CHECK_FALSE(env.store->revoke_token(999, 3000));
  env.reopen();
  auto all = env.store->tokens();
  REQUIRE(all.size() == 2);
  CHECK(all[0].name == "东镇协调员");
  CHECK(all[0].revoked_ms == 2000);
  CHECK(all[1].unit_code == "440305200000");
  CHECK(all[1].secret_hash == "bb");
  CHECK(all[1].revoked_ms == 0);
}

TEST_CASE("access store: audit rows newest first, filtered by unit prefix, paged", "[store][access]") {
  Env env;
  for (int i = 0; i < 5; ++i) env.store->append_audit(entry("440305100000", "/api/v1/a" + std::to_string(i)));
  env.store->append_audit(entry("440305200000", "/api/v1/b"));
  env.store->append_audit(entry("", "/api/v1/c"));
  CHECK(env.store->audit({}).size() == 7);
  auto town = env.store->audit({"440305100", 0, 100});
  REQUIRE(town.size() == 5);
  CHECK(town[0].path == "/api/v1/a4");
  CHECK(town[4].path == "/api/v1/a0");
  CHECK(town[0].after_json == R"({"ok":true})");
  CHECK(env.store->audit({"440305", 0, 100}).size() == 6);
  auto page = env.store->audit({"", town[1].id, 2});
  REQUIRE(page.size() == 2);
  CHECK(page[0].path == "/api/v1/a2");
  CHECK(page[1].path == "/api/v1/a1");
}

}  // namespace yuer::store
