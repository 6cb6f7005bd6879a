// End to end: the real yuerd binary receives encrypted WeCom callbacks on an ephemeral port.
#include "tests/e2e/yuerd_fixture.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <ctime>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

using namespace yuer;
using namespace yuer::test;
using Verb = http::Verb;

namespace {

std::int64_t now_s() { return static_cast<std::int64_t>(std::time(nullptr)); }

net::ClientResponse must_send(Verb verb, const std::string& url, const std::string& body = {},
                              std::vector<std::pair<std::string, std::string>> headers = {}) {
  auto rsp = net::http_request(verb, url, body, std::move(headers));
  INFO(url << (rsp ? "" : " -> " + rsp.error().message));
  REQUIRE(rsp.has_value());
  return *rsp;
}

std::int64_t count_rows(const std::string& db_path) {
  SQLite::Database db(db_path, SQLite::OPEN_READONLY);
  return db.execAndGet("SELECT COUNT(*) FROM inbox").getInt64();
}

// A text message as WeCom's app callback carries it, with Chinese, emoji and filler to `bytes`.
std::string text_message(std::uint64_t msg_id, std::size_t bytes, std::mt19937& rng) {
  static const std::vector<std::string> pieces = {"宝宝", "母乳", "辅食", "😀", "👶🏻", "，", "。", "ok", "6个月", "米糊"};
  std::string content;
  while (content.size() < bytes) content += pieces[rng() % pieces.size()];
  return "<xml><ToUserName><![CDATA[" + std::string(kCorpId) +
         "]]></ToUserName>\n<FromUserName><![CDATA[user" + std::to_string(msg_id % 97) +
         "]]></FromUserName>\n<CreateTime>" + std::to_string(now_s()) +
         "</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[" + content +
         "]]></Content>\n<MsgId>" + std::to_string(msg_id) + "</MsgId>\n<AgentID>1000002</AgentID>\n</xml>";
}

}  // namespace

TEST_CASE("GET URL verification answers the bare decrypted echostr", "[e2e][callback]") {
  YuerdFixture d;
  d.start();
  struct Case {
    const char* label;
    std::string path;
    adapters::wecom::MsgCrypt crypt;
  };
  std::vector<Case> cases = {{"app", "/wecom/callback/app", d.app_crypt()},
                             {"bot", "/wecom/callback/bot/county", d.bot_crypt()}};
  for (const auto& c : cases) {
    CAPTURE(c.label);
    std::string echo = "1616140317555161061";
    std::string enc = c.crypt.encrypt(echo);
    std::string ts = std::to_string(now_s()), nonce = "263014780";
    std::string target = c.path + "?msg_signature=" + c.crypt.signature(ts, nonce, enc) + "&timestamp=" + ts +
                         "&nonce=" + nonce + "&echostr=" + url_encode(enc);
    auto rsp = must_send(Verb::get, d.url(target));
    CHECK(rsp.status == 200);
    CHECK(rsp.body == echo);
    // One wrong character in the signature: refused.
    std::string bad = target;
    auto pos = bad.find("msg_signature=") + 14;
    bad[pos] = bad[pos] == 'a' ? 'b' : 'a';
    CHECK(must_send(Verb::get, d.url(bad)).status == 403);
  }
  CHECK(d.stop() == 0);
}

