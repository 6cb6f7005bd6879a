// Survey reminders, daily coverage reports and 「@助手 进度」 end to end (issue 7): a real yuerd (test
// clock, stopped, moved by /api/v1/clock) against a real wecom-sandbox (clock frozen and moved in
// step). A county (五华区) with three townships; 21 eligible children in the round's snapshot, 11 of
// them answered (seeded in the store as the kf consumer writes them); four parent groups and two
// management groups, all reached by group robots; three parents who wrote to the 微信客服 account
// and did not finish (one 49 h ago, one 19 h ago, one who said 退出).
//
// Expected figures come from the test's own data. The sandbox's record must show: one notice per
// parent group of a township still short of answers, with its counts and its township's kf link,
// nothing for the complete township; one daily report per management group with its unit's and
// its townships' figures and flags; the kf nudge only for the parent inside the 48 h window (and
// only once per message of theirs); no names, phones or external ids in any group message; nothing
// twice after a double tick and a yuerd restart; and one markdown reply through the response_url
// for each @-mention, also across the restart.
#include "daemon/store/group_store.h"
#include "daemon/store/org_store.h"
#include "daemon/store/survey_store.h"
#include "tests/e2e/sandbox_process.h"
#include "tests/e2e/yuerd_fixture.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

namespace yuer::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kAppSecret = "e2eReportsAppSecret0123456789abcdefABC";
constexpr const char* kKf = "wkE2eReportsKf01";
constexpr std::int64_t kHourMs = 3'600'000;

constexpr const char* kCounty = "530102000000";
struct Township {
  const char* code;
  const char* name;
  int eligible;
  int responded;   // before the restart
  bool has_link;
};
const Township kTownships[] = {{"530102001000", "甲镇", 10, 4, true},
                               {"530102002000", "乙镇", 6, 6, true},
                               {"530102003000", "丙镇", 5, 1, false}};
// Parent groups (robot chat = group name) and their township index; management groups and their unit.
const std::vector<std::pair<std::string, int>> kParentGroups = {{"wrPA1", 0}, {"wrPA2", 0}, {"wrPB1", 1}, {"wrPC1", 2}};
const std::vector<std::pair<std::string, std::string>> kMgmtGroups = {{"wrMC", kCounty}, {"wrMA", "530102001000"}};

std::string link_of(const Township& t) { return std::string("https://work.weixin.qq.com/kfid/kfcE2e?enc_scene=s1_") + t.code; }
std::string child_of(int t, int i) { return fmt::format("K{}{:02d}", t, i); }
std::string caregiver_of(int t, int i) { return fmt::format("王小花{}{}", t, i); }

// A free loopback port (the sandbox's robot must know yuerd's callback URL before yuerd starts).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string random_key(int i) { return fmt::format("e2e{:04d}-robot-key-0000-reports", i); }

json make_fixture(const Secrets& s, int yuerd_port) {
  json groups = json::array();
  int k = 0;
  for (const auto& [chat, t] : kParentGroups)
    groups.push_back({{"chat_id", chat}, {"name", chat}, {"owner", "Coord1"}, {"members", {"Coord1"}},
                      {"robots", json::array({{{"key", random_key(k++)}, {"name", "通知"}}})}});
  for (const auto& [chat, unit] : kMgmtGroups)
    groups.push_back({{"chat_id", chat}, {"name", chat}, {"owner", "Coord1"}, {"members", {"Coord1", "Lead1"}},
                      {"robots", json::array({{{"key", random_key(k++)}, {"name", "日报"}}})}});
  return {{"corp", {{"corp_id", kCorpId}, {"name", "e2e"}}},
          {"apps", json::array({{{"agent_id", 1000002}, {"name", "育儿群助手"}, {"secret", kAppSecret},
                                 {"token", s.app_token}, {"aes_key", s.app_aes_key}, {"callback_url", ""},
                                 {"visible_userids", json::array()}}})},
          {"members", {{{"userid", "Coord1"}, {"name", "甲"}}, {{"userid", "Lead1"}, {"name", "乙"}}}},
          {"kf", {{"agent_id", 1000002}}},
          {"kf_accounts", json::array({{{"open_kfid", kKf}, {"name", "喂养调查"}}})},
          {"internal_groups", groups},
          {"aibots", json::array({{{"aibotid", "aibE2eReports"}, {"name", "助手"}, {"token", s.bot_token},
                                   {"aes_key", s.bot_aes_key},
                                   {"callback_url", fmt::format("http://127.0.0.1:{}/wecom/callback/bot/county", yuerd_port)},
                                   {"chat_ids", {"wrMC", "wrMA"}}}})}};
}

