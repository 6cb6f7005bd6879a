// Durable outbound delivery end to end: a real yuerd pushing through a real wecom-sandbox (both on
// 127.0.0.1 with ephemeral ports). Robot keys come from the sandbox's GET /_sandbox/fixture; faults
// (latency, a fraction of -1 and 502 answers) through its control API. The sandbox enforces WeCom's
// 20-per-rolling-minute robot limit on its own clock, which runs in real time here, so each run
// takes a little over a minute: 20 messages per key need two windows at our 18-per-minute pacing.
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

constexpr int kGroups = 100;
constexpr int kPerGroup = 20;

std::string random_key(std::mt19937_64& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string k;
  for (int i = 0; i < 36; ++i) k += (i == 8 || i == 13 || i == 18 || i == 23) ? '-' : kHex[rng() % 16];
  return k;
}

json make_fixture() {
  std::mt19937_64 rng(std::random_device{}());
  json groups = json::array();
  for (int g = 0; g < kGroups; ++g) {
    char id[32];
    std::snprintf(id, sizeof id, "wrE2E%03d", g);
    groups.push_back({{"chat_id", id}, {"name", std::string("管理群") + id}, {"owner", "Coord1"},
                      {"members", {"Coord1", "Coord2"}}, {"robots", json::array({{{"key", random_key(rng)}, {"name", "推送"}}})}});
  }
  return {{"corp", {{"corp_id", kCorpId}, {"name", "e2e"}}},
          {"apps", json::array({{{"agent_id", 1000002}, {"name", "app"}, {"secret", random_key(rng)}, {"token", "Tok123"},
                                 {"aes_key", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"}, {"callback_url", ""}}})},
          {"members", {{{"userid", "Coord1"}, {"name", "甲"}}, {{"userid", "Coord2"}, {"name", "乙"}}}},
          {"internal_groups", groups}};
}

// wecom-sandbox seeded with make_fixture().
struct Sandbox : SandboxProcess {
  Sandbox() : SandboxProcess(make_fixture()) {}
};

std::string expected(const std::string& /*chat*/, int i) { return "第" + std::to_string(i) + "条：母乳喂养小知识"; }

struct Run {
  Sandbox sandbox;
  std::vector<std::pair<std::string, std::string>> robots;  // chat_id, key
  std::unique_ptr<YuerdFixture> yuerd;

  explicit Run(bool faults = true) {
    json fx = sandbox.get("/_sandbox/fixture");
    for (const auto& r : fx["robots"])
      robots.emplace_back(r["chat_id"].get<std::string>(), r["key"].get<std::string>());
    REQUIRE(robots.size() == kGroups);
    // 100 ms on every webhook call; 3 % answer -1 (busy) and about 2 % HTTP 502 after it.
    if (faults) {
    sandbox.post("/_sandbox/faults", {{"path", "/cgi-bin/webhook/send"}, {"errcode", -1}, {"latency_ms", 100},
                                      {"rate", 0.03}, {"count", 0}});
    sandbox.post("/_sandbox/faults", {{"path", "/cgi-bin/webhook/send"}, {"http_status", 502}, {"latency_ms", 100},
                                      {"rate", 0.02}, {"count", 0}});
    sandbox.post("/_sandbox/faults", {{"path", "/cgi-bin/webhook/send"}, {"latency_ms", 100}, {"count", 0}});
    }
    yuerd = std::make_unique<YuerdFixture>(R"(
[wecom.robots]
keys_file = "secrets/robot_keys"

[outbox]
max_in_flight = 128
backoff_base_ms = 500
backoff_max_ms = 5000
)",
                                           sandbox.base());
    std::string keys;
    for (const auto& [chat, key] : robots) keys += chat + " " + key + "\n";
    // A group whose key WeCom does not know: a permanent error (93000).
    keys += "ghost-group 00000000-dead-beef-0000-000000000000\n";
    yuerd->dir().write("secrets/robot_keys", keys);
    yuerd->start();
  }

  json admin(http::Verb verb, const std::string& path, const json& body = nullptr) {
    auto r = net::http_request(verb, yuerd->url(path), body.is_null() ? "" : body.dump(),
                               {{"Authorization", "Bearer " + yuerd->secrets().admin_token}}, 30s);
    REQUIRE(r.has_value());
    INFO(r->body);
    REQUIRE(r->status / 100 == 2);
    return json::parse(r->body);
  }

  // One push per message number to all 100 groups (one transaction each, like a lesson).
  void enqueue_all() {
    json targets = json::array();
    for (const auto& [chat, key] : robots) targets.push_back(chat);
    for (int i = 0; i < kPerGroup; ++i) {
      auto r = admin(http::Verb::post, "/api/v1/push",
                     {{"targets", targets}, {"content", expected("", i)}, {"key", "m" + std::to_string(i)}});
      REQUIRE(r["rows"] == kGroups);
    }
    auto ghost = admin(http::Verb::post, "/api/v1/push", {{"target", "ghost-group"}, {"content", "无人接收"}, {"key", "ghost"}});
    REQUIRE(ghost["ids"].size() == 1);
  }

  std::size_t delivered_count() { return sandbox.get("/_sandbox/messages")["messages"].size(); }

  // Waits until yuerd has no open outbox row (up to 5 minutes).
  bool wait_drained() {
    auto end = std::chrono::steady_clock::now() + 300s;
    while (std::chrono::steady_clock::now() < end) {
      auto stats = admin(http::Verb::get, "/api/v1/outbox?stats=1");
      std::int64_t open = 0;
      for (const auto& r : stats["routes"]) open += r["open"].get<std::int64_t>();
      if (open == 0) return true;
      std::this_thread::sleep_for(1s);
    }
    return false;
  }

  // chat → contents in arrival order.
  std::map<std::string, std::vector<std::string>> arrivals() {
    std::map<std::string, std::vector<std::string>> out;
    // Keep the document alive: a range-for over a member of a temporary would dangle.
    json all = sandbox.get("/_sandbox/messages");
    for (const auto& m : all["messages"])
      out[m["chat_id"].get<std::string>()].push_back(m["message"]["content"].get<std::string>());
    return out;
  }

  // Checks the rolling-minute limit per key on the sandbox's clock; returns the 45009 count.
  int check_rate_limits() {
    std::map<std::string, std::vector<std::int64_t>> accepted;
    int rate_limited = 0;
    json all = sandbox.get("/_sandbox/requests?path=/cgi-bin/webhook/send");
    for (const auto& r : all["requests"]) {
      if (r["errcode"] == 45009) ++rate_limited;
      if (r["http_status"] != 200 || r["errcode"] != 0) continue;
      accepted[r["query"].dump()].push_back(r["time_ms"].get<std::int64_t>());
    }
    int worst = 0;
    for (auto& [key, times] : accepted) {
      std::sort(times.begin(), times.end());
      for (std::size_t i = 0; i < times.size(); ++i) {
        int n = 0;
        for (std::size_t j = i; j < times.size() && times[j] < times[i] + 60000; ++j) ++n;
        worst = std::max(worst, n);
      }
    }
    CHECK(worst <= 20);
    INFO("most accepted sends to one key in a rolling minute: " << worst);
    return rate_limited;
  }

  void check_ghost_failed() {
    auto failed = admin(http::Verb::get, "/api/v1/outbox?state=failed&route=robot")["items"];
    REQUIRE(failed.size() == 1);
    CHECK(failed[0]["target"] == "ghost-group");
    CHECK(failed[0]["last_errcode"] == 93000);
    CHECK(failed[0]["last_reason"].get<std::string>().find("机器人") != std::string::npos);
  }

  void check_no_secret_in_logs() {
    std::string logs = yuerd->log_text();
    for (const auto& [chat, key] : robots) REQUIRE(logs.find(key) == std::string::npos);
    CHECK(logs.find("00000000-dead-beef") == std::string::npos);
  }
};

TEST_CASE("2000 robot messages to 100 keys under latency and transient errors arrive once and in order within the rate limit",
          "[e2e][outbox]") {
  Run run;
  run.enqueue_all();
  REQUIRE(run.wait_drained());
  auto got = run.arrivals();
  REQUIRE(got.size() == kGroups);
  for (const auto& [chat, key] : run.robots) {
    std::vector<std::string> want;
    for (int i = 0; i < kPerGroup; ++i) want.push_back(expected(chat, i));
    CAPTURE(chat);
    CHECK(got[chat] == want);  // exactly once and in order
  }
  CHECK(run.check_rate_limits() == 0);
  run.check_ghost_failed();
  auto metrics = net::http_request(http::Verb::get, run.yuerd->url("/metrics"));
  REQUIRE(metrics.has_value());
  CHECK(metrics->body.find("yuer_outbox_sends_total{route=\"robot\",result=\"delivered\"} 2000") != std::string::npos);
  CHECK(metrics->body.find("yuer_outbox_queue_depth{route=\"robot\"} 0") != std::string::npos);
  run.check_no_secret_in_logs();
  CHECK(run.yuerd->stop() == 0);
}

TEST_CASE("kill -9 of yuerd mid-run then restart delivers everything with duplicates only from in-flight sends",
          "[e2e][outbox][crash]") {
  Run run;
  run.enqueue_all();
  auto end = std::chrono::steady_clock::now() + 120s;
  while (run.delivered_count() < 700 && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(100ms);
  run.yuerd->kill();
  const std::size_t at_kill = run.delivered_count();
  run.yuerd->start();
  REQUIRE(run.wait_drained());

  auto got = run.arrivals();
  std::size_t duplicates = 0;
  for (const auto& [chat, key] : run.robots) {
    CAPTURE(chat);
    std::vector<std::string> first_seen;
    std::set<std::string> seen;
    for (const auto& c : got[chat])
      if (seen.insert(c).second) first_seen.push_back(c);
      else ++duplicates;
    std::vector<std::string> want;
    for (int i = 0; i < kPerGroup; ++i) want.push_back(expected(chat, i));
    CHECK(first_seen == want);  // nothing lost, order kept
  }
  auto stats = run.admin(http::Verb::get, "/api/v1/outbox?stats=1");
  const std::uint64_t resent = stats["resent_after_crash"].get<std::uint64_t>();
  WARN("kill -9 after " << at_kill << " deliveries: " << resent << " message(s) were in flight and sent again, "
                        << duplicates << " arrived twice");
  CHECK(duplicates <= resent);
  CHECK(resent <= 128);  // max_in_flight: the documented duplicate window
  CHECK(run.check_rate_limits() == 0);
  run.check_ghost_failed();
  run.check_no_secret_in_logs();
  CHECK(run.yuerd->stop() == 0);
}

// Runs yuerctl against the fixture's daemon; returns exit code and output.
RunResult yuerctl(Run& r, std::vector<std::string> args) {
  static int n = 0;
  std::vector<std::string> argv = {YUERCTL_BIN, "--url", r.yuerd->url(""), "--token-file",
                                   r.yuerd->dir().path() + "/secrets/admin_token"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, 20s, r.yuerd->dir().path() + "/yuerctl" + std::to_string(++n) + ".log");
}

TEST_CASE("yuerctl push and outbox list show retry cancel", "[e2e][outbox][yuerctl]") {
  Run r(false);
  const std::string group = r.robots[0].first;
  std::string long_text;
  for (int i = 0; i < 80; ++i) long_text += "第" + std::to_string(i) + "段：添加辅食要从少到多，从稀到稠。\n\n";
  REQUIRE(long_text.size() > 2 * 2048);
  const std::string file = r.yuerd->dir().write("notice.txt", long_text, 0644);

  auto pushed = yuerctl(r, {"push", "--group", group, "--text", file, "--key", "notice-1", "--json"});
  INFO(pushed.output);
  REQUIRE(pushed.code == 0);
  auto ids = json::parse(pushed.output)["ids"];
  REQUIRE(ids.size() == 3);
  auto again = yuerctl(r, {"push", "--group", group, "--text", file, "--key", "notice-1", "--json"});
  REQUIRE(again.code == 0);
  CHECK(json::parse(again.output)["duplicate"] == true);
  CHECK(json::parse(again.output)["ids"] == ids);

  auto unknown = yuerctl(r, {"push", "--group", "no-such-group", "--text", file});
  CHECK(unknown.code == 1);
  CHECK(unknown.output.find("没有目标") != std::string::npos);
  CHECK(yuerctl(r, {"push", "--group", group}).code == 2);  // no content

  // Fill the group's window so later messages wait, then cancel one of them.
  json targets = json::array({group});
  for (int i = 0; i < 20; ++i)
    r.admin(http::Verb::post, "/api/v1/push", {{"targets", targets}, {"content", "m" + std::to_string(i)}, {"key", "w" + std::to_string(i)}});
  auto waiting = r.admin(http::Verb::get, "/api/v1/outbox?state=queued&limit=1")["items"];
  REQUIRE(waiting.size() == 1);
  const std::string last = std::to_string(waiting[0]["id"].get<std::int64_t>());
  auto cancelled = yuerctl(r, {"outbox", "cancel", last});
  INFO(cancelled.output);
  CHECK(cancelled.code == 0);
  auto shown = yuerctl(r, {"outbox", "show", last, "--json"});
  REQUIRE(shown.code == 0);
  CHECK(json::parse(shown.output)["state"] == "cancelled");
  CHECK(yuerctl(r, {"outbox", "cancel", last}).code == 1);  // not queued any more

  // The ghost group fails permanently; retry queues it again (and it fails again).
  r.admin(http::Verb::post, "/api/v1/push", {{"target", "ghost-group"}, {"content", "x"}, {"key", "ghost"}});
  auto end = std::chrono::steady_clock::now() + 30s;
  json failed;
  while (std::chrono::steady_clock::now() < end) {
    auto listed = yuerctl(r, {"outbox", "list", "--state", "failed", "--json"});
    REQUIRE(listed.code == 0);
    failed = json::parse(listed.output)["items"];
    if (!failed.empty()) break;
    std::this_thread::sleep_for(200ms);
  }
  REQUIRE(failed.size() == 1);
  CHECK(failed[0]["last_errcode"] == 93000);
  auto table = yuerctl(r, {"outbox", "list", "--state", "failed"});
  CHECK(table.output.find("机器人") != std::string::npos);
  auto retried = yuerctl(r, {"outbox", "retry", std::to_string(failed[0]["id"].get<std::int64_t>())});
  CHECK(retried.code == 0);

  // The three parts of the notice arrive first, numbered and in order.
  end = std::chrono::steady_clock::now() + 30s;
  std::vector<std::string> got;
  while (std::chrono::steady_clock::now() < end && got.size() < 3) {
    got = r.arrivals()[group];
    std::this_thread::sleep_for(200ms);
  }
  REQUIRE(got.size() >= 3);
  CHECK(got[0].rfind("(1/3) ", 0) == 0);
  CHECK(got[1].rfind("(2/3) ", 0) == 0);
  CHECK(got[2].rfind("(3/3) ", 0) == 0);
  for (int i = 0; i < 3; ++i) CHECK(got[static_cast<std::size_t>(i)].size() <= 2048);
  r.check_no_secret_in_logs();
  CHECK(r.yuerd->stop() == 0);
}

}  // namespace
}  // namespace yuer::test
