// Secrets and personal data never leave through output (docs/privacy.md): one run of a real yuerd
// and wecom-sandbox that touches every secret and the fixture families' personal data — roster
// import (good and broken rows), parents' callbacks, robot and app pushes, refused requests of
// every kind, yuerctl commands, a SIGHUP reload, a restart — then ALL output is collected (yuerd's
// log, every yuerctl output, /metrics, /healthz, every API answer and error body) and searched for
// every secret and every fixture phone number (as written and as 11 digits) and caregiver name.
// The run seals personal fields at rest ([privacy] field_key_file): the store file and its WAL, read
// as raw bytes while yuerd runs and after it stopped, hold no name, birth date or phone number.
#include "daemon/store/store_testing.h"
#include "tests/e2e/sandbox_process.h"
#include "tests/e2e/yuerd_fixture.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

namespace yuer::test {
namespace {

using nlohmann::json;
using store::testing::store_file_bytes;
using namespace std::chrono_literals;

constexpr const char* kPhoneKey = "privacy-phone-key-Zq81xT0p5Lm2";
constexpr const char* kAppSecret = "privacyAppSecretK2m9Q7w1e5r8t0y3u6i4o";
constexpr const char* kRobotKey = "9d1c77aa-4b2e-4f00-8c1d-e2f3a4b5c6d7";
constexpr const char* kFieldKeyHex = "5f1e0c9a7b3d2e4f60718293a4b5c6d7e8f90a1b2c3d4e5f6071829304a5b6c7";

struct Family {
  std::string child, name, phone_written, phone_digits;
};

const std::vector<Family>& families() {
  static const std::vector<Family> f = {
      {"P001", "王秀英", "13912345671", "13912345671"},
      {"P002", "李建国", "139 2345 6782", "13923456782"},
      {"P003", "张丽娟", "+86 139-3456-7893", "13934567893"},
      {"P004", "刘春燕", "139-4567-8904", "13945678904"},
  };
  return f;
}

std::string today_minus_days(int days) {
  using namespace std::chrono;
  const year_month_day d{floor<std::chrono::days>(system_clock::now() + hours(8)) - std::chrono::days(days)};
  return fmt::format("{:04d}-{:02d}-{:02d}", static_cast<int>(d.year()), static_cast<unsigned>(d.month()),
                     static_cast<unsigned>(d.day()));
}

json make_fixture(const Secrets& s) {
  return {{"corp", {{"corp_id", kCorpId}, {"name", "privacy"}}},
          {"apps", json::array({{{"agent_id", 1000002}, {"name", "app"}, {"secret", kAppSecret}, {"token", s.app_token},
                                 {"aes_key", s.app_aes_key}, {"callback_url", ""}, {"visible_userids", json::array()}}})},
          {"members", {{{"userid", "Coord1"}, {"name", "协调员甲"}}}},
          {"internal_groups", json::array({{{"chat_id", "wrPrivacy01"}, {"name", "管理群"}, {"owner", "Coord1"},
                                            {"members", {"Coord1"}},
                                            {"robots", json::array({{{"key", kRobotKey}, {"name", "推送"}}})}}})}};
}

struct Collected {
  std::string text;
  void add(const std::string& label, const std::string& s) { text += "\n=== " + label + "\n" + s; }
};

TEST_CASE("no secret, phone number or caregiver name appears in any output of a run", "[e2e][privacy]") {
  Secrets secrets;
  SandboxProcess sandbox(make_fixture(secrets));
  YuerdFixture d("\n[wecom.robots]\nkeys_file = \"secrets/robot_keys\"\n\n[roster]\nphone_key_file = \"secrets/phone_key\"\n"
                 "\n[privacy]\nrequire_field_key = true\nfield_key_file = \"secrets/field_keys\"\n",
                 sandbox.base(), kAppSecret);
  d.dir().write("secrets/phone_key", kPhoneKey);
  d.dir().write("secrets/field_keys", std::string("e2e1 ") + kFieldKeyHex + "\n");
  d.dir().write("secrets/robot_keys", std::string("wrPrivacy01 ") + kRobotKey + "\n");
  d.start();
  Collected out;
  const std::string token_file = d.dir().path() + "/secrets/admin_token";
  int runs = 0;
  auto ctl = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {YUERCTL_BIN, "--url", d.url(""), "--token-file", token_file};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run(argv, 60s, d.dir().path() + fmt::format("/yuerctl-{}.log", ++runs));
    out.add("yuerctl " + args.front() + " (exit " + std::to_string(r.code) + ")", r.output);
    return r;
  };
  auto api = [&](http::Verb verb, const std::string& path, const std::string& body, const std::string& token) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    auto r = net::http_request(verb, d.url(path), body, headers, 30s);
    REQUIRE(r.has_value());
    out.add(path.substr(0, path.find('?')) + " -> " + std::to_string(r->status), r->body);
    return *r;
  };
  const std::string& admin = d.secrets().admin_token;

