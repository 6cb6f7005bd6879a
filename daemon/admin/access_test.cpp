#include "daemon/admin/access.h"

#include <catch2/catch.hpp>

#include <set>

namespace yuer::admin {
namespace {

using nlohmann::json;

const Principal kSuper{};
const Principal kProvince{"p", Role::kProvinceAdmin, "440000000000", 1};
const Principal kCounty{"c", Role::kCountyAdmin, "440305000000", 2};
const Principal kTown{"t", Role::kTownshipCoordinator, "440305100000", 3};
const Principal kViewer{"v", Role::kViewer, "440305100000", 4};

std::string param(const Decision& d, const std::string& key) {
  for (const auto& [k, v] : d.params)
    if (k == key) return v;
  return "<none>";
}

}  // namespace

TEST_CASE("division codes: level, scope prefix, role fit, within", "[admin][access]") {
  auto [code, level, prefix] = GENERATE(table<std::string, int, std::string>({
      {"440000000000", 1, "44"},
      {"440300000000", 2, "4403"},
      {"440305000000", 3, "440305"},
      {"440305100000", 4, "440305100"},
      {"440305100201", 5, "440305100201"},
  }));
  CAPTURE(code);
  CHECK(unit_level(code) == level);
  CHECK(scope_prefix(code) == prefix);
  CHECK(role_fits_unit(Role::kViewer, code));
  CHECK(role_fits_unit(Role::kCountyAdmin, code) == (level == 3));
  CHECK(role_fits_unit(Role::kTownshipCoordinator, code) == (level == 4));
  CHECK(within(kSuper, code));
  CHECK(within(kProvince, code));
  CHECK(within(kTown, code) == (level >= 4));
  CHECK(overlaps(kTown, code));  // every one of these is the township or above or below it
  CHECK_FALSE(within(kTown, "440305200000"));  // the neighbouring township
  CHECK_FALSE(overlaps(kTown, "440305200000"));
  CHECK_FALSE(within(kTown, "44030510x"));
  CHECK_FALSE(valid_unit_code("44030510000"));
}

// One row per /api/v1 endpoint: every rule in rules() must appear here, with the outcome for a
// township coordinator, a viewer of the same township and a county admin.
TEST_CASE("every /api/v1 endpoint has a scope rule, checked per role", "[admin][access]") {
  struct Row {
    const char* method;
    const char* path;
    const char* town;    // "ok" or the error code for the township coordinator
    const char* viewer;  // same for a viewer of that township
    const char* county;  // same for the county admin
  };
  const std::vector<Row> table = {
      {"GET", "/api/v1/inbox", "auth.forbidden", "auth.forbidden", "auth.forbidden"},
      {"POST", "/api/v1/push", "auth.forbidden", "auth.forbidden", "auth.forbidden"},
      {"GET", "/api/v1/outbox", "auth.forbidden", "auth.forbidden", "auth.forbidden"},
      {"GET", "/api/v1/outbox/7", "auth.forbidden", "auth.forbidden", "auth.forbidden"},
      {"POST", "/api/v1/outbox/7/retry", "auth.forbidden", "auth.forbidden", "auth.forbidden"},
      {"POST", "/api/v1/outbox/7/cancel", "auth.forbidden", "auth.forbidden", "auth.forbidden"},
      {"GET", "/api/v1/group_tasks", "auth.forbidden", "auth.forbidden", "auth.forbidden"},
      {"GET", "/api/v1/group_posts/3", "auth.forbidden", "auth.forbidden", "auth.forbidden"},
      {"POST", "/api/v1/org/import", "auth.forbidden", "auth.forbidden", "auth.forbidden"},
      {"POST", "/api/v1/roster/import", "auth.forbidden", "auth.forbidden", "auth.forbidden"},
      {"GET", "/api/v1/org", "ok", "ok", "ok"},
      {"GET", "/api/v1/roster", "ok", "ok", "ok"},
      {"GET", "/api/v1/groups", "ok", "ok", "ok"},
      {"POST", "/api/v1/groups", "ok", "auth.read_only", "ok"},
      {"POST", "/api/v1/groups/sync", "auth.forbidden", "auth.forbidden", "auth.forbidden"},
      {"GET", "/api/v1/groups/5", "ok", "ok", "ok"},
      {"PATCH", "/api/v1/groups/5", "ok", "auth.read_only", "ok"},
      {"GET", "/api/v1/join_ways", "ok", "ok", "ok"},
      {"GET", "/api/v1/group_alerts", "ok", "ok", "ok"},
      {"GET", "/api/v1/lessons", "ok", "ok", "ok"},
      {"GET", "/api/v1/lessons/L-06m-01", "ok", "ok", "ok"},
      {"GET", "/api/v1/clock", "ok", "ok", "ok"},
      {"POST", "/api/v1/clock", "auth.forbidden", "auth.forbidden", "auth.forbidden"},
      {"GET", "/api/v1/schedules", "ok", "ok", "ok"},
      {"POST", "/api/v1/schedules", "ok", "auth.read_only", "ok"},
      {"GET", "/api/v1/schedules/preview", "ok", "ok", "ok"},
      {"POST", "/api/v1/schedules/s1/pause", "ok", "auth.read_only", "ok"},
      {"POST", "/api/v1/schedules/s1/resume", "ok", "auth.read_only", "ok"},
      {"GET", "/api/v1/pushes", "ok", "ok", "ok"},
      {"GET", "/api/v1/surveys", "ok", "ok", "ok"},
      {"POST", "/api/v1/surveys", "ok", "auth.read_only", "ok"},
      {"POST", "/api/v1/surveys/2/close", "ok", "auth.read_only", "ok"},
      {"POST", "/api/v1/surveys/2/invite", "ok", "auth.read_only", "ok"},
      {"GET", "/api/v1/surveys/2/coverage", "ok", "ok", "ok"},
      {"GET", "/api/v1/surveys/2/missing", "ok", "ok", "ok"},
      {"GET", "/api/v1/surveys/2/indicators", "ok", "ok", "ok"},
      {"GET", "/api/v1/surveys/2/export", "ok", "ok", "ok"},
      {"GET", "/api/v1/surveys/2/unmatched", "ok", "ok", "ok"},
      {"GET", "/api/v1/surveys/2", "ok", "ok", "ok"},
      {"GET", "/api/v1/tokens", "auth.forbidden", "auth.forbidden", "ok"},
      {"POST", "/api/v1/tokens", "auth.forbidden", "auth.forbidden", "ok"},
      {"POST", "/api/v1/tokens/9/revoke", "auth.forbidden", "auth.forbidden", "ok"},
      {"GET", "/api/v1/audit", "auth.forbidden", "auth.forbidden", "ok"},
      {"GET", "/api/v1/whoami", "ok", "ok", "ok"},
      // No rule: only the superuser.
      {"DELETE", "/api/v1/groups/5", "auth.forbidden", "auth.forbidden", "auth.forbidden"},
      {"GET", "/api/v1/something_new", "auth.forbidden", "auth.forbidden", "auth.forbidden"},
  };
  std::set<std::string> covered;
  for (const auto& row : table) {
    CAPTURE(row.method, row.path);
    if (const Rule* r = find_rule(row.method, row.path)) covered.insert(std::string(r->method) + " " + r->pattern);
    auto outcome = [&](const Principal& p) {
      auto d = decide(p, row.method, row.path, {}, nullptr);
      return d.denied ? d.denied->code : std::string("ok");
    };
    CHECK(outcome(kTown) == row.town);
    CHECK(outcome(kViewer) == row.viewer);
    CHECK(outcome(kCounty) == row.county);
    CHECK_FALSE(decide(kSuper, row.method, row.path, {}, nullptr).denied);
    // Every change and every export is audited; other reads are not.
    CHECK(decide(kSuper, row.method, row.path, {}, nullptr).audit ==
          (std::string(row.method) != "GET" || std::string(row.path).ends_with("/export")));
  }
  for (const auto& r : rules()) {
    CAPTURE(r.method, r.pattern);
    CHECK(covered.count(std::string(r.method) + " " + r.pattern) == 1);
  }
}

TEST_CASE("unit= filters: a foreign unit is refused, the caller's own is filled in, codes become prefixes",
          "[admin][access]") {
  auto [path, param_name, given, for_town, for_county] = GENERATE(table<std::string, std::string, std::string, std::string, std::string>({
      // given "" = parameter absent; expected "<403>" = refused, else the value the handler gets
      {"/api/v1/roster", "unit", "", "440305100", "440305"},
      {"/api/v1/roster", "unit", "440305100000", "440305100", "440305100"},
      {"/api/v1/roster", "unit", "440305100201", "440305100201", "440305100201"},
      {"/api/v1/roster", "unit", "440305200000", "<403>", "440305200"},
      {"/api/v1/roster", "unit", "4403", "<403>", "<403>"},
      {"/api/v1/org", "prefix", "", "440305100", "440305"},
      {"/api/v1/groups", "unit", "440306", "<403>", "<403>"},
      {"/api/v1/schedules", "unit", "", "440305100", "440305"},
      {"/api/v1/schedules/preview", "unit", "44", "<403>", "<403>"},
      {"/api/v1/pushes", "unit", "", "440305100", "440305"},
      {"/api/v1/surveys", "unit", "", "440305100", "440305"},
      {"/api/v1/surveys/1/coverage", "unit", "", "440305100000", "440305000000"},
      {"/api/v1/surveys/1/coverage", "unit", "440305200000", "<403>", "440305200000"},
      {"/api/v1/surveys/1/missing", "unit", "", "440305100000", "440305000000"},
      {"/api/v1/surveys/1/indicators", "unit", "440305000000", "<403>", "440305000000"},
      {"/api/v1/surveys/1/export", "unit", "", "440305100000", "440305000000"},
  }));
  CAPTURE(path, given);
  std::vector<std::pair<std::string, std::string>> params;
  if (!given.empty()) params.emplace_back(param_name, given);
  for (auto [who, expected] : {std::pair{kTown, for_town}, std::pair{kCounty, for_county}}) {
    CAPTURE(who.name);
    auto d = decide(who, "GET", path, params, nullptr);
    if (expected == "<403>") {
      REQUIRE(d.denied);
      CHECK(d.denied->code == "auth.forbidden_unit");
      CHECK(d.denied->status == http::Status::forbidden);
    } else {
      REQUIRE_FALSE(d.denied);
      CHECK(param(d, param_name) == expected);
    }
  }
  // The superuser's filters are passed on (full codes as their prefix), never filled in.
  auto d = decide(kSuper, "GET", path, params, nullptr);
  REQUIRE_FALSE(d.denied);
  if (given.empty()) CHECK(param(d, param_name) == "<none>");
}

TEST_CASE("units in bodies: checked, and filled in for new schedules and survey rounds", "[admin][access]") {
  auto [path, body, expected] = GENERATE(table<std::string, std::string, std::string>({
      {"/api/v1/schedules", R"({"name":"x","audience":{"units":["440305100000"]}})", "ok"},
      {"/api/v1/schedules", R"({"name":"x","audience":{"units":["440305100000","440305200000"]}})", "auth.forbidden_unit"},
      {"/api/v1/schedules", R"({"name":"x","unit":"440305000000"})", "auth.forbidden_unit"},
      {"/api/v1/surveys", R"({"survey":"feeding","units":["440305200000"]})", "auth.forbidden_unit"},
      {"/api/v1/surveys", R"({"survey":"feeding","units":["440305100201"]})", "ok"},
      {"/api/v1/groups", R"({"kind":"parent","unit":"440305200000"})", "auth.forbidden_unit"},
      {"/api/v1/groups", R"({"kind":"parent","unit_code":"440305100000"})", "ok"},
  }));
  CAPTURE(path, body);
  auto j = json::parse(body);
  auto d = decide(kTown, "POST", path, {}, &j);
  CHECK((d.denied ? d.denied->code : std::string("ok")) == expected);
  CHECK_FALSE(decide(kSuper, "POST", path, {}, &j).denied);

  // None named: the coordinator's own township is filled in.
  json bare = {{"name", "x"}};
  auto filled = decide(kTown, "POST", "/api/v1/schedules", {}, &bare);
  REQUIRE(filled.body);
  CHECK((*filled.body)["audience"]["units"] == json::array({"440305100000"}));
  auto round = decide(kTown, "POST", "/api/v1/surveys", {}, &bare);
  REQUIRE(round.body);
  CHECK((*round.body)["units"] == json::array({"440305100000"}));
  CHECK_FALSE(decide(kSuper, "POST", "/api/v1/surveys", {}, &bare).body);
}

TEST_CASE("identifying=1 needs a county admin, a township coordinator or the superuser", "[admin][access]") {
  auto [who, allowed] = GENERATE(table<Principal, bool>({
      {kSuper, true}, {kProvince, false}, {kCounty, true}, {kTown, true}, {kViewer, false}}));
  CAPTURE(who.name);
  auto d = decide(who, "GET", "/api/v1/surveys/1/export", {{"format", "csv"}, {"identifying", "1"}}, nullptr);
  CHECK(d.denied.has_value() == !allowed);
  if (d.denied) CHECK(d.denied->code == "auth.forbidden_identifying");
  CHECK_FALSE(decide(who, "GET", "/api/v1/surveys/1/export", {{"identifying", "0"}}, nullptr).denied);
  CHECK(d.audit);
}

TEST_CASE("resources named by id and list answers are held to the caller's unit", "[admin][access]") {
  CHECK_FALSE(check_resource(kTown, json{{"id", 5}, {"unit_code", "440305100000"}}));
  CHECK(check_resource(kTown, json{{"id", 5}, {"unit_code", "440305200000"}})->code == "auth.forbidden_unit");
  CHECK(check_resource(kTown, json{{"audience", {{"units", {"440305100000", "440305000000"}}}}})->code ==
        "auth.forbidden_unit");
  CHECK(check_resource(kTown, json{{"id", 1}})->code == "auth.forbidden_unit");
  CHECK_FALSE(check_resource(kSuper, json{{"id", 1}}));
  CHECK(resolver_id("/api/v1/schedules/s-1/pause") == "s-1");
  CHECK(resolver_id("/api/v1/groups/12") == "12");

  json body = {{"groups", {{{"id", 1}, {"unit_code", "440305100000"}}, {{"id", 2}, {"unit_code", "440305200000"}}}},
               {"schedules", {{{"id", "a"}, {"audience", {{"units", {"440305000000"}}}}},   // county-wide: concerns her
                              {{"id", "b"}, {"audience", {{"units", {"440305200000"}}}}}}},  // other township
               {"total", 2}};
  json copy = body;
  CHECK(filter_list(kTown, body) == 2);
  CHECK(body["groups"].size() == 1);
  CHECK(body["groups"][0]["id"] == 1);
  CHECK(body["schedules"].size() == 1);
  CHECK(body["schedules"][0]["id"] == "a");
  CHECK(filter_list(kSuper, copy) == 0);
  CHECK(copy["groups"].size() == 2);

  json secret = {{"token", {{"name", "x"}}}, {"secret", "yt_abc"}, {"nested", {{"secret_hash", "ff"}}}};
  redact(secret);
  CHECK_FALSE(secret.contains("secret"));
  CHECK_FALSE(secret["nested"].contains("secret_hash"));
  CHECK(secret["token"]["name"] == "x");
}

TEST_CASE("granting tokens: own unit and below, never a wider role", "[admin][access]") {
  auto [who, role, unit, allowed] = GENERATE(table<Principal, Role, std::string, bool>({
      {kSuper, Role::kProvinceAdmin, "440000000000", true},
      {kCounty, Role::kCountyAdmin, "440305000000", true},
      {kCounty, Role::kTownshipCoordinator, "440305100000", true},
      {kCounty, Role::kTownshipCoordinator, "440306100000", false},  // another county
      {kCounty, Role::kCityAdmin, "440300000000", false},            // wider role
      {kCounty, Role::kTownshipCoordinator, "440305000000", false},  // role does not fit the level
      {kTown, Role::kViewer, "440305100000", false},                 // coordinators manage no tokens
      {kProvince, Role::kViewer, "440305100201", true},
  }));
  CAPTURE(who.name, role_name(role), unit);
  CHECK(may_grant(who, role, unit) == allowed);
}

TEST_CASE("lockout: repeated wrong tokens lock one peer for a while, others are unaffected", "[admin][access]") {
  Lockout l(3, 60'000, 300'000);
  CHECK_FALSE(l.failure("10.0.0.1", 1000));
  CHECK_FALSE(l.failure("10.0.0.1", 2000));
  CHECK(l.locked_for("10.0.0.1", 2000) == 0);
  CHECK(l.failure("10.0.0.1", 3000));
  CHECK(l.locked_for("10.0.0.1", 3000) == 300'000);
  CHECK(l.locked_for("10.0.0.1", 303'000) == 0);
  CHECK(l.locked_for("10.0.0.2", 3000) == 0);
  // Failures spread beyond the window do not add up; a success clears the count.
  CHECK_FALSE(l.failure("10.0.0.3", 0));
  CHECK_FALSE(l.failure("10.0.0.3", 1));
  CHECK_FALSE(l.failure("10.0.0.3", 70'000));
  CHECK_FALSE(l.failure("10.0.0.3", 70'001));
  l.success("10.0.0.3");
  CHECK_FALSE(l.failure("10.0.0.3", 70'002));
  CHECK_FALSE(l.failure("10.0.0.3", 70'003));
  CHECK(l.failure("10.0.0.3", 70'004));
}

}  // namespace yuer::admin
