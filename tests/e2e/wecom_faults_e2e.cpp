// WeCom faults through the sandbox (its /_sandbox/faults): WeCom down (every connection dropped),
// then 502s, slow answers, errcode -1, an access token that expires in the middle of a batch
// (42001) and a 45009 rate-limit storm. Nothing is lost or failed, every message arrives once and in
// order per group, the backlog drains afterwards, and while messages wait the admin API and the
// metrics say why (the last reason per row, retries by route, queue depth and oldest age).
#include "tests/e2e/sandbox_process.h"
#include "tests/e2e/yuerd_fixture.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <random>
#include <set>
#include <thread>

namespace yuer::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr int kGroups = 20;
constexpr int kPerGroup = 8;
constexpr int kAppMessages = 10;
constexpr const char* kAppSecret = "faultsAppSecret7Hq2Wm9Xc4Vb1Nz8Lk3Jp6";

json make_fixture() {
  std::mt19937_64 rng(42);
  json groups = json::array();
  for (int g = 0; g < kGroups; ++g) {
    char id[32], key[64];
    std::snprintf(id, sizeof id, "wrFault%02d", g);
    std::snprintf(key, sizeof key, "%08x-aaaa-4bbb-8ccc-%012llx", static_cast<unsigned>(rng()),
                  static_cast<unsigned long long>(rng() & 0xffffffffffffULL));
    groups.push_back({{"chat_id", id}, {"name", std::string("管理群") + id}, {"owner", "Coord1"}, {"members", {"Coord1"}},
                      {"robots", json::array({{{"key", key}, {"name", "推送"}}})}});
  }
  return {{"corp", {{"corp_id", kCorpId}, {"name", "faults"}}},
          {"apps", json::array({{{"agent_id", 1000002}, {"name", "app"}, {"secret", kAppSecret}, {"token", "Tok123"},
                                 {"aes_key", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"}, {"callback_url", ""},
                                 {"visible_userids", json::array()}}})},
          {"members", {{{"userid", "Coord1"}, {"name", "甲"}}}},
          {"internal_groups", groups}};
}

std::string text(int g, int i) { return "第" + std::to_string(i) + "条（" + std::to_string(g) + "）：按需喂养"; }

std::int64_t metric(const std::string& body, const std::string& series) {
  auto at = body.find(series + " ");
  return at == std::string::npos ? -1 : std::atoll(body.c_str() + at + series.size() + 1);
}

TEST_CASE("WeCom down, slow, busy, rate-limited and expiring tokens: nothing lost, backlog drains, reasons shown",
          "[e2e][outbox][faults]") {
  SandboxProcess sandbox(make_fixture());
  std::vector<std::pair<std::string, std::string>> robots;
  json fx = sandbox.get("/_sandbox/fixture");
  for (const auto& r : fx["robots"]) robots.emplace_back(r["chat_id"].get<std::string>(), r["key"].get<std::string>());
  REQUIRE(robots.size() == kGroups);
  YuerdFixture d("\n[wecom.robots]\nkeys_file = \"secrets/robot_keys\"\n\n[outbox]\nbackoff_base_ms = 200\n"
                 "backoff_max_ms = 1500\nmax_attempts = 200\n",
                 sandbox.base(), kAppSecret);
  std::string keys;
  for (const auto& [chat, key] : robots) keys += chat + " " + key + "\n";
  d.dir().write("secrets/robot_keys", keys);
  d.start();
  auto admin = [&](http::Verb verb, const std::string& path, const json& body = nullptr) {
    auto r = net::http_request(verb, d.url(path), body.is_null() ? "" : body.dump(),
                               {{"Authorization", "Bearer " + d.secrets().admin_token}}, 30s);
    REQUIRE(r.has_value());
    INFO(r->body);
    REQUIRE(r->status / 100 == 2);
    return json::parse(r->body);
  };

  // WeCom is down: every robot and app call has its connection dropped.
  for (const char* path : {"/cgi-bin/webhook/send", "/cgi-bin/message/send", "/cgi-bin/gettoken"})
    sandbox.post("/_sandbox/faults", {{"path", path}, {"drop_connection", true}, {"count", 0}});
  for (int i = 0; i < kPerGroup; ++i)
    for (int g = 0; g < kGroups; ++g)
      admin(http::Verb::post, "/api/v1/push",
            {{"target", robots[static_cast<std::size_t>(g)].first}, {"content", text(g, i)}, {"key", "r" + std::to_string(g) + "-" + std::to_string(i)}});
  for (int i = 0; i < kAppMessages; ++i)
    admin(http::Verb::post, "/api/v1/push",
          {{"route", "app"}, {"target", "Coord1"}, {"content", text(99, i)}, {"key", "a" + std::to_string(i)}});
  std::this_thread::sleep_for(3s);

  // Why they wait: every open row has a reason, the metrics count retries and show the backlog.
  json waiting = admin(http::Verb::get, "/api/v1/outbox?state=queued&limit=1000")["items"];
  // At most one attempt per target is in flight (sending) at any moment; the rest wait queued.
  CHECK(waiting.size() + kGroups + 1 >= static_cast<std::size_t>(kGroups * kPerGroup + kAppMessages));
  std::size_t with_reason = 0;
  for (const auto& row : waiting) with_reason += row["last_reason"].get<std::string>().empty() ? 0 : 1;
  CHECK(with_reason >= static_cast<std::size_t>(kGroups));  // at least each target's head was tried
  auto m = net::http_request(http::Verb::get, d.url("/metrics"));
  REQUIRE(m.has_value());
  CHECK(metric(m->body, "yuer_outbox_sends_total{route=\"robot\",result=\"retry\"}") >= kGroups);
  CHECK(metric(m->body, "yuer_outbox_queue_depth{route=\"robot\"}") == kGroups * kPerGroup);
  CHECK(metric(m->body, "yuer_outbox_oldest_age_seconds{route=\"robot\"}") >= 2);
  CHECK(metric(m->body, "yuer_outbox_sends_total{route=\"robot\",result=\"delivered\"}") <= 0);

  // WeCom comes back, unevenly: 502s, 2-second answers, busy (-1), a token that expires
  // mid-batch (42001, then the refreshed one works) and a short 45009 storm (a minute's wait each).
  auto cleared = net::http_request(http::Verb::delete_, sandbox.url("/_sandbox/faults"));
  REQUIRE(cleared.has_value());
  sandbox.post("/_sandbox/faults", {{"path", "/cgi-bin/webhook/send"}, {"http_status", 502}, {"count", 15}});
  sandbox.post("/_sandbox/faults", {{"path", "/cgi-bin/webhook/send"}, {"latency_ms", 2000}, {"count", 10}});
  sandbox.post("/_sandbox/faults", {{"path", "/cgi-bin/webhook/send"}, {"errcode", -1}, {"rate", 0.2}, {"count", 20}});
  sandbox.post("/_sandbox/faults", {{"path", "/cgi-bin/webhook/send"}, {"errcode", 45009}, {"count", 3}});
  sandbox.post("/_sandbox/faults", {{"path", "/cgi-bin/message/send"}, {"errcode", 42001}, {"count", 2}});
  sandbox.post("/_sandbox/faults", {{"path", "/cgi-bin/message/send"}, {"errcode", -1}, {"count", 3}});

  auto end = std::chrono::steady_clock::now() + 150s;
  std::int64_t open = -1;
  while (std::chrono::steady_clock::now() < end) {
    json stats = admin(http::Verb::get, "/api/v1/outbox?stats=1");
    open = 0;
    for (const auto& r : stats["routes"]) open += r["open"].get<std::int64_t>();
    if (open == 0) break;
    std::this_thread::sleep_for(500ms);
  }
  REQUIRE(open == 0);
  CHECK(admin(http::Verb::get, "/api/v1/outbox?state=failed")["items"].empty());

  // Everything arrived, once, in order per group.
  std::map<std::string, std::vector<std::string>> got;
  json all = sandbox.get("/_sandbox/messages");
  for (const auto& msg : all["messages"]) {
    const std::string where = msg["chat_id"].is_string() && !msg["chat_id"].get<std::string>().empty()
                                  ? msg["chat_id"].get<std::string>()
                                  : "user:" + msg.value("userid", std::string());
    got[where].push_back(msg["message"]["content"].get<std::string>());
  }
  for (int g = 0; g < kGroups; ++g) {
    std::vector<std::string> want;
    for (int i = 0; i < kPerGroup; ++i) want.push_back(text(g, i));
    CAPTURE(g);
    CHECK(got[robots[static_cast<std::size_t>(g)].first] == want);
  }
  std::vector<std::string> app_got = got["user:Coord1"];
  std::set<std::string> app_set(app_got.begin(), app_got.end());
  CHECK(app_set.size() == static_cast<std::size_t>(kAppMessages));
  CHECK(app_got.size() == static_cast<std::size_t>(kAppMessages));

  auto after = net::http_request(http::Verb::get, d.url("/metrics"));
  REQUIRE(after.has_value());
  CHECK(metric(after->body, "yuer_outbox_sends_total{route=\"robot\",result=\"delivered\"}") == kGroups * kPerGroup);
  CHECK(metric(after->body, "yuer_outbox_sends_total{route=\"app\",result=\"delivered\"}") == kAppMessages);
  CHECK(metric(after->body, "yuer_outbox_queue_depth{route=\"robot\"}") == 0);
  // The sandbox saw the storm and the expired token, and yuer got past both.
  json reqs = sandbox.get("/_sandbox/requests?path=/cgi-bin/webhook/send");
  int storm = 0;
  for (const auto& r : reqs["requests"]) storm += r["errcode"] == 45009 ? 1 : 0;
  CHECK(storm == 3);
  json app_reqs = sandbox.get("/_sandbox/requests?path=/cgi-bin/message/send");
  int expired = 0;
  for (const auto& r : app_reqs["requests"]) expired += r["errcode"] == 42001 ? 1 : 0;
  CHECK(expired == 2);
  CHECK(d.stop() == 0);
}

}  // namespace
}  // namespace yuer::test