  // Organisation and roster: good rows, and broken rows that name each bad phone field.
  std::string org = "区划代码,名称\n440000000000,示范省\n440100000000,示范市\n440103000000,东区\n440103001000,示范一镇\n";
  REQUIRE(ctl({"org", "import", d.dir().write("org.csv", org), "--apply"}).code == 0);
  std::string roster = "儿童编号,出生日期,性别,区划代码,照护人姓名,照护人手机,外部联系人ID,项目标签\n";
  std::vector<std::string> birth_dates;
  for (std::size_t i = 0; i < families().size(); ++i) {
    const auto& f = families()[i];
    birth_dates.push_back(today_minus_days(30 + 40 * static_cast<int>(i)));
    roster += fmt::format("{},{},女,440103001000,{},\"{}\",wmPriv{},\n", f.child, birth_dates.back(), f.name,
                          f.phone_written, i);
  }
  const std::string good = d.dir().write("roster.csv", roster);
  // The same families with broken fields: a wrong phone (one digit short), a bad date, an unknown unit.
  std::string broken = "儿童编号,出生日期,性别,区划代码,照护人姓名,照护人手机,外部联系人ID,项目标签\n";
  broken += fmt::format("Q1,{},女,440103001000,{},{},,\n", today_minus_days(10), families()[0].name,
                        families()[0].phone_digits.substr(0, 10));
  broken += fmt::format("Q2,2001-01-01,女,440103001000,{},{},,\n", families()[1].name, families()[1].phone_digits);
  broken += fmt::format("Q3,{},女,999999001000,{},{},,\n", today_minus_days(10), families()[2].name, families()[2].phone_digits);
  CHECK(ctl({"roster", "import", d.dir().write("broken.csv", broken), "--json"}).code == 1);
  CHECK(ctl({"roster", "import", d.dir().write("broken2.csv", broken)}).code == 1);
  REQUIRE(ctl({"roster", "import", good, "--apply"}).code == 0);
  CHECK(ctl({"roster", "list"}).code == 0);
  CHECK(ctl({"roster", "list", "--json"}).code == 0);
  api(http::Verb::get, "/api/v1/roster?limit=10", "", admin);

  // Parents write (their messages hold their phone numbers and names); bad callbacks are refused.
  auto crypt = d.app_crypt();
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  for (std::size_t i = 0; i < families().size(); ++i) {
    const auto& f = families()[i];
    std::string xml = fmt::format("<xml><ToUserName><![CDATA[{}]]></ToUserName><FromUserName><![CDATA[wmPriv{}]]></FromUserName>"
                                  "<CreateTime>{}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[我是{}，电话{}]]>"
                                  "</Content><MsgId>{}</MsgId></xml>",
                                  kCorpId, i, now, f.name, f.phone_digits, 777000 + i);
    auto req = sign_post(crypt, "", "/wecom/callback/app", xml, false, now, "n" + std::to_string(i));
    CHECK(api(http::Verb::post, req.target, req.body, "").status == 200);
    auto tampered = req;
    char& c = tampered.target[tampered.target.find("msg_signature=") + 14];
    c = c == 'a' ? 'b' : 'a';
    CHECK(api(http::Verb::post, tampered.target, req.body, "").status == 403);
    auto stale = sign_post(crypt, "", "/wecom/callback/app", xml, false, now - 7200, "s" + std::to_string(i));
    CHECK(api(http::Verb::post, stale.target, stale.body, "").status == 403);
  }
  api(http::Verb::post, "/wecom/callback/app?msg_signature=x&timestamp=1&nonce=2", "<xml>not encrypted</xml>", "");
  api(http::Verb::get, "/wecom/callback/app?msg_signature=x&timestamp=1&nonce=2&echostr=bm90IGNpcGhlcnRleHQ%3D", "", "");
  CHECK(ctl({"inbox", "list"}).code == 0);
  CHECK(ctl({"inbox", "list", "--json"}).code == 0);

