// Access control and audit end to end (README "Access control"): a real yuerd with an org slice of
// two townships, tokens made through the real yuerctl. A township coordinator sees her township
// only (roster, org, lists filtered, a foreign unit= refused), cannot call superuser endpoints nor
// export identifying data she is not allowed to; a viewer cannot change anything; changes land in
// the audit log with who and before/after; secrets never reach the log or the audit; repeated
// wrong tokens lock the peer out; the console's pages are served at /.
#include "tests/e2e/yuerd_fixture.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

namespace yuer::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

struct Env {
  YuerdFixture yuerd{"\n[roster]\nphone_key_file = \"secrets/phone_key\"\n"};
  std::string admin_file;
  int runs = 0;

  Env() {
    yuerd.dir().write("secrets/phone_key", "e2e-phone-key-0123456789abcdef");
    admin_file = yuerd.dir().path() + "/secrets/admin_token";
    yuerd.start();
  }

  RunResult ctl(const std::string& token_file, std::vector<std::string> args) {
    std::vector<std::string> argv = {YUERCTL_BIN, "--url", yuerd.url(""), "--token-file", token_file};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, 60s, yuerd.dir().path() + fmt::format("/yuerctl-{}.log", ++runs));
  }

  net::ClientResponse call(http::Verb verb, const std::string& token, const std::string& path, std::string body = "") {
    auto r = net::http_request(verb, yuerd.url(path), std::move(body),
                               {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}}, 30s);
    REQUIRE(r.has_value());
    return *r;
  }

  // Creates a token through yuerctl; returns its secret written to a 0600 file.
  std::pair<std::string, std::string> token(const std::string& name, const std::string& role, const std::string& unit) {
    auto r = ctl(admin_file, {"tokens", "add", "--name", name, "--role", role, "--unit", unit, "--json"});
    INFO(r.output);
    REQUIRE(r.code == 0);
    auto j = json::parse(r.output);
    const std::string secret = j["secret"];
    auto file = yuerd.dir().write("secrets/" + name, secret);
    ::chmod(file.c_str(), 0600);
    return {secret, file};
  }
};

const char* kOrg = "区划代码,名称\n440000000000,示范省\n440300000000,示范市\n440305000000,示范县\n"
                   "440305100000,东镇\n440305100201,东村\n440305200000,西镇\n440305200201,西村\n";

std::string roster() {
  std::string csv = "儿童编号,出生日期,性别,区划代码,照护人姓名,照护人手机,外部联系人ID,项目标签\n";
  for (int i = 1; i <= 20; ++i)
    csv += fmt::format("A{:03d},2026-0{}-15,{},{},家长{},139{:08d},,\n", i, 1 + i % 9, i % 2 ? "男" : "女",
                       i % 2 ? "440305100201" : "440305200201", i, 20000000 + i);
  return csv;
}

}  // namespace

