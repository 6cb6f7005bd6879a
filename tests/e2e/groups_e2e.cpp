// Parent groups under the caps, end to end: a real yuerd against a real wecom-sandbox holding a
// province slice (1 city, 2 counties, 10 townships, 5,000 roster families, one parent group per
// township, two township management groups with robots). Parents join through each township's
// 「加入群聊」 QR (the sandbox's join ways, as WeCom would route them) and by direct invitation;
// yuerd learns of it only from encrypted change_external_chat callbacks and groupchat/get. The test
// shows: the join ways yuerd creates list only groups with room; the soft-cap warning reaches the
// owner and the township management group; the QR moves off a group before its hard cap; the
// coordinator is asked for a new group and the group they create is adopted and listed; counts stay
// in sync through coalesced and lost events (a gap is detected, a loss repaired by re-reading); a
// group at its hard cap is closed and one above it raises an alert; roster families are matched to
// group members; re-importing the roster changes nothing; a restart keeps everything.
#include "tests/e2e/sandbox_process.h"
#include "tests/e2e/yuerd_fixture.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <thread>

namespace yuer::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kAppSecret = "e2eGroupsAppSecret0123456789abcdefABCDEFGH";
constexpr const char* kPhoneKey = "e2e-groups-phone-key-0123456789";
constexpr int kTownships = 10;
constexpr int kFamilies = 5000;

std::string township(int i) { return fmt::format("44010{}00{}000", 3 + i / 5, 1 + i % 5); }
std::string coord(int i) { return fmt::format("Coord{:02d}", i); }
std::string first_chat(int i) { return fmt::format("wrT{}a", i); }

std::string org_csv() {
  std::string csv = "区划代码,名称\n440000000000,示范省\n440100000000,示范市\n440103000000,东区\n440104000000,西区\n";
  for (int i = 0; i < kTownships; ++i) csv += fmt::format("{},示范{}镇\n", township(i), i + 1);
  return csv;
}

// Today in Shanghai minus `days`, YYYY-MM-DD.
std::string date_days_ago(int days) {
  using namespace std::chrono;
  const year_month_day d{floor<std::chrono::days>(system_clock::now() + hours(8)) - std::chrono::days(days)};
  return fmt::format("{:04d}-{:02d}-{:02d}", static_cast<int>(d.year()), static_cast<unsigned>(d.month()),
                     static_cast<unsigned>(d.day()));
}

// Families C00001..C05000 spread over the townships; `external` maps child ids to external_userids.
std::string roster_csv(const std::map<std::string, std::string>& external = {}) {
  std::string csv = "儿童编号,出生日期,性别,区划代码,照护人姓名,照护人手机,外部联系人ID,项目标签\n";
  for (int i = 1; i <= kFamilies; ++i) {
    const std::string child = fmt::format("C{:05d}", i);
    auto ext = external.find(child);
    csv += fmt::format("{},{},{},{},,{},{},\n", child, date_days_ago(i % 1000), i % 2 ? "男" : "女",
                       township(i % kTownships), fmt::format("139{:08d}", 10000000 + i),
                       ext == external.end() ? "" : ext->second);
  }
  return csv;
}

