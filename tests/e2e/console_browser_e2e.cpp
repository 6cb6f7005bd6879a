// The web console (daemon/admin/web) in headless Chromium: a real yuerd against a real
// wecom-sandbox with two townships and their parent groups. A county admin logs in with a token,
// sees the dashboard (parent groups with member counts and cap bars marked at 350/400, the join
// QR per township), the schedules and survey pages (against the schedules/survey contracts: when
// this yuerd has no such API the pages show 「暂无数据」; when it has, a schedule is paused from the
// page and the coverage drilled into and exported); a township coordinator sees only her township;
// the page fits a phone screen. Screenshots go to <build>/artifacts/console-*.png.
#include "tests/e2e/sandbox_process.h"
#include "tests/e2e/webdriver.h"
#include "tests/e2e/yuerd_fixture.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

namespace yuer::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kAppSecret = "e2eConsoleAppSecret0123456789abcdefABCDEFG";
const char* kTownA = "440305100000";
const char* kTownB = "440305200000";

json make_fixture() {
  Secrets s;
  json groups = json::array();
  const std::pair<const char*, int> towns[] = {{"A", 120}, {"B", 362}};
  for (auto [t, n] : towns)
    groups.push_back({{"chat_id", fmt::format("wrTown{}", t)},
                      {"name", t == std::string("A") ? "东镇宝宝成长群" : "西镇宝宝成长群"},
                      {"owner", fmt::format("Coord{}", t)},
                      {"members", json::array({{{"userid", fmt::format("Coord{}", t)}, {"type", 1}, {"join_scene", 1}}})},
                      {"generate", {{"count", n}, {"id_prefix", fmt::format("wm{}p", t)}, {"join_scene", 1}}}});
  return {{"corp", {{"corp_id", kCorpId}, {"name", "e2e"}}},
          {"apps", json::array({{{"agent_id", 1000002}, {"name", "育儿群助手"}, {"secret", kAppSecret},
                                 {"token", s.app_token}, {"aes_key", s.app_aes_key}, {"callback_url", ""}}})},
          {"members", json::array({{{"userid", "CoordA"}, {"name", "东镇专干"}}, {{"userid", "CoordB"}, {"name", "西镇专干"}}})},
          {"customer_contact_agent_ids", {1000002}},
          {"customer_groups", groups}};
}

std::string artifact(const std::string& name) { return std::string(YUER_BINARY_DIR) + "/artifacts/" + name; }

struct Env {
  SandboxProcess sandbox{make_fixture()};
  std::unique_ptr<YuerdFixture> yuerd;

  Env() {
    yuerd = std::make_unique<YuerdFixture>(R"(
[roster]
phone_key_file = "secrets/phone_key"

[groups]
enabled = true
soft_cap = 350
hard_cap = 400
refresh_delay_ms = 100
)",
                                           sandbox.base(), kAppSecret);
    yuerd->dir().write("secrets/phone_key", "e2e-console-phone-key-0123456789");
    yuerd->start();
    sandbox.post("/_sandbox/apps/callback_url", {{"agent_id", 1000002}, {"callback_url", yuerd->url("/wecom/callback/app")}});
  }

  net::ClientResponse call(http::Verb verb, const std::string& path, const std::string& body = "",
                           const std::string& token = "") {
    auto r = net::http_request(verb, yuerd->url(path), body,
                               {{"Authorization", "Bearer " + (token.empty() ? yuerd->secrets().admin_token : token)},
                                {"Content-Type", "application/json"}},
                               60s);
    REQUIRE(r.has_value());
    return *r;
  }
  std::string token(const std::string& name, const std::string& role, const std::string& unit) {
    auto r = call(http::Verb::post, "/api/v1/tokens", json({{"name", name}, {"role", role}, {"unit", unit}}).dump());
    INFO(r.body);
    REQUIRE(r.status == 201);
    return json::parse(r.body)["secret"];
  }
};

void login(Browser& b, const std::string& url, const std::string& token) {
  b.go(url + "/#logout");
  b.go(url + "/");
  json input;
  REQUIRE(eventually([&] { return (input = b.find("#login-token")).is_object(); }));
  REQUIRE(b.type(input, token));
  REQUIRE(b.click(b.find("#login-submit")));
  REQUIRE(eventually([&] { return b.text("who").find("·") != std::string::npos; }));
}

}  // namespace