TEST_CASE("access: scoped tokens see and change only their unit, audit log, lockout, console served",
          "[e2e][access]") {
  Env env;
  const std::string admin = env.yuerd.secrets().admin_token;
  REQUIRE(env.call(http::Verb::post, admin, "/api/v1/org/import?dry_run=0", kOrg).status == 200);
  REQUIRE(env.call(http::Verb::post, admin, "/api/v1/roster/import?dry_run=0", roster()).status == 200);

  auto [town, town_file] = env.token("东镇协调员", "township_coordinator", "440305100000");
  auto [county, county_file] = env.token("县管理员", "county_admin", "440305000000");
  auto [viewer, viewer_file] = env.token("东镇只读", "viewer", "440305100000");

  {
    auto who = json::parse(env.call(http::Verb::get, town, "/api/v1/whoami").body);
    CHECK(who["role"] == "township_coordinator");
    CHECK(who["unit"] == "440305100000");
    CHECK(json::parse(env.call(http::Verb::get, admin, "/api/v1/whoami").body)["role"] == "superuser");
  }

  // The roster: her township's 10 families by default, the county admin all 20, a foreign unit refused.
  auto total = [&](const std::string& token, const std::string& query) {
    auto r = env.call(http::Verb::get, token, "/api/v1/roster" + query);
    INFO(r.body);
    REQUIRE(r.status == 200);
    return json::parse(r.body)["total"].get<int>();
  };
  CHECK(total(town, "") == 10);
  CHECK(total(town, "?unit=440305100201") == 10);
  CHECK(total(county, "") == 20);
  CHECK(total(county, "?unit=440305200000") == 10);  // a full township code filters "that unit and below"
  CHECK(total(admin, "") == 20);
  auto foreign = env.call(http::Verb::get, town, "/api/v1/roster?unit=440305200000");
  CHECK(foreign.status == 403);
  CHECK(json::parse(foreign.body)["error"]["code"] == "auth.forbidden_unit");
  auto units = json::parse(env.call(http::Verb::get, town, "/api/v1/org").body)["units"];
  CHECK(units.size() == 2);  // 东镇 and 东村
  for (const auto& u : units) CHECK(u["code"].get<std::string>().starts_with("440305100"));

  // Superuser-only endpoints and roles that may not.
  CHECK(env.call(http::Verb::get, town, "/api/v1/inbox").status == 403);
  CHECK(env.call(http::Verb::get, county, "/api/v1/outbox").status == 403);
  CHECK(env.call(http::Verb::post, county, "/api/v1/roster/import?dry_run=0", roster()).status == 403);
  CHECK(env.call(http::Verb::get, town, "/api/v1/tokens").status == 403);
  CHECK(env.call(http::Verb::get, town, "/api/v1/surveys/1/export?format=csv&identifying=1").status != 403);
  auto identifying = env.call(http::Verb::get, viewer, "/api/v1/surveys/1/export?format=csv&identifying=1");
  CHECK(identifying.status == 403);
  CHECK(json::parse(identifying.body)["error"]["code"] == "auth.forbidden_identifying");
  auto read_only = env.call(http::Verb::post, viewer, "/api/v1/groups", R"({"kind":"parent","unit":"440305100000"})");
  CHECK(read_only.status == 403);
  CHECK(json::parse(read_only.body)["error"]["code"] == "auth.read_only");
  CHECK(env.call(http::Verb::post, town, "/api/v1/surveys", R"({"survey":"feeding","units":["440305200000"]})").status == 403);

  // Tokens: the county admin may create a coordinator for her county only, never a wider role;
  // yuerctl says so with exit 2 (forbidden unit) and lists tokens without secrets.
  auto other_county = env.ctl(county_file, {"tokens", "add", "--name", "外县", "--role", "township_coordinator",
                                            "--unit", "440306100000"});
  CHECK(other_county.code == 2);
  CHECK(other_county.output.find("forbidden") != std::string::npos);
  CHECK(env.ctl(county_file, {"tokens", "add", "--name", "x", "--role", "city_admin", "--unit", "440300000000"}).code == 2);
  CHECK(env.ctl(county_file, {"tokens", "add", "--name", "x", "--role", "mayor", "--unit", "440305000000"}).code == 2);
  auto listed = env.ctl(county_file, {"tokens", "list"});
  CHECK(listed.code == 0);
  CHECK(listed.output.find("东镇协调员") != std::string::npos);
  CHECK(listed.output.find("乡镇协调员") != std::string::npos);
  CHECK(listed.output.find(town) == std::string::npos);
  auto bad_token = env.ctl(env.yuerd.dir().write("secrets/wrong", "not-a-token"), {"tokens", "list"});
  // (the file is 0644 by default: refused before any request, also exit 2)
  CHECK(bad_token.code == 2);

  // Revoking: the coordinator's token stops working at once.
  auto tokens = json::parse(env.call(http::Verb::get, county, "/api/v1/tokens").body)["tokens"];
  std::int64_t viewer_id = 0;
  for (const auto& t : tokens)
    if (t["name"] == "东镇只读") viewer_id = t["id"];
  REQUIRE(viewer_id > 0);
  CHECK(env.ctl(county_file, {"tokens", "revoke", std::to_string(viewer_id)}).code == 0);
  CHECK(env.call(http::Verb::get, viewer, "/api/v1/whoami").status == 401);

  // The audit log: every change with who; the county admin sees the rows about her county.
  auto audit = env.ctl(env.admin_file, {"audit", "list", "--json"});
  REQUIRE(audit.code == 0);
  auto entries = json::parse(audit.output)["entries"];
  bool saw_revoke = false, saw_refused = false, saw_import = false;
  for (const auto& e : entries) {
    if (e["path"] == fmt::format("/api/v1/tokens/{}/revoke", viewer_id)) {
      saw_revoke = true;
      CHECK(e["actor"] == "县管理员");
      CHECK(e["role"] == "county_admin");
      CHECK(e["status"] == 200);
      CHECK(e["before"]["state"] == "active");
      CHECK(e["after"]["token"]["state"] == "revoked");
    }
    if (e["path"] == "/api/v1/surveys" && e["status"] == 403) saw_refused = e["actor"] == "东镇协调员";
    if (e["path"] == "/api/v1/roster/import" && e["actor"] == "admin") saw_import = true;
  }
  CHECK(saw_revoke);
  CHECK(saw_refused);
  CHECK(saw_import);
  auto county_audit = json::parse(env.call(http::Verb::get, county, "/api/v1/audit").body)["entries"];
  CHECK_FALSE(county_audit.empty());
  for (const auto& e : county_audit) CHECK(e["unit"].get<std::string>().starts_with("440305"));
  CHECK(env.call(http::Verb::get, county, "/api/v1/audit?unit=4403").status == 403);
  CHECK(audit.output.find(town) == std::string::npos);  // no secret in the audit

  // Lockout: 10 wrong tokens from this address, then even the right one waits.
  // (the revoked token above and maybe the wrong one counted already: only the first is checked)
  CHECK(env.call(http::Verb::get, "wrong-0", "/api/v1/whoami").status == 401);
  for (int i = 1; i < 10; ++i) env.call(http::Verb::get, "wrong-" + std::to_string(i), "/api/v1/whoami");
  auto locked = env.call(http::Verb::get, admin, "/api/v1/whoami");
  CHECK(locked.status == 429);
  CHECK(json::parse(locked.body)["error"]["code"] == "auth.locked_out");

  // The console: static pages at / and /console/.
  auto page = net::http_request(http::Verb::get, env.yuerd.url("/"), "", {}, 10s);
  REQUIRE(page.has_value());
  CHECK(page->status == 200);
  CHECK(page->body.find("育儿群助手") != std::string::npos);
  auto js = net::http_request(http::Verb::get, env.yuerd.url("/console/app.js"), "", {}, 10s);
  REQUIRE(js.has_value());
  CHECK(js->status == 200);

  CHECK(env.yuerd.stop() == 0);
  const auto log = env.yuerd.log_text();
  for (const auto& secret : {admin, town, county, viewer}) CHECK(log.find(secret) == std::string::npos);
}

}  // namespace yuer::test