json make_fixture() {
  json members = json::array({{{"userid", "Staff"}, {"name", "县项目办"}}});
  json groups = json::array();
  for (int i = 0; i < kTownships; ++i) {
    members.push_back({{"userid", coord(i)}, {"name", fmt::format("专干{}", i)}});
    // Township 0 starts near its soft cap (330 parents + the owner), the others small.
    groups.push_back({{"chat_id", first_chat(i)},
                      {"name", fmt::format("示范{}镇育儿群", i + 1)},
                      {"owner", coord(i)},
                      {"members", json::array({{{"userid", coord(i)}, {"type", 1}, {"join_scene", 1}}})},
                      {"generate", {{"count", i == 0 ? 330 : 20}, {"id_prefix", fmt::format("wmT{}p", i)}, {"join_scene", 1}}}});
  }
  // Township 2's coordinator also owns a group that is not the programme's: never adopted.
  groups.push_back({{"chat_id", "wrT2other"},
                    {"name", "村卫生室通知群"},
                    {"owner", coord(2)},
                    {"members", json::array({{{"userid", coord(2)}, {"type", 1}, {"join_scene", 1}}})}});
  json internal = json::array();
  for (int i = 0; i < 2; ++i)
    internal.push_back({{"chat_id", fmt::format("wrMgmt{}", i)},
                        {"name", fmt::format("示范{}镇工作群", i + 1)},
                        {"owner", "Staff"},
                        {"members", {"Staff", coord(i)}},
                        {"robots", json::array({{{"key", fmt::format("5a7c0000-0000-4000-8000-00000000000{}", i)},
                                                 {"name", "助手"}}})}});
  Secrets s;
  return {{"corp", {{"corp_id", kCorpId}, {"name", "e2e"}}},
          {"apps", json::array({{{"agent_id", 1000002}, {"name", "育儿群助手"}, {"secret", kAppSecret},
                                 {"token", s.app_token}, {"aes_key", s.app_aes_key}, {"callback_url", ""}}})},
          {"members", members},
          {"customer_contact_agent_ids", {1000002}},
          {"customer_groups", groups},
          {"internal_groups", internal}};
}

struct Run {
  SandboxProcess sandbox{make_fixture()};
  std::unique_ptr<YuerdFixture> yuerd;
  std::string token_file;
  int ctl_runs = 0;

  Run() {
    yuerd = std::make_unique<YuerdFixture>(R"(
[wecom.robots]
keys_file = "secrets/robot_keys"

[roster]
phone_key_file = "secrets/phone_key"

[groups]
enabled = true
soft_cap = 350
hard_cap = 400
join_headroom = 10
ask_below = 30
refresh_delay_ms = 100
reconcile_every_s = 10
)",
                                           sandbox.base(), kAppSecret);
    std::string keys;
    const json fixture = sandbox.get("/_sandbox/fixture");
    for (const auto& r : fixture["robots"])
      keys += r["chat_id"].get<std::string>() + " " + r["key"].get<std::string>() + "\n";
    yuerd->dir().write("secrets/robot_keys", keys);
    yuerd->dir().write("secrets/phone_key", kPhoneKey);
    token_file = yuerd->dir().path() + "/secrets/admin_token";
    start();
  }

  void start() {
    yuerd->start();
    sandbox.post("/_sandbox/apps/callback_url", {{"agent_id", 1000002}, {"callback_url", yuerd->url("/wecom/callback/app")}});
  }

  json admin(http::Verb verb, const std::string& path, const std::string& body = "", unsigned want = 0) {
    auto r = net::http_request(verb, yuerd->url(path), body, {{"Authorization", "Bearer " + yuerd->secrets().admin_token}},
                               60s);
    if (!r) FAIL("yuerd did not answer; its log:\n" << yuerd->log_text());
    INFO(path << " → " << r->body);
    if (want) REQUIRE(r->status == want);
    else REQUIRE(r->status / 100 == 2);
    return json::parse(r->body);
  }

  json ctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {YUERCTL_BIN, "--url", yuerd->url(""), "--token-file", token_file};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--json");
    auto r = run(argv, 60s, yuerd->dir().path() + fmt::format("/yuerctl-{}.log", ++ctl_runs));
    INFO(r.output);
    REQUIRE(r.code == 0);
    return json::parse(r.output);
  }

  // The sandbox's member count of a chat.
  int wecom_members(const std::string& chat) {
    return static_cast<int>(sandbox.post("/cgi-bin/externalcontact/groupchat/get?access_token=" + token(),
                                         {{"chat_id", chat}})["group_chat"]["member_list"].size());
  }
  std::string token() {
    return sandbox.get(std::string("/cgi-bin/gettoken?corpid=") + kCorpId + "&corpsecret=" + kAppSecret)["access_token"];
  }
  json group(std::int64_t id) { return admin(http::Verb::get, "/api/v1/groups/" + std::to_string(id)); }
  json join_way(int t) {
    const json ways = admin(http::Verb::get, "/api/v1/join_ways");
    for (const auto& w : ways["join_ways"])
      if (w["unit_code"] == township(t)) return w;
    return nullptr;
  }
  // Text of every message that reached a member (app) or a chat (robot).
  std::string messages(const std::string& query) {
    std::string all;
    const json got = sandbox.get("/_sandbox/messages?" + query);
    for (const auto& m : got["messages"])
      all += m["message"].value("content", "") + "\n";
    return all;
  }
  double metric(const std::string& name) {
    auto r = net::http_request(http::Verb::get, yuerd->url("/metrics"), "", {}, 10s);
    REQUIRE(r.has_value());
    auto at = r->body.find("\n" + name + " ");
    return at == std::string::npos ? 0 : std::stod(r->body.substr(at + name.size() + 2));
  }

  static bool eventually(const std::function<bool()>& done, std::chrono::seconds limit = 60s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (done()) return true;
      std::this_thread::sleep_for(150ms);
    }
    return done();
  }
};