TEST_CASE("1,000 callbacks delivered 1-3 times, some concurrently, are stored exactly once", "[e2e][callback]") {
  YuerdFixture d;
  d.start();
  auto crypt = d.app_crypt();
  std::mt19937 rng(20261122);
  struct Delivery {
    std::uint64_t msg_id;
    SignedRequest req;
  };
  std::map<std::uint64_t, std::string> sent;  // msg_id -> plaintext
  std::vector<Delivery> deliveries;
  const std::uint64_t first_id = 7'000'000'000'000'000'000ULL;
  for (int i = 0; i < 1000; ++i) {
    std::uint64_t id = first_id + i;
    std::string plain = text_message(id, 900 + rng() % 3000, rng);  // bodies of about 1-4 KB
    sent[id] = plain;
    auto first = sign_post(crypt, d.secrets().app_token, "/wecom/callback/app", plain, false, now_s(),
                           std::to_string(rng()));
    deliveries.push_back({id, first});
    int extra = static_cast<int>(rng() % 3);  // WeCom retries: 0-2 more deliveries
    for (int k = 0; k < extra; ++k) {
      // Half the retries repeat the exact request, half are signed anew (another nonce).
      if (rng() % 2) deliveries.push_back({id, first});
      else deliveries.push_back({id, sign_post(crypt, d.secrets().app_token, "/wecom/callback/app", plain, false,
                                               now_s(), std::to_string(rng()))});
    }
  }
  std::shuffle(deliveries.begin(), deliveries.end(), rng);
  INFO("deliveries: " << deliveries.size());

  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::map<unsigned, int> statuses;
  std::vector<std::thread> workers;
  for (int t = 0; t < 8; ++t)
    workers.emplace_back([&] {
      for (std::size_t i; (i = next++) < deliveries.size();) {
        auto rsp = net::http_request(Verb::post, d.url(deliveries[i].req.target), deliveries[i].req.body,
                                     {{"Content-Type", "text/xml"}});
        std::lock_guard lock(mu);
        statuses[rsp ? rsp->status : 0]++;
      }
    });
  for (auto& w : workers) w.join();
  CHECK(statuses[200] == static_cast<int>(deliveries.size()));

  SQLite::Database db(d.store_path(), SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM inbox").getInt64() == 1000);
  SQLite::Statement q(db, "SELECT dedupe_key, payload, deliveries, kind, receiver FROM inbox");
  std::set<std::uint64_t> seen;
  std::int64_t total_deliveries = 0;
  while (q.executeStep()) {
    std::string key = q.getColumn(0).getString();
    REQUIRE(key.rfind("msg:", 0) == 0);
    std::uint64_t id = std::stoull(key.substr(4));
    CHECK(seen.insert(id).second);
    CHECK(q.getColumn(1).getString() == sent.at(id));
    CHECK(q.getColumn(3).getString() == "text");
    CHECK(q.getColumn(4).getString() == "app");
    total_deliveries += q.getColumn(2).getInt64();
  }
  CHECK(seen.size() == 1000);
  CHECK(total_deliveries >= 1000);
  CHECK(total_deliveries <= static_cast<std::int64_t>(deliveries.size()));
  CHECK(d.stop() == 0);
}

TEST_CASE("tampered or foreign callbacks are refused and nothing is stored", "[e2e][callback]") {
  YuerdFixture d;
  d.start();
  auto crypt = d.app_crypt();
  auto foreign = adapters::wecom::MsgCrypt::create(d.secrets().app_token, d.secrets().app_aes_key, "wwSomeOtherCorp")
                     .value();
  const std::string plain = "<xml><MsgType><![CDATA[text]]></MsgType><Content>你好</Content><MsgId>42</MsgId></xml>";
  auto good = [&](std::int64_t ts = now_s()) {
    return sign_post(crypt, d.secrets().app_token, "/wecom/callback/app", plain, false, ts, "12345");
  };
  auto flip = [](std::string s, std::size_t pos) {
    s[pos] = s[pos] == 'A' ? 'B' : 'A';
    return s;
  };
  struct Case {
    const char* label;
    SignedRequest req;
    unsigned status;
    const char* reason;
  };
  SignedRequest g = good();
  auto enc_pos = g.body.find("<Encrypt><![CDATA[") + 20;
  auto sig_pos = g.target.find("msg_signature=") + 14;
  auto ts_at = g.target.find("timestamp=") + 10;
  auto ts_end = g.target.find('&', ts_at);
  std::string next_ts = g.target.substr(0, ts_at) +
                        std::to_string(std::stoll(g.target.substr(ts_at, ts_end - ts_at)) + 1) +
                        g.target.substr(ts_end);
  std::vector<Case> cases = {
      {"signature changed", {flip(g.target, sig_pos), g.body}, 403, "bad_signature"},
      {"ciphertext changed", {g.target, flip(g.body, enc_pos)}, 403, "bad_signature"},
      {"timestamp changed", {next_ts, g.body}, 403, "bad_signature"},
      {"foreign corp id", sign_post(foreign, "", "/wecom/callback/app", plain, false, now_s(), "777"), 403,
       "bad_receiveid"},
      {"stale timestamp", good(now_s() - 3600), 403, "stale_timestamp"},
      {"no signature", {"/wecom/callback/app?timestamp=1&nonce=2", g.body}, 400, "bad_query"},
      {"not xml", {g.target, "hello"}, 400, "bad_envelope"},
      {"entity bomb", {g.target, "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><xml><Encrypt>&a;</Encrypt></xml>"}, 400,
       "bad_envelope"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    auto rsp = must_send(Verb::post, d.url(c.req.target), c.req.body);
    CHECK(rsp.status == c.status);
    CHECK(rsp.body.find(c.reason) != std::string::npos);
  }
  // A body over the limit never reaches the parser.
  CHECK(must_send(Verb::post, d.url(g.target), std::string(200 * 1024, 'x')).status == 413);
  CHECK(count_rows(d.store_path()) == 0);

  auto metrics = must_send(Verb::get, d.url("/metrics")).body;
  CHECK(metrics.find("yuer_callback_rejects_total{receiver=\"app\",reason=\"bad_signature\"} 3") != std::string::npos);
  CHECK(metrics.find("reason=\"bad_receiveid\"} 1") != std::string::npos);
  CHECK(metrics.find("reason=\"stale_timestamp\"} 1") != std::string::npos);

  // The untampered request is then accepted once.
  CHECK(must_send(Verb::post, d.url(g.target), g.body).status == 200);
  CHECK(count_rows(d.store_path()) == 1);
  CHECK(d.stop() == 0);
}

TEST_CASE("intelligent-robot JSON callbacks are stored once per msgid", "[e2e][callback]") {
  YuerdFixture d;
  d.start();
  auto crypt = d.bot_crypt();
  const std::string plain =
      R"({"msgid":"CAIQ16HMjQYY","aibotid":"AIBOTID","chatid":"CHATID","chattype":"group",)"
      R"("from":{"userid":"zhangsan"},"response_url":"https://example.invalid/r","msgtype":"text",)"
      R"("text":{"content":"@育儿助手 覆盖率"}})";
  for (int i = 0; i < 3; ++i) {
    auto req = sign_post(crypt, "", "/wecom/callback/bot/county", plain, true, now_s(), "n" + std::to_string(i));
    CHECK(must_send(Verb::post, d.url(req.target), req.body).status == 200);
  }
  SQLite::Database db(d.store_path(), SQLite::OPEN_READONLY);
  SQLite::Statement q(db, "SELECT receiver, channel, kind, dedupe_key, from_user, deliveries FROM inbox");
  REQUIRE(q.executeStep());
  CHECK(q.getColumn(0).getString() == "bot/county");
  CHECK(q.getColumn(1).getString() == "aibot");
  CHECK(q.getColumn(2).getString() == "aibot:text");
  CHECK(q.getColumn(3).getString() == "msg:CAIQ16HMjQYY");
  CHECK(q.getColumn(4).getString() == "zhangsan");
  CHECK(q.getColumn(5).getInt() == 3);
  CHECK_FALSE(q.executeStep());
  CHECK(d.stop() == 0);
}

TEST_CASE("admin API and yuerctl list the inbox, secrets never reach the log", "[e2e][admin]") {
  YuerdFixture d;
  d.start();
  auto crypt = d.app_crypt();
  for (int i = 0; i < 5; ++i) {
    std::string plain = "<xml><FromUserName><![CDATA[u1]]></FromUserName><CreateTime>1700000000</CreateTime>"
                        "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[第" +
                        std::to_string(i) + "条]]></Content><MsgId>" + std::to_string(100 + i) + "</MsgId></xml>";
    auto req = sign_post(crypt, "", "/wecom/callback/app", plain, false, now_s(), "x" + std::to_string(i));
    REQUIRE(must_send(Verb::post, d.url(req.target), req.body).status == 200);
  }
  CHECK(must_send(Verb::get, d.url("/api/v1/inbox")).status == 401);
  CHECK(must_send(Verb::get, d.url("/api/v1/inbox"), {}, {{"Authorization", "Bearer wrong"}}).status == 401);
  auto rsp = must_send(Verb::get, d.url("/api/v1/inbox?limit=3&order=oldest"), {},
                       {{"Authorization", "Bearer " + d.secrets().admin_token}});
  REQUIRE(rsp.status == 200);
  auto body = nlohmann::json::parse(rsp.body);
  REQUIRE(body["items"].size() == 3);
  CHECK(body["items"][0]["dedupe_key"] == "msg:100");
  CHECK_FALSE(body["items"][0].contains("payload"));  // personal data only on request
  CHECK(must_send(Verb::get, d.url("/api/v1/inbox?limit=0"), {},
                  {{"Authorization", "Bearer " + d.secrets().admin_token}})
            .status == 400);
  CHECK(must_send(Verb::get, d.url("/healthz")).status == 200);

  std::string token_file = d.dir().path() + "/secrets/admin_token";
  auto json_run = run({YUERCTL_BIN, "--url", d.url(""), "--token-file", token_file, "inbox", "list", "--json"},
                      std::chrono::seconds(20), d.dir().path() + "/yuerctl1.log");
  REQUIRE(json_run.code == 0);
  auto listed = nlohmann::json::parse(json_run.output);
  CHECK(listed["items"].size() == 5);
  CHECK(listed["items"][0]["dedupe_key"] == "msg:104");  // newest first

  auto table_run = run({YUERCTL_BIN, "--url", d.url(""), "--token-file", token_file, "inbox", "list", "--limit", "2"},
                       std::chrono::seconds(20), d.dir().path() + "/yuerctl2.log");
  CHECK(table_run.code == 0);
  CHECK(table_run.output.find("编号") != std::string::npos);
  CHECK(table_run.output.find("共 2 条") != std::string::npos);

  auto bad_args = run({YUERCTL_BIN, "inbox", "list", "--limit", "0"}, std::chrono::seconds(20),
                      d.dir().path() + "/yuerctl3.log");
  CHECK(bad_args.code == 2);
  auto unreachable = run({YUERCTL_BIN, "--url", "http://127.0.0.1:1", "--token-file", token_file, "inbox", "list"},
                         std::chrono::seconds(20), d.dir().path() + "/yuerctl4.log");
  CHECK(unreachable.code == 2);  // the caller must fix it: usage error (issue 8)
  CHECK(unreachable.output.find("cannot reach yuerd") != std::string::npos);

  CHECK(d.stop() == 0);
  auto log = d.log_text();
  for (const auto& secret : {d.secrets().app_token, d.secrets().app_aes_key, d.secrets().bot_token,
                             d.secrets().bot_aes_key, d.secrets().admin_token}) {
    CHECK(log.find(secret) == std::string::npos);
  }
  CHECK(log.find("第1条") == std::string::npos);  // payloads are not logged either
}

TEST_CASE("SIGTERM stops cleanly and a restart keeps what was stored", "[e2e][lifecycle]") {
  YuerdFixture d;
  d.start();
  auto crypt = d.app_crypt();
  auto req = sign_post(crypt, "", "/wecom/callback/app",
                       "<xml><MsgType>text</MsgType><Content>a</Content><MsgId>9</MsgId></xml>", false, now_s(), "1");
  REQUIRE(must_send(Verb::post, d.url(req.target), req.body).status == 200);
  CHECK(d.stop() == 0);
  CHECK(d.log_text().find("yuerd stopped code=0") != std::string::npos);
  d.start();
  // Same MsgId, new signature: recognised as the stored event.
  auto again = sign_post(crypt, "", "/wecom/callback/app",
                         "<xml><MsgType>text</MsgType><Content>a</Content><MsgId>9</MsgId></xml>", false, now_s(), "2");
  CHECK(must_send(Verb::post, d.url(again.target), again.body).status == 200);
  CHECK(d.stop() == 0);
  CHECK(count_rows(d.store_path()) == 1);
}

TEST_CASE("configuration errors exit 2 naming file, line and key", "[e2e][config]") {
  struct Case {
    const char* label;
    std::string extra;  // appended to a valid config
    const char* expect;
  };
  std::vector<Case> cases = {
      {"unknown key", "\n[server2]\nx = 1\n", "server2"},
      {"duplicate table", "\n[server]\nlisten = \"127.0.0.1:1\"\n", "yuerd.toml:"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    YuerdFixture d(c.extra);
    auto r = run({YUERD_BIN, "--check-config", d.config_path()}, std::chrono::seconds(20), d.dir().path() + "/c.log");
    CHECK(r.code == 2);
    CHECK(r.output.find("yuerd.toml:") != std::string::npos);
    CHECK(r.output.find(c.expect) != std::string::npos);
  }
  YuerdFixture ok;
  auto r = run({YUERD_BIN, "--check-config", ok.config_path()}, std::chrono::seconds(20), ok.dir().path() + "/c.log");
  CHECK(r.code == 0);
  auto usage = run({YUERD_BIN, "--bogus"}, std::chrono::seconds(20), ok.dir().path() + "/u.log");
  CHECK(usage.code == 2);
}