  // Pushes (robot and app), then a failed one; wrong tokens everywhere.
  auto notice = d.dir().write("notice.txt", "本周辅食小知识：6个月起添加含铁辅食。", 0644);
  CHECK(ctl({"push", "--group", "wrPrivacy01", "--text", notice, "--key", "p1"}).code == 0);
  CHECK(ctl({"push", "--user", "Coord1", "--text", notice, "--key", "p2"}).code == 0);
  CHECK(ctl({"push", "--group", "wrNoSuchGroup", "--text", notice}).code == 1);
  for (const std::string& wrong : {std::string("wrong-token"), admin.substr(0, admin.size() - 1), std::string(kPhoneKey)}) {
    CHECK(api(http::Verb::get, "/api/v1/outbox", "", wrong).status == 401);
    CHECK(api(http::Verb::post, "/api/v1/push", R"({"target":"wrPrivacy01","content":"x","key":"z"})", wrong).status == 401);
  }
  api(http::Verb::post, "/api/v1/push", "{not json", admin);
  api(http::Verb::post, "/api/v1/push", R"({"target":"wrPrivacy01"})", admin);
  auto end = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < end &&
         sandbox.get("/_sandbox/messages")["messages"].size() < 2)
    std::this_thread::sleep_for(200ms);
  CHECK(ctl({"outbox", "list"}).code == 0);
  CHECK(ctl({"outbox", "list", "--json"}).code == 0);
  CHECK(ctl({"status"}).code == 0);
  auto bad_token_file = d.dir().write("wrong_token", "not-the-token");
  auto refused = run({YUERCTL_BIN, "--url", d.url(""), "--token-file", bad_token_file, "roster", "list"}, 30s,
                     d.dir().path() + "/yuerctl-refused.log");
  out.add("yuerctl with a wrong token", refused.output);
  CHECK(refused.code == 2);  // a wrong token is the caller's to fix (yuerctl exit codes)

  // A reload and a restart log the secrets' sources again.
  ::kill(d.pid(), SIGHUP);
  std::this_thread::sleep_for(500ms);
  out.add("metrics", api(http::Verb::get, "/metrics", "", "").body);
  api(http::Verb::get, "/healthz", "", "");
  const std::string bytes_while_running = store_file_bytes(d.store_path());
  CHECK(d.stop() == 0);
  d.start();
  out.add("metrics after restart", api(http::Verb::get, "/metrics", "", "").body);
  CHECK(d.stop() == 0);
  auto check = run({YUERD_BIN, "--check-config", d.config_path()}, 30s, d.dir().path() + "/check.log");
  out.add("yuerd --check-config", check.output);
  out.add("yuerd log", d.log_text());

  // Sanity: the collection holds what the run did (so an empty capture cannot pass).
  CHECK(out.text.find("yuerd listening on") != std::string::npos);
  CHECK(out.text.find("139****") != std::string::npos);  // masks are what listings show

  std::vector<std::pair<std::string, std::string>> needles = {
      {"app token", d.secrets().app_token},     {"app EncodingAESKey", d.secrets().app_aes_key},
      {"bot token", d.secrets().bot_token},     {"bot EncodingAESKey", d.secrets().bot_aes_key},
      {"admin token", admin},                   {"app secret", kAppSecret},
      {"robot key", kRobotKey},                 {"phone key", kPhoneKey},
      {"field key", kFieldKeyHex},
  };
  for (const auto& f : families()) {
    needles.emplace_back("phone of " + f.child, f.phone_digits);
    needles.emplace_back("phone of " + f.child + " as written", f.phone_written);
    needles.emplace_back("last 8 digits of " + f.child, f.phone_digits.substr(3));
    needles.emplace_back("name of " + f.child, f.name);
  }
  for (const auto& [label, needle] : needles) {
    CAPTURE(label);
    const auto at = out.text.find(needle);
    INFO((at == std::string::npos ? std::string() : out.text.substr(at > 200 ? at - 200 : 0, 400)));
    CHECK(at == std::string::npos);
  }

  // The store at rest: names, birth dates and phone numbers (the parents' messages held some) are
  // nowhere in the database or WAL bytes, while yuerd ran or after it stopped.
  CHECK(out.text.find("personal fields sealed at rest under field key \"e2e1\"") != std::string::npos);
  const std::string bytes_after = store_file_bytes(d.store_path());
  for (const auto* bytes : {&bytes_while_running, &bytes_after}) {
    REQUIRE(bytes->size() > 8192);
    CHECK(bytes->find("yenc1:e2e1:") != std::string::npos);  // sealed values are there
    CHECK(bytes->find("139****") != std::string::npos);     // and the (plain) masks: the bytes are readable
    std::vector<std::pair<std::string, std::string>> at_rest;
    for (std::size_t i = 0; i < families().size(); ++i) {
      at_rest.emplace_back("name of " + families()[i].child, families()[i].name);
      at_rest.emplace_back("birth date of " + families()[i].child, birth_dates[i]);
      at_rest.emplace_back("phone of " + families()[i].child, families()[i].phone_digits);
    }
    for (const auto& [label, needle] : at_rest) {
      CAPTURE(label);
      CHECK(bytes->find(needle) == std::string::npos);
    }
  }
}

}  // namespace
}  // namespace yuer::test