TEST_CASE("web console in a browser: login, dashboard, schedules, survey, township scope, phone width",
          "[e2e][console][browser]") {
  Env env;
  const std::string org = "区划代码,名称\n440000000000,示范省\n440300000000,示范市\n440305000000,示范县\n" +
                          fmt::format("{},东镇\n{},西镇\n", kTownA, kTownB);
  REQUIRE(env.call(http::Verb::post, "/api/v1/org/import?dry_run=0", org).status == 200);
  for (auto [unit, chat, name] : {std::tuple{kTownA, "wrTownA", "东镇宝宝成长群"}, std::tuple{kTownB, "wrTownB", "西镇宝宝成长群"}}) {
    auto r = env.call(http::Verb::post, "/api/v1/groups",
                      json({{"kind", "parent"}, {"unit_code", unit}, {"name", name}, {"chat_id", chat}, {"owner", std::string("Coord") + chat[6]}}).dump());
    INFO(r.body);
    REQUIRE(r.status == 201);
  }
  // yuerd reads the members from WeCom.
  REQUIRE(eventually(
      [&] {
        auto groups = json::parse(env.call(http::Verb::get, "/api/v1/groups?kind=parent").body)["groups"];
        int synced = 0;
        for (const auto& g : groups) synced += g.value("members", 0) > 100;
        return synced == 2;
      },
      60s));
  const std::string county = env.token("县管理员", "county_admin", "440305000000");
  const std::string town = env.token("东镇协调员", "township_coordinator", kTownA);

  // Contract APIs of the scheduler and survey parts: used when this yuerd has them.
  auto schedule = env.call(http::Verb::post, "/api/v1/schedules",
                           json({{"name", "每周课程"},
                                 {"audience", {{"units", {kTownA}}, {"group_kinds", {"parent"}}}},
                                 {"content", {{"kind", "series"}, {"ref", "default"}}},
                                 {"time", {{"kind", "weekly"}, {"at", "09:00"}, {"weekday", 1}}},
                                 {"start_date", "2026-01-01"},
                                 {"route", "auto"}})
                               .dump());
  const bool have_schedules = schedule.status == 201;
  auto round = env.call(http::Verb::post, "/api/v1/surveys",
                        json({{"survey", "feeding"}, {"name", "喂养调查"}, {"units", {"440305000000"}},
                              {"opens", "2026-01-01"}, {"closes", "2027-12-31"}})
                            .dump());
  const bool have_surveys = round.status == 201;

  Browser b;
  const std::string url = env.yuerd->url("");

  {  // a wrong token is refused with a Chinese message
    b.go(url + "/");
    json input;
    REQUIRE(eventually([&] { return (input = b.find("#login-token")).is_object(); }));
    REQUIRE(b.type(input, "not-the-token"));
    REQUIRE(b.click(b.find("#login-submit")));
    CHECK(eventually([&] { return b.text("login-error").find("令牌不正确") != std::string::npos; }));
    CHECK(b.run("return document.documentElement.lang;") == "zh-CN");
  }

  {  // county admin: dashboard, schedules, survey
    login(b, url, county);
    CHECK(b.text("who").find("县级管理员") != std::string::npos);
    // Both townships' groups with their member counts and the 350/400 marks.
    REQUIRE(eventually([&] {
      const auto t = b.text("dash-groups");
      return t.find("东镇宝宝成长群") != std::string::npos && t.find("西镇宝宝成长群") != std::string::npos;
    }));
    const auto groups = b.text("dash-groups");
    CHECK(groups.find("121 人") != std::string::npos);
    CHECK(groups.find("363 人") != std::string::npos);
    CHECK(groups.find("350") != std::string::npos);
    CHECK(groups.find("400") != std::string::npos);
    // The group over its soft cap is drawn in the warning colour.
    CHECK(b.run("return document.querySelectorAll('#dash-groups .fill.warn').length;") == 1);
    // The bars are drawn (inline widths allowed by the console's CSP): 363 of 440 is ~82 %.
    json widths = b.run("var f = document.querySelectorAll('#dash-groups .fill'), out = [];"
                        "for (var i = 0; i < f.length; i++) out.push(f[i].offsetWidth / f[i].parentNode.offsetWidth);"
                        "return out;");
    REQUIRE(widths.size() == 2);
    CHECK(widths[0].get<double>() > 0.2);
    CHECK(widths[1].get<double>() > 0.7);
    CHECK(eventually([&] { return b.text("dash-qr").find("东镇") != std::string::npos; }));
    // Parts this token may not see say so instead of breaking.
    CHECK(b.text("dash-failures").find("暂无数据") != std::string::npos);
    b.screenshot(artifact("console-dashboard.png"));

    b.go(url + "/#schedules");
    if (have_schedules) {
      REQUIRE(eventually([&] { return b.text("sched-list").find("每周课程") != std::string::npos; }));
      REQUIRE(b.click_text("#sched-list button", "暂停"));
      const std::string id = json::parse(schedule.body)["schedule"]["id"].is_string()
                                 ? json::parse(schedule.body)["schedule"]["id"].get<std::string>()
                                 : std::to_string(json::parse(schedule.body)["schedule"]["id"].get<std::int64_t>());
      CHECK(eventually([&] {
        const json listed = json::parse(env.call(http::Verb::get, "/api/v1/schedules").body);  // alive while iterated
        for (const auto& s : listed["schedules"])
          if (s["id"].dump() == json::parse(schedule.body)["schedule"]["id"].dump()) return s["state"] == "paused";
        return false;
      }));
      CHECK(eventually([&] { return b.text("sched-list").find("已暂停") != std::string::npos; }));
      CAPTURE(id);
    } else {
      CHECK(eventually([&] { return b.text("sched-list").find("暂无数据") != std::string::npos; }));
      CHECK(eventually([&] { return b.text("sched-preview").find("暂无数据") != std::string::npos; }));
    }
    b.screenshot(artifact("console-schedules.png"));

    b.go(url + "/#survey");
    if (have_surveys) {
      REQUIRE(eventually([&] { return b.text("survey-coverage").find("示范县") != std::string::npos; }));
      REQUIRE(b.click_text("#survey-coverage a.drill", "东镇"));
      CHECK(eventually([&] { return b.text("survey-crumbs").find("东镇") != std::string::npos; }));
      REQUIRE(b.click(b.find("#export-csv")));
      CHECK(eventually([&] { return b.text("export-status").find("已下载") != std::string::npos; }));
      // The export is in the audit log, by the county admin.
      bool audited = false;
      const json audit = json::parse(env.call(http::Verb::get, "/api/v1/audit").body);  // alive while iterated
      for (const auto& e : audit["entries"])
        audited = audited || (e["path"].get<std::string>().ends_with("/export") && e["actor"] == "县管理员");
      CHECK(audited);
    } else {
      CHECK(eventually([&] { return b.text("survey-rounds").find("暂无数据") != std::string::npos; }));
      CHECK(b.text("survey-coverage").find("暂无数据") != std::string::npos);
      REQUIRE(b.click(b.find("#export-csv")));
      CHECK(eventually([&] { return b.text("export-status").find("暂无数据") != std::string::npos; }));
    }
    b.screenshot(artifact("console-survey.png"));

    // Token management is offered to a county admin.
    b.go(url + "/#tokens");
    CHECK(eventually([&] { return b.text("tokens-list").find("东镇协调员") != std::string::npos; }));
    CHECK(eventually([&] { return b.text("audit-list").find("/api/v1/tokens") != std::string::npos; }));

    // The sandbox's chat view beside it (README screenshot).
    b.go(env.sandbox.base() + "/");
    if (b.click_text("#chats button", "西镇宝宝成长群", 10s))
      eventually([&] { return b.text("chat-title").find("西镇") != std::string::npos; }, 10s);
    b.screenshot(artifact("sandbox-chat.png"));
  }

  {  // township coordinator: only her township; fits a phone
    login(b, url, town);
    CHECK(b.text("who").find("乡镇协调员") != std::string::npos);
    REQUIRE(eventually([&] { return b.text("dash-groups").find("东镇宝宝成长群") != std::string::npos; }));
    CHECK(b.text("dash-groups").find("西镇宝宝成长群") == std::string::npos);
    CHECK(eventually([&] { return b.text("dash-qr").find("东镇") != std::string::npos; }));
    CHECK(b.text("dash-qr").find("西镇") == std::string::npos);
    CHECK(b.run("return document.getElementById('nav-tokens').className;") == "hidden");
    b.window_size(390, 844);
    CHECK(eventually([&] {
      return b.run("return document.documentElement.scrollWidth <= window.innerWidth + 1;") == true;
    }));
    b.screenshot(artifact("console-township-phone.png"));
    if (have_surveys) {
      b.go(url + "/#survey");
      REQUIRE(eventually([&] { return b.text("survey-coverage").find("东镇") != std::string::npos; }));
      CHECK(b.text("survey-coverage").find("西镇") == std::string::npos);
    }
  }
  CHECK(env.yuerd->stop() == 0);
}

}  // namespace yuer::test