TEST_CASE("groups: caps, join QR rotation, new groups, events lost and coalesced, alerts, roster matching",
          "[e2e][groups]") {
  Run run;
  // The province slice and its roster.
  auto org = run.admin(http::Verb::post, "/api/v1/org/import?dry_run=0", org_csv());
  REQUIRE(org["applied"] == true);
  auto roster = run.admin(http::Verb::post, "/api/v1/roster/import?dry_run=0", roster_csv());
  REQUIRE(roster["created"] == kFamilies);

  // Groups: township 0's through yuerctl, the rest through the API; a unit that is not a township
  // and an unknown unit are refused with a reason.
  std::vector<std::int64_t> ids;
  auto added = run.ctl({"groups", "add", "--kind", "parent", "--unit", township(0), "--name", "示范1镇育儿群", "--chat-id",
                        first_chat(0), "--owner", coord(0)});
  ids.push_back(added["id"].get<std::int64_t>());
  for (int i = 1; i < kTownships; ++i) {
    json body = {{"kind", "parent"}, {"unit_code", township(i)}, {"name", fmt::format("示范{}镇育儿群", i + 1)},
                 {"chat_id", first_chat(i)}, {"owner", coord(i)}};
    ids.push_back(run.admin(http::Verb::post, "/api/v1/groups", body.dump(), 201)["id"].get<std::int64_t>());
  }
  for (int i = 0; i < 2; ++i) {
    json body = {{"kind", "management"}, {"unit_code", township(i)}, {"name", fmt::format("示范{}镇工作群", i + 1)},
                 {"route", "robot"}, {"robot", fmt::format("wrMgmt{}", i)}};
    run.admin(http::Verb::post, "/api/v1/groups", body.dump(), 201);
  }
  json county_parent = {{"kind", "parent"}, {"unit_code", "440103000000"}, {"name", "x"}, {"chat_id", "wrX"}, {"owner", "Staff"}};
  CHECK(run.admin(http::Verb::post, "/api/v1/groups", county_parent.dump(), 422)["error"]["code"] == "groups.not_township");
  county_parent["unit_code"] = "440199001000";
  CHECK(run.admin(http::Verb::post, "/api/v1/groups", county_parent.dump(), 422)["error"]["code"] == "groups.unknown_unit");
  json dup = {{"kind", "parent"}, {"unit_code", township(1)}, {"name", "重复"}, {"chat_id", first_chat(1)}, {"owner", coord(1)}};
  CHECK(run.admin(http::Verb::post, "/api/v1/groups", dup.dump(), 409)["error"]["code"] == "groups.duplicate_chat");

  // yuerd reads every group and creates one join way per township listing its group.
  REQUIRE(Run::eventually([&] {
    auto ways = run.admin(http::Verb::get, "/api/v1/join_ways")["join_ways"];
    return ways.size() == kTownships;
  }));
  for (int i = 0; i < kTownships; ++i) {
    auto w = run.join_way(i);
    CHECK(w["chat_ids"] == json::array({first_chat(i)}));
    CHECK(w["qr_code"].get<std::string>().starts_with("http"));
  }
  REQUIRE(Run::eventually([&] { return run.group(ids[0])["members"] == 331; }));
  const std::string config0 = run.join_way(0)["config_id"];

  // Parents of township 0 scan the QR, five at a time; yuerd follows each batch.
  auto join_batch = [&](const std::string& config, int n) {
    auto r = run.sandbox.post("/_sandbox/groups/join_bulk", {{"config_id", config}, {"count", n}});
    REQUIRE(r["joined"].size() == static_cast<std::size_t>(n));
  };
  auto in_sync = [&](std::int64_t id, const std::string& chat) {
    return Run::eventually([&] { return run.group(id)["members"] == run.wecom_members(chat); });
  };
  while (run.join_way(0)["chat_ids"] == json::array({first_chat(0)})) {
    join_batch(config0, 5);
    REQUIRE(in_sync(ids[0], first_chat(0)));
    REQUIRE(run.wecom_members(first_chat(0)) <= 400);
  }
  auto g0 = run.group(ids[0]);
  INFO(g0.dump());
  // The QR moved off the group before the hard cap (400 − headroom 10), never above it.
  CHECK(g0["members"].get<int>() >= 390);
  CHECK(g0["members"].get<int>() < 400);
  CHECK(g0["state"] == "warned");
  CHECK(run.join_way(0)["chat_ids"].empty());  // yuerd lists no group (WeCom keeps its last list: it needs one)
  // Told at the soft cap: the owner in WeCom (app) and the township management group (robot).
  REQUIRE(Run::eventually([&] {
    return run.messages("userid=" + coord(0)).find("接近上限") != std::string::npos &&
           run.messages("chat_id=wrMgmt0").find("接近上限") != std::string::npos;
  }));
  // Asked for the next group (room below 30), not township 1's coordinator.
  REQUIRE(Run::eventually([&] { return run.messages("userid=" + coord(0)).find("请新建一个家长群") != std::string::npos; }));
  CHECK(run.messages("userid=" + coord(1)).find("请新建一个家长群") == std::string::npos);

  // The coordinator creates the next group: yuerd adopts it for township 0 and the QR lists it.
  auto created = run.sandbox.post("/_sandbox/groups/create", {{"owner", coord(0)}, {"name", "示范1镇育儿2群"}});
  const std::string chat2 = created["chat_id"];
  REQUIRE(Run::eventually([&] { return run.join_way(0)["chat_ids"] == json::array({chat2}); }));
  auto t0_groups = run.admin(http::Verb::get, "/api/v1/groups?kind=parent&unit=" + township(0))["groups"];
  REQUIRE(t0_groups.size() == 2);
  const std::int64_t id2 = t0_groups[1]["id"];
  CHECK(t0_groups[1]["chat_id"] == chat2);
  CHECK(t0_groups[1]["owner"] == coord(0));
  CHECK(t0_groups[1]["hard_cap"] == 400);
  // Coordinators' other groups (township 2's, created before any request) are not adopted.
  REQUIRE(run.admin(http::Verb::post, "/api/v1/groups/sync")["synced"] == true);
  CHECK(run.admin(http::Verb::get, "/api/v1/groups?kind=parent&unit=" + township(2))["groups"].size() == 1);
  // The sandbox's join way now sends parents to the new group.
  join_batch(config0, 3);
  REQUIRE(in_sync(id2, chat2));
  CHECK(run.wecom_members(chat2) == 4);

  // Coalesced events: 8 joins reported in one event.
  run.sandbox.post("/_sandbox/groups/events", {{"coalesce", true}});
  join_batch(config0, 8);
  run.sandbox.post("/_sandbox/groups/events", {{"coalesce", false}});
  REQUIRE(in_sync(id2, chat2));
  CHECK(run.group(id2)["members"] == 12);

  // A lost event then a delivered one: the gap is detected by the member versions, the count right.
  const double gaps = run.metric("yuer_group_event_gaps_total");
  run.sandbox.post("/_sandbox/groups/events", {{"drop", 2}});
  join_batch(config0, 3);
  REQUIRE(in_sync(id2, chat2));
  CHECK(run.group(id2)["members"] == 15);
  CHECK(run.metric("yuer_group_event_gaps_total") > gaps);
  // Only lost events: the periodic re-read (every 10 s) repairs the count.
  run.sandbox.post("/_sandbox/groups/events", {{"drop", 4}});
  join_batch(config0, 4);
  REQUIRE(Run::eventually([&] { return run.group(id2)["members"] == 19; }, 40s));
  CHECK(run.sandbox.get("/_sandbox/groups")["customer_groups"]["events"]["dropped"] == 6);

  // Township 1 with small caps (set through yuerctl): direct invitations close it at the hard cap,
  // one more raises an alert.
  auto set = run.ctl({"groups", "set", std::to_string(ids[1]), "--soft-cap", "25", "--hard-cap", "30"});
  CHECK(set["hard_cap"] == 30);
  while (run.wecom_members(first_chat(1)) < 30) {
    run.sandbox.post("/_sandbox/groups/join", {{"chat_id", first_chat(1)}});
  }
  REQUIRE(Run::eventually([&] { return run.group(ids[1])["state"] == "closed"; }));
  REQUIRE(Run::eventually([&] { return run.messages("chat_id=wrMgmt1").find("已满30人") != std::string::npos; }));
  CHECK(run.messages("userid=" + coord(1)).find("已满30人") != std::string::npos);
  CHECK(run.group(ids[1])["join_way"]["listed"] == false);
  run.sandbox.post("/_sandbox/groups/join", {{"chat_id", first_chat(1)}});
  REQUIRE(Run::eventually([&] {
    const json alerts = run.admin(http::Verb::get, "/api/v1/group_alerts");
    for (const auto& a : alerts["alerts"])
      if (a["kind"] == "over_hard_cap" && a["chat_id"] == first_chat(1) && a["members"] == 31) return true;
    return false;
  }));

  // Every count yuerd shows equals WeCom's, and no QR-filled group is above 400.
  const json parents = run.admin(http::Verb::get, "/api/v1/groups?kind=parent");
  for (const auto& g : parents["groups"]) {
    INFO(g.dump());
    CHECK(g["members"] == run.wecom_members(g["chat_id"]));
    CHECK(g["members"].get<int>() <= 400);
  }

  // Roster matching: ten township-0 families get the external_userid of a QR-joined parent of group 1.
  auto members = run.sandbox.post("/cgi-bin/externalcontact/groupchat/get?access_token=" + run.token(),
                                  {{"chat_id", first_chat(0)}})["group_chat"]["member_list"];
  std::map<std::string, std::string> external;
  int child = 10;  // C00010, C00020, ... are township 0 (i % 10 == 0)
  for (const auto& m : members) {
    if (m["type"] != 2 || m.value("state", "") != "yuer" + township(0)) continue;
    external[fmt::format("C{:05d}", child)] = m["userid"];
    child += 10;
    if (external.size() == 10) break;
  }
  REQUIRE(external.size() == 10);
  auto matched_import = run.admin(http::Verb::post, "/api/v1/roster/import?dry_run=0", roster_csv(external));
  CHECK(matched_import["updated"] == 10);
  auto shown = run.group(ids[0]);
  CHECK(shown["families"]["matched"] == 10);
  const int in_group = shown["members"].get<int>() - 1;  // parents: the owner is staff
  CHECK(shown["families"]["parents"] == in_group);
  CHECK(shown["families"]["joined_by_township_qr"] == in_group - 330 - 10);  // by QR, not matched
  // Re-importing the same file changes nothing.
  auto again = run.admin(http::Verb::post, "/api/v1/roster/import?dry_run=0", roster_csv(external));
  CHECK(again["unchanged"] == kFamilies);
  CHECK(again["created"] == 0);
  CHECK(again["updated"] == 0);

  // A restart keeps groups, counts and join ways.
  const json before = run.admin(http::Verb::get, "/api/v1/groups");
  REQUIRE(run.yuerd->stop() == 0);
  run.start();
  const json after = run.admin(http::Verb::get, "/api/v1/groups");
  CHECK(after["groups"].size() == before["groups"].size());
  CHECK(run.join_way(0)["chat_ids"] == json::array({chat2}));
  auto list = run.ctl({"groups", "list", "--kind", "parent"});
  CHECK(list["groups"].size() == kTownships + 1);
  // No phone number, no parent's external id and no secret in the daemon's log.
  const std::string log = run.yuerd->log_text();
  CHECK(log.find("13910000010") == std::string::npos);
  CHECK(log.find(external.begin()->second) == std::string::npos);
  CHECK(log.find(kAppSecret) == std::string::npos);
  CHECK(log.find(kPhoneKey) == std::string::npos);
}

}  // namespace
}  // namespace yuer::test