// Local (UTC+8) civil fields of an instant.
struct Local {
  int y, mo, d, h, mi;
};
Local local_of(std::int64_t ms) {
  using namespace std::chrono;
  const sys_seconds t{seconds(ms / 1000 + 8 * 3600)};
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  return {static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
          static_cast<int>(static_cast<unsigned>(ymd.day())), static_cast<int>(hms.hours().count()),
          static_cast<int>(hms.minutes().count())};
}
std::string date_of(std::int64_t ms) {
  const Local l = local_of(ms);
  return fmt::format("{:04d}-{:02d}-{:02d}", l.y, l.mo, l.d);
}
std::string list_of(int a, int b) { return a == b ? std::to_string(a) : fmt::format("{},{}", a, b); }
// A cron expression that fires at the two instants (minutes, same local hour:minute, a day apart).
std::string cron_at(std::int64_t first, std::int64_t second) {
  const Local a = local_of(first), b = local_of(second);
  REQUIRE(a.h == b.h);
  REQUIRE(a.mi == b.mi);
  return fmt::format("{} {} {} {} *", a.mi, a.h, list_of(a.d, b.d), list_of(a.mo, b.mo));
}
std::string pct(std::int64_t r, std::int64_t e) {
  const std::int64_t tenths = r * 1000 / e;
  return fmt::format("{}.{}%", tenths / 10, tenths % 10);
}

struct World {
  Secrets secrets;
  int port = free_port();
  SandboxProcess sandbox{make_fixture(secrets, port)};
  std::unique_ptr<YuerdFixture> yuerd;
  std::int64_t now_ms = 0;  // both clocks
  std::int64_t t0 = 0;
  std::int64_t r1 = 0, r2 = 0;  // the reminder occurrences
  std::int64_t round_id = 0;
  int responded_c = kTownships[2].responded;

  World() {
    sandbox.post("/_sandbox/clock", {{"freeze", true}});
    now_ms = t0 = sandbox.get("/_sandbox/clock")["unix_ms"].get<std::int64_t>();
    r1 = (t0 + 49 * kHourMs) / 60000 * 60000 + 60000;  // a whole minute just after T0 + 49 h
    r2 = r1 + 24 * kHourMs;
    const std::string reminders = cron_at(r1, r2);
    const std::string reports = cron_at(r1 + 10 * 60000, r2 + 10 * 60000);
    yuerd = std::make_unique<YuerdFixture>(fmt::format(R"(
[wecom.robots]
keys_file = "secrets/robot_keys"

[wecom.kf]
open_kfids = ["{0}"]

[survey]
dir = "{1}/templates/surveys"
open_kfid = "{0}"
notice_catch_up_s = 604800
notice_poll_ms = 100

[survey.reminders]
time = {{ kind = "cron", expr = "{2}" }}
quiet_hours = ""

[survey.reports]
time = {{ kind = "cron", expr = "{3}" }}
quiet_hours = ""
)",
                                                       kKf, YUER_SOURCE_DIR, reminders, reports),
                                           sandbox.base(), kAppSecret);
    std::ifstream in(yuerd->config_path());
    std::stringstream text;
    text << in.rdbuf();
    std::string cfg = text.str();
    const std::string zone = "zone = \"Asia/Shanghai\"\n", listen = "listen = \"127.0.0.1:0\"";
    REQUIRE(cfg.find(zone) != std::string::npos);
    REQUIRE(cfg.find(listen) != std::string::npos);
    cfg.replace(cfg.find(zone), zone.size(), zone + "test_clock = true\nclock_rate = 0\n");
    cfg.replace(cfg.find(listen), listen.size(), fmt::format("listen = \"127.0.0.1:{}\"", port));
    yuerd->dir().write("yuerd.toml", cfg);
    std::string keys;
    const json fixture = sandbox.get("/_sandbox/fixture");
    for (const auto& r : fixture["robots"])
      keys += r["chat_id"].get<std::string>() + " " + r["key"].get<std::string>() + "\n";
    yuerd->dir().write("secrets/robot_keys", keys);
    seed();
  }

  store::Settings store_settings() const {
    store::Settings s;
    s.path = yuerd->store_path();
    return s;
  }

  void seed() {
    std::filesystem::create_directories(std::filesystem::path(yuerd->store_path()).parent_path());
    auto org = store::open_sqlite_org_store(store_settings()).value();
    auto groups = store::open_sqlite_group_store(store_settings()).value();
    auto surveys = store::open_sqlite_survey_store(store_settings()).value();
    std::vector<store::OrgUnit> units = {{"530000000000", "云南省", 1, "", 0, 0},
                                         {"530100000000", "昆明市", 2, "530000000000", 0, 0},
                                         {kCounty, "五华区", 3, "530100000000", 0, 0}};
    for (const auto& t : kTownships) units.push_back({t.code, t.name, 4, kCounty, 0, 0});
    org->write_units(units, 1);
    std::vector<store::Family> families;
    std::vector<store::EligibleChild> eligible;
    for (int t = 0; t < 3; ++t)
      for (int i = 0; i < kTownships[t].eligible; ++i) {
        store::Family f;
        f.child_id = child_of(t, i);
        f.birth_date = fmt::format("2026-{:02d}-15", 1 + i % 10);
        f.unit_code = kTownships[t].code;
        f.caregiver_name = caregiver_of(t, i);
        f.phone_hash = "h" + f.child_id;
        f.phone_masked = "139****" + fmt::format("{:04d}", t * 100 + i);
        f.external_userid = "wmFam" + f.child_id;
        families.push_back(f);
        eligible.push_back({f.child_id, f.unit_code, f.birth_date});
      }
    org->write_families(families, 1);
    store::SurveyRound r;
    r.survey_id = "feeding";
    r.survey_version = 1;
    r.unit_code = kCounty;
    r.opens_on = date_of(t0);
    r.closes_on = date_of(t0 + 40 * 24 * kHourMs);
    r.name = "2027 春季喂养调查";
    r.units = {kCounty};
    round_id = surveys->open_round(r, eligible, t0 - 24 * kHourMs);
    std::vector<store::SurveyKfLink> links;
    for (const auto& t : kTownships)
      if (t.has_link) links.push_back({round_id, t.code, kKf, fmt::format("s{}_{}", round_id, t.code), link_of(t)});
    surveys->put_kf_links(round_id, links);
    for (int t = 0; t < 3; ++t)
      for (int i = 0; i < kTownships[t].responded; ++i) respond(*surveys, t, i);
    for (const auto& [chat, t] : kParentGroups) {
      store::ChatGroup g;
      g.kind = "parent";
      g.unit_code = kTownships[t].code;
      g.name = chat;
      g.chat_id = "wc" + chat;
      g.route = "robot";
      g.robot = chat;
      REQUIRE(groups->put_group(g, 1).has_value());
    }
    for (const auto& [chat, unit] : kMgmtGroups) {
      store::ChatGroup g;
      g.kind = "management";
      g.unit_code = unit;
      g.name = chat;
      g.chat_id = chat;  // the internal group the robot is in (its mentions carry this chatid)
      g.route = "robot";
      g.robot = chat;
      REQUIRE(groups->put_group(g, 1).has_value());
    }
  }

  // A confirmed response, as the kf consumer writes it.
  void respond(store::SurveyStore& s, int t, int i) {
    store::SurveyTurnWrite w;
    w.channel = "kf";
    w.user_id = "wmFam" + child_of(t, i);
    w.round_id = round_id;
    w.state = R"({"phase":"done"})";
    store::SurveyResponse r;
    r.round_id = round_id;
    r.child_id = child_of(t, i);
    r.unit_code = kTownships[t].code;
    r.birth_date = fmt::format("2026-{:02d}-15", 1 + i % 10);
    r.interview_date = date_of(t0);
    r.age_months = 6;
    r.answers = "{}";
    w.responses.push_back(r);
    s.save_turn(w, t0 - 12 * kHourMs);
  }

  json admin(http::Verb verb, const std::string& path, const json& body = nullptr) {
    auto r = net::http_request(verb, yuerd->url(path), body.is_null() ? "" : body.dump(),
                               {{"Authorization", "Bearer " + yuerd->secrets().admin_token}}, 30s);
    REQUIRE(r.has_value());
    INFO(path << " → " << r->body);
    REQUIRE(r->status / 100 == 2);
    return json::parse(r->body);
  }

  void start() {
    yuerd->start();
    auto c = admin(http::Verb::post, "/api/v1/clock", {{"set_unix_ms", now_ms}, {"rate", 0}});
    REQUIRE(c["unix_ms"].get<std::int64_t>() == now_ms);
  }

  void advance_to(std::int64_t t) {
    REQUIRE(t >= now_ms);
    sandbox.post("/_sandbox/clock", {{"advance_ms", t - now_ms}});
    REQUIRE(sandbox.get("/_sandbox/clock")["unix_ms"].get<std::int64_t>() == t);
    auto c = admin(http::Verb::post, "/api/v1/clock", {{"set_unix_ms", t}, {"rate", 0}});
    REQUIRE(c["unix_ms"].get<std::int64_t>() == t);
    now_ms = t;
  }

  // A parent writes to the kf account; the doorbell is delivered to yuerd. Returns the external_userid.
  std::string parent_writes(const std::string& parent, const std::string& text) {
    json w{{"open_kfid", kKf}, {"text", text}};
    if (!parent.empty()) w["external_userid"] = parent;
    json written = sandbox.post("/_sandbox/kf/write", w);
    const std::string xml = "<xml><ToUserName><![CDATA[" + std::string(kCorpId) + "]]></ToUserName><CreateTime>" +
                            std::to_string(now_ms / 1000) +
                            "</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]>"
                            "</Event><Token><![CDATA[" + written["sync_token"].get<std::string>() +
                            "]]></Token><OpenKfId><![CDATA[" + kKf + "]]></OpenKfId></xml>";
    json sent = sandbox.post("/_sandbox/callbacks/app",
                             {{"plaintext_xml", xml}, {"callback_url", yuerd->url("/wecom/callback/app")}});
    INFO(sent.dump());
    REQUIRE(sent["delivered"] == true);
    return written["external_userid"].get<std::string>();
  }

  // What the sandbox delivered to a kf parent, in order.
  std::vector<std::string> kf_out(const std::string& parent) {
    std::vector<std::string> out;
    const json c = sandbox.get(std::string("/_sandbox/kf/conversation?open_kfid=") + kKf + "&external_userid=" + parent);
    for (const auto& m : c["messages"])
      if (m["dir"] == "out" && !m.value("failed", false)) out.push_back(m["content"].value("content", ""));
    return out;
  }
  int most_after_one_parent_message(const std::string& parent) {
    int run = 0, most = 0;
    const json c = sandbox.get(std::string("/_sandbox/kf/conversation?open_kfid=") + kKf + "&external_userid=" + parent);
    for (const auto& m : c["messages"]) {
      if (m["dir"] == "in") run = 0;
      else if (m["dir"] == "out") most = std::max(most, ++run);
    }
    return most;
  }

  // Robot (webhook) messages per chat, and aibot replies per chat.
  std::map<std::string, std::vector<std::string>> chats(const std::string& channel) {
    std::map<std::string, std::vector<std::string>> out;
    const json all = sandbox.get("/_sandbox/messages");  // a named local: the loop must not outlive it
    for (const auto& m : all["messages"])
      if (m.value("channel", "") == channel) out[m.value("chat_id", "")].push_back(m["message"].value("content", ""));
    return out;
  }
  std::size_t count(const std::map<std::string, std::vector<std::string>>& m) {
    std::size_t n = 0;
    for (const auto& [k, v] : m) n += v.size();
    return n;
  }
  std::size_t response_posts() {
    return sandbox.get("/_sandbox/requests?path=/cgi-bin/aibot/response")["requests"].size();
  }

  static bool eventually(const std::function<bool()>& done, std::chrono::seconds limit = 30s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (done()) return true;
      std::this_thread::sleep_for(100ms);
    }
    return done();
  }

  // The expected notice counts and the county line, from the test's data.
  std::string notice_counts(int t) const {
    const int r = t == 2 ? responded_c : kTownships[t].responded;
    return fmt::format("本乡镇（{}）已有 {} 户完成喂养调查，还差 {} 户", kTownships[t].name, r, kTownships[t].eligible - r);
  }
  std::string unit_line(int t) const {
    const int r = t == 2 ? responded_c : kTownships[t].responded, e = kTownships[t].eligible;
    std::string s = fmt::format("{}：{}/{}（{}）", kTownships[t].name, r, e, pct(r, e));
    if (r * 100 < 90 * e) s += " ⚠低于90%";
    return s;
  }
  std::string county_line() const {
    int r = 0, e = 0;
    for (int t = 0; t < 3; ++t) {
      r += t == 2 ? responded_c : kTownships[t].responded;
      e += kTownships[t].eligible;
    }
    std::string s = fmt::format("五华区：{}/{}（{}）", r, e, pct(r, e));
    if (r * 100 < 80 * e) s += " ⚠低于80%";
    return s;
  }

  // No caregiver name, phone mask, child id or external id in a group message.
  void check_private(const std::string& text, const std::vector<std::string>& parents) {
    INFO(text);
    CHECK(text.find("****") == std::string::npos);
    CHECK(text.find("wmFam") == std::string::npos);
    for (const auto& p : parents) CHECK(text.find(p) == std::string::npos);
    for (int t = 0; t < 3; ++t)
      for (int i = 0; i < kTownships[t].eligible; ++i) {
        CHECK(text.find(caregiver_of(t, i)) == std::string::npos);
        CHECK(text.find(child_of(t, i)) == std::string::npos);
      }
  }
};

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("issue 7: survey reminders with counts per parent group, kf nudges inside the window, daily reports and "
          "@助手 进度 in management groups, nothing twice across a restart",
          "[e2e][survey][reports]") {
  World w;
  w.start();

  // T0: one parent writes and goes quiet.
  const std::string p_old = w.parent_writes("", "你好");
  REQUIRE(World::eventually([&] { return w.kf_out(p_old).size() >= 1; }));
  // T0 + 30 h: a parent writes and goes quiet; another writes and says 退出.
  w.advance_to(w.t0 + 30 * kHourMs);
  const std::string p_new = w.parent_writes("", "你好");
  REQUIRE(World::eventually([&] { return w.kf_out(p_new).size() >= 1; }));
  const std::string p_quit = w.parent_writes("", "你好");
  REQUIRE(World::eventually([&] { return w.kf_out(p_quit).size() >= 1; }));
  const std::size_t quit_before = w.kf_out(p_quit).size();
  w.parent_writes(p_quit, "退出");
  REQUIRE(World::eventually([&] { return w.kf_out(p_quit).size() > quit_before; }));
  const std::size_t old_n = w.kf_out(p_old).size(), quit_n = w.kf_out(p_quit).size(), new_n = w.kf_out(p_new).size();
  const std::vector<std::string> parents = {p_old, p_quit, p_new};
  REQUIRE(w.count(w.chats("webhook")) == 0);

  // R1 (T0 + 49 h) and its report 10 minutes later.
  w.advance_to(w.r1 + 11 * 60000);
  REQUIRE(World::eventually([&] { return w.count(w.chats("webhook")) >= 5 && w.kf_out(p_new).size() > new_n; }));
  std::this_thread::sleep_for(1500ms);  // time for anything extra to show up
  auto hooks = w.chats("webhook");
  INFO(json(hooks).dump(1));
  CHECK(w.count(hooks) == 5);
  for (const auto& [chat, t] : kParentGroups) {
    if (t == 1) {
      CHECK(hooks[chat].empty());  // 乙镇 is complete: no reminder
      continue;
    }
    REQUIRE(hooks[chat].size() == 1);
    CHECK(has(hooks[chat][0], w.notice_counts(t)));
    if (kTownships[t].has_link) CHECK(has(hooks[chat][0], link_of(kTownships[t])));
    else CHECK_FALSE(has(hooks[chat][0], "https://"));
  }
  REQUIRE(hooks["wrMC"].size() == 1);
  const std::string county = hooks["wrMC"][0];
  CHECK(has(county, "【喂养调查进度日报】2027 春季喂养调查（截至 " + date_of(w.r1 + 10 * 60000) + "）"));
  CHECK(has(county, w.county_line() + "\n"));
  for (int t = 0; t < 3; ++t) CHECK(has(county, "· " + w.unit_line(t) + "\n"));
  CHECK(has(county, "2 个单位低于目标"));
  REQUIRE(hooks["wrMA"].size() == 1);
  CHECK(has(hooks["wrMA"][0], w.unit_line(0)));
  CHECK_FALSE(has(hooks["wrMA"][0], "五华区"));
  CHECK_FALSE(has(hooks["wrMA"][0], "乙镇"));
  // The kf nudge: only the parent who wrote 19 h ago; not the one 49 h ago (window closed), not the
  // one who wrote 退出 19 h ago.
  CHECK(w.kf_out(p_old).size() == old_n);
  CHECK(w.kf_out(p_quit).size() == quit_n);
  REQUIRE(w.kf_out(p_new).size() == new_n + 1);
  CHECK(has(w.kf_out(p_new).back(), "还没有填完"));

  // A double tick and two @-mentions.
  w.admin(http::Verb::post, "/api/v1/clock", {{"advance_s", 0}});
  w.admin(http::Verb::post, "/api/v1/clock", {{"advance_s", 0}});
  w.sandbox.post("/_sandbox/aibot/mention", {{"aibotid", "aibE2eReports"}, {"chat_id", "wrMC"}, {"from_userid", "Lead1"},
                                             {"text", "进度"}});
  w.sandbox.post("/_sandbox/aibot/mention", {{"aibotid", "aibE2eReports"}, {"chat_id", "wrMA"}, {"from_userid", "Lead1"},
                                             {"text", "你好"}});
  REQUIRE(World::eventually([&] { return w.count(w.chats("aibot")) >= 2; }));
  std::this_thread::sleep_for(1500ms);
  auto replies = w.chats("aibot");
  INFO(json(replies).dump(1));
  REQUIRE(replies["wrMC"].size() == 1);
  CHECK(has(replies["wrMC"][0], "【喂养调查进度】2027 春季喂养调查"));
  CHECK(has(replies["wrMC"][0], w.county_line()));
  for (int t = 0; t < 3; ++t) CHECK(has(replies["wrMC"][0], w.unit_line(t)));
  REQUIRE(replies["wrMA"].size() == 1);
  CHECK(has(replies["wrMA"][0], "没看懂"));
  CHECK(has(replies["wrMA"][0], "进度"));
  CHECK(w.response_posts() == 2);
  CHECK(w.count(w.chats("webhook")) == 5);

  // Restart; one more answer in 丙镇 meanwhile. Nothing is sent again.
  REQUIRE(w.yuerd->stop() == 0);
  {
    auto surveys = store::open_sqlite_survey_store(w.store_settings()).value();
    w.respond(*surveys, 2, w.responded_c);
    ++w.responded_c;
  }
  w.start();
  w.admin(http::Verb::post, "/api/v1/clock", {{"advance_s", 0}});
  std::this_thread::sleep_for(2500ms);
  CHECK(w.count(w.chats("webhook")) == 5);
  CHECK(w.count(w.chats("aibot")) == 2);
  CHECK(w.response_posts() == 2);
  CHECK(w.kf_out(p_new).size() == new_n + 1);

  // R2 (a day later): new notices with the new counts, new reports; still one nudge per parent message.
  w.advance_to(w.r2 + 11 * 60000);
  REQUIRE(World::eventually([&] { return w.count(w.chats("webhook")) >= 10; }));
  std::this_thread::sleep_for(1500ms);
  hooks = w.chats("webhook");
  INFO(json(hooks).dump(1));
  CHECK(w.count(hooks) == 10);
  REQUIRE(hooks["wrPC1"].size() == 2);
  CHECK(has(hooks["wrPC1"][1], w.notice_counts(2)));  // 2 of 5 now
  REQUIRE(hooks["wrPA1"].size() == 2);
  CHECK(has(hooks["wrPA1"][1], w.notice_counts(0)));
  REQUIRE(hooks["wrMC"].size() == 2);
  CHECK(has(hooks["wrMC"][1], w.county_line() + "\n"));
  CHECK(has(hooks["wrMC"][1], "（截至 " + date_of(w.r2 + 10 * 60000) + "）"));
  CHECK(w.kf_out(p_new).size() == new_n + 1);
  CHECK(w.kf_out(p_old).size() == old_n);

  // Privacy: no group message names anyone; kf limits were kept.
  for (const auto& [chat, texts] : hooks)
    for (const auto& t : texts) w.check_private(t, parents);
  for (const auto& [chat, texts] : w.chats("aibot"))
    for (const auto& t : texts) w.check_private(t, parents);
  for (const auto& p : parents) CHECK(w.most_after_one_parent_message(p) <= 5);
  CHECK(w.yuerd->stop() == 0);
}

}  // namespace yuer::test
